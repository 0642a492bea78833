package main

import (
	"context"
	"io"

	"github.com/userprops/userprops"
)

// del deletes a property and prints {"key":K,"deleted":true}.
func del(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newStoreFlags("delete", "KEY", stderr)
	return f.withStore(ctx, args, 1, 1, func(store userprops.Store) error {
		if err := store.Delete(ctx, f.account, f.fs.Arg(0)); err != nil {
			return err
		}
		return printJSON(stdout, struct {
			Key     string `json:"key"`
			Deleted bool   `json:"deleted"`
		}{f.fs.Arg(0), true})
	})
}
