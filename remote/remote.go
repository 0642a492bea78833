// Package remote is a userprops.Store over HTTP: the client of a userprops
// server (httpapi, `userprops serve`) or of Jira Cloud's own user
// properties, so that a program keeps one interface whether its properties
// are embedded, on a shared server or in Jira.
//
//	store, err := remote.Open("https://props.example.com", remote.WithBasicAuth(email, apiToken))
//
// Each method is one request (or, after a 429, a few: see Retries) on
// the routes of package httpapi, in API version 3:
//
//	Set           PUT    /rest/api/3/user/properties/{key}?accountId=A   201 Created, 200 Updated
//	Get           GET    /rest/api/3/user/properties/{key}?accountId=A   200 {"key":K,"value":V}
//	Delete        DELETE /rest/api/3/user/properties/{key}?accountId=A   204
//	Keys          GET    /rest/api/3/user/properties?accountId=A         200 {"keys":[…]}
//	Find          GET    /rest/api/3/user/search/query/key?query=Q       200 {"total":N,"values":[{"accountId":A},…]}
//	DeleteAccount DELETE /userprops/1/accounts/{accountId}/properties    200 {"deleted":N}
//	SetIf         PUT    …/properties/{key}?accountId=A, If-Match: "R"   200/201, ETag: "R'" (revision 0: If-None-Match: *)
//	DeleteIf      DELETE …/properties/{key}?accountId=A, If-Match: "R"   204 (revision 0: If-None-Match: *)
//	Watch         GET    /userprops/1/changes?accountId=A&after=R        200 text/event-stream, Last-Event-ID to resume
//	HeadRevision  GET    /userprops/1/revision                           200 {"revision":N}
//
// Get's Property.Revision is the ETag's revision; a 412 is
// userprops.ErrRevisionMismatch.
//
// Keys and account IDs are percent-encoded once, so every valid key
// round-trips ('/', '%', '?', '#', spaces, non-ASCII, and the keys "." and
// "..", sent as %2E and %2E%2E).
//
// # Errors
//
// Arguments are checked here first with the rules every store applies
// (userprops.Gate), so a call with an invalid account ID, key, value or
// query costs no request and fails as it fails on every store. The server's
// refusals come back as the errors of package userprops: the status and
// Jira's error body ({"errorMessages":[…]}) are read with the message table
// the server writes them from, so errors.Is(err, userprops.ErrNotFound) and
// userprops.ErrUserNotFound (both 404) are told apart, and so are the
// other sentinels; the server's message is kept in the error text. Every
// error a server answers is a *StatusError (errors.As), which also gives
// the status, the message and the Retry-After.
//
// # Writes whose outcome is unknown
//
// A write (Set, SetIf, Delete, DeleteIf, DeleteAccount) is never sent
// twice once it may have reached the server. When its context ends while the request is in
// flight, the call waits at most WriteGrace more for the answer, and
// returns the answer if it comes (the write's real outcome, success
// included), else an error wrapping userprops.ErrOutcomeUnknown; it returns
// the context's error only when no connection was ever taken for the
// request, so nothing was sent. A connection that fails after the request
// was written is ErrOutcomeUnknown too, and so is a 5xx that names no
// error of the server's (a gateway's 502 or 504, a server's crash): read
// the property to find out. An error wrapping context.Canceled or
// context.DeadlineExceeded always means that the write was not made.
//
// # Retries
//
// A 429 (the server's rate limit answers it before it does any work, as
// Jira Cloud's does) is retried for every method, after the Retry-After it
// gives, with jitter; a 503 and a connection that fails are retried for
// reads, and for writes only when nothing was sent. Waits without a
// Retry-After grow exponentially from 100 ms, with full jitter, capped;
// see WithRetries. A retry that would outlast the context's deadline is
// not attempted: the call returns the last answer's error at once.
//
// # Jira Cloud
//
// Against Jira Cloud, Set, Get, Delete, Keys and Find work as Jira defines
// them; Get's Property.Version and UpdatedAt are zero, because Jira sends
// neither (a userprops server sends them in headers of its own, see
// httpapi). DeleteAccount, which only a userprops server has, returns an
// error wrapping errors.ErrUnsupported when the server answers its route
// with a 404 that is not Jira's unknown-user answer (or 405, 501): that is
// decided from the answer, never from the URL. SetIf, DeleteIf and Watch,
// which need revisions, return an error wrapping errors.ErrUnsupported
// that says why once the Store has learnt from an answer that the server
// keeps none: a property's GET without an ETag, or the change feed's
// route answered with a 404 (405, 501) or with something other than an
// event stream. Until it knows, SetIf and DeleteIf ask first (a GET of the
// property, or of the change feed when the property does not exist), so a
// conditional write never reaches a server that would ignore its
// condition; what a Store learns it keeps. Find finds the users Jira's
// user search finds: on a userprops server, the active accounts of its
// accounts file (see httpapi).
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// Store is a userprops.Store over the REST API of a userprops server or of
// Jira Cloud (see the package documentation). It is safe for concurrent use
// by multiple goroutines; its calls share one http.Client and its
// keep-alive connections.
type Store struct {
	base   string // scheme://host/path, without a trailing '/'
	client *http.Client
	owned  bool // client was made by Open: Close closes its idle connections
	auth   func(*http.Request)
	gate   *userprops.Gate
	retry  retryPolicy
	grace  time.Duration
	maxKey int // the most keys a key list may hold, for its size cap

	// revisions is what the server's answers told of its revisions (nil
	// until one did): see requireRevisions.
	revisions atomic.Pointer[revisionSupport]
	// closed ends with Close, and with it every Watch.
	closed     context.Context
	markClosed context.CancelFunc
}

var (
	_ userprops.Store          = (*Store)(nil)
	_ userprops.HeadRevisioner = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithBasicAuth authenticates every request with HTTP Basic credentials,
// as Jira Cloud's API tokens are used: an email (Jira Cloud) or an account
// ID or email (a userprops accounts file), and the API token.
func WithBasicAuth(emailOrAccountID, apiToken string) Option {
	return func(s *Store) {
		s.auth = func(r *http.Request) { r.SetBasicAuth(emailOrAccountID, apiToken) }
	}
}

// WithBearer authenticates every request with "Authorization: Bearer
// token" (an OAuth 2.0 access token, or a userprops API token).
func WithBearer(token string) Option {
	return func(s *Store) {
		s.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	}
}

// WithHTTPClient makes the Store send its requests with c, for its
// transport (TLS settings, proxies) or its Timeout. The Store does not
// close c's connections on Close. Without it, Open makes a client of its
// own: net/http's default transport settings with up to 64 idle
// connections to the server, and no redirects followed.
func WithHTTPClient(c *http.Client) Option {
	return func(s *Store) { s.client, s.owned = c, false }
}

// WithRetries sets how a call retries (see Retries in the package
// documentation): at most attempts requests in all (1: never retry), and no
// wait longer than maxWait, a Retry-After longer than that included (the
// call then returns the 429's error at once). The default is 4 attempts
// and 30 seconds.
func WithRetries(attempts int, maxWait time.Duration) Option {
	return func(s *Store) { s.retry.attempts, s.retry.maxWait = max(attempts, 1), maxWait }
}

// WriteGrace is how long a write waits for its answer after its context
// ended, by default (see "Writes whose outcome is unknown" in the package
// documentation).
const WriteGrace = 500 * time.Millisecond

// WithMaxKeys sets the most keys one account's key list may hold, which
// bounds how much of an answer Keys reads (the bytes of that many keys of
// the longest kind, and their self links). The default is
// userprops.DefaultMaxProperties, the limit a server applies unless told
// otherwise; raise it for a server that allows more.
func WithMaxKeys(n int) Option {
	return func(s *Store) { s.maxKey = max(n, 1) }
}

// Open returns a Store for the server at baseURL, such as
// "https://props.example.com" or "https://your-domain.atlassian.net" (a
// path is kept: "https://example.com/jira" sends to
// https://example.com/jira/rest/api/3/…). It sends no request: a wrong
// URL or credentials show in the first call's error.
func Open(baseURL string, opts ...Option) (*Store, error) {
	u, err := url.Parse(baseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("remote: base URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("remote: base URL %q: the scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("remote: base URL %q has no host", baseURL)
	case u.User != nil:
		return nil, fmt.Errorf("remote: base URL %q holds credentials: give them with WithBasicAuth", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("remote: base URL %q: a query or fragment has no place there", baseURL)
	}
	s := &Store{
		base:   u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"),
		owned:  true,
		auth:   func(*http.Request) {},
		gate:   userprops.NewGate(),
		retry:  defaultRetry,
		grace:  WriteGrace,
		maxKey: userprops.DefaultMaxProperties,
	}
	s.closed, s.markClosed = context.WithCancel(context.Background())
	for _, opt := range opts {
		opt(s)
	}
	if s.client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		s.client = &http.Client{
			Transport:     t,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		s.owned = true
	}
	return s, nil
}

// Close marks the store closed: every later call returns
// userprops.ErrClosed. Calls in flight finish; every Watch ends with
// userprops.ErrClosed. It closes the idle
// connections of the client Open made (not of one given with
// WithHTTPClient). It is idempotent.
func (s *Store) Close() error {
	if s.gate.MarkClosed() {
		s.markClosed()
		if s.owned {
			s.client.CloseIdleConnections()
		}
	}
	return nil
}

// Set stores value under (accountID, key) with PUT: Created for 201,
// Updated for 200. It is not retried once its request may have reached the
// server (see the package documentation).
func (s *Store) Set(ctx context.Context, accountID, key string, value []byte) (userprops.Status, error) {
	if err := s.gate.AdmitSet(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	r, err := s.do(ctx, &call{method: http.MethodPut, path: propertyPath(key), accountID: accountID,
		key: key, body: value, write: true})
	if err != nil {
		return 0, err
	}
	switch r.status {
	case http.StatusCreated:
		return userprops.Created, nil
	case http.StatusOK, http.StatusNoContent:
		return userprops.Updated, nil
	}
	return 0, r.unexpected()
}

// Get returns the property with GET. Property.Revision comes from the
// ETag ("<revision>"), Version and UpdatedAt from the userprops server's
// headers (wire.HeaderVersion, wire.HeaderUpdatedAt); all are zero against
// a server that sends none (Jira Cloud), and a GET without an ETag tells
// the Store that its server keeps no revisions (see SetIf). The Value is byte for byte as stored on a userprops server
// (as Jira sends it on Jira Cloud), and the caller's.
func (s *Store) Get(ctx context.Context, accountID, key string) (userprops.Property, error) {
	if err := s.gate.AdmitGet(ctx, accountID, key); err != nil {
		return userprops.Property{}, err
	}
	r, err := s.do(ctx, &call{method: http.MethodGet, path: propertyPath(key), accountID: accountID,
		key: key, limit: propertyLimit})
	if err != nil {
		return userprops.Property{}, err
	}
	if r.status != http.StatusOK {
		return userprops.Property{}, r.unexpected()
	}
	p := userprops.Property{AccountID: accountID, Key: key}
	value, ok := wire.PropertyValue(r.body, key)
	if !ok || userprops.ValidateValue(value) != nil {
		var body wire.Property
		if err := json.Unmarshal(r.body, &body); err != nil || body.Value == nil {
			return userprops.Property{}, r.malformed("not a property", err)
		}
		value = body.Value
	}
	p.Value = slices.Clip(value)
	p.Revision = s.revisionOf(r.header)
	if v := r.header.Get(wire.HeaderVersion); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return userprops.Property{}, r.malformed(wire.HeaderVersion, err)
		}
		p.Version = n
	}
	if v := r.header.Get(wire.HeaderUpdatedAt); v != "" {
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return userprops.Property{}, r.malformed(wire.HeaderUpdatedAt, err)
		}
		p.UpdatedAt = at.UTC()
	}
	return p, nil
}

// Delete removes the property with DELETE. It is not retried once its
// request may have reached the server.
func (s *Store) Delete(ctx context.Context, accountID, key string) error {
	if err := s.gate.AdmitDelete(ctx, accountID, key); err != nil {
		return err
	}
	r, err := s.do(ctx, &call{method: http.MethodDelete, path: propertyPath(key), accountID: accountID,
		key: key, write: true})
	if err != nil {
		return err
	}
	if r.status != http.StatusNoContent && r.status != http.StatusOK {
		return r.unexpected()
	}
	return nil
}

// Keys returns the account's keys in ascending byte order (sorted here,
// whatever order the server sends), an empty slice for none.
func (s *Store) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := s.gate.AdmitKeys(ctx, accountID); err != nil {
		return nil, err
	}
	r, err := s.do(ctx, &call{method: http.MethodGet, path: strings.TrimSuffix(wire.PropertiesPath, "/"),
		accountID: accountID, limit: keyListLimit(s.maxKey)})
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, r.unexpected()
	}
	var list wire.KeyList
	if err := json.Unmarshal(r.body, &list); err != nil {
		return nil, r.malformed("not a key list", err)
	}
	keys := make([]string, len(list.Keys))
	for i, k := range list.Keys {
		keys[i] = k.Key
	}
	slices.Sort(keys)
	return keys, nil
}

// Find asks the server's user search (…/user/search/query/key) with
// q.String(), Jira's structured query. The page is checked and its
// defaults applied here, as every store does; the accounts come in the
// server's order (ascending byte order on a userprops server).
func (s *Store) Find(ctx context.Context, q userprops.Query, page userprops.Page) (userprops.Found, error) {
	page, err := s.gate.AdmitFind(ctx, q, page)
	if err != nil {
		return userprops.Found{}, err
	}
	text := q.String()
	query := url.Values{
		"query":     {text},
		"startAt":   {strconv.Itoa(page.StartAt)},
		"maxResult": {strconv.Itoa(page.MaxResults)},
	}
	r, err := s.do(ctx, &call{method: http.MethodGet, path: "/rest/api/3/user/search/query/key",
		query: query.Encode(), limit: findLimit(page, text)})
	if err != nil {
		return userprops.Found{}, err
	}
	if r.status != http.StatusOK {
		return userprops.Found{}, r.unexpected()
	}
	var body wire.Page[wire.UserKey]
	if err := json.Unmarshal(r.body, &body); err != nil {
		return userprops.Found{}, r.malformed("not a page of user keys", err)
	}
	found := userprops.Found{AccountIDs: make([]string, len(body.Values)), Total: body.Total}
	for i, v := range body.Values {
		found.AccountIDs[i] = v.AccountID
	}
	return found, nil
}

// DeleteAccount deletes every property of accountID with DELETE
// /userprops/1/accounts/{accountId}/properties, a userprops server's own
// route, and returns how many were deleted. Against a server without that
// route (Jira Cloud) it returns an error wrapping errors.ErrUnsupported. It
// is not retried once its request may have reached the server.
func (s *Store) DeleteAccount(ctx context.Context, accountID string) (int, error) {
	if err := s.gate.AdmitDeleteAccount(ctx, accountID); err != nil {
		return 0, err
	}
	r, err := s.do(ctx, &call{method: http.MethodDelete, path: "/userprops/1/accounts/" + wire.EscapeKey(accountID) + "/properties",
		write: true, limit: 1 << 10, userpropsOnly: "DeleteAccount"})
	if err != nil {
		return 0, err
	}
	if r.status != http.StatusOK {
		return 0, r.unexpected()
	}
	var body wire.Deleted
	if err := json.Unmarshal(r.body, &body); err != nil {
		// The deletion was made; only its count is unreadable.
		return 0, r.malformed("the properties were deleted, but the answer is not their count", err)
	}
	return body.Deleted, nil
}

func propertyPath(key string) string { return wire.PropertiesPath + wire.EscapeKey(key) }

// Size caps of the answers read, beyond which a call fails rather than
// read on.
const (
	// envelope is room for everything around a value or list: the key as
	// JSON (at most 6 bytes a byte, 255 bytes), field names.
	envelope = 4 << 10
	// propertyLimit is the largest property answer: the largest value in
	// its envelope.
	propertyLimit = userprops.MaxValueBytes + envelope
	// keyEntryLimit is the most bytes one entry of a key list takes: the
	// key as JSON (a key of 255 characters, each escaped to 6 bytes) and
	// its self link (the key percent-encoded, 9 bytes a character at most,
	// the account ID likewise, and a base URL of up to 2 KiB).
	keyEntryLimit = 6*userprops.MaxKeyLength + 9*userprops.MaxKeyLength + 9*userprops.MaxAccountIDLength + 2<<10
	// errorLimit is the most of an error answer read for its message.
	errorLimit = 64 << 10
)

// keyListLimit is the largest key list of maxKeys keys.
func keyListLimit(maxKeys int) int64 { return int64(maxKeys)*keyEntryLimit + envelope }

// findLimit is the largest page of account IDs: each account ID as JSON,
// and the self and next links, which hold the query again.
func findLimit(page userprops.Page, query string) int64 {
	return int64(page.MaxResults)*(6*userprops.MaxAccountIDLength+32) + 2*(3*int64(len(query))+4<<10)
}

// errUnexpected is what an answer no Jira server gives wraps.
var errUnexpected = errors.New("remote: unexpected answer")
