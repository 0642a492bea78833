package storetest

// A store's life: contexts that end, Close, and (for durable backends)
// reopening.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func (s suite) testContext(t *testing.T) {
	for _, c := range []struct {
		name string
		ctx  func() context.Context
		want error
	}{
		{"Cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, context.Canceled},
		{"DeadlineExceeded", func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := s.fresh(t)
			set(t, st, "acc", "k", `"original"`, userprops.Created)
			before := snapshot(t, st, "acc")
			ctx := c.ctx()
			_, err := st.Set(ctx, "acc", "new", []byte(`1`))
			assert.Equal(t, c.want, err, "Set on a new key")
			_, err = st.Set(ctx, "acc", "k", []byte(`1`))
			assert.Equal(t, c.want, err, "Set on an existing key")
			_, err = st.Get(ctx, "acc", "k")
			assert.Equal(t, c.want, err, "Get")
			assert.Equal(t, c.want, st.Delete(ctx, "acc", "k"), "Delete")
			_, err = st.Keys(ctx, "acc")
			assert.Equal(t, c.want, err, "Keys")
			assert.Equal(t, before, snapshot(t, st, "acc"), "a call with a done context changed the store")
		})
	}
	t.Run("CancelledWhileWriting", func(t *testing.T) {
		// Writers whose contexts end at random moments either succeed
		// (and their write is there) or return the context's error (and
		// their write is not).
		st := s.fresh(t)
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%8)*50*time.Microsecond)
				defer cancel()
				key := fmt.Sprintf("k%02d", i)
				_, err := st.Set(ctx, "acc", key, []byte(`1`))
				_, getErr := st.Get(context.Background(), "acc", key)
				if err == nil {
					assert.NoError(t, getErr, "Set(%q) succeeded but Get failed", key)
				} else {
					assert.ErrorIs(t, err, context.DeadlineExceeded, "Set(%q)", key)
					assert.ErrorIs(t, getErr, userprops.ErrNotFound, "Set(%q) failed with %v but the write is there", key, err)
				}
			})
		}
		wg.Wait()
	})
}

func (s suite) testClose(t *testing.T) {
	ctx := context.Background()
	st := s.open(t)
	set(t, st, "acc", "k", `1`, userprops.Created)
	require.NoError(t, st.Close())
	require.NoError(t, st.Close(), "second Close")
	_, err := st.Set(ctx, "acc", "k", []byte(`2`))
	assert.ErrorIs(t, err, userprops.ErrClosed, "Set after Close")
	_, err = st.Get(ctx, "acc", "k")
	assert.ErrorIs(t, err, userprops.ErrClosed, "Get after Close")
	assert.ErrorIs(t, st.Delete(ctx, "acc", "k"), userprops.ErrClosed, "Delete after Close")
	_, err = st.Keys(ctx, "acc")
	assert.ErrorIs(t, err, userprops.ErrClosed, "Keys after Close")
	_, err = st.Set(ctx, "", "", nil)
	assert.ErrorIs(t, err, userprops.ErrClosed, "Set with invalid arguments after Close")

	t.Run("WhileBusy", func(t *testing.T) {
		// Close while readers and writers run: every call either
		// succeeds or returns ErrClosed, and nothing panics or hangs.
		st := s.open(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 16 {
			wg.Go(func() {
				<-start
				key := fmt.Sprintf("k%d", i)
				for j := 0; ; j++ {
					var err error
					if j%2 == 0 {
						_, err = st.Set(ctx, "acc", key, []byte(`1`))
					} else {
						_, err = st.Get(ctx, "acc", key)
					}
					if errors.Is(err, userprops.ErrClosed) {
						return
					}
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
		close(start)
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, st.Close())
		wg.Wait()
	})
}

func (s suite) testDurable(t *testing.T) {
	if s.h.Reopen == nil {
		t.Skip("the backend claims no durability (Harness.Reopen is nil)")
	}
	ctx := context.Background()
	c := &clock{now: time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)}
	st := s.open(t, userprops.WithClock(c.Now))
	set(t, st, "acc", "kept", `{"a":1}`, userprops.Created)
	c.Set(c.Now().Add(time.Second))
	set(t, st, "acc", "kept", " [1, 2]\n", userprops.Updated)
	set(t, st, "acc", "gone", `true`, userprops.Created)
	require.NoError(t, st.Delete(ctx, "acc", "gone"))
	set(t, st, "acc/other", "k", `"x"`, userprops.Created)
	before := snapshot(t, st, "acc", "acc/other")
	require.NoError(t, st.Close())

	st = s.h.Reopen(t, st, userprops.WithClock(c.Now))
	require.NotNil(t, st, "Reopen returned a nil store")
	t.Cleanup(func() { assert.NoError(t, st.Close(), "Close") })
	assert.Equal(t, before, snapshot(t, st, "acc", "acc/other"), "every property, exactly, after a reopen")
	_, err := st.Get(ctx, "acc", "gone")
	assert.ErrorIs(t, err, userprops.ErrNotFound, "a deleted property stays deleted")

	// The reopened store carries on from what it holds.
	set(t, st, "acc", "kept", `3`, userprops.Updated)
	assert.Equal(t, uint64(3), get(t, st, "acc", "kept").Version)
	set(t, st, "acc", "gone", `4`, userprops.Created)
	assert.Equal(t, uint64(1), get(t, st, "acc", "gone").Version)
}
