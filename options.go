package userprops

import "time"

// Option configures a store when it is opened (NewMemory, OpenBolt, or a
// backend in another package such as pgstore.Open).
//
// The options of this package that do not name a backend (WithDirectory,
// WithClock) apply to every store: each backend reads them through its Gate.
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
	// backend holds the settings of BackendOptions, in the order given.
	backend []any
}

func newOptions(opts []Option) options {
	o := options{now: time.Now}
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
