package wal

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's data, and the metadata needed to read it back, durable
// (fdatasync: the file size is included, timestamps are not).
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

// openDirectFile opens path for writing with O_DIRECT, or returns nil if
// the file system refuses it.
func openDirectFile(path string) *os.File {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return f
}
