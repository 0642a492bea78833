package storetest

// Concurrent use: racing creates, writers and readers on shared accounts.
// The linearizability check is in linearizable.go.

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/userprops/userprops"
)

func (s suite) testConcurrency(t *testing.T) {
	ctx := context.Background()
	t.Run("CreateOnce", func(t *testing.T) {
		st := s.fresh(t)
		const writers, rounds = 32, 4
		for r := range rounds {
			key := fmt.Sprintf("k%d", r)
			statuses := make([]userprops.Status, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					status, err := st.Set(ctx, "acc", key, fmt.Appendf(nil, "%d", i))
					assert.NoError(t, err)
					statuses[i] = status
				})
			}
			wg.Wait()
			assert.Equal(t, 1, countOf(statuses, userprops.Created), "%s: Sets that saw Created", key)
			assert.Equal(t, writers-1, countOf(statuses, userprops.Updated), "%s: Sets that saw Updated", key)
			assert.Equal(t, uint64(writers), get(t, st, "acc", key).Version, "%s: Version", key)
		}
	})
	t.Run("PerWriteResults", func(t *testing.T) {
		// Each writer runs a sequence on its own key that mixes
		// successes with failures; every call must get its own answer,
		// whatever its neighbours do at the same time.
		st := s.fresh(t)
		var wg sync.WaitGroup
		for i := range 48 {
			wg.Go(func() {
				key := fmt.Sprintf("key%02d", i)
				steps := []struct {
					value  string // "" means Delete
					status userprops.Status
					err    error
				}{
					{`1`, userprops.Created, nil},
					{`2`, userprops.Updated, nil},
					{`{`, 0, userprops.ErrInvalidJSON},
					{"", 0, nil},
					{"", 0, userprops.ErrNotFound},
					{`3`, userprops.Created, nil},
					{`4`, userprops.Updated, nil},
				}
				for n, step := range steps {
					var status userprops.Status
					var err error
					if step.value == "" {
						err = st.Delete(ctx, "acc", key)
					} else {
						status, err = st.Set(ctx, "acc", key, []byte(step.value))
					}
					if step.err != nil {
						assert.ErrorIs(t, err, step.err, "%s step %d", key, n)
					} else {
						assert.NoError(t, err, "%s step %d", key, n)
					}
					assert.Equal(t, step.status, status, "%s step %d status", key, n)
				}
				p := get(t, st, "acc", key)
				assert.Equal(t, `4`, string(p.Value), key)
				assert.Equal(t, uint64(2), p.Version, key)
			})
		}
		wg.Wait()
		assert.Len(t, keys(t, st, "acc"), 48)
	})
	t.Run("ReadersSeeWholeWrites", func(t *testing.T) {
		// Values carry their own version number; a reader must always
		// see a value together with its own version.
		st := s.fresh(t)
		const writes = 200
		set(t, st, "acc", "k", `{"v":1}`, userprops.Created)
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			for v := 2; v <= writes; v++ {
				_, err := st.Set(ctx, "acc", "k", fmt.Appendf(nil, `{"v":%d}`, v))
				if !assert.NoError(t, err) {
					return
				}
			}
		})
		for range 4 {
			wg.Go(func() {
				last := uint64(0)
				for {
					select {
					case <-done:
						return
					default:
					}
					p, err := st.Get(ctx, "acc", "k")
					if !assert.NoError(t, err) {
						return
					}
					assert.Equal(t, fmt.Sprintf(`{"v":%d}`, p.Version), string(p.Value))
					assert.GreaterOrEqual(t, p.Version, last, "versions went backwards")
					last = p.Version
				}
			})
		}
		wg.Wait()
		assert.Equal(t, uint64(writes), get(t, st, "acc", "k").Version)
	})
	t.Run("ManyAccounts", func(t *testing.T) {
		st := s.fresh(t)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				account := fmt.Sprintf("user-%d", i)
				for j := range 20 {
					_, err := st.Set(ctx, account, fmt.Sprintf("k%02d", j), fmt.Appendf(nil, `%d`, j))
					assert.NoError(t, err)
				}
				for j := 0; j < 20; j += 2 {
					assert.NoError(t, st.Delete(ctx, account, fmt.Sprintf("k%02d", j)))
				}
			})
		}
		wg.Wait()
		for i := range 16 {
			ks := keys(t, st, fmt.Sprintf("user-%d", i))
			assert.Equal(t, []string{"k01", "k03", "k05", "k07", "k09", "k11", "k13", "k15", "k17", "k19"}, ks)
		}
	})
}
