package userprops

import (
	"context"
	"fmt"
	"iter"
	"sync/atomic"
)

// Actor is the caller on whose behalf a store is used: an authenticated
// account, and whether it has Jira's Administer Jira global permission.
// The zero Actor is an unauthenticated caller.
type Actor struct {
	AccountID string
	Admin     bool
}

// ForActor returns a view of s that enforces Jira's permission rules for a:
//
//   - an Actor with no AccountID gets an error wrapping ErrUnauthorized from
//     every call, before anything else is checked;
//   - an administrator may act on every account;
//   - any other actor only on its own: a call for another account returns an
//     error wrapping ErrForbidden before any ErrUserNotFound or ErrNotFound,
//     so that nobody learns which accounts or properties exist;
//   - every authenticated actor may Find, across all accounts, as Jira lets
//     every user search users;
//   - every authenticated actor may ask the store's HeadRevision.
//
// The view is a HeadRevisioner exactly when s is.
//
// A missing or invalid account ID is reported (ErrAccountIDMissing,
// ErrInvalidAccountID) before the permission check, as Jira answers 400 for a
// missing accountId. Closing the view makes its own later calls return
// ErrClosed and leaves s open. The view is as safe for concurrent use as s.
func ForActor(s Store, a Actor) Store {
	v := &actorStore{store: s, actor: a}
	if h, ok := s.(HeadRevisioner); ok {
		return &actorHeadStore{actorStore: v, head: h}
	}
	return v
}

type actorStore struct {
	store  Store
	actor  Actor
	closed atomic.Bool
}

// allow checks that the actor may act on accountID.
func (v *actorStore) allow(accountID string) error {
	if v.closed.Load() {
		return ErrClosed
	}
	if v.actor.AccountID == "" {
		return ErrUnauthorized
	}
	if err := ValidateAccountID(accountID); err != nil {
		return err
	}
	if !v.actor.Admin && v.actor.AccountID != accountID {
		return fmt.Errorf("%w: account %s may not act on account %s",
			ErrForbidden, abbrev(v.actor.AccountID), abbrev(accountID))
	}
	return nil
}

func (v *actorStore) Set(ctx context.Context, accountID, key string, value []byte) (Status, error) {
	if err := v.allow(accountID); err != nil {
		return 0, err
	}
	return v.store.Set(ctx, accountID, key, value)
}

func (v *actorStore) Get(ctx context.Context, accountID, key string) (Property, error) {
	if err := v.allow(accountID); err != nil {
		return Property{}, err
	}
	return v.store.Get(ctx, accountID, key)
}

func (v *actorStore) Delete(ctx context.Context, accountID, key string) error {
	if err := v.allow(accountID); err != nil {
		return err
	}
	return v.store.Delete(ctx, accountID, key)
}

func (v *actorStore) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := v.allow(accountID); err != nil {
		return nil, err
	}
	return v.store.Keys(ctx, accountID)
}

// DeleteAccount is allowed to administrators and to the account itself, as
// every write is.
func (v *actorStore) DeleteAccount(ctx context.Context, accountID string) (int, error) {
	if err := v.allow(accountID); err != nil {
		return 0, err
	}
	return v.store.DeleteAccount(ctx, accountID)
}

// Find lets every authenticated actor search, as Jira's user search needs
// only the Browse users and groups permission, which every user holds by
// default.
func (v *actorStore) Find(ctx context.Context, q Query, page Page) (Found, error) {
	if v.closed.Load() {
		return Found{}, ErrClosed
	}
	if v.actor.AccountID == "" {
		return Found{}, ErrUnauthorized
	}
	return v.store.Find(ctx, q, page)
}

func (v *actorStore) SetIf(ctx context.Context, accountID, key string, value []byte, revision uint64) (uint64, error) {
	if err := v.allow(accountID); err != nil {
		return 0, err
	}
	return v.store.SetIf(ctx, accountID, key, value, revision)
}

func (v *actorStore) DeleteIf(ctx context.Context, accountID, key string, revision uint64) error {
	if err := v.allow(accountID); err != nil {
		return err
	}
	return v.store.DeleteIf(ctx, accountID, key, revision)
}

// Watch allows an actor to watch its own account; watching every account
// (accountID "") is for administrators only.
func (v *actorStore) Watch(ctx context.Context, accountID string, after uint64) iter.Seq2[Change, error] {
	err := error(nil)
	switch {
	case v.closed.Load():
		err = ErrClosed
	case v.actor.AccountID == "":
		err = ErrUnauthorized
	case accountID == "" && !v.actor.Admin:
		err = fmt.Errorf("%w: account %s may not watch every account", ErrForbidden, abbrev(v.actor.AccountID))
	case accountID != "":
		err = v.allow(accountID)
	}
	if err != nil {
		return func(yield func(Change, error) bool) { yield(Change{}, err) }
	}
	return v.store.Watch(ctx, accountID, after)
}

// Close closes the view, not the store beneath it.
func (v *actorStore) Close() error {
	v.closed.Store(true)
	return nil
}

// actorHeadStore is the view of a store that is a HeadRevisioner.
type actorHeadStore struct {
	*actorStore
	head HeadRevisioner
}

// HeadRevision is allowed to every authenticated actor: every one may
// watch its own account, and such a watch starts from a store-wide
// revision, which the change feed announces to it anyway. The head tells
// only how many changes the store has made, as the revisions of the
// actor's own writes do.
func (v *actorHeadStore) HeadRevision(ctx context.Context) (uint64, error) {
	switch {
	case v.closed.Load():
		return 0, ErrClosed
	case v.actor.AccountID == "":
		return 0, ErrUnauthorized
	}
	return v.head.HeadRevision(ctx)
}
