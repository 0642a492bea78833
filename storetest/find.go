package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// find calls Find and requires it to succeed.
func find(t *testing.T, st userprops.Store, q userprops.Query, page userprops.Page) userprops.Found {
	t.Helper()
	f, err := st.Find(context.Background(), q, page)
	require.NoError(t, err, "Find(%s, %+v)", q, page)
	require.NotNil(t, f.AccountIDs, "Find(%s) AccountIDs must not be nil", q)
	return f
}

// findOptions are the two ways every Find test runs: with no index, and
// with an index on every key and path it queries, so that the answers are
// proven to be the same.
func findOptions(indexes ...userprops.Index) map[string][]userprops.Option {
	var with []userprops.Option
	for _, ix := range indexes {
		with = append(with, userprops.WithIndex(ix.Key, ix.Path))
	}
	return map[string][]userprops.Option{"NoIndex": nil, "Indexed": with}
}

// findFixture is a property value per account, each testing one matching
// rule (see userprops.Query); every value is stored under key "p".
var findFixture = map[string]string{
	"str":      `{"v":"Sydney"}`,
	"strcase":  `{"v":"sydney"}`,
	"strspace": `{"v":"Sydney "}`,
	"num1":     `{"v":1}`,
	"num1.0":   `{"v":1.0}`,
	"num1e0":   `{"v":1e0}`,
	"num10e-1": `{"v":10E-1}`,
	"numstr1":  `{"v":"1"}`,
	"big":      `{"v":12345678901234567890123}`,
	"big+1":    `{"v":12345678901234567890124}`,
	"zero":     `{"v":-0.0}`,
	"true":     `{"v":true}`,
	"truestr":  `{"v":"true"}`,
	"false":    `{"v":false}`,
	"null":     `{"v":null}`,
	"obj":      `{"v":{"Sydney":1}}`,
	"arr":      `{"v":["Oslo","Sydney",2,true]}`,
	"nested":   `{"v":[["Sydney"]]}`,
	"arrobj":   `{"v":[{"x":"Sydney"}]}`,
	"missing":  `{"w":"Sydney"}`,
	"whole":    `"Sydney"`,
	"deep":     `{"v":{"w":{"x":"Sydney"}}}`,
	"special":  `{"a*b":"Sydney","@this":"Sydney","#":"Sydney","a|b":"Sydney","?":"Sydney"}`,
	"arrindex": `{"v":["first","second"]}`,
	"escaped":  `{"v":"Syd\u006eey \"quoted\""}`,
	"unicode":  `{"v":"Zürich"}`,
	"ws":       " \n{ \"v\" : \"Sydney\" }\t",
}

// findCases are queries on findFixture and the accounts they must find.
var findCases = []struct {
	name string
	q    userprops.Query
	want []string
}{
	{"string exact", userprops.Where("p", "v", "Sydney"), []string{"arr", "str", "ws"}},
	{"string case-sensitive", userprops.Where("p", "v", "sydney"), []string{"strcase"}},
	{"string with trailing space", userprops.Where("p", "v", "Sydney "), []string{"strspace"}},
	{"string with escapes", userprops.Where("p", "v", `Sydney "quoted"`), []string{"escaped"}},
	{"string non-ASCII", userprops.Where("p", "v", "Zürich"), []string{"unicode"}},
	{"number as Go int", userprops.Where("p", "v", 1), []string{"num1", "num1.0", "num10e-1", "num1e0", "numstr1"}},
	{"number as text", userprops.Where("p", "v", "1"), []string{"num1", "num1.0", "num10e-1", "num1e0", "numstr1"}},
	{"number 1.0 as text", userprops.Where("p", "v", "1.0"), []string{"num1", "num1.0", "num10e-1", "num1e0"}},
	{"number as float", userprops.Where("p", "v", 1.0), []string{"num1", "num1.0", "num10e-1", "num1e0", "numstr1"}},
	{"number in an array", userprops.Where("p", "v", 2), []string{"arr"}},
	{"number beyond float64", userprops.Where("p", "v", "12345678901234567890123"), []string{"big"}},
	{"number beyond float64, exponent", userprops.Where("p", "v", "1.2345678901234567890124e22"), []string{"big+1"}},
	{"negative zero", userprops.Where("p", "v", 0), []string{"zero"}},
	{"true", userprops.Where("p", "v", true), []string{"arr", "true", "truestr"}},
	{"true as text", userprops.Where("p", "v", "true"), []string{"arr", "true", "truestr"}},
	{"false", userprops.Where("p", "v", false), []string{"false"}},
	{"null never matches", userprops.Where("p", "v", "null"), nil},
	{"objects never match", userprops.Where("p", "v", `{"Sydney":1}`), nil},
	{"nested arrays never match", userprops.Where("p", "v", `["Sydney"]`), nil},
	{"no path into arrays", userprops.Where("p", "v.x", "Sydney"), nil},
	{"array element by position", userprops.Where("p", "v.1", "second"), []string{"arrindex"}},
	{"deep path", userprops.Where("p", "v.w.x", "Sydney"), []string{"deep"}},
	{"whole value", userprops.Where("p", "", "Sydney"), []string{"whole"}},
	{"field name with *", userprops.Where("p", "a*b", "Sydney"), []string{"special"}},
	{"field name with @", userprops.Where("p", "@this", "Sydney"), []string{"special"}},
	{"field name #", userprops.Where("p", "#", "Sydney"), []string{"special"}},
	{"field name with |", userprops.Where("p", "a|b", "Sydney"), []string{"special"}},
	{"field name ?", userprops.Where("p", "?", "Sydney"), []string{"special"}},
	{"other key", userprops.Where("q", "v", "Sydney"), nil},
	{"or", userprops.Or(userprops.Where("p", "v", "Sydney"), userprops.Where("p", "v", true)),
		[]string{"arr", "str", "true", "truestr", "ws"}},
	{"and", userprops.And(userprops.Where("p", "v", "Sydney"), userprops.Where("p", "v", true)), []string{"arr"}},
	{"and with an unmatched key", userprops.And(userprops.Where("p", "v", "Sydney"), userprops.Where("q", "v", 1)), nil},
	{"and of or", userprops.And(
		userprops.Or(userprops.Where("p", "v", "Sydney"), userprops.Where("p", "v", 1)),
		userprops.Or(userprops.Where("p", "v", 2), userprops.Where("p", "v", "1.0"))),
		[]string{"arr", "num1", "num1.0", "num10e-1", "num1e0"}},
}

// findIndexes are the indexes findCases query.
var findIndexes = []userprops.Index{
	{Key: "p", Path: "v"}, {Key: "p", Path: ""}, {Key: "p", Path: "v.w.x"}, {Key: "p", Path: "v.1"},
	{Key: "p", Path: "v.x"}, {Key: "p", Path: "a*b"}, {Key: "p", Path: "@this"}, {Key: "p", Path: "#"},
	{Key: "p", Path: "a|b"}, {Key: "p", Path: "?"}, {Key: "q", Path: "v"},
}

func (s suite) testFind(t *testing.T) {
	for name, opts := range findOptions(findIndexes...) {
		t.Run(name, func(t *testing.T) {
			st := s.fresh(t, opts...)
			for id, v := range findFixture {
				set(t, st, id, "p", v, userprops.Created)
			}
			for _, c := range findCases {
				got := find(t, st, c.q, userprops.Page{})
				want := c.want
				if want == nil {
					want = []string{}
				}
				assert.Equal(t, want, got.AccountIDs, "%s: %s", c.name, c.q)
				assert.Equal(t, len(want), got.Total, "%s: Total", c.name)
				// The structured form finds the same.
				parsed, err := userprops.ParseQuery(c.q.String())
				if assert.NoError(t, err, "%s: ParseQuery(%s)", c.name, c.q) {
					assert.Equal(t, got, find(t, st, parsed, userprops.Page{}), "%s: parsed %s", c.name, c.q)
				}
			}
			t.Run("Updates", func(t *testing.T) {
				q := userprops.Where("p", "v", "Sydney")
				set(t, st, "str", "p", `{"v":"Oslo"}`, userprops.Updated)
				set(t, st, "strcase", "p", `{"v":["Sydney"]}`, userprops.Updated)
				require.NoError(t, st.Delete(context.Background(), "arr", "p"))
				assert.Equal(t, []string{"strcase", "ws"}, find(t, st, q, userprops.Page{}).AccountIDs)
				assert.Equal(t, []string{"str"}, find(t, st, userprops.Where("p", "v", "Oslo"), userprops.Page{}).AccountIDs)
				set(t, st, "arr", "p", `{"v":"Sydney"}`, userprops.Created)
				assert.Equal(t, []string{"arr", "strcase", "ws"}, find(t, st, q, userprops.Page{}).AccountIDs)
			})
		})
	}
	t.Run("Order", s.testFindOrder)
	t.Run("Paging", s.testFindPaging)
	t.Run("Invalid", s.testFindInvalid)
	t.Run("Random", s.testFindRandom)
	t.Run("WhileWriting", s.testFindWhileWriting)
	t.Run("Reopen", s.testFindReopen)
}

// testFindOrder: account IDs come in ascending byte order, whatever their
// lengths, each once however many of its values match.
func (s suite) testFindOrder(t *testing.T) {
	ids := []string{"b", "aa", "a", "é", "B", "a\x00", "a:b", "ab", "~", "\x01"}
	for name, opts := range findOptions(userprops.Index{Key: "k", Path: "t"}) {
		t.Run(name, func(t *testing.T) {
			st := s.fresh(t, opts...)
			for _, id := range ids {
				set(t, st, id, "k", `{"t":["x","x",1,"1"]}`, userprops.Created)
				set(t, st, id, "other", `{"t":"x"}`, userprops.Created)
			}
			want := slices.Clone(ids)
			slices.Sort(want)
			for _, q := range []userprops.Query{
				userprops.Where("k", "t", "x"),
				userprops.Where("k", "t", 1),
				userprops.Or(userprops.Where("k", "t", "x"), userprops.Where("k", "t", 1), userprops.Where("other", "t", "x")),
			} {
				got := find(t, st, q, userprops.Page{})
				assert.Equal(t, want, got.AccountIDs, "%s", q)
				assert.Equal(t, len(want), got.Total, "%s", q)
			}
		})
	}
}

func (s suite) testFindPaging(t *testing.T) {
	for name, opts := range findOptions(userprops.Index{Key: "k", Path: "n"}) {
		t.Run(name, func(t *testing.T) {
			st := s.fresh(t, opts...)
			var all []string
			for i := range 120 {
				id := fmt.Sprintf("acct-%03d", i)
				all = append(all, id)
				set(t, st, id, "k", `{"n":7}`, userprops.Created)
			}
			set(t, st, "nomatch", "k", `{"n":8}`, userprops.Created)
			q := userprops.Where("k", "n", 7)
			for _, c := range []struct {
				page       userprops.Page
				start, end int
			}{
				{userprops.Page{}, 0, userprops.DefaultPageSize},
				{userprops.Page{StartAt: 100}, 100, 120},
				{userprops.Page{StartAt: 10, MaxResults: 5}, 10, 15},
				{userprops.Page{StartAt: 119, MaxResults: 1}, 119, 120},
				{userprops.Page{StartAt: 120}, 120, 120},
				{userprops.Page{StartAt: 1 << 40}, 120, 120},
				{userprops.Page{MaxResults: userprops.MaxPageSize + 1}, 0, 120},
				{userprops.Page{MaxResults: math.MaxInt}, 0, 120},
			} {
				got := find(t, st, q, c.page)
				assert.Equal(t, all[c.start:c.end], got.AccountIDs, "%+v", c.page)
				assert.Equal(t, 120, got.Total, "%+v", c.page)
			}
			for _, bad := range []userprops.Page{{StartAt: -1}, {MaxResults: -1}} {
				_, err := st.Find(context.Background(), q, bad)
				assert.ErrorIs(t, err, userprops.ErrInvalidQuery, "%+v", bad)
			}
		})
	}
}

func (s suite) testFindInvalid(t *testing.T) {
	st := s.fresh(t)
	set(t, st, "a", "k", `{"v":1}`, userprops.Created)
	many := make([]userprops.Query, userprops.MaxQueryClauses+1)
	for i := range many {
		many[i] = userprops.Where("k", "v", i)
	}
	for name, q := range map[string]userprops.Query{
		"zero Query":        {},
		"empty key":         userprops.Where("", "v", 1),
		"blank key":         userprops.Where(" ", "v", 1),
		"key too long":      userprops.Where(strings.Repeat("k", userprops.MaxKeyLength+1), "v", 1),
		"empty field":       userprops.Where("k", "a..b", 1),
		"trailing dot":      userprops.Where("k", "a.", 1),
		"unsupported value": userprops.Where("k", "v", struct{}{}),
		"nil value":         userprops.Where("k", "v", nil),
		"NaN":               userprops.Where("k", "v", math.NaN()),
		"infinity":          userprops.Where("k", "v", math.Inf(1)),
		"And of nothing":    userprops.And(),
		"Or of nothing":     userprops.Or(),
		"invalid part":      userprops.And(userprops.Where("k", "v", 1), userprops.Where("", "v", 1)),
		"too many clauses":  userprops.Or(many...),
	} {
		_, err := st.Find(context.Background(), q, userprops.Page{})
		assert.ErrorIs(t, err, userprops.ErrInvalidQuery, name)
		assert.Error(t, q.Err(), name)
	}
	assert.Equal(t, []string{"a"}, find(t, st, userprops.Or(many[:userprops.MaxQueryClauses]...), userprops.Page{}).AccountIDs,
		"a query of MaxQueryClauses clauses is allowed")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := st.Find(ctx, userprops.Where("k", "v", 1), userprops.Page{})
	assert.ErrorIs(t, err, context.Canceled)

	view := userprops.ForActor(st, userprops.Actor{})
	_, err = view.Find(context.Background(), userprops.Where("k", "v", 1), userprops.Page{})
	assert.ErrorIs(t, err, userprops.ErrUnauthorized)
	view = userprops.ForActor(st, userprops.Actor{AccountID: "someone else"})
	assert.Equal(t, []string{"a"}, find(t, view, userprops.Where("k", "v", 1), userprops.Page{}).AccountIDs,
		"every authenticated actor may search")

	closed := s.open(t)
	require.NoError(t, closed.Close())
	_, err = closed.Find(context.Background(), userprops.Where("k", "v", 1), userprops.Page{})
	assert.ErrorIs(t, err, userprops.ErrClosed)
}

// randomValue returns a random JSON value: objects of the fields a, b and
// c, arrays, and scalars chosen to meet on the matching rules' edges.
func randomValue(r *rand.Rand, depth int) string {
	scalars := []string{`"x"`, `"X"`, `"1"`, `"1.0"`, `"true"`, `1`, `1.0`, `1e0`, `10e-1`, `2`, `-0`, `0`,
		`true`, `false`, `null`, `""`, `"x "`, `123456789012345678901`, `123456789012345678902`}
	switch k := r.IntN(4); {
	case depth >= 3 || k == 0:
		return scalars[r.IntN(len(scalars))]
	case k == 1:
		n := r.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = randomValue(r, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		var parts []string
		for _, f := range []string{"a", "b", "c"} {
			if r.IntN(3) > 0 {
				parts = append(parts, strconv.Quote(f)+":"+randomValue(r, depth+1))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
}

var (
	randomKeys  = []string{"k1", "k2"}
	randomPaths = []string{"", "a", "b", "a.b", "a.0", "c.a.b"}
	randomTexts = []any{"x", "X", "1", "1.0", "true", 1, 1.5, 2, 0, "-0", true, false, "null", "", "x ",
		"123456789012345678901", "1.23456789012345678902e20"}
)

func randomQuery(r *rand.Rand, depth int) userprops.Query {
	if depth >= 2 || r.IntN(3) == 0 {
		return userprops.Where(randomKeys[r.IntN(len(randomKeys))], randomPaths[r.IntN(len(randomPaths))],
			randomTexts[r.IntN(len(randomTexts))])
	}
	parts := make([]userprops.Query, 1+r.IntN(3))
	for i := range parts {
		parts[i] = randomQuery(r, depth+1)
	}
	if r.IntN(2) == 0 {
		return userprops.And(parts...)
	}
	return userprops.Or(parts...)
}

// testFindRandom runs random writes and random queries against a store with
// an index on every key and path queried and one without, and demands the
// same answers from both and from a model that decodes values with
// encoding/json and compares numbers exactly (refMatch), independently of
// the library's matching.
func (s suite) testFindRandom(t *testing.T) {
	var indexes []userprops.Index
	for _, k := range randomKeys {
		for _, p := range randomPaths {
			indexes = append(indexes, userprops.Index{Key: k, Path: p})
		}
	}
	opts := findOptions(indexes...)
	plain, indexed := s.fresh(t, opts["NoIndex"]...), s.fresh(t, opts["Indexed"]...)
	r := rand.New(rand.NewPCG(1, 2))
	model := map[[2]string]string{}
	ctx := context.Background()
	for round := range 6 {
		for range 40 {
			id, key := fmt.Sprintf("u%02d", r.IntN(40)), randomKeys[r.IntN(len(randomKeys))]
			if _, ok := model[[2]string{id, key}]; ok && r.IntN(4) == 0 {
				require.NoError(t, plain.Delete(ctx, id, key))
				require.NoError(t, indexed.Delete(ctx, id, key))
				delete(model, [2]string{id, key})
				continue
			}
			v := randomValue(r, 0)
			_, err := plain.Set(ctx, id, key, []byte(v))
			require.NoError(t, err)
			_, err = indexed.Set(ctx, id, key, []byte(v))
			require.NoError(t, err)
			model[[2]string{id, key}] = v
		}
		for range 25 {
			q := randomQuery(r, 0)
			page := userprops.Page{StartAt: r.IntN(5), MaxResults: r.IntN(8)}
			want := refFind(t, model, q)
			got := find(t, plain, q, userprops.Page{MaxResults: userprops.MaxPageSize})
			if !assert.Equal(t, want, got.AccountIDs, "round %d, no index: %s\nmodel: %v", round, q, model) {
				return
			}
			assert.Equal(t, got, find(t, indexed, q, userprops.Page{MaxResults: userprops.MaxPageSize}), "round %d, indexed: %s", round, q)
			assert.Equal(t, find(t, plain, q, page), find(t, indexed, q, page), "round %d, %+v: %s", round, page, q)
		}
	}
}

// refFind answers q over model (account, key → value) with refMatch.
func refFind(t *testing.T, model map[[2]string]string, q userprops.Query) []string {
	t.Helper()
	// The query's tree is opaque; its structured form is not, and the
	// model reads that.
	ids := map[string]bool{}
	for ref := range model {
		ids[ref[0]] = true
	}
	var out []string
	for id := range ids {
		if refEval(t, q.String(), func(key string) (string, bool) {
			v, ok := model[[2]string{id, key}]
			return v, ok
		}) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// refEval evaluates a query in the structured form that Query.String writes
// for the keys, paths and texts of testFindRandom (no escapes needed), with
// AND binding tighter than OR and parentheses.
func refEval(t *testing.T, s string, value func(key string) (string, bool)) bool {
	t.Helper()
	toks := refTokens(s)
	pos := 0
	var or func() bool
	clause := func() bool {
		if toks[pos] == "(" {
			pos++
			v := or()
			pos++ // ")"
			return v
		}
		sel, lit := toks[pos], toks[pos+2]
		pos += 3
		key, path, _ := strings.Cut(strings.TrimPrefix(sel, "["), "]")
		path = strings.TrimPrefix(path, ".")
		if strings.HasPrefix(lit, `"`) {
			u, err := strconv.Unquote(lit)
			require.NoError(t, err)
			lit = u
		}
		v, ok := value(key)
		return ok && refMatch(t, v, path, lit)
	}
	and := func() bool {
		v := clause()
		for pos < len(toks) && toks[pos] == "AND" {
			pos++
			v = clause() && v
		}
		return v
	}
	or = func() bool {
		v := and()
		for pos < len(toks) && toks[pos] == "OR" {
			pos++
			v = and() || v
		}
		return v
	}
	return or()
}

// refTokens splits a structured query into selectors, "is", literals,
// keywords and parentheses.
func refTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := i + 1
			for s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != ')' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

// refMatch is the matching rule of userprops.Query, written independently:
// value decoded by encoding/json, numbers compared as exact rationals.
func refMatch(t *testing.T, value, path, text string) bool {
	d := json.NewDecoder(strings.NewReader(value))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v))
	if path != "" {
		for _, f := range strings.Split(path, ".") {
			switch c := v.(type) {
			case map[string]any:
				v = c[f]
			case []any:
				i, err := strconv.Atoi(f)
				if err != nil || i < 0 || i >= len(c) {
					return false
				}
				v = c[i]
			default:
				return false
			}
		}
	}
	scalar := func(v any) bool {
		switch v := v.(type) {
		case string:
			return v == text
		case bool:
			return strconv.FormatBool(v) == text
		case json.Number:
			a, ok := refNumber(string(v))
			b, ok2 := refNumber(text)
			return ok && ok2 && a.Cmp(b) == 0
		}
		return false
	}
	if arr, ok := v.([]any); ok {
		return slices.ContainsFunc(arr, scalar)
	}
	return scalar(v)
}

// refNumber reads text as a JSON number (RFC 8259's grammar), exactly.
func refNumber(text string) (*big.Rat, bool) {
	if !jsonNumber.MatchString(text) {
		return nil, false
	}
	return new(big.Rat).SetString(text)
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// testFindWhileWriting: a Find sees one state of the store, never half a
// write: accounts move between two values one Set at a time while Finds of
// either value count all of them.
func (s suite) testFindWhileWriting(t *testing.T) {
	for name, opts := range findOptions(userprops.Index{Key: "k", Path: "v"}) {
		t.Run(name, func(t *testing.T) {
			st := s.fresh(t, opts...)
			const accounts = 20
			for i := range accounts {
				set(t, st, fmt.Sprintf("a%02d", i), "k", `{"v":1}`, userprops.Created)
			}
			either := userprops.Or(userprops.Where("k", "v", 1), userprops.Where("k", "v", 2))
			ctx := context.Background()
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() {
					for i := range 40 {
						id := fmt.Sprintf("a%02d", (i*7+w)%accounts)
						_, err := st.Set(ctx, id, "k", []byte(fmt.Sprintf(`{"v":%d}`, 1+(i+w)%2)))
						assert.NoError(t, err)
					}
				})
			}
			for range 30 {
				f, err := st.Find(ctx, either, userprops.Page{})
				require.NoError(t, err)
				require.Equal(t, accounts, f.Total, "a Find must see every account in one of the two states")
			}
			wg.Wait()
			// Acknowledged writes are all seen.
			var ones []string
			for i := range accounts {
				id := fmt.Sprintf("a%02d", i)
				if string(get(t, st, id, "k").Value) == `{"v":1}` {
					ones = append(ones, id)
				}
			}
			if ones == nil {
				ones = []string{}
			}
			assert.Equal(t, ones, find(t, st, userprops.Where("k", "v", 1), userprops.Page{}).AccountIDs)
		})
	}
}

// testFindReopen: a durable store answers the same after a reopen, with the
// index it was created with or without it, and with an index declared only
// at the reopen (built over what is stored).
func (s suite) testFindReopen(t *testing.T) {
	if s.h.Reopen == nil {
		t.Skip("storetest: Harness.Reopen is nil: the backend does not claim durability")
	}
	st := s.open(t, userprops.WithIndex("k", "v"))
	want := map[userprops.Query][]string{}
	for i := range 30 {
		set(t, st, fmt.Sprintf("a%02d", i), "k", fmt.Sprintf(`{"v":%d,"w":"%d"}`, i%3, i%2), userprops.Created)
	}
	for _, q := range []userprops.Query{userprops.Where("k", "v", 1), userprops.Where("k", "w", "1"),
		userprops.And(userprops.Where("k", "v", 2), userprops.Where("k", "w", 0))} {
		want[q] = find(t, st, q, userprops.Page{}).AccountIDs
	}
	require.NoError(t, st.Close())
	for _, opts := range [][]userprops.Option{
		nil,
		{userprops.WithIndex("k", "v")},
		{userprops.WithIndex("k", "w"), userprops.WithIndex("k", "")},
	} {
		st = s.h.Reopen(t, st, opts...)
		for q, ids := range want {
			assert.Equal(t, ids, find(t, st, q, userprops.Page{}).AccountIDs, "after reopen with %d indexes: %s", len(opts), q)
		}
		set(t, st, "a01", "k", `{"v":1,"w":"0"}`, userprops.Updated)
		assert.Contains(t, find(t, st, userprops.Where("k", "w", 0), userprops.Page{}).AccountIDs, "a01")
		set(t, st, "a01", "k", `{"v":1,"w":"1"}`, userprops.Updated)
		require.NoError(t, st.Close())
	}
}
