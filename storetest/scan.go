package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// scanAll collects what ForEach visits.
func scanAll(t *testing.T, sc userprops.Scanner) []userprops.Property {
	t.Helper()
	var got []userprops.Property
	require.NoError(t, sc.ForEach(context.Background(), func(p userprops.Property) error {
		got = append(got, p)
		return nil
	}))
	return got
}

func (s suite) testScan(t *testing.T) {
	st := s.fresh(t)
	sc, ok := st.(userprops.Scanner)
	if !ok {
		t.Skip("storetest: the store does not implement userprops.Scanner")
	}
	assert.Empty(t, scanAll(t, sc), "an empty store")

	// IDs whose byte order differs from their length order, and lengths
	// on both sides of 128 bytes, where a length prefix takes two bytes.
	ids := []string{"b", "aa", "a", "é", "B", "\x01", "a\x00", "a:b", "ab",
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("€", 43), strings.Repeat("€", 86),
		strings.Repeat("z", 128), strings.Repeat("😀", 64)}
	keys := []string{"k", "K", "k.2", "ä", "k/1"}
	type ref struct{ id, key string }
	var want []ref
	for _, id := range ids {
		for _, k := range keys {
			set(t, st, id, k, jsonString(id+"|"+k), userprops.Created)
			want = append(want, ref{id, k})
		}
	}
	require.NoError(t, st.Delete(context.Background(), "aa", "K"))
	want = slices.DeleteFunc(want, func(r ref) bool { return r == ref{"aa", "K"} })
	set(t, st, "b", "k", `{"updated":true}`, userprops.Updated)
	slices.SortFunc(want, func(a, b ref) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})

	got := scanAll(t, sc)
	require.Len(t, got, len(want))
	for i, p := range got {
		require.Equal(t, want[i], ref{p.AccountID, p.Key}, "property %d is out of (account ID, key) byte order", i)
		assert.Equal(t, get(t, st, p.AccountID, p.Key), p, "ForEach and Get agree")
	}

	t.Run("Snapshot", func(t *testing.T) {
		// Writes made while ForEach runs are not seen by it.
		ctx := context.Background()
		n := 0
		require.NoError(t, sc.ForEach(ctx, func(p userprops.Property) error {
			if n == 0 {
				if _, err := st.Set(ctx, "~last", "k", []byte(`1`)); err != nil {
					return err
				}
				if err := st.Delete(ctx, want[len(want)-1].id, want[len(want)-1].key); err != nil {
					return err
				}
			}
			p.Value[0] = 'X' // the Property is fn's
			n++
			return nil
		}))
		assert.Equal(t, len(want), n, "ForEach saw a write made after it began")
		assert.Equal(t, jsonString(want[0].id+"|"+want[0].key), string(get(t, st, want[0].id, want[0].key).Value))
		_, err := st.Get(ctx, want[len(want)-1].id, want[len(want)-1].key)
		assert.ErrorIs(t, err, userprops.ErrNotFound)
	})

	t.Run("Stops", func(t *testing.T) {
		stop := errors.New("enough")
		n := 0
		err := sc.ForEach(context.Background(), func(userprops.Property) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, 3, n)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = sc.ForEach(ctx, func(userprops.Property) error { return nil })
		assert.ErrorIs(t, err, context.Canceled)
	})

	t.Run("Closed", func(t *testing.T) {
		closed := s.open(t)
		require.NoError(t, closed.Close())
		err := closed.(userprops.Scanner).ForEach(context.Background(), func(userprops.Property) error { return nil })
		assert.ErrorIs(t, err, userprops.ErrClosed)
	})
}
