package main

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/pgtest"
)

// TestCommands_PackageDoc checks that the package documentation shows the
// usage line of every subcommand in the table, and no other.
func TestCommands_PackageDoc(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	require.NoError(t, err)
	var documented []string
	for _, line := range strings.Split(f.Doc.Text(), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "userprops "); ok {
			documented = append(documented, strings.Join(strings.Fields(rest), " "))
		}
	}
	var table []string
	for _, c := range commands {
		table = append(table, c.name+" "+c.args)
	}
	assert.Equal(t, table, documented)
}

func TestCommands_PostgresFlag(t *testing.T) {
	r := runCmd(t, "", "get", "--db", "x.db", "--postgres", "postgres://nowhere/db", "--account", "a", "k")
	assert.Equal(t, 2, r.code, "both --db and --postgres: %v", r.err)

	dsn := pgtest.Schema(t)
	mustRun(t, "set", "--postgres", dsn, "--account", "a", "theme", `{"dark":true}`)
	assert.JSONEq(t, `{"keys":["theme"]}`, mustRun(t, "keys", "--postgres", dsn, "--account", "a"))
	assert.Contains(t, mustRun(t, "get", "--postgres", dsn, "--account", "a", "theme"), `"value":{"dark":true}`)
	assert.JSONEq(t, `{"accountIds":["a"],"total":1}`, mustRun(t, "find", "--postgres", dsn, `[theme].dark is true`))
	mustRun(t, "delete", "--postgres", dsn, "--account", "a", "theme")
	assert.JSONEq(t, `{"keys":[]}`, mustRun(t, "keys", "--postgres", dsn, "--account", "a"))

	assert.Equal(t, `{"ok":true}`+"\n", mustRun(t, "check", "--postgres", dsn))
	for _, cmd := range [][]string{{"check"}, {"export"}, {"import", "-"}} {
		r := runCmd(t, "", append([]string{cmd[0], "--db", "x.db", "--postgres", dsn}, cmd[1:]...)...)
		assert.Equal(t, 2, r.code, "%s with both --db and --postgres: %v", cmd[0], r.err)
	}
}
