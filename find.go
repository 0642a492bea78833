package userprops

import (
	"context"
	"fmt"
	"slices"
)

// The page sizes of Find, as Jira's user search has them.
const (
	// DefaultPageSize is the page size of a Page whose MaxResults is 0.
	DefaultPageSize = 50
	// MaxPageSize is the largest page; a larger MaxResults is cut to it.
	MaxPageSize = 1000
)

// Page selects part of Find's answer: the matches from StartAt on (0 is the
// first), at most MaxResults of them (0 means DefaultPageSize; more than
// MaxPageSize means MaxPageSize). A negative StartAt or MaxResults is
// invalid (ErrInvalidQuery).
type Page struct {
	StartAt    int
	MaxResults int
}

// normalize returns p with its defaults applied, or an error wrapping
// ErrInvalidQuery.
func (p Page) normalize() (Page, error) {
	switch {
	case p.StartAt < 0:
		return Page{}, fmt.Errorf("%w: startAt %d is negative", ErrInvalidQuery, p.StartAt)
	case p.MaxResults < 0:
		return Page{}, fmt.Errorf("%w: maxResults %d is negative", ErrInvalidQuery, p.MaxResults)
	case p.MaxResults == 0:
		p.MaxResults = DefaultPageSize
	case p.MaxResults > MaxPageSize:
		p.MaxResults = MaxPageSize
	}
	return p, nil
}

// Found is one page of Find's answer.
type Found struct {
	// AccountIDs are the matching accounts of the page, in ascending byte
	// order, each once. The slice is the caller's; it is empty, not nil,
	// when the page holds none.
	AccountIDs []string
	// Total is how many accounts match, on every page together.
	Total int
}

// FindView is for backend implementers: what Evaluate reads to answer one
// Find, in one consistent view of the store (a read transaction, or a lock
// held throughout), so that a Find sees every write acknowledged before it
// started and nothing half-written. Evaluate calls it from one goroutine.
type FindView interface {
	// Indexed reports whether the view keeps index ix (see Index.Terms).
	Indexed(ix Index) bool
	// Lookup returns, in any order and each at most once, the accounts
	// whose property ix.Key is indexed under term in ix. Evaluate calls it
	// only for indexes Indexed reports. The slice becomes Evaluate's.
	Lookup(ctx context.Context, ix Index, term string) ([]string, error)
	// Scan calls fn, in any order, once for every account that holds
	// property key, with its value, until fn returns false. value is valid
	// only during the call and must not be modified. Scan should check ctx
	// now and then and return its error.
	Scan(ctx context.Context, key string, fn func(accountID string, value []byte) bool) error
	// Value returns the value of accountID's property key, or ok false if
	// it has none. value is valid until the view ends and must not be
	// modified.
	Value(ctx context.Context, accountID, key string) (value []byte, ok bool, err error)
}

// TermPager is for backend implementers: an optional interface of a
// FindView that keeps a count of each term's index entries and reads them
// in account order, so that Evaluate answers a query of one indexed clause
// from one page of entries and the count, however many accounts match,
// instead of listing them all.
type TermPager interface {
	// TermPage returns how many accounts are indexed under term in ix,
	// and those of them from the start-th on (0 is the first), at most n,
	// in ascending byte order. ok is false when the view cannot answer it
	// exactly (Evaluate then uses Lookup).
	TermPage(ctx context.Context, ix Index, term string, start, n int) (ids []string, total int, ok bool, err error)
}

// Evaluate is for backend implementers: it answers Find for q and page
// (both as Gate.AdmitFind returned them) from view, so that every backend
// gives the same answers. It reads the clauses whose key and path have an
// index through Lookup, checks the others against the accounts the indexed
// clauses left with Value, and scans a key with Scan only when a clause can
// be answered no other way.
func Evaluate(ctx context.Context, view FindView, q Query, page Page) (Found, error) {
	if found, ok, err := pageOneTerm(ctx, view, q, page); ok || err != nil {
		return found, err
	}
	e := &evaluator{ctx: ctx, view: view}
	ids, err := e.eval(q.n, nil, false)
	if err != nil {
		return Found{}, err
	}
	found := Found{AccountIDs: []string{}, Total: len(ids)}
	if page.StartAt < len(ids) {
		end := min(len(ids), page.StartAt+page.MaxResults)
		found.AccountIDs = slices.Clone(ids[page.StartAt:end])
	}
	return found, nil
}

// pageOneTerm answers, through TermPager, a query that is one clause on an
// index whose literal has entries under one of its terms only (Index.Terms;
// an array may hold both 1 and "1"): that term's count is the total, and its
// entries are the matches in order. It reports false for any other query,
// or a view that cannot page.
func pageOneTerm(ctx context.Context, view FindView, q Query, page Page) (Found, bool, error) {
	n := q.n
	pager, ok := view.(TermPager)
	if !ok || n.op != qClause || !view.Indexed(Index{n.key, n.path}) {
		return Found{}, false, nil
	}
	ix, term := Index{n.key, n.path}, ""
	found := Found{AccountIDs: []string{}}
	for _, t := range n.lit.terms() {
		_, total, ok, err := pager.TermPage(ctx, ix, t, 0, 0)
		if err != nil || !ok {
			return Found{}, false, err
		}
		if total > 0 {
			if term != "" {
				return Found{}, false, nil // matches under two terms: Evaluate merges them
			}
			term, found.Total = t, total
		}
	}
	if term == "" || page.StartAt >= found.Total {
		return found, true, nil
	}
	ids, _, ok, err := pager.TermPage(ctx, ix, term, page.StartAt, page.MaxResults)
	if err != nil || !ok {
		return Found{}, false, err
	}
	found.AccountIDs = ids
	return found, true, nil
}

type evaluator struct {
	ctx  context.Context
	view FindView
}

// eval returns the accounts n matches, sorted and unique. With restrict, it
// returns only those among cands (sorted and unique), which it may check
// one by one instead of reading an index or scanning.
func (e *evaluator) eval(n *qnode, cands []string, restrict bool) ([]string, error) {
	if err := e.ctx.Err(); err != nil {
		return nil, err
	}
	switch n.op {
	case qClause:
		return e.clause(n, cands, restrict)
	case qOr:
		var all []string
		for _, k := range n.kids {
			ids, err := e.eval(k, cands, restrict)
			if err != nil {
				return nil, err
			}
			all = append(all, ids...)
		}
		return sortUnique(all), nil
	default: // qAnd
		// The parts answered by indexes alone go first; what they leave
		// restricts the others, which are then checked account by
		// account rather than by scanning.
		kids := slices.Clone(n.kids)
		slices.SortStableFunc(kids, func(a, b *qnode) int {
			return boolRank(!e.indexedOnly(a)) - boolRank(!e.indexedOnly(b))
		})
		for _, k := range kids {
			ids, err := e.eval(k, cands, restrict)
			if err != nil {
				return nil, err
			}
			cands, restrict = ids, true
			if len(cands) == 0 {
				break
			}
		}
		return cands, nil
	}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// indexedOnly reports whether every clause of n has an index.
func (e *evaluator) indexedOnly(n *qnode) bool {
	if n.op == qClause {
		return e.view.Indexed(Index{n.key, n.path})
	}
	for _, k := range n.kids {
		if !e.indexedOnly(k) {
			return false
		}
	}
	return true
}

// checkOneByOne is how many candidates a clause checks by reading each
// account's value rather than looking its terms up in an index.
const checkOneByOne = 64

func (e *evaluator) clause(n *qnode, cands []string, restrict bool) ([]string, error) {
	ix := Index{n.key, n.path}
	indexed := e.view.Indexed(ix)
	if restrict && (!indexed || len(cands) <= checkOneByOne) {
		return e.check(n, cands) // find_values.go
	}
	var ids []string
	if indexed {
		for _, t := range n.lit.terms() {
			got, err := e.view.Lookup(e.ctx, ix, t)
			if err != nil {
				return nil, err
			}
			ids = append(ids, got...)
		}
		ids = sortUnique(ids)
	} else {
		err := e.view.Scan(e.ctx, n.key, func(id string, v []byte) bool {
			if n.lit.matches(selectValue(v, n.gpath)) {
				ids = append(ids, id)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		ids = sortUnique(ids)
	}
	if restrict {
		ids = intersect(ids, cands)
	}
	return ids, nil
}

// sortUnique sorts ids and removes repeats, in place.
func sortUnique(ids []string) []string {
	if !slices.IsSorted(ids) {
		slices.Sort(ids)
	}
	return slices.Compact(ids)
}

// intersect returns the accounts in both sorted, unique a and b, reusing a.
func intersect(a, b []string) []string {
	out := a[:0]
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
