package httpapi

import (
	"context"
	"fmt"
	"iter"

	"github.com/userprops/userprops"
)

// WithDirectory makes the handler check the account of every request
// against dir: a request for an account dir does not know answers 404 with
// Jira's "The specified user does not exist in the system.", as Jira does
// for an unknown user. By default the handler checks the Authenticator's own
// directory, when the Authenticator is also a userprops.Directory (Accounts
// and AccountsFile are); WithDirectory(nil) turns the check off, for a
// server whose callers are not the accounts it keeps properties of (an
// administrator acting for accounts no directory lists).
func WithDirectory(dir userprops.Directory) Option {
	return func(s *server) { s.dir, s.dirSet = dir, true }
}

// directoryStore is a view of a store that refuses calls for accounts its
// directory does not know with an error wrapping userprops.ErrUserNotFound,
// as a store opened with userprops.WithDirectory does, and in the same order:
// an invalid account ID, key or value is reported first. It looks the
// account up before the store sees the call; the rules are checked here
// only for an unknown account (the store checks them for the others), so a
// known account's call costs one lookup more and no second validation.
type directoryStore struct {
	userprops.Store
	dir userprops.Directory
}

// known returns nil if the directory knows accountID, and otherwise the
// error the call returns: that of check (the rules of the call's other
// arguments) if it has one, else one wrapping ErrUserNotFound.
func (d directoryStore) known(ctx context.Context, accountID string, check func() error) error {
	if err := userprops.ValidateAccountID(accountID); err != nil {
		return err
	}
	ok, err := d.dir.UserExists(ctx, accountID)
	switch {
	case err != nil:
		return fmt.Errorf("userprops: looking up account %q: %w", accountID, err)
	case ok:
		return nil
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %q", userprops.ErrUserNotFound, accountID)
}

// keyAndValue checks a write's key and value, in the order a store does.
func keyAndValue(key string, value []byte) func() error {
	return func() error {
		if err := userprops.ValidateKey(key); err != nil {
			return err
		}
		return userprops.ValidateValue(value)
	}
}

func (d directoryStore) Set(ctx context.Context, accountID, key string, value []byte) (userprops.Status, error) {
	err := d.known(ctx, accountID, keyAndValue(key, value))
	if err != nil {
		return 0, err
	}
	return d.Store.Set(ctx, accountID, key, value)
}

func (d directoryStore) Get(ctx context.Context, accountID, key string) (userprops.Property, error) {
	if err := d.known(ctx, accountID, func() error { return userprops.ValidateKey(key) }); err != nil {
		return userprops.Property{}, err
	}
	return d.Store.Get(ctx, accountID, key)
}

func (d directoryStore) Delete(ctx context.Context, accountID, key string) error {
	if err := d.known(ctx, accountID, func() error { return userprops.ValidateKey(key) }); err != nil {
		return err
	}
	return d.Store.Delete(ctx, accountID, key)
}

func (d directoryStore) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := d.known(ctx, accountID, nil); err != nil {
		return nil, err
	}
	return d.Store.Keys(ctx, accountID)
}

func (d directoryStore) SetIf(ctx context.Context, accountID, key string, value []byte, revision uint64) (uint64, error) {
	err := d.known(ctx, accountID, keyAndValue(key, value))
	if err != nil {
		return 0, err
	}
	return d.Store.SetIf(ctx, accountID, key, value, revision)
}

func (d directoryStore) DeleteIf(ctx context.Context, accountID, key string, revision uint64) error {
	if err := d.known(ctx, accountID, func() error { return userprops.ValidateKey(key) }); err != nil {
		return err
	}
	return d.Store.DeleteIf(ctx, accountID, key, revision)
}

func (d directoryStore) DeleteAccount(ctx context.Context, accountID string) (int, error) {
	if err := d.known(ctx, accountID, nil); err != nil {
		return 0, err
	}
	return d.Store.DeleteAccount(ctx, accountID)
}

// Watch checks the account of a watch of one account; a watch of every
// account ("") names none.
func (d directoryStore) Watch(ctx context.Context, accountID string, after uint64) iter.Seq2[userprops.Change, error] {
	if accountID != "" {
		if err := d.known(ctx, accountID, nil); err != nil {
			return func(yield func(userprops.Change, error) bool) { yield(userprops.Change{}, err) }
		}
	}
	return d.Store.Watch(ctx, accountID, after)
}
