package userprops

import "context"

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
	// A Set that would create a property on an account that holds as many
	// as the store allows, or grow the bytes of an account's keys and values
	// past their limit (WithAccountLimits), returns an error wrapping
	// ErrAccountFull and changes nothing; concurrent Sets on one account
	// never pass a limit together.
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

	// DeleteAccount deletes every property of accountID in one
	// transaction, as erasing a user (GDPR erasure, a closed account)
	// needs, and returns how many it deleted: 0, and no error, for an
	// account with none. Its index entries go in the same transaction, and
	// the account's usage returns to zero. The account ID and the
	// Directory are checked as in Keys (ErrUserNotFound for an unknown
	// account). No reader sees part of the deletion: a Keys, Find or
	// ForEach sees all of the account's properties or none. A durable store
	// returns only once the deletion is on stable storage.
	DeleteAccount(ctx context.Context, accountID string) (deleted int, err error)

	// Find returns one page of the accounts whose properties match q (see
	// Query for what matches), in ascending byte order of account ID, and
	// how many match in all. It sees every write acknowledged before it
	// started, and none half-done: indexes (WithIndex) are updated in the
	// transaction of each write and change how fast Find answers, never
	// what. A malformed q or page returns an error wrapping
	// ErrInvalidQuery. Find takes no account, so a Directory plays no part
	// in it.
	Find(ctx context.Context, q Query, page Page) (Found, error)

	// Close releases the store's resources, after the calls in flight have
	// finished. It is idempotent: later calls of Close return nil, every
	// other method returns ErrClosed.
	Close() error
}

// Scanner is implemented by every store in this module: MemoryStore,
// BoltStore and pgstore.Store. ForEach calls fn with every property of the
// store, ordered by account ID and then by key, both in ascending byte
// order, from one consistent snapshot: every write acknowledged before
// ForEach began and none after. The Property passed to fn is fn's to keep.
// ForEach stops at the first error fn returns, and returns it; it checks ctx
// as it goes and returns ctx.Err() once it ends. What ForEach holds while it
// runs, and so whether fn may write to the store, depends on the store (see
// each one's ForEach); none holds more than a bounded part of the store in
// memory, except the memory store, which holds it all anyway.
type Scanner interface {
	ForEach(ctx context.Context, fn func(Property) error) error
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
