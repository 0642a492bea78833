package main

import (
	"context"
	"io"
)

// del deletes a property and prints {"key":K,"deleted":true}.
func del(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newStoreFlags("delete", "KEY", stderr)
	if err := f.parse(args, 1, 1); err != nil {
		return err
	}
	store, err := openExisting(f.db)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Delete(ctx, f.account, f.fs.Arg(0)); err != nil {
		return err
	}
	return printJSON(stdout, struct {
		Key     string `json:"key"`
		Deleted bool   `json:"deleted"`
	}{f.fs.Arg(0), true})
}
