package userprops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/sentinels"
)

// refValue is the reference for ValidateValue, built from the standard
// library: the size rule, then encoding/json.Valid (which does not check
// UTF-8 and limits nesting to 10000) plus utf8.Valid.
func refValue(v []byte) error {
	switch {
	case len(v) == 0:
		return userprops.ErrValueMissing
	case len(v) > userprops.MaxValueBytes:
		return userprops.ErrValueTooLarge
	case strings.Trim(string(v), " \t\r\n") == "":
		return userprops.ErrValueMissing
	case !json.Valid(v) || !utf8.Valid(v):
		return userprops.ErrInvalidJSON
	}
	return nil
}

// refText is the reference for ValidateKey and ValidateAccountID, counting
// UTF-16 code units with the standard library's encoder.
func refText(s string, max int, missing, tooLong, invalid error) error {
	switch {
	case s == "":
		return missing
	case !utf8.ValidString(s):
		return invalid
	case len(utf16.Encode([]rune(s))) > max:
		return tooLong
	case strings.TrimFunc(s, unicode.IsSpace) == "":
		return invalid
	}
	return nil
}

func refKey(key string) error {
	return refText(key, userprops.MaxKeyLength,
		userprops.ErrKeyMissing, userprops.ErrKeyTooLong, userprops.ErrInvalidKey)
}

func refAccountID(id string) error {
	return refText(id, userprops.MaxAccountIDLength,
		userprops.ErrAccountIDMissing, userprops.ErrInvalidAccountID, userprops.ErrInvalidAccountID)
}

// sameError reports whether got wraps exactly the sentinel want (or both are
// nil).
func sameError(got, want error) bool {
	if want == nil || got == nil {
		return got == want
	}
	return errors.Is(got, want)
}

var valueSeeds = []string{
	``, ` `, `{}`, `[]`, `""`, `"s"`, `0`, `-0.5e+3`, `true`, `false`, `null`, ` {"a":[1,{"b":null}]} `,
	`{`, `1 2`, `{"a":1}{"b":2}`, `[1,]`, `01`, `"\u12"`, "\"\xff\"", "\"\xed\xa0\x80\"", "\xef\xbb\xbf1",
	"\"a\x01\"", `"\ud800"`, `1e`, `-`, `.5`, `tru`, `nul`, "[\"\\\"\"]",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat("}", 5000),
	`[` + strings.Repeat(`"[[[[",`, 3000) + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `]`,
}

func FuzzValidateValue(f *testing.F) {
	for _, s := range valueSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, want := userprops.ValidateValue(v), refValue(v)
		if !sameError(got, want) {
			t.Fatalf("ValidateValue(%.200q) = %v, want %v", v, got, want)
		}
		if want == userprops.ErrInvalidJSON {
			if wrong := refSyntaxDetail(v, got); wrong != "" {
				t.Fatalf("ValidateValue(%.200q) = %v, but %s", v, got, wrong)
			}
		}
	})
}

// refSyntaxDetail checks the detail of err, the error of ValidateValue for
// v, against encoding/json's *json.SyntaxError for v: err must name the byte
// encoding/json stopped at (or the end of v) and end with its description,
// or, at the end of v, say that the input ended. It returns "" when the
// detail holds, or when encoding/json finds no syntax error other than
// depth in v.
func refSyntaxDetail(v []byte, err error) string {
	var syn *json.SyntaxError
	if len(v) > userprops.MaxValueBytes || !errors.As(json.Unmarshal(v, new(json.RawMessage)), &syn) ||
		strings.Contains(syn.Error(), "max depth") {
		return ""
	}
	msg := err.Error()
	if strings.HasSuffix(msg, fmt.Sprintf(": %s at byte %d", syn, syn.Offset-1)) {
		return ""
	}
	if syn.Offset == int64(len(v)) && strings.Contains(msg, ": unexpected end of JSON input") &&
		strings.HasSuffix(msg, fmt.Sprintf(" at byte %d", len(v))) {
		return ""
	}
	return fmt.Sprintf("encoding/json says %q after %d bytes", syn, syn.Offset)
}

func TestValidateValue_SaysWhereAndWhy(t *testing.T) {
	for _, c := range []struct{ value, want string }{
		{`{"a" 1}`, `invalid character '1' after object key at byte 5`},
		{`{"a":1,}`, `invalid character '}' looking for beginning of object key string at byte 7`},
		{`[1,2 3]`, `invalid character '3' after array element at byte 5`},
		{`1 2`, `invalid character '2' after top-level value at byte 2`},
		{`{"a":[1,`, `unexpected end of JSON input at byte 8`},
		{`"abc`, `unexpected end of JSON input at byte 4`},
		{`tru`, `unexpected end of JSON input in literal true (expecting 'e') at byte 3`},
		{`-`, `unexpected end of JSON input in numeric literal at byte 1`},
		{`tru `, `invalid character ' ' in literal true (expecting 'e') at byte 3`},
		{`[1 `, `unexpected end of JSON input at byte 3`},
		{`nul!`, `invalid character '!' in literal null (expecting 'l') at byte 3`},
		{"\"a\x01\"", `invalid character '\x01' in string literal at byte 2`},
		{"[\"ok\", \"caf\xc3\"]", `a string is not valid UTF-8 at byte 11`},
		{"\"\xed\xa0\x80\"", `a string is not valid UTF-8 at byte 1`},
		{`["[[",` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `]`,
			`nested more than 10000 deep at byte 10005`},
	} {
		err := userprops.ValidateValue([]byte(c.value))
		require.ErrorIs(t, err, userprops.ErrInvalidJSON, "ValidateValue(%.40q)", c.value)
		assert.Equal(t, "userprops: property value is not valid JSON: "+c.want, err.Error(), "ValidateValue(%.40q)", c.value)
	}
}

var textSeeds = []string{
	"", "k", " ", "\u3000", " k ", "a\x00b", "\xff", "é", "😀", "a.b:c/d e",
	strings.Repeat("k", 255), strings.Repeat("k", 256), strings.Repeat("😀", 127), strings.Repeat("😀", 128),
	strings.Repeat("é", 255), strings.Repeat("é", 256), strings.Repeat("日", 256), strings.Repeat("a", 129),
}

func FuzzValidateKey(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := userprops.ValidateKey(key), refKey(key); !sameError(got, want) {
			t.Fatalf("ValidateKey(%q) = %v, want %v", key, got, want)
		}
	})
}

func FuzzValidateAccountID(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := userprops.ValidateAccountID(id), refAccountID(id); !sameError(got, want) {
			t.Fatalf("ValidateAccountID(%q) = %v, want %v", id, got, want)
		}
	})
}

// TestValidate_Seeds runs the fuzz seeds against the references in every test
// run, with names, so a regression reads well without the fuzzer.
func TestValidate_Seeds(t *testing.T) {
	for _, v := range valueSeeds {
		assert.True(t, sameError(userprops.ValidateValue([]byte(v)), refValue([]byte(v))),
			"ValidateValue(%.60q) = %v, want %v", v, userprops.ValidateValue([]byte(v)), refValue([]byte(v)))
	}
	for _, s := range textSeeds {
		assert.True(t, sameError(userprops.ValidateKey(s), refKey(s)), "ValidateKey(%.60q) = %v, want %v",
			s, userprops.ValidateKey(s), refKey(s))
		assert.True(t, sameError(userprops.ValidateAccountID(s), refAccountID(s)), "ValidateAccountID(%.60q) = %v, want %v",
			s, userprops.ValidateAccountID(s), refAccountID(s))
	}
}

func TestValidateValue_Depth(t *testing.T) {
	deepest := strings.Repeat("[", userprops.MaxValueDepth) + strings.Repeat("]", userprops.MaxValueDepth)
	assert.NoError(t, userprops.ValidateValue([]byte(deepest)))
	tooDeep := "[" + deepest + "]"
	assert.ErrorIs(t, userprops.ValidateValue([]byte(tooDeep)), userprops.ErrInvalidJSON)
	// Brackets inside strings do not nest.
	quoted := `["` + strings.Repeat("[", 20000) + `\"` + `"]`
	assert.NoError(t, userprops.ValidateValue([]byte(quoted)))
}

func TestValidateValue_NoAllocs(t *testing.T) {
	v := []byte(`{"theme":"dark","layout":{"columns":[1,2,3],"dense":true},"name":"é😀"}`)
	allocs := testing.AllocsPerRun(100, func() {
		if err := userprops.ValidateValue(v); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "allocations per ValidateValue")
	allocs = testing.AllocsPerRun(100, func() {
		if userprops.ValidateKey("some.key") != nil || userprops.ValidateAccountID("5b10ac8d82e05b22cc7d4ef5") != nil {
			t.Fatal("rejected")
		}
	})
	assert.Zero(t, allocs, "allocations per ValidateKey + ValidateAccountID")
}

func TestHTTPStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{userprops.ErrAccountIDMissing, 400},
		{userprops.ErrInvalidAccountID, 400},
		{userprops.ErrKeyMissing, 405},
		{userprops.ErrKeyTooLong, 400},
		{userprops.ErrInvalidKey, 400},
		{userprops.ErrValueMissing, 400},
		{userprops.ErrValueTooLarge, 400},
		{userprops.ErrInvalidJSON, 400},
		{userprops.ErrNotFound, 404},
		{userprops.ErrUserNotFound, 404},
		{userprops.ErrUnauthorized, 401},
		{userprops.ErrForbidden, 403},
		{userprops.ErrClosed, 503},
		{userprops.ErrLocked, 500},
		{errors.New("disk on fire"), 500},
		{context.Canceled, 499},
		{fmt.Errorf("userprops: looking up account \"a\": %w", context.Canceled), 499},
		{context.DeadlineExceeded, 504},
		{fmt.Errorf("reading: %w", context.DeadlineExceeded), 504},
		// A sentinel wins over a context error it wraps.
		{fmt.Errorf("%w: %w", userprops.ErrClosed, context.Canceled), 503},
		{userprops.ValidateKey(strings.Repeat("k", 300)), 400},
		{userprops.ValidateValue(nil), 400},
	} {
		assert.Equal(t, c.want, userprops.HTTPStatus(c.err), "HTTPStatus(%v)", c.err)
	}
}

func TestStatus(t *testing.T) {
	assert.Equal(t, "created", userprops.Created.String())
	assert.Equal(t, "updated", userprops.Updated.String())
	assert.Equal(t, "Status(0)", userprops.Status(0).String())
	assert.Equal(t, 201, userprops.Created.HTTPStatus())
	assert.Equal(t, 200, userprops.Updated.HTTPStatus())
	assert.Equal(t, 500, userprops.Status(0).HTTPStatus())
}

// TestValidateValue_StringWindows puts every kind of byte a string scanner
// must stop at (and a few it must not) at every offset of the first words
// of a long string, where the validator checks eight and sixteen bytes at a
// time, and compares with the reference.
func TestValidateValue_StringWindows(t *testing.T) {
	specials := []string{`"`, `\"`, `\\`, `\n`, `\u00e9`, `\x`, "\x00", "\x01", "\x1f", " ", "\x7f",
		"é", "😀", "\xff", "\xc3", "\xed\xa0\x80", "!", "#", "[", "]", "\\"}
	for _, sp := range specials {
		for pos := 0; pos < 40; pos++ {
			for _, tail := range []int{0, 1, 7, 8, 9, 17} {
				v := `["` + strings.Repeat("a", pos) + sp + strings.Repeat("b", tail) + `"]`
				got, want := userprops.ValidateValue([]byte(v)), refValue([]byte(v))
				if !sameError(got, want) {
					t.Fatalf("ValidateValue(%q) = %v, want %v", v, got, want)
				}
			}
		}
	}
}

// TestHTTPStatus_EverySentinel checks that the status table has one row
// for each exported error, so that a new error cannot be added without its
// status.
func TestHTTPStatus_EverySentinel(t *testing.T) {
	sentinels.RequireRows(t, "errors.go", "errors.go", "httpStatuses")
}
