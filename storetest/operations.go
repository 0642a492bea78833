package storetest

// The operations of the Store contract, one at a time: Set, Get, Delete,
// Keys, and the copies they hand in and out.

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func (s suite) testSet(t *testing.T) {
	t.Run("CreatedThenUpdated", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `1`, userprops.Created)
		set(t, st, "acc", "k", `2`, userprops.Updated)
		set(t, st, "acc", "k", `{"three":3}`, userprops.Updated)
		p := get(t, st, "acc", "k")
		assert.Equal(t, `{"three":3}`, string(p.Value))
		assert.Equal(t, uint64(3), p.Version)
		assert.Equal(t, "acc", p.AccountID)
		assert.Equal(t, "k", p.Key)
	})
	t.Run("CreatedAfterDelete", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `1`, userprops.Created)
		set(t, st, "acc", "k", `2`, userprops.Updated)
		require.NoError(t, st.Delete(context.Background(), "acc", "k"))
		set(t, st, "acc", "k", `3`, userprops.Created)
		p := get(t, st, "acc", "k")
		assert.Equal(t, uint64(1), p.Version, "Version after delete and create")
		assert.Equal(t, `3`, string(p.Value))
	})
	t.Run("SameKeyOtherAccount", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "a", "k", `1`, userprops.Created)
		set(t, st, "b", "k", `2`, userprops.Created)
		assert.Equal(t, `1`, string(get(t, st, "a", "k").Value))
		assert.Equal(t, `2`, string(get(t, st, "b", "k").Value))
	})
	t.Run("UpdatedAt", func(t *testing.T) {
		c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
		st := s.fresh(t, userprops.WithClock(c.Now))
		set(t, st, "acc", "k", `1`, userprops.Created)
		assert.True(t, c.Now().Equal(get(t, st, "acc", "k").UpdatedAt), "UpdatedAt after create")
		c.Set(time.Date(2027, 6, 7, 8, 9, 10, 11, time.UTC))
		set(t, st, "acc", "k", `2`, userprops.Updated)
		assert.True(t, c.Now().Equal(get(t, st, "acc", "k").UpdatedAt), "UpdatedAt after update")
	})
}

// roundTripValues are valid values that must come back byte for byte.
var roundTripValues = map[string]string{
	"object":          `{}`,
	"array":           `[]`,
	"string":          `"s"`,
	"empty string":    `""`,
	"zero":            `0`,
	"number":          `-1.5e+10`,
	"true":            `true`,
	"false":           `false`,
	"null":            `null`,
	"spaced":          " \t\r\n{ \"a\" : [1, 2 ,3] }\n ",
	"unicode":         `"é 日本 😀"`,
	"escapes":         `"\u00e9\ud83d\ude00\n\t\"\\\/"`,
	"duplicate names": `{"a":1,"a":2}`,
	"big number":      `123456789012345678901234567890.5E-400`,
	"nested":          `{"a":[{"b":{"c":[[[null]]]}}]}`,
	"largest":         `"` + strings.Repeat("x", userprops.MaxValueBytes-2) + `"`,
	"largest spaced":  "  " + strings.Repeat(" ", userprops.MaxValueBytes-5) + "[]\n",
}

func (s suite) testGet(t *testing.T) {
	t.Run("ByteForByte", func(t *testing.T) {
		st := s.fresh(t)
		for name, v := range roundTripValues {
			set(t, st, "acc", name, v, userprops.Created)
		}
		for name, v := range roundTripValues {
			p := get(t, st, "acc", name)
			assert.True(t, bytes.Equal([]byte(v), p.Value), "Get(%q) = %.80q, want %.80q", name, p.Value, v)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `1`, userprops.Created)
		for _, c := range []struct{ account, key string }{
			{"acc", "other"}, {"other", "k"}, {"acc", "k "}, {"acc", "K"}, {"ac", "ck"}, {"acck", "k"},
		} {
			_, err := st.Get(context.Background(), c.account, c.key)
			assert.ErrorIs(t, err, userprops.ErrNotFound, "Get(%q, %q)", c.account, c.key)
		}
	})
}

func (s suite) testDelete(t *testing.T) {
	t.Run("Removes", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `1`, userprops.Created)
		set(t, st, "acc", "j", `2`, userprops.Created)
		require.NoError(t, st.Delete(context.Background(), "acc", "k"))
		_, err := st.Get(context.Background(), "acc", "k")
		assert.ErrorIs(t, err, userprops.ErrNotFound)
		assert.Equal(t, []string{"j"}, keys(t, st, "acc"))
		assert.Equal(t, `2`, string(get(t, st, "acc", "j").Value))
	})
	t.Run("NotFound", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `1`, userprops.Created)
		assert.ErrorIs(t, st.Delete(context.Background(), "acc", "missing"), userprops.ErrNotFound)
		assert.ErrorIs(t, st.Delete(context.Background(), "other", "k"), userprops.ErrNotFound)
		require.NoError(t, st.Delete(context.Background(), "acc", "k"))
		assert.ErrorIs(t, st.Delete(context.Background(), "acc", "k"), userprops.ErrNotFound, "second Delete")
	})
}

func (s suite) testKeys(t *testing.T) {
	t.Run("Sorted", func(t *testing.T) {
		st := s.fresh(t)
		ks := []string{"b", "B", "a", "é", "Z", "a.b", "a b", "a:b", "a/b", "10", "9", "\x00", "a\x00", "😀", "日", "~", "a"}
		for _, i := range []int{3, 7, 1, 16, 0, 12, 5, 9, 2, 14, 4, 11, 6, 15, 8, 13, 10} {
			_, err := st.Set(context.Background(), "acc", ks[i], []byte(`true`))
			require.NoError(t, err, "Set(%q)", ks[i])
		}
		want := slices.Clone(ks)
		slices.Sort(want) // Go orders strings byte-wise
		want = slices.Compact(want)
		assert.Equal(t, want, keys(t, st, "acc"))
	})
	t.Run("Empty", func(t *testing.T) {
		st := s.fresh(t)
		got := keys(t, st, "nobody")
		assert.NotNil(t, got, "Keys of an account with no properties must be an empty slice, not nil")
		assert.Empty(t, got)
		set(t, st, "acc", "k", `1`, userprops.Created)
		require.NoError(t, st.Delete(context.Background(), "acc", "k"))
		got = keys(t, st, "acc")
		assert.NotNil(t, got)
		assert.Empty(t, got, "Keys after the last property was deleted")
	})
	t.Run("Isolation", func(t *testing.T) {
		// Account IDs that a naive composite key (account + separator +
		// key, or a shared prefix) would confuse.
		accounts := []string{
			"a", "a:b", "ab", "a/b", "a\x00", "a\x00b", "\x00", "\x00a", "a b",
			"b", "\x01a", "\x02ab", "aa", "a:", ":b", "é", "e\u0301",
			strings.Repeat("z", userprops.MaxAccountIDLength),
		}
		st := s.fresh(t)
		for _, a := range accounts {
			// Each account gets its own ID as a key, plus keys that
			// spell another account's tail.
			for _, k := range []string{"own:" + a, "b", ":b", "\x00b", "/b"} {
				set(t, st, a, k, jsonString(a+"|"+k), userprops.Created)
			}
		}
		for _, a := range accounts {
			want := []string{"own:" + a, "b", ":b", "\x00b", "/b"}
			slices.Sort(want)
			assert.Equal(t, want, keys(t, st, a), "Keys(%q)", a)
			for _, k := range want {
				assert.Equal(t, jsonString(a+"|"+k), string(get(t, st, a, k).Value), "Get(%q, %q)", a, k)
			}
		}
		for _, a := range accounts {
			for _, b := range accounts {
				if a != b {
					_, err := st.Get(context.Background(), a, "own:"+b)
					assert.ErrorIs(t, err, userprops.ErrNotFound, "Get(%q, own:%q)", a, b)
				}
			}
		}
		// Deleting every property of one account leaves the others whole.
		for _, k := range keys(t, st, "a") {
			require.NoError(t, st.Delete(context.Background(), "a", k))
		}
		assert.Empty(t, keys(t, st, "a"))
		for _, a := range accounts[1:] {
			assert.Len(t, keys(t, st, a), 5, "Keys(%q) after deleting account a's properties", a)
		}
	})
}

func (s suite) testAliasing(t *testing.T) {
	ctx := context.Background()
	t.Run("Input", func(t *testing.T) {
		st := s.fresh(t)
		buf := []byte(`{"a":"original"}`)
		_, err := st.Set(ctx, "acc", "k", buf)
		require.NoError(t, err)
		copy(buf, `{"a":"CHANGED!"}`)
		assert.Equal(t, `{"a":"original"}`, string(get(t, st, "acc", "k").Value))
	})
	t.Run("Output", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `{"a":"original"}`, userprops.Created)
		p1 := get(t, st, "acc", "k")
		p2 := get(t, st, "acc", "k")
		copy(p1.Value, `{"a":"CHANGED!"}`)
		assert.Equal(t, `{"a":"original"}`, string(p2.Value), "two Gets share memory")
		assert.Equal(t, `{"a":"original"}`, string(get(t, st, "acc", "k").Value), "a returned value aliases the store")
		p3 := get(t, st, "acc", "k")
		p3.Value = append(p3.Value[:0], `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]`...)
		assert.Equal(t, `{"a":"original"}`, string(get(t, st, "acc", "k").Value), "appending to a returned value")
	})
	t.Run("OutputOutlivesStore", func(t *testing.T) {
		// A value read from a file-backed store must stay valid after
		// the file is closed (it must not point into a memory map).
		st := s.open(t)
		set(t, st, "acc", "k", `"kept"`, userprops.Created)
		p := get(t, st, "acc", "k")
		ks := keys(t, st, "acc")
		require.NoError(t, st.Close())
		assert.Equal(t, `"kept"`, string(p.Value))
		assert.Equal(t, []string{"k"}, ks)
	})
	t.Run("Keys", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "a", `1`, userprops.Created)
		set(t, st, "acc", "b", `1`, userprops.Created)
		ks := keys(t, st, "acc")
		ks[0] = "changed"
		_ = append(ks[:1], "appended")
		assert.Equal(t, []string{"a", "b"}, keys(t, st, "acc"))
	})
}
