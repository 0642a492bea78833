// Package storetest is the conformance suite for userprops.Store
// implementations: every rule of the package documentation, run as named
// subtests on fresh stores.
//
// A backend proves itself with one call in its tests:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, opts ...userprops.Option) userprops.Store {
//			s, err := mystore.Open(t.TempDir(), opts...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// Opener returns a new, empty store configured with opts. The suite accepts
// every option of the userprops package and relies on WithDirectory and
// WithClock. It closes every store it opens.
type Opener func(t *testing.T, opts ...userprops.Option) userprops.Store

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	s := suite{open: open}
	t.Run("Set", s.testSet)
	t.Run("Get", s.testGet)
	t.Run("Delete", s.testDelete)
	t.Run("Keys", s.testKeys)
	t.Run("Validation", s.testValidation)
	t.Run("Aliasing", s.testAliasing)
	t.Run("Context", s.testContext)
	t.Run("Close", s.testClose)
	t.Run("Directory", s.testDirectory)
	t.Run("Concurrency", s.testConcurrency)
	t.Run("ForActor", s.testForActor)
	t.Run("Linearizable", s.testLinearizable)
}

type suite struct {
	open Opener
}

// fresh opens a new store that is closed when the test ends.
func (s suite) fresh(t *testing.T, opts ...userprops.Option) userprops.Store {
	t.Helper()
	st := s.open(t, opts...)
	require.NotNil(t, st, "open returned a nil store")
	t.Cleanup(func() { assert.NoError(t, st.Close(), "Close") })
	return st
}

// set stores value and requires the given status.
func set(t *testing.T, st userprops.Store, accountID, key, value string, want userprops.Status) {
	t.Helper()
	got, err := st.Set(context.Background(), accountID, key, []byte(value))
	require.NoError(t, err, "Set(%q, %q, %q)", accountID, key, value)
	require.Equal(t, want, got, "Set(%q, %q, %q) status", accountID, key, value)
}

// get returns the property, requiring it to exist.
func get(t *testing.T, st userprops.Store, accountID, key string) userprops.Property {
	t.Helper()
	p, err := st.Get(context.Background(), accountID, key)
	require.NoError(t, err, "Get(%q, %q)", accountID, key)
	return p
}

func keys(t *testing.T, st userprops.Store, accountID string) []string {
	t.Helper()
	ks, err := st.Keys(context.Background(), accountID)
	require.NoError(t, err, "Keys(%q)", accountID)
	return ks
}

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

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

// invalidValues are values every store must reject, with the error each gets.
var invalidValues = []struct {
	name  string
	value string
	want  error
}{
	{"empty", "", userprops.ErrValueMissing},
	{"space", " ", userprops.ErrValueMissing},
	{"white space", " \t\r\n ", userprops.ErrValueMissing},
	{"too large", `"` + strings.Repeat("x", userprops.MaxValueBytes-1) + `"`, userprops.ErrValueTooLarge},
	{"too large white space", strings.Repeat(" ", userprops.MaxValueBytes+1), userprops.ErrValueTooLarge},
	{"too large garbage", strings.Repeat("{", userprops.MaxValueBytes+1), userprops.ErrValueTooLarge},
	{"open object", `{`, userprops.ErrInvalidJSON},
	{"two values", `1 2`, userprops.ErrInvalidJSON},
	{"two objects", `{"a":1}{"b":2}`, userprops.ErrInvalidJSON},
	{"trailing comma", `{"a":1,}`, userprops.ErrInvalidJSON},
	{"trailing comma in array", `[1,]`, userprops.ErrInvalidJSON},
	{"single quotes", `'a'`, userprops.ErrInvalidJSON},
	{"bare word", `hello`, userprops.ErrInvalidJSON},
	{"truncated literal", `tru`, userprops.ErrInvalidJSON},
	{"NaN", `NaN`, userprops.ErrInvalidJSON},
	{"leading zero", `01`, userprops.ErrInvalidJSON},
	{"plus sign", `+1`, userprops.ErrInvalidJSON},
	{"bare fraction", `.5`, userprops.ErrInvalidJSON},
	{"empty fraction", `1.`, userprops.ErrInvalidJSON},
	{"empty exponent", `1e`, userprops.ErrInvalidJSON},
	{"lone minus", `-`, userprops.ErrInvalidJSON},
	{"bad escape", `"\x"`, userprops.ErrInvalidJSON},
	{"short unicode escape", `"\u12"`, userprops.ErrInvalidJSON},
	{"control character in string", "\"a\x01\"", userprops.ErrInvalidJSON},
	{"newline in string", "\"a\nb\"", userprops.ErrInvalidJSON},
	{"unterminated string", `"abc`, userprops.ErrInvalidJSON},
	{"invalid UTF-8 in string", "\"\xff\"", userprops.ErrInvalidJSON},
	{"truncated UTF-8 in string", "\"\xe6\x97\"", userprops.ErrInvalidJSON},
	{"UTF-8 surrogate in string", "\"\xed\xa0\x80\"", userprops.ErrInvalidJSON},
	{"byte order mark", "\xef\xbb\xbf1", userprops.ErrInvalidJSON},
	{"non-JSON white space", "\f1", userprops.ErrInvalidJSON},
	{"NUL after value", "1\x00", userprops.ErrInvalidJSON},
	{"comment", `1 // one`, userprops.ErrInvalidJSON},
	{"unquoted name", `{a:1}`, userprops.ErrInvalidJSON},
	{"missing colon", `{"a" 1}`, userprops.ErrInvalidJSON},
	{"close without open", `]`, userprops.ErrInvalidJSON},
	{"mismatched brackets", `[}`, userprops.ErrInvalidJSON},
}

// invalidRefs are (account ID, key) pairs every store must reject.
var invalidRefs = []struct {
	name      string
	accountID string
	key       string
	want      error
}{
	{"account missing", "", "k", userprops.ErrAccountIDMissing},
	{"account missing and key missing", "", "", userprops.ErrAccountIDMissing},
	{"account too long", strings.Repeat("a", userprops.MaxAccountIDLength+1), "k", userprops.ErrInvalidAccountID},
	{"account too long in emoji", strings.Repeat("😀", userprops.MaxAccountIDLength/2+1), "k", userprops.ErrInvalidAccountID},
	{"account not UTF-8", "a\xffb", "k", userprops.ErrInvalidAccountID},
	{"account blank", "  ", "k", userprops.ErrInvalidAccountID},
	{"account blank unicode", "\t\u3000\n", "k", userprops.ErrInvalidAccountID},
	{"key missing", "acc", "", userprops.ErrKeyMissing},
	{"key too long", "acc", strings.Repeat("k", userprops.MaxKeyLength+1), userprops.ErrKeyTooLong},
	{"key of 128 emoji", "acc", strings.Repeat("😀", 128), userprops.ErrKeyTooLong},
	{"key of 256 accented letters", "acc", strings.Repeat("é", userprops.MaxKeyLength+1), userprops.ErrKeyTooLong},
	{"key not UTF-8", "acc", "k\xc3", userprops.ErrInvalidKey},
	{"key blank", "acc", " ", userprops.ErrInvalidKey},
	{"key blank unicode", "acc", "\u00a0\u2003", userprops.ErrInvalidKey},
}

// validRefs are (account ID, key) pairs at the edges of the rules that every
// store must accept.
var validRefs = []struct {
	name      string
	accountID string
	key       string
}{
	{"real account ID", "5b10ac8d82e05b22cc7d4ef5", "k"},
	{"account ID with colon", "712020:2722a0b4-4b3c-4ee2-a0fc-1fd9bd1bbcb9", "k"},
	{"longest account", strings.Repeat("a", userprops.MaxAccountIDLength), "k"},
	{"longest account in accented letters", strings.Repeat("é", userprops.MaxAccountIDLength), "k"},
	{"longest account in emoji", strings.Repeat("😀", userprops.MaxAccountIDLength/2), "k"},
	{"account with NUL and slash", "a\x00/b", "k"},
	{"longest key", "acc", strings.Repeat("k", userprops.MaxKeyLength)},
	{"key of 127 emoji", "acc", strings.Repeat("😀", 127)},
	{"key of 255 accented letters", "acc", strings.Repeat("é", userprops.MaxKeyLength)},
	{"key of 255 CJK characters", "acc", strings.Repeat("日", userprops.MaxKeyLength)},
	{"key with punctuation", "acc", "a.b:c/d e"},
	{"key with NUL", "acc", "a\x00b"},
	{"key with padding", "acc", " k "},
	{"key of one space and letter", "acc", " x"},
}

// snapshot records everything visible about the given accounts.
func snapshot(t *testing.T, st userprops.Store, accounts ...string) map[string]userprops.Property {
	t.Helper()
	out := map[string]userprops.Property{}
	for _, a := range accounts {
		for _, k := range keys(t, st, a) {
			out[a+"\x00"+k] = get(t, st, a, k)
		}
	}
	return out
}

func (s suite) testValidation(t *testing.T) {
	ctx := context.Background()
	t.Run("InvalidValues", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `"original"`, userprops.Created)
		before := snapshot(t, st, "acc")
		for _, c := range invalidValues {
			for _, key := range []string{"k", "new"} {
				status, err := st.Set(ctx, "acc", key, []byte(c.value))
				assert.ErrorIs(t, err, c.want, "%s: Set(%q, %.40q)", c.name, key, c.value)
				assert.Zero(t, status, "%s: status of a rejected Set", c.name)
				assert.Equal(t, userprops.HTTPStatus(c.want), userprops.HTTPStatus(err), "%s: HTTPStatus", c.name)
			}
		}
		_, err := st.Set(ctx, "acc", "nil", nil)
		assert.ErrorIs(t, err, userprops.ErrValueMissing, "Set with a nil value")
		assert.Equal(t, before, snapshot(t, st, "acc"), "a rejected Set changed the store")
	})
	t.Run("InvalidRefs", func(t *testing.T) {
		st := s.fresh(t)
		set(t, st, "acc", "k", `"original"`, userprops.Created)
		before := snapshot(t, st, "acc")
		for _, c := range invalidRefs {
			_, err := st.Set(ctx, c.accountID, c.key, []byte(`1`))
			assert.ErrorIs(t, err, c.want, "%s: Set", c.name)
			_, err = st.Get(ctx, c.accountID, c.key)
			assert.ErrorIs(t, err, c.want, "%s: Get", c.name)
			assert.ErrorIs(t, st.Delete(ctx, c.accountID, c.key), c.want, "%s: Delete", c.name)
			if errors.Is(c.want, userprops.ErrAccountIDMissing) || errors.Is(c.want, userprops.ErrInvalidAccountID) {
				_, err = st.Keys(ctx, c.accountID)
				assert.ErrorIs(t, err, c.want, "%s: Keys", c.name)
			}
		}
		assert.Equal(t, before, snapshot(t, st, "acc"), "a rejected call changed the store")
	})
	t.Run("ValidRefs", func(t *testing.T) {
		st := s.fresh(t)
		for _, c := range validRefs {
			set(t, st, c.accountID, c.key, `1`, userprops.Created)
			assert.Equal(t, `1`, string(get(t, st, c.accountID, c.key).Value), "%s: Get", c.name)
			assert.Contains(t, keys(t, st, c.accountID), c.key, "%s: Keys", c.name)
			require.NoError(t, st.Delete(ctx, c.accountID, c.key), "%s: Delete", c.name)
		}
	})
	t.Run("Order", func(t *testing.T) {
		// The account is checked first, then the key, then the value.
		st := s.fresh(t)
		_, err := st.Set(ctx, "", "", nil)
		assert.ErrorIs(t, err, userprops.ErrAccountIDMissing)
		_, err = st.Set(ctx, "acc", "", nil)
		assert.ErrorIs(t, err, userprops.ErrKeyMissing)
		_, err = st.Set(ctx, "acc", strings.Repeat("k", 300), []byte("{"))
		assert.ErrorIs(t, err, userprops.ErrKeyTooLong)
		_, err = st.Set(ctx, " ", strings.Repeat("k", 300), []byte("{"))
		assert.ErrorIs(t, err, userprops.ErrInvalidAccountID)
	})
	t.Run("ValidatorsAgree", func(t *testing.T) {
		// The exported validators give the same answers as the store.
		for _, c := range invalidValues {
			assert.ErrorIs(t, userprops.ValidateValue([]byte(c.value)), c.want, c.name)
		}
		for _, v := range roundTripValues {
			assert.NoError(t, userprops.ValidateValue([]byte(v)), "ValidateValue(%.40q)", v)
		}
		for _, c := range validRefs {
			assert.NoError(t, userprops.ValidateAccountID(c.accountID), c.name)
			assert.NoError(t, userprops.ValidateKey(c.key), c.name)
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

// jsonString returns s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	return string(b)
}

func countOf[T comparable](s []T, v T) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
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
