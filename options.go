package userprops

import "time"

// Option configures a store when it is opened (NewMemory, OpenBolt, or a
// backend in another package such as pgstore.Open).
//
// The options of this package that do not name a backend (WithDirectory,
// WithClock, WithAccountLimits) apply to every store: each backend reads them through its Gate.
// An option that concerns one backend only, such as WithLockTimeout for
// OpenBolt, is made with BackendOption and read back by that backend alone
// with BackendSettings; every other backend ignores it, so one list of
// options can open any store.
type Option func(*options)

// options holds what Options set; every backend reads the same struct,
// through its Gate.
type options struct {
	directory Directory
	now       func() time.Time
	// maxProperties and maxBytes are the account limits; 0 is none.
	maxProperties int
	maxBytes      int64
	// indexes are the declared indexes (WithIndex), each once, in the
	// order declared.
	indexes []Index
	// historyChanges and historyAge are the change history's retention
	// (WithHistory).
	historyChanges int
	historyAge     time.Duration
	// backend holds the settings of BackendOptions, in the order given.
	backend []any
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, maxProperties: DefaultMaxProperties, maxBytes: DefaultMaxBytes,
		historyChanges: DefaultHistoryChanges, historyAge: DefaultHistoryAge}
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

// The limits on one account's data that every store applies unless
// WithAccountLimits says otherwise. They bound what one account, and so one
// caller of the HTTP API acting on its own account, can make a server hold
// and send: with keys of at most MaxKeyLength characters (765 bytes at most,
// 255 "€"), the largest key list is at most 765 KB as the []string Keys
// returns, and about 3.1 MB as the HTTP API sends it, because the self link
// of each key percent-encodes it to three times its size.
const (
	// DefaultMaxProperties is how many properties one account may hold.
	DefaultMaxProperties = 1000

	// DefaultMaxBytes is how many bytes of keys and values together one
	// account may hold (see PropertyBytes): 4 MiB, room for 128 values of
	// the largest size (MaxValueBytes), or for the largest number of
	// properties with values of some 4 KB each.
	DefaultMaxBytes int64 = 4 << 20
)

// WithAccountLimits sets the limits on each account's data: at most
// maxProperties properties, and at most maxBytes bytes of keys and values
// together, counted as PropertyBytes counts them. Without this option a store
// applies DefaultMaxProperties and DefaultMaxBytes.
//
// A Set that would create a property on an account holding maxProperties, or
// grow an account's bytes past maxBytes, returns an error wrapping
// ErrAccountFull and changes nothing. Updates that do not grow an account,
// and every Delete, are always allowed, even on an account above its limits
// (after the limits were lowered, or a bolt Restore, which is exempt), so
// that it can always shrink back.
//
// A limit of 0 or less turns that limit off: WithAccountLimits(0, 0) lets
// one account fill the store, and one key list grow without bound.
func WithAccountLimits(maxProperties int, maxBytes int64) Option {
	return func(o *options) {
		o.maxProperties, o.maxBytes = max(maxProperties, 0), max(maxBytes, 0)
	}
}

// BackendOption is for backend implementers. It returns an Option that
// carries setting, a value of a type the backend owns (typically an
// unexported function type that edits the backend's configuration), for that
// backend to read back with BackendSettings. A backend's exported option
// constructor wraps it:
//
//	type setting func(*config)
//
//	func WithPoolSize(n int) userprops.Option {
//		return userprops.BackendOption(setting(func(c *config) { c.poolSize = n }))
//	}
//
// Because no other package can name the type, no other backend sees the
// setting, and every other store ignores the Option.
func BackendOption(setting any) Option {
	return func(o *options) { o.backend = append(o.backend, setting) }
}

// BackendSettings is for backend implementers. It returns, in the order
// given, the settings of type T that opts carry (see BackendOption); options
// of other types, and the options of this package, are skipped.
func BackendSettings[T any](opts []Option) []T {
	var found []T
	for _, s := range newOptions(opts).backend {
		if v, ok := s.(T); ok {
			found = append(found, v)
		}
	}
	return found
}
