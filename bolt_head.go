package userprops

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// HeadRevision implements HeadRevisioner: the head of the revision record,
// read in one read transaction as Watch reads it, so every change up to it
// is committed in the file with its property and its history record.
func (s *BoltStore) HeadRevision(ctx context.Context) (uint64, error) {
	if err := s.gate.Ready(ctx); err != nil {
		return 0, err
	}
	var head uint64
	err := s.view("head", func(tx *bolt.Tx) error {
		r, err := s.readRevisions(tx)
		head = r.head
		return err
	})
	return head, err
}
