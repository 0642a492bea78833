package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

	n, err := writeFileAtomically(out, func(w io.Writer) (int64, error) { return store.Backup(ctx, w) })
	if err != nil {
		return err
	}
	return printJSON(stdout, struct {
		Backup string `json:"backup"`
		Bytes  int64  `json:"bytes"`
	}{out, n})
}

// writeFileAtomically creates path (mode 0600) with what write writes: into
// a temporary file beside it, synced, then renamed, so that path never holds
// a partial file.
func writeFileAtomically(path string, write func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	n, err := write(tmp)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	return n, err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
