package main

import (
	"context"
	"io"
	"os"

	"github.com/userprops/userprops"
)

// compact writes a compacted copy of a store file to a new file (bbolt files
// never shrink on their own) and prints {"from":BYTES,"to":BYTES}.
func compact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFileFlags("compact", "OUT", stderr)
	return f.withFile(args, 1, 1, func(store *userprops.BoltStore) error {
		out := f.fs.Arg(0)
		if err := store.CompactTo(ctx, out); err != nil {
			return err
		}
		from, err := os.Stat(f.db)
		if err != nil {
			return err
		}
		to, err := os.Stat(out)
		if err != nil {
			return err
		}
		return printJSON(stdout, struct {
			From int64 `json:"from"`
			To   int64 `json:"to"`
		}{from.Size(), to.Size()})
	})
}
