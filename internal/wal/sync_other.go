//go:build !linux

package wal

import "os"

// datasync makes f's data durable; without fdatasync, it is a full fsync.
func datasync(f *os.File) error { return f.Sync() }

// openDirectFile returns nil: direct I/O is used on Linux only.
func openDirectFile(string) *os.File { return nil }

// writeAt writes b at off in f. os.File.WriteAt counts none of a call
// that fails, so a failure counts all of b as possibly written.
func writeAt(f *os.File, b []byte, off int64) (int, error) {
	n, err := f.WriteAt(b, off)
	if err != nil {
		n = len(b)
	}
	return n, err
}
