package userprops

import "context"

// HeadRevision implements HeadRevisioner: the latest revision the history
// gave. A change gets its revision under its shard's lock, which the write
// holds until the property is in place, so a read that starts after
// HeadRevision returned waits for the write and sees it.
func (s *MemoryStore) HeadRevision(ctx context.Context) (uint64, error) {
	if err := s.gate.Ready(ctx); err != nil {
		return 0, err
	}
	return s.history.headRevision(), nil
}

// headRevision returns the latest revision given.
func (h *memHistory) headRevision() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.head
}
