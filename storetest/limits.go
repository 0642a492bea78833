package storetest

// The account limits (userprops.WithAccountLimits): a write that would take
// an account past one changes nothing, whatever else happens at the time.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// Small limits for the tests: three properties, 300 bytes of keys and
// values. Keys "k1" … are 2 bytes, so a value of valueOf(98) fills a third
// of the bytes.
const (
	limitProperties       = 3
	limitBytes      int64 = 300
)

// valueOf returns a JSON string of exactly n bytes (n ≥ 2).
func valueOf(n int) string {
	return `"` + strings.Repeat("x", n-2) + `"`
}

// refused requires a Set to fail with ErrAccountFull and to leave the
// account as it was.
func refused(t *testing.T, st userprops.Store, accountID, key, value string) {
	t.Helper()
	before := snapshot(t, st, accountID)
	status, err := st.Set(context.Background(), accountID, key, []byte(value))
	require.ErrorIs(t, err, userprops.ErrAccountFull, "Set(%q, %q, %d bytes)", accountID, key, len(value))
	assert.Zero(t, status, "status of a refused Set")
	assert.Equal(t, 400, userprops.HTTPStatus(err), "HTTPStatus(%v)", err)
	assert.Equal(t, before, snapshot(t, st, accountID), "a refused Set changed the account")
}

func (s suite) testLimits(t *testing.T) {
	ctx := context.Background()
	limits := userprops.WithAccountLimits(limitProperties, limitBytes)

	t.Run("Properties", func(t *testing.T) {
		st := s.fresh(t, userprops.WithAccountLimits(limitProperties, 0))
		for i := 1; i <= limitProperties; i++ {
			set(t, st, "acc", fmt.Sprintf("k%d", i), `1`, userprops.Created)
		}
		refused(t, st, "acc", "k4", `1`)
		_, err := st.Get(ctx, "acc", "k4")
		assert.ErrorIs(t, err, userprops.ErrNotFound, "Get of the refused property")
		// Updates of an account at its limit go on.
		set(t, st, "acc", "k1", `2`, userprops.Updated)
		assert.Equal(t, uint64(2), get(t, st, "acc", "k1").Version)
		// A Delete makes room for one more, and only one.
		require.NoError(t, st.Delete(ctx, "acc", "k2"))
		set(t, st, "acc", "k4", `1`, userprops.Created)
		refused(t, st, "acc", "k2", `1`)
		assert.Equal(t, []string{"k1", "k3", "k4"}, keys(t, st, "acc"))
	})

	t.Run("Bytes", func(t *testing.T) {
		st := s.fresh(t, userprops.WithAccountLimits(0, limitBytes))
		set(t, st, "acc", "k1", valueOf(98), userprops.Created)
		set(t, st, "acc", "k2", valueOf(98), userprops.Created)
		// Exactly at the limit is allowed; one byte more is not.
		refused(t, st, "acc", "k3", valueOf(99))
		set(t, st, "acc", "k3", valueOf(98), userprops.Created)
		refused(t, st, "acc", "k4", `1`)
		// Key bytes count: a one-byte key on a full account is one too many.
		refused(t, st, "acc", "k", `1`)

		// An update that grows past the limit is refused, its value kept.
		refused(t, st, "acc", "k3", valueOf(99))
		p := get(t, st, "acc", "k3")
		assert.Equal(t, valueOf(98), string(p.Value))
		assert.Equal(t, uint64(1), p.Version)
		// Shrinking is allowed, and growing back up to the limit.
		set(t, st, "acc", "k3", valueOf(50), userprops.Updated)
		set(t, st, "acc", "k1", valueOf(146), userprops.Updated)
		refused(t, st, "acc", "k2", valueOf(99))
		set(t, st, "acc", "k2", valueOf(98), userprops.Updated)

		// A Delete frees the key's bytes and the value's.
		require.NoError(t, st.Delete(ctx, "acc", "k1"))
		set(t, st, "acc", "k4", valueOf(146), userprops.Created)
		refused(t, st, "acc", "k5", `1`)
	})

	t.Run("OtherAccounts", func(t *testing.T) {
		st := s.fresh(t, limits)
		for i := 1; i <= limitProperties; i++ {
			set(t, st, "full", fmt.Sprintf("k%d", i), `1`, userprops.Created)
		}
		refused(t, st, "full", "k4", `1`)
		// The same keys, and as many, on other accounts; "full:" and
		// "ful" must not share its count.
		for _, other := range []string{"other", "full:", "ful", "full\x00"} {
			for i := 1; i <= limitProperties; i++ {
				set(t, st, other, fmt.Sprintf("k%d", i), valueOf(98), userprops.Created)
			}
			refused(t, st, other, "k4", `1`)
		}
	})

	t.Run("ConcurrentCreates", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			opt   userprops.Option
			value string
		}{
			{"Properties", userprops.WithAccountLimits(limitProperties, 0), `1`},
			// Keys "k00" … and values of 97 bytes: 100 bytes each.
			{"Bytes", userprops.WithAccountLimits(0, limitBytes), valueOf(97)},
		} {
			t.Run(c.name, func(t *testing.T) {
				st := s.fresh(t, c.opt)
				const writers = 32
				errs := make([]error, writers)
				statuses := make([]userprops.Status, writers)
				var wg sync.WaitGroup
				for i := range writers {
					wg.Go(func() {
						statuses[i], errs[i] = st.Set(ctx, "acc", fmt.Sprintf("k%02d", i), []byte(c.value))
					})
				}
				wg.Wait()
				full := 0
				for i, err := range errs {
					if err != nil {
						assert.ErrorIs(t, err, userprops.ErrAccountFull, "Set of k%02d", i)
						full++
					}
				}
				assert.Equal(t, limitProperties, countOf(statuses, userprops.Created), "Sets that saw Created")
				assert.Equal(t, writers-limitProperties, full, "Sets refused")
				assert.Len(t, keys(t, st, "acc"), limitProperties)
			})
		}
	})

	t.Run("Churn", func(t *testing.T) {
		// Concurrent creates, growing updates and deletes on one account,
		// up against both limits (values of 60 to 148 bytes): the usage
		// must come out exact, which the account's room at the end shows.
		st := s.fresh(t, limits)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				key := fmt.Sprintf("k%d", i)
				for round := range 12 {
					_, err := st.Set(ctx, "acc", key, []byte(valueOf(60+round*8)))
					if err != nil {
						assert.ErrorIs(t, err, userprops.ErrAccountFull, "Set(%q)", key)
						continue
					}
					if round%3 != 2 {
						continue
					}
					assert.NoError(t, st.Delete(ctx, "acc", key), "Delete(%q)", key)
				}
			})
		}
		wg.Wait()
		held := keys(t, st, "acc")
		assert.LessOrEqual(t, len(held), limitProperties)
		for _, k := range held {
			require.NoError(t, st.Delete(ctx, "acc", k))
		}
		for i := 1; i <= limitProperties; i++ {
			set(t, st, "acc", fmt.Sprintf("k%d", i), valueOf(98), userprops.Created)
		}
		refused(t, st, "acc", "k4", `1`)
		refused(t, st, "acc", "k1", valueOf(99))
	})

	t.Run("Reopen", func(t *testing.T) {
		// A durable store keeps each account's usage, and an account above
		// lowered limits can still shrink.
		if s.h.Reopen == nil {
			t.Skip("the backend claims no durability (Harness.Reopen)")
		}
		st := s.fresh(t, limits)
		for i := 1; i <= limitProperties; i++ {
			set(t, st, "acc", fmt.Sprintf("k%d", i), valueOf(98), userprops.Created)
		}
		require.NoError(t, st.Close())
		reopen := func(opts ...userprops.Option) {
			t.Helper()
			st = s.h.Reopen(t, st, opts...)
			require.NotNil(t, st, "Reopen returned a nil store")
			reopened := st
			t.Cleanup(func() { assert.NoError(t, reopened.Close(), "Close") })
		}

		reopen(limits)
		refused(t, st, "acc", "k4", `1`)
		refused(t, st, "acc", "k1", valueOf(99))
		require.NoError(t, st.Close())

		// Lowered limits: 2 properties, 150 bytes; the account holds 3
		// and 300.
		reopen(userprops.WithAccountLimits(2, 150))
		refused(t, st, "acc", "k4", `1`)
		refused(t, st, "acc", "k1", valueOf(99))
		set(t, st, "acc", "k1", valueOf(50), userprops.Updated) // 252 bytes: smaller, still above
		refused(t, st, "acc", "k1", valueOf(51))
		require.NoError(t, st.Delete(ctx, "acc", "k3")) // 2 properties, 152 bytes
		refused(t, st, "acc", "k3", `1`)
		set(t, st, "acc", "k2", valueOf(96), userprops.Updated) // 150 bytes
		require.NoError(t, st.Delete(ctx, "acc", "k2"))         // 1 property, 52 bytes
		set(t, st, "acc", "k2", valueOf(96), userprops.Created) // 2 properties, 150 bytes
		refused(t, st, "acc", "k3", `1`)
	})
}
