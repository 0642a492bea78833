package storetest

// Jira's rules: every invalid argument is refused with its error and
// changes nothing; every valid one at the edges is accepted.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

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
