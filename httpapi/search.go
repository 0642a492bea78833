package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// The user search: Jira's GET …/user/search, …/user/search/query and
// …/user/search/query/key. The store finds the accounts whose properties
// match (Store.Find, through userprops.ForActor, which lets every
// authenticated caller search, as Jira's Browse users permission does);
// the directory (Users) then keeps the active accounts it knows that the
// other filters (accountId, the query prefix) keep; paging comes last, so
// that startAt, maxResults and total count the users answered, never the
// accounts dropped.

// missingFilter is Jira's answer to a user search with none of its filters.
const missingFilter = "One of the query parameters 'accountId', 'query' or 'property' must be provided."

// findUsers answers GET …/user/search?property=&query=&accountId=&startAt=&maxResults=
// with a JSON array of users: those whose property matches property (Jira's
// key.path=value, see userprops.ParsePropertyFilter), whose display name or
// email starts with query (case-insensitive; an empty query matches every
// user; emails count only where the caller may see them), and that are
// accountId; every filter given applies, and one is required. Only active
// users are found, in ascending order of account ID.
func (s *server) findUsers(w http.ResponseWriter, r *http.Request, actor userprops.Actor, version string) {
	values, ok := queryValues(w, r)
	if !ok {
		return
	}
	f := userFilter{viewer: actor, accountID: values.Get("accountId"), byPrefix: values.Has("query")}
	f.prefix = strings.ToLower(values.Get("query"))
	if !values.Has("property") && !f.byPrefix && f.accountID == "" {
		writeError(w, http.StatusBadRequest, missingFilter)
		return
	}
	var q *userprops.Query
	if values.Has("property") {
		parsed, err := userprops.ParsePropertyFilter(values.Get("property"))
		if err != nil {
			s.fail(w, r, err, "")
			return
		}
		q = &parsed
	}
	if f.accountID != "" {
		if err := userprops.ValidateAccountID(f.accountID); err != nil {
			s.fail(w, r, err, "")
			return
		}
	}
	page, err := searchPage(values, "maxResults")
	if err != nil {
		s.fail(w, r, err, "")
		return
	}
	c := &collector{page: page}
	if err := s.search(r.Context(), userprops.ForActor(s.store, actor), q, f, c); err != nil {
		s.fail(w, r, err, "")
		return
	}
	base := s.base(r)
	body := make([]userBody, len(c.users))
	for i, u := range c.users {
		body[i] = userJSON(u, actor, base, version)
	}
	writeJSON(w, http.StatusOK, body)
}

// findUsersByQuery answers GET …/user/search/query?query=&startAt=&maxResults=
// with a PageBeanUser of the active users whose properties match query,
// Jira's structured query (see userprops.ParseQuery).
func (s *server) findUsersByQuery(w http.ResponseWriter, r *http.Request, actor userprops.Actor, version string) {
	base := s.base(r)
	queryPage(s, w, r, actor, "maxResults", func(u User) userBody { return userJSON(u, actor, base, version) })
}

// findUserKeysByQuery answers GET …/user/search/query/key?query=&startAt=&maxResult=
// (maxResult, singular, as Jira spells it here) with the page of
// findUsersByQuery holding only account IDs.
func (s *server) findUserKeysByQuery(w http.ResponseWriter, r *http.Request, actor userprops.Actor, _ string) {
	queryPage(s, w, r, actor, "maxResult", func(u User) wire.UserKey { return wire.UserKey{AccountID: u.AccountID} })
}

// queryPage answers a structured-query search with one page of users, each
// rendered by value; sizeParam names the page-size parameter. self and
// nextPage are absolute links holding the request's parameters, encoded
// again.
func queryPage[T any](s *server, w http.ResponseWriter, r *http.Request, actor userprops.Actor, sizeParam string, value func(User) T) {
	values, ok := queryValues(w, r)
	if !ok {
		return
	}
	q, err := userprops.ParseQuery(values.Get("query"))
	if err != nil {
		s.fail(w, r, err, "")
		return
	}
	page, err := searchPage(values, sizeParam)
	if err != nil {
		s.fail(w, r, err, "")
		return
	}
	c := &collector{page: page, countAll: true}
	if err := s.search(r.Context(), userprops.ForActor(s.store, actor), &q, userFilter{viewer: actor}, c); err != nil {
		s.fail(w, r, err, "")
		return
	}
	link := s.base(r) + r.URL.EscapedPath() + "?"
	body := wire.Page[T]{
		Self:       link + values.Encode(),
		MaxResults: page.MaxResults,
		StartAt:    page.StartAt,
		Total:      c.total,
		IsLast:     page.StartAt+len(c.users) >= c.total,
		Values:     make([]T, len(c.users)),
	}
	for i, u := range c.users {
		body.Values[i] = value(u)
	}
	if !body.IsLast {
		next := url.Values{}
		for k, v := range values {
			next[k] = v
		}
		next.Set("startAt", strconv.Itoa(page.StartAt+page.MaxResults))
		body.NextPage = link + next.Encode()
	}
	writeJSON(w, http.StatusOK, body)
}

// queryValues returns the request's query parameters, '+' decoded as a
// space, or answers 400 when the query string cannot be decoded (a '%' not
// followed by two hex digits, a ';').
func queryValues(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "The query string could not be decoded: "+err.Error()+".")
		return nil, false
	}
	return values, true
}

// searchPage reads the page of a search from startAt and sizeParam: absent
// means 0 and userprops.DefaultPageSize, 0 means DefaultPageSize, more than
// userprops.MaxPageSize means MaxPageSize; anything but a whole number of
// zero or more is an error wrapping userprops.ErrInvalidQuery.
func searchPage(values url.Values, sizeParam string) (userprops.Page, error) {
	var page userprops.Page
	for _, p := range []struct {
		name string
		to   *int
	}{{"startAt", &page.StartAt}, {sizeParam, &page.MaxResults}} {
		text := values.Get(p.name)
		if text == "" {
			continue
		}
		n, err := strconv.Atoi(text)
		if err != nil || n < 0 {
			return userprops.Page{}, fmt.Errorf("%w: %s %q is not a whole number of zero or more", userprops.ErrInvalidQuery, p.name, text)
		}
		*p.to = n
	}
	switch {
	case page.MaxResults == 0:
		page.MaxResults = userprops.DefaultPageSize
	case page.MaxResults > userprops.MaxPageSize:
		page.MaxResults = userprops.MaxPageSize
	}
	return page, nil
}

// userFilter is what a search checks in the directory, after the store:
// the user is active and, where given, is accountID and has a display name
// or an email (one viewer may see) starting with prefix.
type userFilter struct {
	viewer    userprops.Actor
	accountID string // "" for any
	byPrefix  bool
	prefix    string // lower-cased
}

func (f *userFilter) keep(u User) bool {
	switch {
	case !u.Active:
		return false
	case f.accountID != "" && u.AccountID != f.accountID:
		return false
	case f.byPrefix:
		return strings.HasPrefix(strings.ToLower(u.DisplayName), f.prefix) ||
			canSeeEmail(f.viewer, u) && strings.HasPrefix(strings.ToLower(u.Email), f.prefix)
	}
	return true
}

// collector keeps the page of the users a search finds, and counts them:
// all of them with countAll, else until the page is full.
type collector struct {
	page     userprops.Page // MaxResults > 0
	countAll bool
	total    int
	users    []User
}

// add counts u, keeps it if it falls in the page, and reports whether the
// search should go on.
func (c *collector) add(u User) bool {
	if c.total >= c.page.StartAt && len(c.users) < c.page.MaxResults {
		c.users = append(c.users, u)
	}
	c.total++
	return c.countAll || len(c.users) < c.page.MaxResults
}

// search passes to c, in ascending order of account ID, the users f keeps
// among those whose properties match q in store, or, with no q, among the
// users of the directory (just f.accountID's, when f names one). Accounts
// that store holds properties for but the directory no longer lists are
// skipped.
func (s *server) search(ctx context.Context, store userprops.Store, q *userprops.Query, f userFilter, c *collector) error {
	switch {
	case q == nil && f.accountID != "":
		u, err := s.users.User(ctx, f.accountID)
		if errors.Is(err, userprops.ErrUserNotFound) {
			return nil
		}
		if err == nil && f.keep(u) {
			c.add(u)
		}
		return err
	case q == nil:
		return s.users.EachUser(ctx, func(u User) bool {
			return !f.keep(u) || c.add(u)
		})
	}
	var lookupErr error
	err := walkFind(ctx, store, *q, func(id string) bool {
		if f.accountID != "" && id != f.accountID {
			return id < f.accountID // the IDs come in order: past it, none can be
		}
		u, err := s.users.User(ctx, id)
		switch {
		case errors.Is(err, userprops.ErrUserNotFound):
			return true
		case err != nil:
			lookupErr = err
			return false
		}
		return !f.keep(u) || c.add(u)
	})
	if err != nil {
		return err
	}
	return lookupErr
}

// maxStepBacks bounds how many times walkFind reads a page again because
// accounts before it stopped matching while it walked.
const maxStepBacks = 64

// walkFind calls fn with every account store.Find matches for q, in
// ascending order, each once, until fn returns false, holding at most one
// page of userprops.MaxPageSize in memory. Find pages by position, so each
// page after the first is read from the position of the last account passed
// on (one account of overlap): when the page starts there, or before it
// because matches were added before it, the accounts after it follow on;
// when it starts after it, because matches before it went away, walkFind
// steps back a page and reads again. So an account that matches throughout
// the walk is passed on exactly once, and one that starts or stops matching
// during it at most once; without concurrent writes the walk is the answer
// of one Find. After maxStepBacks step backs it goes on without them, and
// may then miss accounts that matched throughout.
func walkFind(ctx context.Context, store userprops.Store, q userprops.Query, fn func(accountID string) bool) error {
	last := "" // the last account passed on; no account ID is ""
	start, stepBacks := 0, 0
	for {
		found, err := store.Find(ctx, q, userprops.Page{StartAt: start, MaxResults: userprops.MaxPageSize})
		if err != nil {
			return err
		}
		ids := found.AccountIDs
		if start > 0 && (len(ids) == 0 || ids[0] > last) && stepBacks < maxStepBacks {
			stepBacks++
			start = max(0, min(start, found.Total)-userprops.MaxPageSize)
			continue
		}
		for _, id := range ids {
			if id <= last {
				continue
			}
			if !fn(id) {
				return nil
			}
			last = id
		}
		if len(ids) < userprops.MaxPageSize {
			return nil
		}
		start += len(ids) - 1
	}
}
