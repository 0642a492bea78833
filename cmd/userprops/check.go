package main

import (
	"context"
	"io"

	"github.com/userprops/userprops"
)

// check verifies a whole store file (see userprops.BoltStore.Check) and prints
// {"ok":true}; damage is an error (exit status 1) that describes it.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFileFlags("check", "", stderr)
	return f.withStore(ctx, args, 0, 0, func(st userprops.Store) error {
		store, err := storeFile(st, f.fs.Name())
		if err != nil {
			return err
		}
		if err := store.Check(ctx); err != nil {
			return err
		}
		return printJSON(stdout, struct {
			OK bool `json:"ok"`
		}{true})
	})
}
