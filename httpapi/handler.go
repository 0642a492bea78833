// Package httpapi serves a userprops.Store over HTTP with the shapes, status
// codes and error bodies of Jira Cloud's user-property REST resource, so that
// existing Jira clients talk to it unchanged:
//
//	GET    /rest/api/{2,3}/user/properties?accountId=A        → 200 {"keys":[{"key":K,"self":URL}]}
//	GET    /rest/api/{2,3}/user/properties/{K}?accountId=A    → 200 {"key":K,"value":V}
//	PUT    /rest/api/{2,3}/user/properties/{K}?accountId=A    → 201 created, 200 updated (body: the value)
//	DELETE /rest/api/{2,3}/user/properties/{K}?accountId=A    → 204
//
// and Jira's user resources and user search, from a directory of users
// (Users) and the store's Find:
//
//	GET /rest/api/{2,3}/user?accountId=A                               → 200 User
//	GET /rest/api/{2,3}/myself                                         → 200 User
//	GET /rest/api/{2,3}/user/search?property=K.a.b=V&query=&accountId= → 200 [User,…]
//	GET /rest/api/{2,3}/user/search/query?query=Q                      → 200 {"self":…,"values":[User,…],…}
//	GET /rest/api/{2,3}/user/search/query/key?query=Q                  → 200 {"self":…,"values":[{"accountId":A},…],…}
//	GET /secure/useravatar?ownerId=A&size=S                            → 200 image/svg+xml, no authentication
//
// HEAD answers as GET does, with the same status and headers and no body.
//
// A property's GET also says what Jira's body has no room for, in headers
// Jira clients ignore: X-Userprops-Version (Property.Version, decimal),
// X-Userprops-Updated-At (Property.UpdatedAt in UTC, RFC 3339 with
// nanoseconds) and Last-Modified (the same, to the second). Package remote
// reads them; against Jira Cloud, which sends none, it leaves both zero.
//
// Outside Jira's namespace, GET /userprops/1/backup (BackupPath) streams a
// consistent copy of a store that implements Backuper, for administrators,
// and DELETE /userprops/1/accounts/{accountId}/properties
// (AccountPropertiesPath) erases an account's properties, for
// administrators and the account itself. GET /userprops/1/changes
// (ChangesPath) streams the changes as Server-Sent Events, and GET
// /userprops/1/revision (RevisionPath) answers the store's latest revision,
// {"revision":N}, for a store that is a userprops.HeadRevisioner.
//
// Every request but the avatar's is authenticated by an Authenticator and
// runs through userprops.ForActor, so Jira's permission rules live in one
// place. Errors answer with Jira's body, {"errorMessages":[…],"errors":{}}.
package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// Authenticator identifies the caller of a request.
type Authenticator interface {
	// Authenticate returns the actor the request's credentials belong to,
	// or an error wrapping userprops.ErrUnauthorized when they are missing
	// or wrong. Any other error answers 500.
	Authenticate(r *http.Request) (userprops.Actor, error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
type AuthenticatorFunc func(r *http.Request) (userprops.Actor, error)

// Authenticate returns f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (userprops.Actor, error) { return f(r) }

// Option configures the handler New returns.
type Option func(*server)

// WithBaseURL makes the self links of key lists start with base (for example
// "https://props.example.com"), instead of the scheme and host of each
// request. Use it behind a proxy that changes them.
func WithBaseURL(base string) Option {
	return func(s *server) { s.baseURL = strings.TrimRight(base, "/") }
}

// WithLogger sets the logger of the request log and of recovered panics; the
// default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *server) { s.log = l }
}

// WithRateLimiter makes the handler apply l's limits to every request
// (but CORS preflights, see WithCORS) before any other work: a request
// without credentials spends a token of its client address's bucket; one
// with credentials is authenticated first, unless its address has spent its
// failed logins, and then spends a token of its account's bucket, or, when
// the credentials are refused, one of its address's failed-login bucket. A
// request over a limit answers 429 with Retry-After (whole seconds, at
// least 1) and Jira's error body, without reaching the store. The client
// address is the connection's peer, or what a trusted proxy says (see
// WithTrustedProxies).
func WithRateLimiter(l *RateLimiter) Option {
	return func(s *server) { s.limiter = l }
}

// server holds what every request needs.
type server struct {
	store       userprops.Store // what requests use: rawStore, checked against dir
	rawStore    userprops.Store // as given to New, for its optional interfaces
	auth        Authenticator
	users       Users // nil: no user routes
	baseURL     string
	log         *slog.Logger
	dir         userprops.Directory // checked by the handler, if not nil
	dirSet      bool                // WithDirectory was given
	limiter     *RateLimiter
	proxies     []netip.Prefix
	corsOrigins map[string]bool
}

// New returns an http.Handler serving store under /rest/api/2 and
// /rest/api/3 (see the package documentation), with request logging and
// panic recovery. The handler is safe for concurrent use; it never closes
// store.
//
// Request bodies are read through http.MaxBytesReader: a value larger than
// userprops.MaxValueBytes is refused with 400 as soon as its size is known,
// without being buffered. A body that cannot be read to its end is the
// client's fault and answers Jira's error body, logged at Warn level, never
// at Error: 408 when the server's read timeout (http.Server.ReadTimeout)
// cut it off, 400 otherwise (a malformed chunked encoding, a connection
// closed mid-body). The key in the path is percent-decoded once, so
// keys holding '/', '%', spaces or any other character round-trip when the
// client escapes them; "." and ".." segments of a key are part of the key,
// raw or escaped, and self links spell the keys "." and ".." as %2E and
// %2E%2E (see escapeKey). A request declaring a Content-Encoding other
// than identity answers 415 (after authentication), with Accept-Encoding:
// identity. Every JSON answer carries X-Content-Type-Options: nosniff and
// Cache-Control: no-store.
//
// The user routes describe the accounts of the Users given with WithUsers,
// or of auth if it implements Users (as Accounts and AccountsFile do);
// with neither, they answer 404. Every authenticated caller may read them
// and search, as Jira's Browse users permission, which every user holds,
// allows; emails show to administrators and to the account itself only.
// The user search finds active users only. self and avatar links are
// absolute, from WithBaseURL or the request.
//
// The handler checks the account of every request against the
// Authenticator's directory when the Authenticator is also a
// userprops.Directory, as Accounts and AccountsFile are: a request for an
// account it does not know answers 404, as Jira answers for an unknown user
// and as `userprops serve` does, even when store was not opened with
// userprops.WithDirectory (with it, the account is looked up twice, which
// for Accounts is a map lookup). This is the default because the other
// choice, letting an administrator create properties for accounts that do
// not exist, is what a server taking its accounts from a file does not
// want. WithDirectory replaces the directory or turns the check off.
func New(store userprops.Store, auth Authenticator, opts ...Option) http.Handler {
	s := &server{store: store, rawStore: store, auth: auth, log: slog.Default()}
	s.users, _ = auth.(Users)
	for _, opt := range opts {
		opt(s)
	}
	if !s.dirSet {
		s.dir, _ = auth.(userprops.Directory)
	}
	if s.dir != nil {
		s.store = directoryStore{Store: s.store, dir: s.dir}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/rest/api/{version}/user/properties", s.properties)
	mux.HandleFunc("/rest/api/{version}/user/properties/{key...}", s.properties)
	for path, h := range map[string]userHandler{
		"/user":                  s.user,
		"/myself":                s.myself,
		"/user/search":           s.findUsers,
		"/user/search/query":     s.findUsersByQuery,
		"/user/search/query/key": s.findUserKeysByQuery,
	} {
		// With a trailing slash too, as the key list answers: Jira
		// answers both, and some clients send it.
		mux.HandleFunc("/rest/api/{version}"+path, s.userRoute(h))
		mux.HandleFunc("/rest/api/{version}"+path+"/{$}", s.userRoute(h))
	}
	mux.HandleFunc(avatarPath, avatar)
	mux.HandleFunc(BackupPath, s.backup)
	mux.HandleFunc(AccountPropertiesPath, s.deleteAccount)
	mux.HandleFunc(ChangesPath, s.changes)
	mux.HandleFunc(RevisionPath, s.revision)
	mux.HandleFunc("/", notFound)
	h := keepDotSegments(mux)
	if s.limiter != nil {
		h = s.limitRate(h)
	}
	if s.corsOrigins != nil {
		h = s.cors(h)
	}
	h = LogRequests(s.log)(Recover(s.log)(h))
	if len(s.proxies) > 0 {
		h = s.identifyClient(h)
	}
	return h
}

// notFound answers 404 with Jira's error body.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "No resource found at "+r.URL.Path+".")
}

// methodNotAllowed answers 405 with Jira's error body and an Allow header
// listing allow.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed here.")
}

// apiVersion returns the API version of the request's path, or answers 404
// and returns false when it is neither 2 nor 3.
func apiVersion(w http.ResponseWriter, r *http.Request) (string, bool) {
	version := r.PathValue("version")
	if version != "2" && version != "3" {
		notFound(w, r)
		return "", false
	}
	return version, true
}

// authenticate returns the caller of the request, or answers 401 (with a
// WWW-Authenticate challenge) or 500 and returns false. key is the
// request's property key, for error messages that name it.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request, key string) (userprops.Actor, bool) {
	actor, err := s.credentials(r)
	if err == nil && actor.AccountID == "" {
		err = userprops.ErrUnauthorized
	}
	if err != nil {
		if errors.Is(err, userprops.ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Basic realm="userprops", charset="UTF-8"`)
		} else {
			s.log.ErrorContext(r.Context(), "authentication failed", "err", err)
		}
		writeStoreError(w, err, key)
		return userprops.Actor{}, false
	}
	return actor, true
}

// routeActor is the start of a route of one method outside Jira's
// namespace: 405 for another method, then the caller is authenticated
// (401 or 500 answered, and false returned, when it is not).
func (s *server) routeActor(w http.ResponseWriter, r *http.Request, method string) (userprops.Actor, bool) {
	if r.Method != method {
		methodNotAllowed(w, r, method)
		return userprops.Actor{}, false
	}
	return s.authenticate(w, r, "")
}

// userHandler answers a request on a user route for an authenticated actor
// in API version 2 or 3.
type userHandler func(w http.ResponseWriter, r *http.Request, actor userprops.Actor, version string)

// userRoute returns the handler of a user route: 404 without Users or for
// another API version, 405 for a method other than GET and HEAD, then the
// caller is authenticated and h answers.
func (s *server) userRoute(h userHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.users == nil {
			notFound(w, r)
			return
		}
		version, ok := apiVersion(w, r)
		if !ok {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, "GET, HEAD")
			return
		}
		if actor, ok := s.authenticate(w, r, ""); ok {
			h(w, r, actor, version)
		}
	}
}

// properties dispatches every request on the user-property resource.
func (s *server) properties(w http.ResponseWriter, r *http.Request) {
	version, ok := apiVersion(w, r)
	if !ok {
		return
	}
	key := r.PathValue("key")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut, http.MethodDelete:
		if key == "" {
			w.Header().Set("Allow", "GET, HEAD")
			writeStoreError(w, userprops.ErrKeyMissing, key)
			return
		}
	default:
		methodNotAllowed(w, r, "GET, HEAD, PUT, DELETE")
		return
	}

	actor, ok := s.authenticate(w, r, key)
	if !ok {
		return
	}
	if contentCoded(r.Header) {
		w.Header().Set("Accept-Encoding", "identity")
		writeError(w, http.StatusUnsupportedMediaType,
			"The request's Content-Encoding is not supported: send the body unencoded (identity).")
		return
	}
	store := userprops.ForActor(s.store, actor)
	accountID := r.URL.Query().Get("accountId")

	// HEAD runs as GET; net/http drops the body and keeps the headers,
	// Content-Length included.
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case read && key == "":
		s.keys(w, r, store, version, accountID)
	case read:
		s.get(w, r, store, accountID, key)
	case r.Method == http.MethodPut:
		s.set(w, r, store, accountID, key)
	default:
		s.delete(w, r, store, accountID, key)
	}
}

// keyListBuffer is the size of the buffer a key list is written through.
const keyListBuffer = 32 << 10

// keys answers the key list. The document is encoded as it is written, one
// key at a time through a buffer of keyListBuffer bytes, so that a list
// takes no memory beyond the keys the store returned and that buffer,
// however long it is: a self link is longer than its key (a key of 255 "€"
// is 765 bytes, its link 2295 bytes more), and a list held whole took
// several copies of a document four times the size of the keys. The bytes
// are those json.Marshal writes for {"keys":[{"key":K,"self":URL},…]}, and
// a newline.
func (s *server) keys(w http.ResponseWriter, r *http.Request, store userprops.Store, version, accountID string) {
	keys, err := store.Keys(r.Context(), accountID)
	if err != nil {
		s.fail(w, r, err, "")
		return
	}
	base := s.base(r) + "/rest/api/" + version + "/user/properties/"
	query := "?accountId=" + url.QueryEscape(accountID)
	SetJSONHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	out := bufio.NewWriterSize(w, keyListBuffer)
	entry := []byte(`{"keys":[`)
	for i, k := range keys {
		if i > 0 {
			entry = append(entry, ',')
		}
		entry = append(entry, `{"key":`...)
		entry = appendJSONString(entry, k)
		entry = append(entry, `,"self":`...)
		entry = appendJSONString(entry, base+escapeKey(k)+query)
		entry = append(entry, '}')
		if _, err := out.Write(entry); err != nil {
			return // the client is gone; nothing more can be answered
		}
		entry = entry[:0]
	}
	entry = append(entry, "]}\n"...)
	if _, err := out.Write(entry); err == nil {
		_ = out.Flush()
	}
}

// appendJSONString appends s encoded as json.Marshal encodes a string.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

func (s *server) get(w http.ResponseWriter, r *http.Request, store userprops.Store, accountID, key string) {
	p, err := store.Get(r.Context(), accountID, key)
	if err != nil {
		s.fail(w, r, err, key)
		return
	}
	w.Header().Set("ETag", etag(p.Revision))
	if parseCondition(r, "If-None-Match", true).matches(p.Revision) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	// The value goes out exactly as it was stored: encoding/json would
	// compact a json.RawMessage.
	body := wire.AppendProperty(make([]byte, 0, len(p.Value)+len(key)+24), key, p.Value)
	setPropertyHeaders(w.Header(), p)
	writeBody(w, http.StatusOK, body)
}

// setPropertyHeaders sets the userprops-only headers of a property's GET,
// which Jira's body has no room for: wire.HeaderVersion, Last-Modified (to
// the second, as HTTP dates are) and wire.HeaderUpdatedAt (to the
// nanosecond). Jira clients ignore them.
func setPropertyHeaders(h http.Header, p userprops.Property) {
	h.Set(wire.HeaderVersion, strconv.FormatUint(p.Version, 10))
	if !p.UpdatedAt.IsZero() {
		h.Set("Last-Modified", p.UpdatedAt.UTC().Format(http.TimeFormat))
		h.Set(wire.HeaderUpdatedAt, p.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
}

func (s *server) set(w http.ResponseWriter, r *http.Request, store userprops.Store, accountID, key string) {
	value, err := readValue(w, r)
	var unreadable *bodyError
	if errors.As(err, &unreadable) {
		s.refuseBody(w, r, unreadable)
		return
	}
	if err != nil {
		s.fail(w, r, err, key)
		return
	}
	status, rev, err := setConditionally(r, store, accountID, key, value)
	if err != nil {
		s.fail(w, r, err, key)
		return
	}
	if rev != 0 {
		w.Header().Set("ETag", etag(rev))
	}
	w.WriteHeader(status.HTTPStatus())
}

func (s *server) delete(w http.ResponseWriter, r *http.Request, store userprops.Store, accountID, key string) {
	if err := deleteConditionally(r, store, accountID, key); err != nil {
		s.fail(w, r, err, key)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// contentCoded reports whether h declares a Content-Encoding other than
// identity. The server decodes none: a compressed body would be taken for
// the value itself and refused as invalid JSON, a 400 hiding the cause.
func contentCoded(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, coding := range strings.Split(v, ",") {
			if coding = strings.TrimSpace(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				return true
			}
		}
	}
	return false
}

// readValue reads a request body of at most userprops.MaxValueBytes. A larger
// one is refused as soon as that is known: from Content-Length before any
// read, or after MaxValueBytes+1 bytes. A body that cannot be read is a
// *bodyError.
func readValue(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > userprops.MaxValueBytes {
		return nil, userprops.ErrValueTooLarge
	}
	body := http.MaxBytesReader(w, r.Body, userprops.MaxValueBytes+1)
	value, err := io.ReadAll(body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, userprops.ErrValueTooLarge
	case err != nil:
		return nil, newBodyError(err)
	case len(value) > userprops.MaxValueBytes:
		return nil, userprops.ErrValueTooLarge
	}
	return value, nil
}

// bodyError is a request body that could not be read to its end. Reading a
// request body only fails for the client's or the network's reasons (a
// malformed chunked encoding, a connection closed or stalled mid-body),
// never for the server's, so it answers 4xx.
type bodyError struct {
	status int // 400, or 408 when the server's read timeout ended the body
	err    error
}

func (e *bodyError) Error() string { return "reading the request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// newBodyError classifies err, which reading a request body returned.
func newBodyError(err error) *bodyError {
	var netErr net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return &bodyError{status: http.StatusRequestTimeout, err: err}
	}
	return &bodyError{status: http.StatusBadRequest, err: err}
}

// refuseBody answers a request whose body could not be read with 400 or 408
// and Jira's error body. It logs at Warn, never at Error: the error log is
// for the server's faults, and anyone can send broken bodies.
func (s *server) refuseBody(w http.ResponseWriter, r *http.Request, e *bodyError) {
	s.log.WarnContext(r.Context(), "request body unreadable", "method", r.Method, "path", r.URL.Path, "status", e.status, "err", e.err)
	msg := "The request body could not be read."
	if e.status == http.StatusRequestTimeout {
		msg = "The request body was not received in time."
	}
	writeError(w, e.status, msg)
}

// fail answers err, logging it when it is not the caller's fault.
//
// A call that ended because the client went away (its request's context
// canceled: the connection closed) has no one to answer: fail writes no
// body, only the status userprops.StatusClientClosedRequest, so that the
// request log says 499. A context canceled while the client is still there
// is the server's doing and answers 500. An expired deadline answers 504
// with Jira's error body.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error, key string) {
	status := userprops.HTTPStatus(err)
	if status == userprops.StatusClientClosedRequest {
		if r.Context().Err() != nil {
			s.log.InfoContext(r.Context(), "client went away", "method", r.Method, "path", r.URL.Path)
			w.WriteHeader(status)
			return
		}
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, message(err, key))
}

// base returns the configured base URL, or the request's scheme and host.
func (s *server) base(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	scheme := "http"
	if requestClient(r).https {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
