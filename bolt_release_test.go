//go:build linux

package userprops

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestReleaseMapping: a bbolt DB lost without Close (as when bbolt panics
// inside Open) keeps its file mapped, and the mapping keeps the file's flock;
// releaseMapping and closing the descriptor give the lock back.
func TestReleaseMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lost.db")
	var file *os.File
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			file = f
			return f, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db // lost: never closed, as after a panic in Open
	locked := func() bool {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
		return err != nil
	}
	fd, err := syscall.Dup(int(file.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	dup := os.NewFile(uintptr(fd), path)
	file.Close()
	if !locked() {
		t.Fatal("with the descriptor closed, the mapping should still hold the lock")
	}
	releaseMapping(dup)
	dup.Close()
	if locked() {
		t.Fatal("the lock is still held after releaseMapping")
	}
}
