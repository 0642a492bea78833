package storetest

// Who may see what: the Directory of known accounts, and ForActor's
// permission rules on top of a store.

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// directory is a settable userprops.Directory.
type directory struct {
	mu    sync.Mutex
	known map[string]bool
	err   error
}

func (d *directory) UserExists(_ context.Context, accountID string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.known[accountID], d.err
}

func (d *directory) add(accountID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.known[accountID] = true
}

func (s suite) testDirectory(t *testing.T) {
	ctx := context.Background()
	t.Run("UnknownUser", func(t *testing.T) {
		dir := &directory{known: map[string]bool{"known": true}}
		st := s.fresh(t, userprops.WithDirectory(dir))
		set(t, st, "known", "k", `1`, userprops.Created)

		_, err := st.Set(ctx, "unknown", "k", []byte(`1`))
		assert.ErrorIs(t, err, userprops.ErrUserNotFound, "Set")
		_, err = st.Get(ctx, "unknown", "k")
		assert.ErrorIs(t, err, userprops.ErrUserNotFound, "Get")
		assert.ErrorIs(t, st.Delete(ctx, "unknown", "k"), userprops.ErrUserNotFound, "Delete")
		_, err = st.Keys(ctx, "unknown")
		assert.ErrorIs(t, err, userprops.ErrUserNotFound, "Keys")

		// Invalid input is reported before the user lookup.
		_, err = st.Set(ctx, "unknown", "", []byte(`1`))
		assert.ErrorIs(t, err, userprops.ErrKeyMissing)
		_, err = st.Set(ctx, "unknown", "k", []byte(`{`))
		assert.ErrorIs(t, err, userprops.ErrInvalidJSON)

		// The refused Set wrote nothing.
		dir.add("unknown")
		assert.Empty(t, keys(t, st, "unknown"))
		assert.Equal(t, []string{"k"}, keys(t, st, "known"))
	})
	t.Run("Error", func(t *testing.T) {
		boom := errors.New("directory unavailable")
		dir := &directory{known: map[string]bool{"known": true}, err: boom}
		st := s.fresh(t, userprops.WithDirectory(dir))
		_, err := st.Set(ctx, "known", "k", []byte(`1`))
		assert.ErrorIs(t, err, boom, "Set")
		_, err = st.Keys(ctx, "known")
		assert.ErrorIs(t, err, boom, "Keys")
		assert.Equal(t, 500, userprops.HTTPStatus(err))
	})
}

func (s suite) testForActor(t *testing.T) {
	ctx := context.Background()
	dir := &directory{known: map[string]bool{"alice": true, "bob": true, "admin": true}}
	st := s.fresh(t, userprops.WithDirectory(dir))
	set(t, st, "alice", "k", `"alice's"`, userprops.Created)
	set(t, st, "bob", "k", `"bob's"`, userprops.Created)

	alice := userprops.Actor{AccountID: "alice"}
	admin := userprops.Actor{AccountID: "admin", Admin: true}
	cases := []struct {
		name    string
		actor   userprops.Actor
		account string
		key     string
		get     error // expected from Get (nil: found)
		keys    error
	}{
		{"anonymous", userprops.Actor{}, "alice", "k", userprops.ErrUnauthorized, userprops.ErrUnauthorized},
		{"anonymous admin flag", userprops.Actor{Admin: true}, "alice", "k", userprops.ErrUnauthorized, userprops.ErrUnauthorized},
		{"anonymous, invalid input", userprops.Actor{}, "", "", userprops.ErrUnauthorized, userprops.ErrUnauthorized},
		{"self", alice, "alice", "k", nil, nil},
		{"self, missing property", alice, "alice", "missing", userprops.ErrNotFound, nil},
		{"self, missing account ID", alice, "", "k", userprops.ErrAccountIDMissing, userprops.ErrAccountIDMissing},
		{"self, missing key", alice, "alice", "", userprops.ErrKeyMissing, nil},
		{"other", alice, "bob", "k", userprops.ErrForbidden, userprops.ErrForbidden},
		{"other, missing property", alice, "bob", "missing", userprops.ErrForbidden, userprops.ErrForbidden},
		{"other, unknown user", alice, "carol", "k", userprops.ErrForbidden, userprops.ErrForbidden},
		{"other, invalid key", alice, "bob", " ", userprops.ErrForbidden, userprops.ErrForbidden},
		{"admin on other", admin, "bob", "k", nil, nil},
		{"admin, missing property", admin, "bob", "missing", userprops.ErrNotFound, nil},
		{"admin, unknown user", admin, "carol", "k", userprops.ErrUserNotFound, userprops.ErrUserNotFound},
	}
	for _, c := range cases {
		v := userprops.ForActor(st, c.actor)
		_, err := v.Get(ctx, c.account, c.key)
		if c.get == nil {
			assert.NoError(t, err, "%s: Get", c.name)
		} else {
			assert.ErrorIs(t, err, c.get, "%s: Get", c.name)
		}
		_, err = v.Keys(ctx, c.account)
		if c.keys == nil {
			assert.NoError(t, err, "%s: Keys", c.name)
		} else {
			assert.ErrorIs(t, err, c.keys, "%s: Keys", c.name)
		}
		// Writes are refused for the same reasons as reads, and a refused
		// write changes nothing.
		if errors.Is(c.get, userprops.ErrUnauthorized) || errors.Is(c.get, userprops.ErrForbidden) {
			_, err := v.Set(ctx, c.account, c.key, []byte(`"overwritten"`))
			assert.ErrorIs(t, err, c.get, "%s: Set", c.name)
			assert.ErrorIs(t, v.Delete(ctx, c.account, c.key), c.get, "%s: Delete", c.name)
		}
	}
	assert.Equal(t, `"alice's"`, string(get(t, st, "alice", "k").Value))
	assert.Equal(t, `"bob's"`, string(get(t, st, "bob", "k").Value))

	t.Run("Writes", func(t *testing.T) {
		v := userprops.ForActor(st, alice)
		status, err := v.Set(ctx, "alice", "own", []byte(`1`))
		require.NoError(t, err)
		assert.Equal(t, userprops.Created, status)
		require.NoError(t, v.Delete(ctx, "alice", "own"))
		status, err = userprops.ForActor(st, admin).Set(ctx, "bob", "by-admin", []byte(`1`))
		require.NoError(t, err)
		assert.Equal(t, userprops.Created, status)
		assert.Equal(t, []string{"by-admin", "k"}, keys(t, st, "bob"))
	})
	t.Run("CloseView", func(t *testing.T) {
		v := userprops.ForActor(st, admin)
		require.NoError(t, v.Close())
		_, err := v.Get(ctx, "alice", "k")
		assert.ErrorIs(t, err, userprops.ErrClosed, "Get through a closed view")
		assert.Equal(t, `"alice's"`, string(get(t, st, "alice", "k").Value), "closing a view closed the store")
	})
}
