package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func (s suite) testDeleteAccount(t *testing.T) {
	ctx := context.Background()
	for name, opts := range findOptions(userprops.Index{Key: "k0", Path: "v"}) {
		t.Run(name, func(t *testing.T) {
			st := s.fresh(t, append(opts, userprops.WithAccountLimits(5, 0))...)
			n, err := st.DeleteAccount(ctx, "nobody")
			require.NoError(t, err, "an account with no properties")
			assert.Equal(t, 0, n)

			// Neighbours whose IDs share bytes with the erased one keep
			// everything.
			for _, id := range []string{"a", "a:b", "ab", "b"} {
				for i := range 5 {
					set(t, st, id, fmt.Sprintf("k%d", i), `{"v":1}`, userprops.Created)
				}
			}
			n, err = st.DeleteAccount(ctx, "a")
			require.NoError(t, err)
			assert.Equal(t, 5, n)
			assert.Empty(t, keys(t, st, "a"))
			for i := range 5 {
				_, err := st.Get(ctx, "a", fmt.Sprintf("k%d", i))
				assert.ErrorIs(t, err, userprops.ErrNotFound)
			}
			for _, id := range []string{"a:b", "ab", "b"} {
				assert.Len(t, keys(t, st, id), 5, "account %q", id)
			}
			assert.Equal(t, []string{"a:b", "ab", "b"}, find(t, st, userprops.Where("k0", "v", 1), userprops.Page{}).AccountIDs,
				"the erased account's index entries went with it")

			// Its usage went too: the account can fill up again, and a
			// property created anew starts at version 1.
			for i := range 5 {
				set(t, st, "a", fmt.Sprintf("new%d", i), `2`, userprops.Created)
			}
			assert.Equal(t, uint64(1), get(t, st, "a", "new0").Version)
			n, err = st.DeleteAccount(ctx, "a")
			require.NoError(t, err)
			assert.Equal(t, 5, n)
			n, err = st.DeleteAccount(ctx, "a")
			require.NoError(t, err)
			assert.Equal(t, 0, n, "a second erasure finds nothing")
		})
	}

	t.Run("Rules", func(t *testing.T) {
		dir := &directory{known: map[string]bool{"alice": true, "bob": true}}
		st := s.fresh(t, userprops.WithDirectory(dir))
		set(t, st, "alice", "k", `1`, userprops.Created)
		set(t, st, "bob", "k", `1`, userprops.Created)
		for name, c := range map[string]struct {
			account string
			want    error
		}{
			"missing ID": {"", userprops.ErrAccountIDMissing},
			"blank ID":   {" ", userprops.ErrInvalidAccountID},
			"unknown":    {"carol", userprops.ErrUserNotFound},
		} {
			_, err := st.DeleteAccount(ctx, c.account)
			assert.ErrorIs(t, err, c.want, name)
		}
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := st.DeleteAccount(canceled, "alice")
		assert.ErrorIs(t, err, context.Canceled)

		for name, c := range map[string]struct {
			actor userprops.Actor
			want  error
		}{
			"anonymous": {userprops.Actor{}, userprops.ErrUnauthorized},
			"other":     {userprops.Actor{AccountID: "bob"}, userprops.ErrForbidden},
		} {
			_, err := userprops.ForActor(st, c.actor).DeleteAccount(ctx, "alice")
			assert.ErrorIs(t, err, c.want, name)
		}
		assert.Equal(t, []string{"k"}, keys(t, st, "alice"), "refused erasures change nothing")
		n, err := userprops.ForActor(st, userprops.Actor{AccountID: "alice"}).DeleteAccount(ctx, "alice")
		require.NoError(t, err, "an account may erase itself")
		assert.Equal(t, 1, n)
		n, err = userprops.ForActor(st, userprops.Actor{AccountID: "admin", Admin: true}).DeleteAccount(ctx, "bob")
		require.NoError(t, err, "an administrator may erase any account")
		assert.Equal(t, 1, n)

		closed := s.open(t)
		require.NoError(t, closed.Close())
		_, err = closed.DeleteAccount(ctx, "alice")
		assert.ErrorIs(t, err, userprops.ErrClosed)
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		// Readers see all of the account's properties or none, never
		// part of an erasure.
		st := s.fresh(t)
		const props = 20
		for i := range props {
			set(t, st, "erased", fmt.Sprintf("k%02d", i), `1`, userprops.Created)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ks, err := st.Keys(ctx, "erased")
				if !assert.NoError(t, err) {
					return
				}
				if len(ks) != 0 && len(ks) != props {
					t.Errorf("Keys saw %d of %d properties during an erasure", len(ks), props)
					return
				}
			}
		})
		n, err := st.DeleteAccount(ctx, "erased")
		close(stop)
		wg.Wait()
		require.NoError(t, err)
		assert.Equal(t, props, n)
	})

	t.Run("Durable", func(t *testing.T) {
		if s.h.Reopen == nil {
			t.Skip("storetest: Harness.Reopen is nil: the backend does not claim durability")
		}
		st := s.open(t)
		set(t, st, "gone", "k1", `1`, userprops.Created)
		set(t, st, "gone", "k2", `1`, userprops.Created)
		set(t, st, "kept", "k1", `1`, userprops.Created)
		_, err := st.DeleteAccount(ctx, "gone")
		require.NoError(t, err)
		require.NoError(t, st.Close())
		st = s.h.Reopen(t, st)
		defer st.Close()
		assert.Empty(t, keys(t, st, "gone"), "an acknowledged erasure survives a reopen")
		assert.Equal(t, []string{"k1"}, keys(t, st, "kept"))
	})
}
