//go:build !linux

package wal

import "os"

// datasync makes f's data durable; without fdatasync, it is a full fsync.
func datasync(f *os.File) error { return f.Sync() }

// openDirectFile returns nil: direct I/O is used on Linux only.
func openDirectFile(string) *os.File { return nil }
