package userprops

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Store keeps user properties: small JSON documents stored under an account ID
// and a property key, with Jira's rules (see the package documentation).
//
// Every implementation in this module is safe for concurrent use by multiple
// goroutines, and every method checks its arguments the same way: a call with
// an invalid account ID, key or value returns an error wrapping one of
// ErrAccountIDMissing, ErrInvalidAccountID, ErrKeyMissing, ErrKeyTooLong,
// ErrInvalidKey, ErrValueMissing, ErrValueTooLarge or ErrInvalidJSON and
// changes nothing. When a Directory is configured (WithDirectory), a call for
// an account the directory does not know returns an error wrapping
// ErrUserNotFound. A call whose context is already done returns ctx.Err() and
// changes nothing. After Close, every call returns ErrClosed.
type Store interface {
	// Set stores value under (accountID, key). It returns Created if the
	// property did not exist (also after a Delete) and Updated if it
	// replaced an existing value. Among concurrent Sets of a property that
	// does not exist, exactly one returns Created.
	//
	// The store keeps its own copy of value; the caller may reuse it as soon
	// as Set returns. A durable store returns only once the change is on
	// stable storage.
	Set(ctx context.Context, accountID, key string, value []byte) (Status, error)

	// Get returns the property stored under (accountID, key), or an error
	// wrapping ErrNotFound. The returned Value is a copy, byte for byte as it
	// was set; the caller may keep and modify it.
	Get(ctx context.Context, accountID, key string) (Property, error)

	// Delete removes the property stored under (accountID, key), or returns
	// an error wrapping ErrNotFound if there is none.
	Delete(ctx context.Context, accountID, key string) error

	// Keys returns the keys of accountID's properties in ascending byte
	// order: an empty, non-nil slice if it has none. The slice is the
	// caller's.
	Keys(ctx context.Context, accountID string) ([]string, error)

	// Close releases the store's resources, after the calls in flight have
	// finished. It is idempotent: later calls of Close return nil, every
	// other method returns ErrClosed.
	Close() error
}

// Directory tells whether an account exists, so that a store can answer
// ErrUserNotFound for accounts it does not know, as Jira answers 404 for an
// unknown user. Its methods must be safe for concurrent use.
type Directory interface {
	// UserExists reports whether the account exists. An error aborts the
	// store call, which returns it wrapped.
	UserExists(ctx context.Context, accountID string) (bool, error)
}

// DirectoryFunc adapts a function to the Directory interface.
type DirectoryFunc func(ctx context.Context, accountID string) (bool, error)

// UserExists returns f(ctx, accountID).
func (f DirectoryFunc) UserExists(ctx context.Context, accountID string) (bool, error) {
	return f(ctx, accountID)
}

// Option configures a store opened by NewMemory or OpenBolt.
type Option func(*options)

// options holds what Options set; every backend reads the same struct.
type options struct {
	directory   Directory
	now         func() time.Time
	lockTimeout time.Duration
}

// DefaultLockTimeout is how long OpenBolt waits for a file that another handle
// holds before it gives up with ErrLocked, unless WithLockTimeout says
// otherwise.
const DefaultLockTimeout = 3 * time.Second

func newOptions(opts []Option) options {
	o := options{now: time.Now, lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithDirectory makes the store check every account ID against dir: calls for
// an account dir does not know return an error wrapping ErrUserNotFound and
// change nothing. Without a directory every valid account ID exists.
func WithDirectory(dir Directory) Option {
	return func(o *options) { o.directory = dir }
}

// WithClock sets the function that stamps Property.UpdatedAt; the default is
// time.Now. It is meant for tests and reproducible examples.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithLockTimeout sets how long OpenBolt waits for a store file that another
// handle holds before it returns an error wrapping ErrLocked. It must be
// positive; the default is DefaultLockTimeout. Stores that keep no file
// ignore it.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// op names what a call does, for the checks that depend on it.
type op int

const (
	opGet op = iota
	opSet
	opDelete
	opKeys
)

// core is the part every backend shares: the checks each call makes before it
// touches data, so that Jira's rules are enforced in one place, and the
// closed state.
type core struct {
	opts   options
	closed atomic.Bool
	// damage, once set, is the error every later call returns (see
	// ErrCorrupt).
	damage atomic.Pointer[error]
}

// fail records err, which wraps ErrCorrupt, as the answer to every later
// call, and returns it. The first damage recorded is kept.
func (c *core) fail(err error) error {
	c.damage.CompareAndSwap(nil, &err)
	return err
}

// admit runs, in order, every check a call makes before it reads or writes:
// the store is open and undamaged, the context is live, the arguments follow Jira's rules
// (key and value only where the operation takes them), and the account is
// known to the directory.
func (c *core) admit(ctx context.Context, o op, accountID, key string, value []byte) error {
	if err := c.ready(ctx); err != nil {
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
	if dir := c.opts.directory; dir != nil {
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

// ready reports whether the store can take a call: it is open and
// undamaged, and the context is live.
func (c *core) ready(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if d := c.damage.Load(); d != nil {
		return *d
	}
	return ctx.Err()
}
