package userprops

import (
	"context"
	"time"
)

// Gate runs the checks every Store makes before it touches data, so that a
// backend outside this package enforces Jira's rules with the same code as
// the backends in it: the store is open, the context is live, the account
// ID, key and value follow the rules (ValidateAccountID, ValidateKey,
// ValidateValue, in that order), and the Directory, if one is configured,
// knows the account. Each Admit method returns nil or the error the Store
// method must return, unchanged.
//
// A backend creates one Gate with the Options it was opened with, calls the
// matching Admit method first in every Store method, and Close in its own
// Close. A Gate is safe for concurrent use.
type Gate struct {
	c core
}

// NewGate returns a Gate for a store opened with opts (WithDirectory and
// WithClock apply; other options are the backend's to read).
func NewGate(opts ...Option) *Gate {
	return &Gate{c: core{opts: newOptions(opts)}}
}

// AdmitSet checks a Set.
func (g *Gate) AdmitSet(ctx context.Context, accountID, key string, value []byte) error {
	return g.c.admit(ctx, opSet, accountID, key, value)
}

// AdmitGet checks a Get.
func (g *Gate) AdmitGet(ctx context.Context, accountID, key string) error {
	return g.c.admit(ctx, opGet, accountID, key, nil)
}

// AdmitDelete checks a Delete.
func (g *Gate) AdmitDelete(ctx context.Context, accountID, key string) error {
	return g.c.admit(ctx, opDelete, accountID, key, nil)
}

// AdmitKeys checks a Keys.
func (g *Gate) AdmitKeys(ctx context.Context, accountID string) error {
	return g.c.admit(ctx, opKeys, accountID, "", nil)
}

// Close marks the store closed, so that every later Admit returns
// ErrClosed. It reports whether this call closed it (false if it was closed
// already), so that Close stays idempotent.
func (g *Gate) Close() bool {
	return !g.c.closed.Swap(true)
}

// Closed reports whether Close has been called.
func (g *Gate) Closed() bool {
	return g.c.closed.Load()
}

// Now returns the time that stamps Property.UpdatedAt: the store's clock
// (WithClock), in UTC.
func (g *Gate) Now() time.Time {
	return g.c.opts.now().UTC()
}

// NotFound returns the error for a missing property, wrapping ErrNotFound
// and naming the account and key as the other backends do.
func NotFound(accountID, key string) error {
	return notFound(accountID, key)
}
