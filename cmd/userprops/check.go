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
	return f.withFile(args, 0, 0, func(store *userprops.BoltStore) error {
		if err := store.Check(ctx); err != nil {
			return err
		}
		return printJSON(stdout, struct {
			OK bool `json:"ok"`
		}{true})
	})
}
