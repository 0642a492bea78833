package main

import (
	"context"
	"fmt"
	"io"

	"github.com/userprops/userprops"
)

// indexKeeper is what "userprops index" needs of a store file: the indexes
// it keeps, and adding and dropping one, as *userprops.BoltStore has them.
type indexKeeper interface {
	// Indexes returns the indexes the file keeps.
	Indexes() ([]userprops.Index, error)
	// AddIndex builds ix from the properties and records it; the file
	// then keeps it until DropIndex.
	AddIndex(ctx context.Context, ix userprops.Index) error
	// DropIndex removes ix and its entries from the file.
	DropIndex(ctx context.Context, ix userprops.Index) error
	Close() error
}

// indexArgsLine is the usage of "userprops index" after its name.
const indexArgsLine = "list|add|drop --db FILE ['[KEY].PATH']"

// indexCommand returns the "index" subcommand, opening store files with
// open:
//
//	userprops index list --db FILE             → {"indexes":["[location].office.city",…]}
//	userprops index add  --db FILE '[KEY].PATH' → {"index":"[KEY].PATH","status":"added"}
//	userprops index drop --db FILE '[KEY].PATH' → {"index":"[KEY].PATH","status":"dropped"}
//
// The index is read with userprops.ParseIndex before the file is opened; a
// bad one is misuse (exit 2).
func indexCommand(open func(path string) (indexKeeper, error)) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) == 0 {
			return usageError{"usage: userprops index " + indexArgsLine}
		}
		action, args := args[0], args[1:]
		var want int
		switch action {
		case "list":
		case "add", "drop":
			want = 1
		case "-h", "-help", "--help":
			fmt.Fprintln(stderr, "usage: userprops index "+indexArgsLine)
			return errHelp
		default:
			return usageError{fmt.Sprintf("index: unknown action %q; use list, add or drop", action)}
		}
		argLine := ""
		if want == 1 {
			argLine = "'[KEY].PATH'"
		}
		f := newFileFlags("index "+action, argLine, stderr)
		if err := f.parse(args, want, want); err != nil {
			return err
		}
		var ix userprops.Index
		if want == 1 {
			var err error
			if ix, err = userprops.ParseIndex(f.fs.Arg(0)); err != nil {
				return usageError{err.Error()}
			}
		}
		store, err := open(f.db)
		if err != nil {
			return err
		}
		defer store.Close()
		switch action {
		case "list":
			indexes, err := store.Indexes()
			if err != nil {
				return err
			}
			names := make([]string, len(indexes))
			for i, ix := range indexes {
				names[i] = ix.String()
			}
			return printJSON(stdout, struct {
				Indexes []string `json:"indexes"`
			}{names})
		case "add":
			err = store.AddIndex(ctx, ix)
		default:
			err = store.DropIndex(ctx, ix)
		}
		if err != nil {
			return err
		}
		status := "added"
		if action == "drop" {
			status = "dropped"
		}
		return printJSON(stdout, struct {
			Index  string `json:"index"`
			Status string `json:"status"`
		}{ix.String(), status})
	}
}
