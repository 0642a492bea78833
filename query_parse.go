package userprops

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseQuery parses Jira's structured user query, the language of
// GET /rest/api/3/user/search/query:
//
//	[location].office.city is "Sydney" AND ([onboarding].done is false OR [team] is "core")
//
// A clause is `[key].path is value`: the property key in brackets ('\'
// escapes a ']' or '\' in it), then optionally '.' and a dot-separated path
// ('\' escapes white space, a parenthesis or '\' in it; a field name cannot
// hold '.'), the keyword is, and the value: a double-quoted string (with the
// escapes \" and \\ only) or a bare JSON number, true or false. Quoted and
// bare values compare alike (see Query). Clauses join with AND and OR
// (keywords in any case; AND binds tighter) and group with parentheses,
// nested at most MaxQueryDepth deep, at most MaxQueryClauses clauses.
//
// Jira's statements about issues (is assignee of, is reporter of, is watcher
// of, is voter of, is commenter of, is transitioner of) have no data here and
// are refused. Every malformed query gets an error wrapping ErrInvalidQuery
// that gives the byte offset (counted from 0) and what was expected there.
func ParseQuery(s string) (Query, error) {
	p := &queryParser{s: s}
	p.space()
	if p.i == len(s) {
		return Query{}, errEmptyQuery
	}
	q, err := p.or(0)
	if err != nil {
		return Query{}, err
	}
	p.space()
	if p.i != len(s) {
		return Query{}, p.errorf(p.i, "expected AND, OR or the end of the query, found %s", p.found())
	}
	if err := q.Err(); err != nil {
		return Query{}, err
	}
	return q, nil
}

// ParsePropertyFilter parses Jira's property parameter of
// GET /rest/api/3/user/search: `key.path=value`, such as
// `location.office.city=Sydney`. The key runs to the first '.' or '='
// (so, as in Jira, keys holding either cannot be searched this way), the
// path to the first '=' after it, and the value is everything after that
// '=', compared as text like a quoted value (see Query). A filter without
// '=', or with an empty key or field name, gets an error wrapping
// ErrInvalidQuery.
func ParsePropertyFilter(s string) (Query, error) {
	end := strings.IndexAny(s, ".=")
	if end < 0 {
		return Query{}, fmt.Errorf("%w: property filter %s has no '=': expected key.path=value", ErrInvalidQuery, abbrev(s))
	}
	key, path, rest := s[:end], "", s[end:]
	if rest[0] == '.' {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return Query{}, fmt.Errorf("%w: property filter %s has no '=': expected key.path=value", ErrInvalidQuery, abbrev(s))
		}
		path, rest = rest[1:eq], rest[eq:]
		if path == "" {
			return Query{}, fmt.Errorf("%w: property filter %s has an empty path after the key", ErrInvalidQuery, abbrev(s))
		}
	}
	q := Where(key, path, rest[1:])
	if err := q.Err(); err != nil {
		return Query{}, err
	}
	return q, nil
}

// issueStatements are the words after "is" of Jira's statements about
// issues, which need data userprops does not have.
var issueStatements = []string{"assignee", "reporter", "watcher", "voter", "commenter", "transitioner"}

// queryParser reads one query: s from byte i on.
type queryParser struct {
	s       string
	i       int
	clauses int
}

func (p *queryParser) errorf(at int, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrInvalidQuery, at, fmt.Sprintf(format, args...))
}

// found describes what is at the current position, for errors.
func (p *queryParser) found() string {
	if p.i >= len(p.s) {
		return "the end of the query"
	}
	end := p.i
	for end < len(p.s) && !isQuerySpace(p.s[end]) {
		end++
	}
	rest := p.s[p.i:end]
	return abbrev(rest)
}

func isQuerySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *queryParser) space() {
	for p.i < len(p.s) && isQuerySpace(p.s[p.i]) {
		p.i++
	}
}

// keyword reports whether the word kw (lower case) is at the current
// position, in any case, followed by something that cannot continue a
// word, and if so consumes it.
func (p *queryParser) keyword(kw string) bool {
	end := p.i + len(kw)
	if end > len(p.s) || !strings.EqualFold(p.s[p.i:end], kw) {
		return false
	}
	if end < len(p.s) && isWordByte(p.s[end]) {
		return false
	}
	p.i = end
	return true
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c >= utf8.RuneSelf
}

// or reads clauses joined by OR, each of which may be an AND.
func (p *queryParser) or(depth int) (Query, error) {
	return p.joined("or", Or, func() (Query, error) { return p.and(depth) })
}

// and reads clauses joined by AND, each a clause or a parenthesised query.
func (p *queryParser) and(depth int) (Query, error) {
	return p.joined("and", And, func() (Query, error) { return p.unary(depth) })
}

// joined reads parts that next reads, joined by the keyword kw, and
// combines them (a single part is itself).
func (p *queryParser) joined(kw string, combine func(...Query) Query, next func() (Query, error)) (Query, error) {
	q, err := next()
	if err != nil {
		return Query{}, err
	}
	qs := []Query{q}
	for {
		save := p.i
		p.space()
		if !p.keyword(kw) {
			p.i = save
			return combine(qs...), nil
		}
		q, err := next()
		if err != nil {
			return Query{}, err
		}
		qs = append(qs, q)
	}
}

// unary reads a parenthesised query or one clause.
func (p *queryParser) unary(depth int) (Query, error) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		open := p.i
		if depth >= MaxQueryDepth {
			return Query{}, p.errorf(open, "parentheses nest deeper than %d", MaxQueryDepth)
		}
		p.i++
		q, err := p.or(depth + 1)
		if err != nil {
			return Query{}, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return Query{}, p.errorf(p.i, "expected ')' to close the '(' at byte %d, found %s", open, p.found())
		}
		p.i++
		return q, nil
	}
	return p.clause()
}

// clause reads `[key].path is value`.
func (p *queryParser) clause() (Query, error) {
	start := p.i
	if p.keyword("is") {
		p.space()
		for _, st := range issueStatements {
			if p.keyword(st) {
				return Query{}, p.errorf(start, "the statement \"is %s of\" is about Jira issues, which userprops does not keep; only property clauses ([key].path is value) can be searched", st)
			}
		}
		return Query{}, p.errorf(start, "expected a property clause ([key].path is value) before \"is\"")
	}
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return Query{}, p.errorf(p.i, "expected a property clause ([key].path is value) or '(', found %s", p.found())
	}
	p.clauses++
	if p.clauses > MaxQueryClauses {
		return Query{}, p.errorf(start, "more than %d clauses", MaxQueryClauses)
	}
	key, path, err := p.selector()
	if err != nil {
		return Query{}, err
	}
	p.space()
	if !p.keyword("is") {
		return Query{}, p.errorf(p.i, "expected \"is\" after [%s], found %s", strings.Trim(abbrev(key), `"`), p.found())
	}
	p.space()
	lit, err := p.literal()
	if err != nil {
		return Query{}, err
	}
	n := &qnode{op: qClause, key: key, path: path, gpath: gjsonPath(path), lit: lit, count: 1}
	return Query{n}, nil
}

// selector reads `[key]` and an optional `.path`, and checks both.
func (p *queryParser) selector() (key, path string, err error) {
	start := p.i
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return "", "", p.errorf(p.i, "expected '[' and a property key, found %s", p.found())
	}
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", "", p.errorf(start, "the '[' is never closed by ']'")
		}
		c := p.s[p.i]
		if c == ']' {
			p.i++
			break
		}
		if c == '\\' {
			p.i++
			if p.i >= len(p.s) {
				return "", "", p.errorf(p.i-1, "'\\' at the end of the query")
			}
			c = p.s[p.i]
		}
		b.WriteByte(c)
		p.i++
	}
	key = b.String()
	if err := ValidateKey(key); err != nil {
		return "", "", p.errorf(start, "%v", err)
	}
	if p.i >= len(p.s) || p.s[p.i] != '.' {
		return key, "", nil
	}
	p.i++
	b.Reset()
	fieldStart := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if isQuerySpace(c) || c == '(' || c == ')' {
			break
		}
		switch c {
		case '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", "", p.errorf(p.i-1, "'\\' at the end of the query")
			}
			c = p.s[p.i]
			if c == '.' {
				return "", "", p.errorf(p.i-1, "a field name cannot hold '.'")
			}
		case '.':
			if p.i == fieldStart {
				return "", "", p.errorf(p.i, "expected a field name before '.'")
			}
			fieldStart = p.i + 1
		}
		b.WriteByte(c)
		p.i++
	}
	if p.i == fieldStart {
		return "", "", p.errorf(p.i, "expected a field name after '.' at byte %d", p.i-1)
	}
	return key, b.String(), nil
}

// literal reads a quoted string or a bare number, true or false.
func (p *queryParser) literal() (literal, error) {
	start := p.i
	if p.i >= len(p.s) {
		return literal{}, p.errorf(p.i, "expected a value (a quoted string, a number, true or false), found the end of the query")
	}
	if p.s[p.i] == '"' {
		p.i++
		var b strings.Builder
		for {
			if p.i >= len(p.s) {
				return literal{}, p.errorf(start, "the string is never closed by '\"'")
			}
			c := p.s[p.i]
			if c == '"' {
				p.i++
				return newLiteral(b.String(), false), nil
			}
			if c == '\\' {
				p.i++
				if p.i >= len(p.s) {
					return literal{}, p.errorf(start, "the string is never closed by '\"'")
				}
				c = p.s[p.i]
				if c != '"' && c != '\\' {
					return literal{}, p.errorf(p.i-1, "unknown escape '\\%c' in a string: only \\\" and \\\\ are escapes", c)
				}
			}
			b.WriteByte(c)
			p.i++
		}
	}
	end := p.i
	for end < len(p.s) && !isQuerySpace(p.s[end]) && p.s[end] != '(' && p.s[end] != ')' {
		end++
	}
	text := p.s[p.i:end]
	if text == "true" || text == "false" {
		p.i = end
		return newLiteral(text, true), nil
	}
	if _, ok := canonicalNumber(text); ok {
		p.i = end
		return newLiteral(text, true), nil
	}
	return literal{}, p.errorf(start, "expected a value (a quoted string, a number, true or false), found %s", p.found())
}
