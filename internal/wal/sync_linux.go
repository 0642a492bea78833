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
