package userprops

import "context"

// HeadRevision implements HeadRevisioner: the head of the revision record,
// read as Watch reads it, through the write-ahead log's overlay, so every
// change up to it is acknowledged and readable with its property and its
// history record.
func (s *BoltStore) HeadRevision(ctx context.Context) (uint64, error) {
	if err := s.gate.Ready(ctx); err != nil {
		return 0, err
	}
	var head uint64
	err := s.read("head", func(kv *kvRead) error {
		r, err := s.readRevisions(kv.meta())
		head = r.head
		return err
	})
	return head, err
}
