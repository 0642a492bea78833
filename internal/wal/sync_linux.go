package wal

import (
	"io"
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

// writeAt writes b at off in f and returns how many bytes the file took,
// also when it fails part way: os.File.WriteAt counts none of a call that
// fails, while a cut back after a failed record must zero every byte that
// was written, and none that could not be (past a file size limit).
func writeAt(f *os.File, b []byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, err := unix.Pwrite(int(fd), b[n:], off+int64(n))
			if m > 0 {
				n += m
			}
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				werr = err
				return true
			case m == 0:
				werr = io.ErrShortWrite
				return true
			}
		}
		return true
	}); err != nil {
		return n, err
	}
	if werr != nil {
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: werr}
	}
	return n, nil
}
