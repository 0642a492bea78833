// Package atomicfile writes files so that they are either absent, as they
// were, or whole: the command's backups and exports and the accounts file
// that the server reads on SIGHUP.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path, with mode 0600, with what write writes:
// into a temporary file beside it (in the same directory, so that the rename
// is atomic), synced, then renamed over path, and the directory synced so
// that the rename survives a crash. path never holds a partial file; if
// write or any step fails, path is as it was and the temporary file is
// removed. It returns what write returned. A symbolic link at path is
// replaced, not followed: resolve it first to write its target.
func Write(path string, write func(io.Writer) (int64, error)) (int64, error) {
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
		err = SyncDir(filepath.Dir(path))
	}
	return n, err
}

// SyncDir makes a rename or a creation in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
