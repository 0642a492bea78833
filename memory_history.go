package userprops

import (
	"context"
	"slices"
	"sync"
	"time"
)

// memHistory is a memory store's change history: the latest changes, in
// revision order, trimmed from the front by the retention (WithHistory).
// Revisions are contiguous: change i of changes has revision first+i.
type memHistory struct {
	mu         sync.RWMutex
	maxChanges int
	maxAge     time.Duration
	head       uint64      // the latest revision given
	changes    []memChange // changes[start:] are kept
	start      int
}

type memChange struct {
	Change
	at time.Time
}

// append gives c the next revision, keeps it, trims the history, and
// returns the revision. c.Value is the store's record, never modified.
func (h *memHistory) append(c Change, at time.Time) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.head++
	c.Revision = h.head
	h.changes = append(h.changes, memChange{c, at})
	for n := len(h.changes) - h.start; n > h.maxChanges ||
		(h.maxAge > 0 && n > 1 && at.Sub(h.changes[h.start].at) > h.maxAge); n-- {
		h.changes[h.start] = memChange{} // release the value
		h.start++
	}
	if h.start > 1024 && h.start > len(h.changes)/2 {
		h.changes = slices.Clip(append(h.changes[:0:0], h.changes[h.start:]...))
		h.start = 0
	}
	return c.Revision
}

// clear drops the changes kept, for Close: their values are released, and
// head stays, so a watcher reading after Close still finds its position.
func (h *memHistory) clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.changes, h.start = nil, 0
}

// ReadChanges implements ChangeSource.
func (h *memHistory) ReadChanges(_ context.Context, accountID string, after uint64, limit int) ([]Change, uint64, uint64, uint64, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	kept := h.changes[h.start:]
	oldest := h.head - uint64(len(kept)) + 1
	through := max(after, oldest-1)
	if through >= h.head {
		return nil, max(after, h.head), oldest, h.head, nil
	}
	var out []Change
	for _, c := range kept[through-(oldest-1):] {
		through = c.Revision
		if accountID == "" || c.AccountID == accountID {
			c.Value = slices.Clone(c.Value)
			out = append(out, c.Change)
			if len(out) == limit {
				break
			}
		}
	}
	return out, through, oldest, h.head, nil
}
