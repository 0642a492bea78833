package userprops

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Limits on one query, so that no caller can make a Find arbitrarily
// expensive to parse or to answer.
const (
	// MaxQueryClauses is how many property clauses one query may hold.
	MaxQueryClauses = 100
	// MaxQueryDepth is how deeply parentheses may nest in ParseQuery.
	MaxQueryDepth = 32
)

// A Query selects accounts by the values of their properties, as Jira's
// user search does. Build one with Where, And and Or, or parse Jira's
// structured query with ParseQuery or its property filter with
// ParsePropertyFilter; pass it to Store.Find.
//
// A clause, Where(key, path, value) or `[key].path is "value"`, selects the
// JSON value at path (dot-separated field names; the empty path is the whole
// value) inside the account's property key, read with gjson, and compares
// it with the text of value:
//
//   - a JSON string matches when it equals the text exactly (case-sensitive);
//   - a JSON number matches when the text reads as a JSON number numerically
//     equal to it: 1, 1.0, 1e0 and "1" all match the number 1, exactly, at
//     any size and precision;
//   - JSON true and false match the texts true and false;
//   - an array matches when one of its elements (not a nested array or
//     object) matches, as Jira indexes each element;
//   - objects, null and missing paths never match.
//
// A path does not reach into arrays: `[k].a.b` finds nothing in
// {"a":[{"b":1}]}. A field name is matched literally (no gjson wildcards,
// modifiers or queries); a field name that is a decimal number also selects
// that element of an array, as in gjson.
//
// And matches the accounts every part matches, Or those any part matches.
// The zero Query is invalid. A Query is a value: it is safe to share and to
// use concurrently, and building one never fails; a malformed one (an
// invalid key, an empty field name, a value of an unsupported type, more
// than MaxQueryClauses clauses) is reported by Find as an error wrapping
// ErrInvalidQuery.
type Query struct {
	n *qnode
}

type qop uint8

const (
	qClause qop = iota + 1
	qAnd
	qOr
)

// qnode is one node of a query tree. Trees are never modified once built,
// so queries share them freely.
type qnode struct {
	op    qop
	kids  []*qnode // qAnd, qOr: at least two, none of the same op
	key   string   // qClause
	path  string   // qClause: dot-separated field names, "" for the whole value
	gpath string   // qClause: path as gjson reads it (gjsonPath)
	lit   literal  // qClause
	err   error    // a construction error, reported by Find
	count int      // clauses in the subtree
}

// literal is the value a clause compares with.
type literal struct {
	text string // what a JSON string must equal
	bare bool   // written unquoted (a number, true or false)
	num  string // canonical form of text if it reads as a JSON number, else ""
}

func newLiteral(text string, bare bool) literal {
	l := literal{text: text, bare: bare}
	if n, ok := canonicalNumber(text); ok {
		l.num = n
	}
	return l
}

// Where returns the clause that matches accounts whose property key holds,
// at path, a value matching value (see Query). value is a string, a bool, or
// a Go number (any int, uint or float type, json.Number); a string is
// compared as text, so Where(k, p, "1") and Where(k, p, 1) match alike.
func Where(key, path string, value any) Query {
	n := &qnode{op: qClause, key: key, path: path, gpath: gjsonPath(path), count: 1}
	text, bare, err := literalText(value)
	if err != nil {
		n.err = err
	}
	n.lit = newLiteral(text, bare)
	if n.err == nil {
		n.err = checkSelector(key, path)
	}
	return Query{n}
}

// literalText returns the text a Where value compares as, and whether it
// is written bare (unquoted) in the structured form.
func literalText(v any) (text string, bare bool, err error) {
	if n, ok := v.(json.Number); ok {
		if _, ok := canonicalNumber(string(n)); !ok {
			return "", false, fmt.Errorf("%w: %q is not a JSON number", ErrInvalidQuery, string(n))
		}
		return string(n), true, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), false, nil
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), true, nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", false, fmt.Errorf("%w: %v is not a JSON number", ErrInvalidQuery, f)
		}
		bits := 64
		if rv.Kind() == reflect.Float32 {
			bits = 32
		}
		return strconv.FormatFloat(f, 'g', -1, bits), true, nil
	}
	return "", false, fmt.Errorf("%w: a value of type %T cannot be compared with JSON; use a string, a bool or a number",
		ErrInvalidQuery, v)
}

// checkSelector checks a clause's key and path.
func checkSelector(key, path string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	if path == "" {
		return nil
	}
	for i, f := range strings.Split(path, ".") {
		if f == "" {
			return fmt.Errorf("%w: path %s has an empty field name (field %d)", ErrInvalidQuery, abbrev(path), i+1)
		}
	}
	return nil
}

// And returns the query that matches the accounts every one of qs matches.
// And of one query is that query; And of none is invalid.
func And(qs ...Query) Query { return combine(qAnd, qs) }

// Or returns the query that matches the accounts any one of qs matches.
// Or of one query is that query; Or of none is invalid.
func Or(qs ...Query) Query { return combine(qOr, qs) }

func combine(op qop, qs []Query) Query {
	n := &qnode{op: op}
	for _, q := range qs {
		k := q.n
		if k == nil {
			k = &qnode{op: qClause, err: errEmptyQuery}
		}
		n.count += k.count
		if k.op == op {
			n.kids = append(n.kids, k.kids...)
		} else {
			n.kids = append(n.kids, k)
		}
	}
	switch len(n.kids) {
	case 0:
		name := map[qop]string{qAnd: "And", qOr: "Or"}[op]
		n.err = fmt.Errorf("%w: %s of no queries", ErrInvalidQuery, name)
	case 1:
		return Query{n.kids[0]}
	}
	return Query{n}
}

var errEmptyQuery = fmt.Errorf("%w: the query is empty", ErrInvalidQuery)

// Err returns nil if q is well-formed, and otherwise the error Find returns
// for it, which wraps ErrInvalidQuery.
func (q Query) Err() error {
	if q.n == nil {
		return errEmptyQuery
	}
	if q.n.count > MaxQueryClauses {
		return fmt.Errorf("%w: it has %d clauses, the limit is %d", ErrInvalidQuery, q.n.count, MaxQueryClauses)
	}
	return q.n.check()
}

func (n *qnode) check() error {
	if n.err != nil {
		return n.err
	}
	for _, k := range n.kids {
		if err := k.check(); err != nil {
			return err
		}
	}
	return nil
}

// String returns q in Jira's structured-query form, which ParseQuery reads
// back as the same query: `[location].office.city is "Sydney" AND ([a] is 1
// OR [b].c is true)`. Keys and paths are escaped where they hold characters
// of the syntax. The zero Query is "".
func (q Query) String() string {
	if q.n == nil {
		return ""
	}
	var b strings.Builder
	q.n.write(&b)
	return b.String()
}

func (n *qnode) write(b *strings.Builder) {
	switch n.op {
	case qClause:
		writeSelector(b, n.key, n.path)
		b.WriteString(" is ")
		if n.lit.bare {
			b.WriteString(n.lit.text)
			return
		}
		b.WriteByte('"')
		for i := 0; i < len(n.lit.text); i++ {
			if c := n.lit.text[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(n.lit.text[i])
		}
		b.WriteByte('"')
	case qAnd, qOr:
		sep := " AND "
		if n.op == qOr {
			sep = " OR "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			// AND binds tighter than OR: only an OR inside an AND needs
			// parentheses.
			paren := n.op == qAnd && k.op == qOr
			if paren {
				b.WriteByte('(')
			}
			k.write(b)
			if paren {
				b.WriteByte(')')
			}
		}
	}
}

// writeSelector writes `[key].path`, escaping what the parser reads as
// syntax: '\' and ']' in the key; '\', white space and parentheses in the
// path.
func writeSelector(b *strings.Builder, key, path string) {
	b.WriteByte('[')
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == ']' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(key[i])
	}
	b.WriteByte(']')
	if path == "" {
		return
	}
	b.WriteByte('.')
	for i := 0; i < len(path); i++ {
		if c := path[i]; c == '\\' || c == '(' || c == ')' || isQuerySpace(c) {
			b.WriteByte('\\')
		}
		b.WriteByte(path[i])
	}
}

// Index names a declared index: a property key and a path in its values
// (dot-separated field names; "" for the whole value). An index makes Find
// faster on the clauses that select that key and path; it never changes an
// answer.
type Index struct {
	Key  string
	Path string
}

// String returns ix in the form ParseIndex reads: `[key].path`.
func (ix Index) String() string {
	var b strings.Builder
	writeSelector(&b, ix.Key, ix.Path)
	return b.String()
}

// Err returns nil if ix names a valid key and path, and otherwise an error
// wrapping ErrInvalidQuery.
func (ix Index) Err() error { return checkSelector(ix.Key, ix.Path) }

// ParseIndex parses an index in the bracket form of queries:
// `[location].office.city`, or `[settings]` for whole values. An invalid one
// gets an error wrapping ErrInvalidQuery.
func ParseIndex(s string) (Index, error) {
	p := &queryParser{s: s}
	key, path, err := p.selector()
	if err != nil {
		return Index{}, err
	}
	if p.i != len(s) {
		return Index{}, p.errorf(p.i, "expected the end of the index after the path")
	}
	return Index{key, path}, nil
}

// WithIndex declares an index on the values at path (dot-separated field
// names; "" for the whole value) of property key, so that Find answers the
// clauses on that key and path from the index instead of reading every value
// of key. Indexes cost every write of key a little (its entries change in
// the same transaction) and change no answer. How long an index lives
// depends on the backend: a memory store builds it at NewMemory; a bolt file
// records it and keeps it until it is dropped (see OpenBolt).
//
// WithIndex panics if key is not a valid property key or path has an empty
// field name: declare indexes from constants, or check what a user typed with
// ParseIndex first.
func WithIndex(key, path string) Option {
	ix := Index{key, path}
	if err := ix.Err(); err != nil {
		panic(fmt.Sprintf("userprops.WithIndex(%q, %q): %v", key, path, err))
	}
	return func(o *options) {
		for _, have := range o.indexes {
			if have == ix {
				return
			}
		}
		o.indexes = append(o.indexes, ix)
	}
}

// selectValue returns the value at gpath (see gjsonPath) in value.
func selectValue(value []byte, gpath string) gjson.Result {
	if gpath == "" {
		return gjson.ParseBytes(value)
	}
	return gjson.GetBytes(value, gpath)
}

// gjsonPath returns a dot-separated path as gjson reads it: each field name
// escaped with gjson.Escape, so that no gjson wildcard, modifier or query
// runs, whatever the field names hold.
func gjsonPath(path string) string {
	if path == "" {
		return ""
	}
	fields := strings.Split(path, ".")
	for i, f := range fields {
		fields[i] = gjson.Escape(f)
	}
	return strings.Join(fields, ".")
}

// matches reports whether a selected value matches the literal (see Query).
func (l *literal) matches(r gjson.Result) bool {
	switch r.Type {
	case gjson.String:
		return r.Str == l.text
	case gjson.Number:
		if l.num == "" {
			return false
		}
		if r.Raw == l.text {
			return true
		}
		n, _ := canonicalNumber(r.Raw)
		return n == l.num
	case gjson.True:
		return l.text == "true"
	case gjson.False:
		return l.text == "false"
	case gjson.JSON:
		if !r.IsArray() {
			return false
		}
		found := false
		r.ForEach(func(_, e gjson.Result) bool {
			if e.Type != gjson.JSON && l.matches(e) {
				found = true
			}
			return !found
		})
		return found
	}
	return false
}

// Index terms. A value is indexed under one term per scalar it holds at the
// index's path (each element of an array), and a literal is looked up under
// every term it could match; a value matches a literal exactly when they
// share a term.
const (
	termString = 's'
	termNumber = 'n'
	termBool   = 'b'
)

// Terms is for backend implementers: it returns the index terms of value for
// ix, deduplicated, in no particular order: one for each string, number and
// boolean found at ix.Path (each element of an array). A backend stores an
// entry (ix, term, account) for each, replaces them when the value changes
// and removes them when it is deleted, in the transaction of the write; Find
// looks terms up through FindView.Lookup. Terms are opaque strings, compared
// byte for byte, that may hold any byte.
func (ix Index) Terms(value []byte) []string {
	r := selectValue(value, gjsonPath(ix.Path))
	var terms []string
	add := func(e gjson.Result) {
		if t, ok := valueTerm(e); ok && !contains(terms, t) {
			terms = append(terms, t)
		}
	}
	if r.IsArray() {
		r.ForEach(func(_, e gjson.Result) bool {
			add(e)
			return true
		})
	} else {
		add(r)
	}
	return terms
}

func contains(terms []string, t string) bool {
	for _, have := range terms {
		if have == t {
			return true
		}
	}
	return false
}

// valueTerm returns the term of one scalar value.
func valueTerm(r gjson.Result) (string, bool) {
	switch r.Type {
	case gjson.String:
		return string(termString) + r.Str, true
	case gjson.Number:
		n, ok := canonicalNumber(r.Raw)
		return string(termNumber) + n, ok
	case gjson.True:
		return string(termBool) + "true", true
	case gjson.False:
		return string(termBool) + "false", true
	}
	return "", false
}

// terms returns every term a value matching l may be indexed under.
func (l *literal) terms() []string {
	ts := []string{string(termString) + l.text}
	if l.num != "" {
		ts = append(ts, string(termNumber)+l.num)
	}
	if l.text == "true" || l.text == "false" {
		ts = append(ts, string(termBool)+l.text)
	}
	return ts
}

// canonicalNumber reports whether s is a JSON number and returns one text
// for all the numbers equal to it: "0" for zero, else the sign, the
// significant digits without leading or trailing zeros, "e" and the
// exponent that makes the value 0.d₁d₂…×10^e, so 1, 1.0, 10e-1 and 0.1e1 are
// all "1e1".
func canonicalNumber(s string) (string, bool) {
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return "", false
	}
	intPart := s[intStart:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return "", false
		}
		frac = s[start:i]
	}
	expText := "0"
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		start := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		digits := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == digits {
			return "", false
		}
		expText = s[start:i]
	}
	if i != len(s) {
		return "", false
	}
	// The significant digits, and the exponent of their first one.
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return "0", true
	}
	// shift: the exponent of 0.d₁d₂… before the written exponent.
	shift := len(intPart) - (len(intPart) + len(frac) - len(digits))
	digits = strings.TrimRight(digits, "0")
	var exp string
	if e, err := strconv.ParseInt(expText, 10, 64); err == nil && e > math.MinInt64/2 && e < math.MaxInt64/2 {
		exp = strconv.FormatInt(e+int64(shift), 10)
	} else {
		// An exponent beyond int64: exact arithmetic still decides.
		e, _ := new(big.Int).SetString(strings.TrimPrefix(expText, "+"), 10)
		exp = e.Add(e, big.NewInt(int64(shift))).String()
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + digits + "e" + exp, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
