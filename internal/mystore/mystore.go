// Package mystore stands for the reader's own backend in the README's
// storetest snippet ("Writing another backend"), so that the snippet
// compiles and runs as a test (readme_test.go in the root package): it is a
// userprops.BoltStore kept in a directory of its own.
package mystore

import (
	"path/filepath"

	"github.com/userprops/userprops"
)

// Store is a userprops.BoltStore in a directory.
type Store struct {
	*userprops.BoltStore
	dir string
}

// Open opens the store in dir, creating it if needed. It panics if the
// store cannot be opened: it is for tests, where that ends the test.
func Open(dir string, opts ...userprops.Option) *Store {
	s, err := userprops.OpenBolt(filepath.Join(dir, "props.db"), opts...)
	if err != nil {
		panic(err)
	}
	return &Store{BoltStore: s, dir: dir}
}

// Dir returns the directory the store keeps its file in.
func (s *Store) Dir() string { return s.dir }
