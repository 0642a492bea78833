package main

import (
	"context"
	"io"
)

// check verifies a whole store file (see userprops.BoltStore.Check) and prints
// {"ok":true}; damage is an error (exit status 1) that describes it.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFileFlags("check", "", stderr)
	if err := f.parse(args, 0, 0); err != nil {
		return err
	}
	store, err := openExisting(f.db)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Check(ctx); err != nil {
		return err
	}
	return printJSON(stdout, struct {
		OK bool `json:"ok"`
	}{true})
}
