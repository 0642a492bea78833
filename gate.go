package userprops

import (
	"context"
	"fmt"
	"slices"
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
// It holds the one rule that depends on what is stored, the account limits
// (CheckUsage, inside the backend's write), and keeps the two states every
// store shares: closed (MarkClosed) and damaged (MarkDamaged), and the
// store's clock (Now).
//
// A backend creates one Gate with the Options it was opened with, calls the
// matching Admit method first in every Store method (Ready in operations of
// its own that take no account), and MarkClosed in its Close. A Gate is safe
// for concurrent use.
//
// # Close and the calls in flight
//
// An Admit method only checks: it holds nothing, and returns before the
// backend's work begins. A call admitted just before Close may therefore
// still be running, or not yet have touched the backend's data, when Close
// is called and when MarkClosed returns; calls admitted after MarkClosed
// get ErrClosed. Close must not tear down what such a call is about to use
// (nil a map it will write, close a file it will read) unless the call
// cannot then fail badly. A backend does one of two things:
//
//   - Close waits for the calls in flight before it releases anything: each
//     call takes a shared lock (sync.RWMutex.RLock) after its Admit, checks
//     Ready again under it (Close may have come in between) and holds it to
//     its end; Close takes the lock exclusively around MarkClosed and the
//     release. BoltStore's writes do this, and bbolt's own Close waits for
//     its read transactions.
//   - Or Close releases the data under the lock that guards it, and every
//     call, once it holds that lock, checks Closed again and returns
//     ErrClosed if Close came meanwhile. MemoryStore does this: its Close
//     drops each shard's maps under the shard's lock.
//
// storetest's Close/WhileBusy subtest closes a store while 16 goroutines
// call it; a backend that does neither panics or races there.
type Gate struct {
	opts   options
	closed atomic.Bool
	// damage, once set, is the error every later call returns (see
	// ErrCorrupt).
	damage atomic.Pointer[error]
}

// NewGate returns a Gate for a store opened with opts. It reads the options
// every store shares (WithDirectory, WithClock, WithAccountLimits); a backend
// reads its own with BackendSettings.
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

// AdmitDeleteAccount checks a DeleteAccount: as AdmitKeys does, for an
// account and no key.
func (g *Gate) AdmitDeleteAccount(ctx context.Context, accountID string) error {
	return g.admit(ctx, opKeys, accountID, "", nil)
}

// AdmitFind checks a Find: the store is ready (see Ready), q is well-formed
// (Query.Err) and page is valid. It returns page with its defaults applied
// (see Page), for Evaluate.
func (g *Gate) AdmitFind(ctx context.Context, q Query, page Page) (Page, error) {
	if err := g.Ready(ctx); err != nil {
		return Page{}, err
	}
	if err := q.Err(); err != nil {
		return Page{}, err
	}
	return page.normalize()
}

// Indexes returns the indexes the store was opened with (WithIndex), each
// once, in the order declared. The slice is the caller's.
func (g *Gate) Indexes() []Index {
	return slices.Clone(g.opts.indexes)
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
// returns ErrClosed; it releases nothing, which is the backend's to do, and
// it does not wait for calls admitted before it (see "Close and the calls
// in flight" on Gate). It
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

// Usage is what one account holds, as the account limits count it (see
// WithAccountLimits): its number of properties, and the bytes of their keys
// and values together (PropertyBytes).
type Usage struct {
	Properties int
	Bytes      int64
}

// NoProperty stands for a property that does not exist, in Usage.Change.
const NoProperty int64 = -1

// Change returns u after one property of the account changes from oldBytes
// to newBytes (each as PropertyBytes counts it, or NoProperty): a create is
// Change(NoProperty, n), a delete Change(o, NoProperty), an update
// Change(o, n). It is for backends, to compute the usage CheckUsage checks.
func (u Usage) Change(oldBytes, newBytes int64) Usage {
	if oldBytes != NoProperty {
		u.Properties--
		u.Bytes -= oldBytes
	}
	if newBytes != NoProperty {
		u.Properties++
		u.Bytes += newBytes
	}
	return u
}

// PropertyBytes returns what one property counts against its account's byte
// limit: the length in bytes of its key plus that of its value, as stored.
func PropertyBytes(key string, value []byte) int64 {
	return int64(len(key)) + int64(len(value))
}

// CheckUsage applies the account limits (WithAccountLimits) to a write that
// takes the usage of accountID from before to after. It returns an error
// wrapping ErrAccountFull, which names the limit and the figures, if the
// write adds a property and the account would then hold more properties than
// it may, or adds bytes and the account would then hold more bytes than it
// may; and nil otherwise. A write that adds neither (an update to a value no
// larger, a Delete) is always admitted, even on an account already above a
// limit.
//
// A backend calls it in every write that creates a property or replaces a
// value (Restore-like administrative writes may skip it), with before read
// in the same transaction as the write and under the same lock, so that
// concurrent writes to one account are counted one after another and
// together never pass a limit; on an error it writes nothing, and returns
// the error unchanged. It keeps after as the account's new usage, with the
// write, atomically.
func (g *Gate) CheckUsage(accountID string, before, after Usage) error {
	if max := g.opts.maxProperties; max > 0 && after.Properties > max && after.Properties > before.Properties {
		return fmt.Errorf("%w: account %s would hold %d properties, more than the limit of %d",
			ErrAccountFull, abbrev(accountID), after.Properties, max)
	}
	if max := g.opts.maxBytes; max > 0 && after.Bytes > max && after.Bytes > before.Bytes {
		return fmt.Errorf("%w: account %s would hold %d bytes of keys and values, more than the limit of %d",
			ErrAccountFull, abbrev(accountID), after.Bytes, max)
	}
	return nil
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
