package userprops

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func TestCanonicalNumber(t *testing.T) {
	same := [][]string{
		{"1", "1.0", "1e0", "10e-1", "0.1e1", "1.000", "100e-2", "1E+0", "0.0001e4"},
		{"0", "-0", "0.0", "0e10", "-0.000e-5"},
		{"-12.5", "-125e-1", "-1.25E1", "-0.125e2"},
		{"12345678901234567890123", "1.2345678901234567890123e22"},
		{"1e99999999999999999999", "10e99999999999999999998", "0.1e100000000000000000000"},
		{"1e-99999999999999999999", "0.1e-99999999999999999998"},
	}
	seen := map[string]string{}
	for _, group := range same {
		want, ok := canonicalNumber(group[0])
		require.True(t, ok, group[0])
		for _, s := range group {
			got, ok := canonicalNumber(s)
			assert.True(t, ok, s)
			assert.Equal(t, want, got, "%s and %s are equal", s, group[0])
		}
		if other, dup := seen[want]; dup {
			t.Errorf("%s and %s share the canonical form %s", group[0], other, want)
		}
		seen[want] = group[0]
	}
	assert.NotEqual(t, mustCanon(t, "12345678901234567890123"), mustCanon(t, "12345678901234567890124"))
	assert.NotEqual(t, mustCanon(t, "1"), mustCanon(t, "-1"))
	assert.NotEqual(t, mustCanon(t, "1e1"), mustCanon(t, "1e-1"))
	for _, s := range []string{"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "0x10", "1_000", "Inf", "NaN", " 1", "1 ", "1e5.0", "--1", "1.2.3", "١"} {
		_, ok := canonicalNumber(s)
		assert.False(t, ok, "%q is not a JSON number", s)
	}
}

func mustCanon(t *testing.T, s string) string {
	t.Helper()
	c, ok := canonicalNumber(s)
	require.True(t, ok, s)
	return c
}

func TestParseQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`[location].office.city is "Sydney"`, `[location].office.city is "Sydney"`},
		{`[location].office.city IS "Sydney"`, `[location].office.city is "Sydney"`},
		{`  [a] is 1   and [b].c is true  `, `[a] is 1 AND [b].c is true`},
		{`[a] is 1 OR [b] is 2 AND [c] is 3`, `[a] is 1 OR [b] is 2 AND [c] is 3`},
		{`([a] is 1 OR [b] is 2) AND [c] is 3`, `([a] is 1 OR [b] is 2) AND [c] is 3`},
		{`(([a] is 1))`, `[a] is 1`},
		{`[a] is 1 and ([b] is 2 and [c] is 3)`, `[a] is 1 AND [b] is 2 AND [c] is 3`},
		{`[a] is "say \"hi\" \\ bye"`, `[a] is "say \"hi\" \\ bye"`},
		{`[a\]b\\c].x\ y\(z\) is -1.5e3`, `[a\]b\\c].x\ y\(z\) is -1.5e3`},
		{`[key with spaces].path is false`, `[key with spaces].path is false`},
		{`[a]is"x"`, `[a] is "x"`},
		{`[a] is 1or[b] is 2`, ``}, // "1or" is no value
		{`[a].0.1 is "x"`, `[a].0.1 is "x"`},
		{`[é].ü is "ß"`, `[é].ü is "ß"`},
	} {
		q, err := ParseQuery(c.in)
		if c.want == "" {
			assert.ErrorIs(t, err, ErrInvalidQuery, c.in)
			continue
		}
		if assert.NoError(t, err, c.in) {
			assert.Equal(t, c.want, q.String(), c.in)
		}
	}
	// The tree: AND binds tighter than OR.
	q, err := ParseQuery(`[a] is 1 OR [b] is 2 AND [c] is 3`)
	require.NoError(t, err)
	require.Equal(t, qOr, q.n.op)
	require.Len(t, q.n.kids, 2)
	assert.Equal(t, qAnd, q.n.kids[1].op)
	// A path's escapes leave the field names as they were meant.
	q, err = ParseQuery(`[k].x\ y\(z\).w is 1`)
	require.NoError(t, err)
	assert.Equal(t, "x y(z).w", q.n.path)
}

func TestParseQuery_Errors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, "the query is empty"},
		{`   `, "the query is empty"},
		{`[a`, "at byte 0: the '[' is never closed"},
		{`[] is 1`, "at byte 0: userprops: property key is required"},
		{`[  ] is 1`, "at byte 0: userprops: invalid property key"},
		{`[a] 1`, `at byte 4: expected "is" after [a], found "1"`},
		{`[a] is`, "at byte 6: expected a value"},
		{`[a] is Sydney`, `at byte 7: expected a value (a quoted string, a number, true or false), found "Sydney"`},
		{`[a] is TRUE`, `at byte 7: expected a value`},
		{`[a] is "x`, "at byte 7: the string is never closed"},
		{`[a] is "x\n"`, `at byte 9: unknown escape '\n'`},
		{`[a]. is 1`, "at byte 4: expected a field name after '.'"},
		{`[a].b..c is 1`, "at byte 6: expected a field name before '.'"},
		{`[a].b\.c is 1`, "at byte 5: a field name cannot hold '.'"},
		{`[a] is 1 AND`, "at byte 12: expected a property clause"},
		{`[a] is 1 [b] is 2`, `at byte 9: expected AND, OR or the end of the query, found "[b]"`},
		{`([a] is 1`, "at byte 9: expected ')' to close the '(' at byte 0"},
		{`[a] is 1)`, `at byte 8: expected AND, OR or the end of the query, found ")"`},
		{`()`, "at byte 1: expected a property clause"},
		{`is assignee of PROJ`, `at byte 0: the statement "is assignee of" is about Jira issues`},
		{`[a] is 1 AND is watcher of (PROJ-1, PROJ-2)`, `at byte 13: the statement "is watcher of"`},
		{`IS Reporter of (X-1)`, `the statement "is reporter of"`},
		{`is something`, `expected a property clause ([key].path is value) before "is"`},
		{strings.Repeat("(", MaxQueryDepth+1) + "[a] is 1" + strings.Repeat(")", MaxQueryDepth+1), "parentheses nest deeper than 32"},
		{strings.Repeat("[a] is 1 OR ", MaxQueryClauses) + "[a] is 1", "more than 100 clauses"},
		{"[a\xff] is 1", "not valid UTF-8"},
	} {
		_, err := ParseQuery(c.in)
		if assert.ErrorIs(t, err, ErrInvalidQuery, c.in) {
			assert.ErrorContains(t, err, c.want, c.in)
		}
	}
	// The limits themselves are allowed.
	_, err := ParseQuery(strings.Repeat("(", MaxQueryDepth) + "[a] is 1" + strings.Repeat(")", MaxQueryDepth))
	assert.NoError(t, err)
	_, err = ParseQuery(strings.Repeat("[a] is 1 OR ", MaxQueryClauses-1) + "[a] is 1")
	assert.NoError(t, err)
}

func TestParsePropertyFilter(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"location.office.city=Sydney", `[location].office.city is "Sydney"`},
		{"thepropertykey.something.nested=1", `[thepropertykey].something.nested is "1"`},
		{"flag=true", `[flag] is "true"`},
		{"k.a=b=c", `[k].a is "b=c"`},
		{"k.a=", `[k].a is ""`},
		{"k.a= spaced value ", `[k].a is " spaced value "`},
		{`k.a="quoted"`, `[k].a is "\"quoted\""`},
	} {
		q, err := ParsePropertyFilter(c.in)
		if assert.NoError(t, err, c.in) {
			assert.Equal(t, c.want, q.String(), c.in)
		}
	}
	for _, in := range []string{"", "nothing", "k.a", "=v", ".a=v", "k.=v", "k.a..b=v", "k..a=v", " .a=v"} {
		_, err := ParsePropertyFilter(in)
		assert.ErrorIs(t, err, ErrInvalidQuery, "%q", in)
	}
}

func TestWhere_Values(t *testing.T) {
	type color string
	for _, c := range []struct {
		v    any
		want string
	}{
		{"x", `[k].p is "x"`}, {color("red"), `[k].p is "red"`},
		{true, `[k].p is true`}, {false, `[k].p is false`},
		{-3, `[k].p is -3`}, {int8(-3), `[k].p is -3`}, {uint64(1 << 63), `[k].p is 9223372036854775808`},
		{1.5, `[k].p is 1.5`}, {float32(0.1), `[k].p is 0.1`}, {1e21, `[k].p is 1e+21`},
		{json.Number("1.50"), `[k].p is 1.50`},
	} {
		q := Where("k", "p", c.v)
		require.NoError(t, q.Err(), "%T", c.v)
		assert.Equal(t, c.want, q.String(), "%T %v", c.v, c.v)
	}
	for _, v := range []any{nil, []int{1}, map[string]int{}, json.Number("x"), complex(1, 1)} {
		assert.ErrorIs(t, Where("k", "p", v).Err(), ErrInvalidQuery, "%T", v)
	}
}

func TestIndex(t *testing.T) {
	ix, err := ParseIndex("[location].office.city")
	require.NoError(t, err)
	assert.Equal(t, Index{"location", "office.city"}, ix)
	assert.Equal(t, "[location].office.city", ix.String())
	ix, err = ParseIndex(`[a\]b]`)
	require.NoError(t, err)
	assert.Equal(t, Index{"a]b", ""}, ix)
	for _, bad := range []string{"", "location", "[location", "[location] ", "[location].", "[location].a..b", "[].a"} {
		_, err := ParseIndex(bad)
		assert.ErrorIs(t, err, ErrInvalidQuery, "%q", bad)
	}
	assert.Panics(t, func() { WithIndex("", "a") })
	assert.Panics(t, func() { WithIndex("k", "a..b") })
	o := newOptions([]Option{WithIndex("k", "a"), WithIndex("k", "a"), WithIndex("k", "")})
	assert.Equal(t, []Index{{"k", "a"}, {"k", ""}}, o.indexes, "an index declared twice is kept once")

	terms := Index{"k", "v"}.Terms([]byte(`{"v":["x",1,"x",1.0,true,null,{"a":1},["y"]]}`))
	assert.ElementsMatch(t, []string{"sx", "n1e1", "btrue"}, terms)
	assert.Empty(t, Index{"k", "v"}.Terms([]byte(`{"v":null}`)))
	assert.Empty(t, Index{"k", "missing"}.Terms([]byte(`{"v":1}`)))
}

// FuzzParseQuery: no input panics, every error wraps ErrInvalidQuery, and
// what parses prints in a form that parses back to the same query.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		`[location].office.city is "Sydney"`,
		`[a] is 1 OR [b].c is true AND ([d\]].e\ f is "g\"h" or [i] is -1.5e3)`,
		`is assignee of PROJ`, `[a] is`, `(((`, `[a].b..c is 1`, "[\x00] is \"\\\\\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("ParseQuery(%q): %v does not wrap ErrInvalidQuery", s, err)
			}
			return
		}
		printed := q.String()
		again, err := ParseQuery(printed)
		if err != nil {
			t.Fatalf("ParseQuery(%q) = %s, which does not parse: %v", s, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("%q printed %s, then %s", s, printed, again.String())
		}
		if !sameQuery(q.n, again.n) {
			t.Fatalf("%q and its printed form %s are different queries", s, printed)
		}
	})
}

// FuzzParsePropertyFilter: no input panics, errors wrap ErrInvalidQuery,
// and a filter is the clause Where makes of its parts.
func FuzzParsePropertyFilter(f *testing.F) {
	for _, s := range []string{"location.office.city=Sydney", "k=v", "k.a=b=c", "=", ".=", "k.a..b=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParsePropertyFilter(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("ParsePropertyFilter(%q): %v does not wrap ErrInvalidQuery", s, err)
			}
			return
		}
		again, err := ParseQuery(q.String())
		if err != nil {
			t.Fatalf("ParsePropertyFilter(%q) = %s, which does not parse: %v", s, q, err)
		}
		if !sameQuery(q.n, again.n) {
			t.Fatalf("%q: %s parses back as another query", s, q)
		}
		if !strings.HasSuffix(s, "="+q.n.lit.text) || !strings.HasPrefix(s, q.n.key) {
			t.Fatalf("%q: key %q, value %q", s, q.n.key, q.n.lit.text)
		}
	})
}

// FuzzMatchTerms: a value matches a literal exactly when they share an
// index term, so an index can never change an answer.
func FuzzMatchTerms(f *testing.F) {
	for _, c := range [][2]string{
		{`{"v":1}`, "1.0"}, {`{"v":"1"}`, "1"}, {`{"v":[1,"x",true]}`, "true"}, {`{"v":-0}`, "0"},
		{`{"v":"Sydney"}`, "Sydney"}, {`{"v":[[1]]}`, "1"}, {`{"v":{"a":1}}`, "1"}, {`{"v":1e400}`, "10e399"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, value, text string) {
		if ValidateValue([]byte(value)) != nil || !utf8.ValidString(text) {
			return
		}
		ix := Index{"k", "v"}
		lit := newLiteral(text, false)
		matched := lit.matches(gjson.GetBytes([]byte(value), gjsonPath(ix.Path)))
		shared := false
		for _, vt := range ix.Terms([]byte(value)) {
			for _, lt := range lit.terms() {
				shared = shared || vt == lt
			}
		}
		if matched != shared {
			t.Fatalf("value %s, text %q: matches %v, shares a term %v", value, text, matched, shared)
		}
	})
}

// sameQuery reports whether two query trees are the same query.
func sameQuery(a, b *qnode) bool {
	if a.op != b.op || len(a.kids) != len(b.kids) {
		return false
	}
	if a.op == qClause {
		return a.key == b.key && a.path == b.path && a.lit.text == b.lit.text && a.lit.num == b.lit.num
	}
	for i := range a.kids {
		if !sameQuery(a.kids[i], b.kids[i]) {
			return false
		}
	}
	return true
}
