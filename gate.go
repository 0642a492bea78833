package userprops

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Gate is for backend implementers: it is the one way a Store plugs into
// this package's rules, used by every backend in this module and open to
// backends in other packages. Applications never need it.
//
// A Gate runs the checks every Store makes before it touches data, so that
// each backend enforces Jira's rules with the same code: the store is open
// and undamaged, the context is live, the account ID, key and value follow
// the rules (ValidateAccountID, ValidateKey, ValidateValue, in that order),
// and the Directory, if one is configured, knows the account. Each Admit
// method returns nil or the error the Store method must return, unchanged.
// It also keeps the two states every store shares: closed (MarkClosed) and
// damaged (MarkDamaged), and the store's clock (Now).
//
// A backend creates one Gate with the Options it was opened with, calls the
// matching Admit method first in every Store method (Ready in operations of
// its own that take no account), and MarkClosed in its Close. A Gate is safe
// for concurrent use.
type Gate struct {
	opts   options
	closed atomic.Bool
	// damage, once set, is the error every later call returns (see
	// ErrCorrupt).
	damage atomic.Pointer[error]
}

// NewGate returns a Gate for a store opened with opts. It reads the options
// every store shares (WithDirectory, WithClock); a backend reads its own with
// BackendSettings.
func NewGate(opts ...Option) *Gate {
	return &Gate{opts: newOptions(opts)}
}

// AdmitSet checks a Set.
func (g *Gate) AdmitSet(ctx context.Context, accountID, key string, value []byte) error {
	return g.admit(ctx, opSet, accountID, key, value)
}

// AdmitGet checks a Get.
func (g *Gate) AdmitGet(ctx context.Context, accountID, key string) error {
	return g.admit(ctx, opGet, accountID, key, nil)
}

// AdmitDelete checks a Delete.
func (g *Gate) AdmitDelete(ctx context.Context, accountID, key string) error {
	return g.admit(ctx, opDelete, accountID, key, nil)
}

// AdmitKeys checks a Keys.
func (g *Gate) AdmitKeys(ctx context.Context, accountID string) error {
	return g.admit(ctx, opKeys, accountID, "", nil)
}

// Ready reports whether the store can take a call: it returns ErrClosed
// after MarkClosed, the recorded damage after MarkDamaged, ctx.Err() when the
// context has ended, and nil otherwise. The Admit methods check it first; a
// backend calls it alone in operations of its own (a backup, a check) and
// again after waiting, when Close or damage may have come meanwhile.
func (g *Gate) Ready(ctx context.Context) error {
	if g.closed.Load() {
		return ErrClosed
	}
	if d := g.damage.Load(); d != nil {
		return *d
	}
	return ctx.Err()
}

// MarkClosed marks the store closed, so that every later Admit and Ready
// returns ErrClosed; it releases nothing, which is the backend's to do. It
// reports whether this call marked it (false if it was marked already), so
// that the backend's Close releases its resources once and stays
// idempotent:
//
//	func (s *Store) Close() error {
//		if !s.gate.MarkClosed() {
//			return nil
//		}
//		return s.conn.Close()
//	}
func (g *Gate) MarkClosed() bool {
	return !g.closed.Swap(true)
}

// Closed reports whether MarkClosed has been called.
func (g *Gate) Closed() bool {
	return g.closed.Load()
}

// MarkDamaged records err, which should wrap ErrCorrupt, as the answer to
// every later Admit and Ready, so that nothing more is written to a damaged
// store, and returns it. The first damage recorded is kept; later calls
// return their own err unchanged.
func (g *Gate) MarkDamaged(err error) error {
	g.damage.CompareAndSwap(nil, &err)
	return err
}

// Now returns the time that stamps Property.UpdatedAt: the store's clock
// (WithClock), in UTC, without a monotonic clock reading.
func (g *Gate) Now() time.Time {
	return g.opts.now().UTC()
}

// NotFound is for backend implementers: it returns the error for a missing
// property, wrapping ErrNotFound and naming the account and key as every
// backend in this module does.
func NotFound(accountID, key string) error {
	return fmt.Errorf("%w: account %s has no property %s", ErrNotFound, abbrev(accountID), abbrev(key))
}

// op names what a call does, for the checks that depend on it.
type op int

const (
	opGet op = iota
	opSet
	opDelete
	opKeys
)

// admit runs, in order, every check a call makes before it reads or writes:
// the store is open and undamaged, the context is live, the arguments follow
// Jira's rules (key and value only where the operation takes them), and the
// account is known to the directory.
func (g *Gate) admit(ctx context.Context, o op, accountID, key string, value []byte) error {
	if err := g.Ready(ctx); err != nil {
		return err
	}
	if err := ValidateAccountID(accountID); err != nil {
		return err
	}
	if o != opKeys {
		if err := ValidateKey(key); err != nil {
			return err
		}
	}
	if o == opSet {
		if err := ValidateValue(value); err != nil {
			return err
		}
	}
	if dir := g.opts.directory; dir != nil {
		ok, err := dir.UserExists(ctx, accountID)
		if err != nil {
			return fmt.Errorf("userprops: looking up account %s: %w", abbrev(accountID), err)
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrUserNotFound, abbrev(accountID))
		}
	}
	return nil
}
