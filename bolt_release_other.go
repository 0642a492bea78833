//go:build !linux

package userprops

import "os"

// releaseMapping would unmap f's file after bbolt panicked inside Open (see
// the Linux version). Elsewhere there is no portable way to find the
// mapping, so it stays, and with it the file's lock, until the process
// ends.
func releaseMapping(f *os.File) {}
