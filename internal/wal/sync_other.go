//go:build !linux

package wal

import "os"

// datasync makes f's data durable; without fdatasync, it is a full fsync.
func datasync(f *os.File) error { return f.Sync() }
