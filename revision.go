package userprops

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Revisions. Every committed change of a store (a Set, SetIf, Delete,
// DeleteIf, each property a DeleteAccount removes, each property a Restore
// writes) gets a revision: a store-wide counter that strictly increases and
// is never reused, across deletes and re-creation and across restarts.
// Property.Revision is the revision of a property's last change, so a
// property deleted and created again never carries a revision it had before,
// and compare-and-set on it (SetIf, DeleteIf) cannot be fooled by a value
// that came back (no ABA). Version keeps its own meaning (1 on create, +1 per
// update), for Jira's Created/Updated.

// FromNow, as the after of Watch, asks for the changes committed after the
// call only, however far the history goes back.
const FromNow uint64 = math.MaxUint64

// Change is one committed change, as Watch delivers it.
type Change struct {
	AccountID string
	Key       string
	// Revision is the change's revision: the Property.Revision the
	// property had from it on.
	Revision uint64
	// Deleted is true for a delete, false for a set.
	Deleted bool
	// Value is the value set, byte for byte; nil for a delete. It is the
	// caller's.
	Value json.RawMessage
}

// CompactedError is the error Watch delivers when the history no longer
// holds the changes it was asked for: they were trimmed (WithHistory). A
// watcher that gets it has missed changes, and must read the properties
// again and watch from Oldest-1 or from FromNow. It wraps ErrCompacted.
type CompactedError struct {
	// After is the revision the watcher asked to read after.
	After uint64
	// Oldest is the oldest revision the history still holds the change
	// of (the history keeps every change from Oldest on).
	Oldest uint64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("%v: the changes after revision %d are no longer kept; the oldest kept is %d",
		ErrCompacted, e.After, e.Oldest)
}

// Unwrap returns ErrCompacted.
func (e *CompactedError) Unwrap() error { return ErrCompacted }

// The history every store keeps unless WithHistory says otherwise.
const (
	// DefaultHistoryChanges is how many of the latest changes a store
	// keeps for Watch.
	DefaultHistoryChanges = 10000
	// DefaultHistoryAge is how long a store keeps a change for Watch at
	// most: 0, no limit beyond the number.
	DefaultHistoryAge time.Duration = 0
)

// WithHistory sets how much change history a store keeps for Watch: at
// most maxChanges of the latest changes (at least 1; a value below 1 means
// 1) and, if maxAge is positive, none older than maxAge. The history is
// trimmed as changes are committed, in their transaction; a Watch asking for
// changes no longer kept gets a CompactedError. The history takes room in
// proportion to what it keeps: each change holds its value (up to
// MaxValueBytes), so the memory store's worst case at the default
// (DefaultHistoryChanges) is 320 MiB, and its history is in memory.
func WithHistory(maxChanges int, maxAge time.Duration) Option {
	return func(o *options) {
		o.historyChanges, o.historyAge = max(maxChanges, 1), max(maxAge, 0)
	}
}

// History returns the retention the store was opened with (WithHistory):
// how many changes it keeps, and for how long at most (0: no limit). It is
// for backends.
func (g *Gate) History() (maxChanges int, maxAge time.Duration) {
	return g.opts.historyChanges, g.opts.historyAge
}

// AdmitSetIf checks a SetIf: as AdmitSet does.
func (g *Gate) AdmitSetIf(ctx context.Context, accountID, key string, value []byte) error {
	return g.AdmitSet(ctx, accountID, key, value)
}

// AdmitDeleteIf checks a DeleteIf: as AdmitDelete does.
func (g *Gate) AdmitDeleteIf(ctx context.Context, accountID, key string) error {
	return g.AdmitDelete(ctx, accountID, key)
}

// AdmitWatch checks a Watch: the store is ready, and accountID, unless it is
// "" (every account), follows the rules and is known to the directory.
func (g *Gate) AdmitWatch(ctx context.Context, accountID string) error {
	if accountID == "" {
		return g.Ready(ctx)
	}
	return g.admit(ctx, opKeys, accountID, "", nil)
}

// CheckRevision is for backend implementers: the condition of SetIf and
// DeleteIf. current is the revision of the stored property, 0 if there is
// none; want is what the caller asked for. It returns nil when the write may
// go on, and otherwise an error wrapping ErrRevisionMismatch that says what
// was found: want 0 matches a missing property only, any other want the
// property at exactly that revision only. A backend calls it inside the
// transaction of the write, after reading current, and writes nothing on an
// error.
func CheckRevision(accountID, key string, current, want uint64) error {
	switch {
	case current == want:
		return nil
	case want == 0:
		return fmt.Errorf("%w: account %s already has property %s, at revision %d",
			ErrRevisionMismatch, abbrev(accountID), abbrev(key), current)
	case current == 0:
		return fmt.Errorf("%w: account %s has no property %s, so not at revision %d",
			ErrRevisionMismatch, abbrev(accountID), abbrev(key), want)
	default:
		return fmt.Errorf("%w: account %s's property %s is at revision %d, not %d",
			ErrRevisionMismatch, abbrev(accountID), abbrev(key), current, want)
	}
}

// ChangeSource is for backend implementers: the change history that
// WatchHistory reads.
type ChangeSource interface {
	// ReadChanges returns, in ascending revision order, at most limit
	// changes with a revision above after, of accountID ("" for every
	// account), each Value the caller's. through is the revision it read
	// the history up to: every change of accountID up to through is in
	// changes (through is at least after, and the revision of the last
	// change returned when limit was reached); oldest is one more than
	// the latest revision trimmed from the history (1 if none was): the
	// history holds every change from oldest on, so a watcher after a
	// revision below oldest-1 has missed some; head is the store's latest
	// revision (0 for a store never written). ReadChanges reads one
	// consistent state.
	ReadChanges(ctx context.Context, accountID string, after uint64, limit int) (changes []Change, through, oldest, head uint64, err error)
}

// Signal is for backend implementers: it wakes the Watch loops when a
// change commits. Its zero value is ready to use, and it is safe for
// concurrent use.
type Signal struct {
	mu     sync.Mutex
	ch     chan struct{}
	closed bool
	// waiting is set while a channel handed out by Wait is open, so that
	// Notify, called on every commit, takes no lock when nobody waits.
	waiting atomic.Bool
}

// Wait returns a channel that is closed at the next Notify or Close.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
		if s.closed {
			close(s.ch)
		}
	}
	s.waiting.Store(true)
	return s.ch
}

// Notify wakes every waiter; a backend calls it after each commit that
// added changes, once they are readable. Without waiters it costs one
// atomic load: a waiter takes its channel (setting waiting) before it
// reads, so a Notify that finds nobody waiting comes before that read,
// which sees the changes.
func (s *Signal) Notify() {
	if !s.waiting.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil && !s.closed {
		close(s.ch)
		s.ch = nil
		s.waiting.Store(false)
	}
}

// Close wakes every waiter, now and later; a backend calls it in Close, so
// that its watchers see ErrClosed.
func (s *Signal) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		if s.ch != nil {
			close(s.ch)
		}
	}
}

// watchBatch is how many changes WatchHistory reads at once: at most 1 MiB
// of values (MaxValueBytes each) held per watcher.
const watchBatch = 32

// WatchHistory is for backend implementers: it implements Store.Watch on a
// history (src) and the signal its commits notify, so that every backend
// watches the same way: it reads what the history holds after after, then
// waits for the signal and reads again, until ctx ends (it then yields
// ctx.Err()), the gate reports the store closed or damaged (it yields that
// error), or the history no longer holds what the watcher needs (it yields a
// CompactedError). A watcher reads at its own pace and holds nothing but its
// position: it never holds up a writer, and one that falls behind past the
// retention gets a CompactedError. The backend checks the call with
// Gate.AdmitWatch first.
func WatchHistory(ctx context.Context, g *Gate, src ChangeSource, sig *Signal, accountID string, after uint64) iter.Seq2[Change, error] {
	return func(yield func(Change, error) bool) {
		// Each range of the sequence watches from the after given, with
		// a position of its own.
		after, first := after, true
		for {
			// The wait channel is taken before reading, so a change
			// committed after the read wakes the next wait.
			wake := sig.Wait()
			if err := g.Ready(ctx); err != nil {
				yield(Change{}, err)
				return
			}
			changes, through, oldest, head, err := src.ReadChanges(ctx, accountID, after, watchBatch)
			if err != nil {
				yield(Change{}, err)
				return
			}
			if first && after == FromNow {
				after, first = head, false
				continue
			}
			first = false
			if after > head {
				// A revision this store never gave (from another store,
				// or from a memory store before a restart): what the
				// watcher saw is not what this history holds.
				yield(Change{}, fmt.Errorf("%w: revision %d is ahead of this store's latest, %d: read the properties again and watch from there",
					ErrCompacted, after, head))
				return
			}
			if oldest > 0 && after+1 < oldest {
				yield(Change{}, &CompactedError{After: after, Oldest: oldest})
				return
			}
			for _, c := range changes {
				if !yield(c, nil) {
					return
				}
			}
			after = max(after, through)
			if len(changes) == watchBatch {
				continue
			}
			select {
			case <-ctx.Done():
				yield(Change{}, ctx.Err())
				return
			case <-wake:
			}
		}
	}
}
