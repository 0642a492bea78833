package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/userprops/userprops/internal/atomicfile"
)

// backup writes a consistent copy of a store file to a new file and prints
// {"backup":OUT,"bytes":N}. The copy is written beside OUT, synced and
// renamed into place, so OUT is either absent or whole.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFileFlags("backup", "OUT", stderr)
	if err := f.parse(args, 1, 1); err != nil {
		return err
	}
	out := f.fs.Arg(0)
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s exists: back up into a new file", out)
	}
	store, err := openExisting(f.db)
	if err != nil {
		return err
	}
	defer store.Close()

	n, err := atomicfile.Write(out, func(w io.Writer) (int64, error) { return store.Backup(ctx, w) })
	if err != nil {
		return err
	}
	return printJSON(stdout, struct {
		Backup string `json:"backup"`
		Bytes  int64  `json:"bytes"`
	}{out, n})
}
