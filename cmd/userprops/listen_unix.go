//go:build unix

package main

import (
	"math"
	"syscall"
)

// fileLimit returns the soft limit on open files (RLIMIT_NOFILE), 0 when it
// is unknown or unlimited.
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if cur := uint64(rl.Cur); cur <= math.MaxInt32 {
		return cur
	}
	return 0
}
