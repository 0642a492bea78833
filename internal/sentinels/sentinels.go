// Package sentinels reads Go source to check that tables keyed by the
// sentinel errors of package userprops have a row for each of them, so that
// a new error cannot be added without its HTTP status and its message.
package sentinels

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// Declared returns the names of the exported package-level variables of the
// Go file at path whose names start with "Err", sorted.
func Declared(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		for _, spec := range gen.Specs {
			for _, name := range spec.(*ast.ValueSpec).Names {
				if strings.HasPrefix(name.Name, "Err") && name.IsExported() {
					names = append(names, name.Name)
				}
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// TableKeys returns the names of the errors that key the rows of the
// package-level variable table in the Go file at path: the first element of
// each row of its composite literal, an identifier (ErrX) or a selector
// (pkg.ErrX), by its last name, sorted, duplicates kept.
func TableKeys(path, table string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	var lit *ast.CompositeLit
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || lit != nil {
			return lit == nil
		}
		for i, name := range spec.Names {
			if name.Name == table && i < len(spec.Values) {
				lit, _ = spec.Values[i].(*ast.CompositeLit)
			}
		}
		return false
	})
	if lit == nil {
		return nil, fmt.Errorf("%s: no table %s", path, table)
	}
	var keys []string
	for _, elt := range lit.Elts {
		row, ok := elt.(*ast.CompositeLit)
		if !ok || len(row.Elts) == 0 {
			return nil, fmt.Errorf("%s: a row of %s is not a composite literal", path, table)
		}
		switch k := row.Elts[0].(type) {
		case *ast.Ident:
			keys = append(keys, k.Name)
		case *ast.SelectorExpr:
			keys = append(keys, k.Sel.Name)
		default:
			return nil, fmt.Errorf("%s: a row of %s is not keyed by a named error", path, table)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// RequireRows fails t unless the rows of table in tableFile are keyed by
// exactly the errors that errorsFile declares, one row each.
func RequireRows(t testing.TB, errorsFile, tableFile, table string) {
	t.Helper()
	declared, err := Declared(errorsFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := TableKeys(tableFile, table)
	if err != nil {
		t.Fatal(err)
	}
	if len(declared) == 0 {
		t.Fatalf("%s declares no Err… variables", errorsFile)
	}
	if !slices.Equal(declared, rows) {
		t.Errorf("the rows of %s (%s) are keyed by\n\t%v\nbut %s declares\n\t%v", table, tableFile, rows, errorsFile, declared)
	}
}
