package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// StatusError is a server's answer that is not a success. It wraps the
// error of package userprops that the answer stands for, if any (see
// Unwrap), so that errors.Is(err, userprops.ErrNotFound) and the like work
// on it; errors.As gives the details.
type StatusError struct {
	// Method and Path are the request's (the path escaped, without its
	// query).
	Method, Path string
	// StatusCode is the answer's HTTP status.
	StatusCode int
	// Message is the server's: the errorMessages of Jira's error body
	// joined with "; ", or "" when the body was not one.
	Message string
	// RetryAfter is the wait the server asked for (Retry-After), or 0.
	RetryAfter time.Duration

	err error // what Unwrap returns
}

// Error says what the server answered, and the sentinel's text first when
// there is one: "userprops: property not found: remote: GET
// /rest/api/3/user/properties/k: 404 Not Found: The property k does not
// exist."
func (e *StatusError) Error() string {
	var b strings.Builder
	if e.err != nil {
		b.WriteString(e.err.Error())
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "remote: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (Retry-After %v)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the error the answer stands for: a sentinel of package
// userprops, errors.ErrUnsupported for an operation the server does not
// have, or nil.
func (e *StatusError) Unwrap() error { return e.err }

// err returns the error of an answer that is not a success. The sentinel
// comes from the message, read with the table the server writes it from
// (wire.Sentinel), when the status agrees with it; else from the status
// alone where that is unambiguous: 401, 403, a 404 of a property route
// with Jira's body (Jira's own wording for it may differ from ours), and
// for a write a 5xx that names nothing, whose outcome is unknown.
func (r result) err() error {
	e := &StatusError{Method: r.c.method, Path: r.c.path, StatusCode: r.status,
		RetryAfter: parseRetryAfter(r.header.Get("Retry-After"), time.Now())}
	var body wire.ErrorBody
	jira := json.Unmarshal(r.body, &body) == nil && (body.ErrorMessages != nil || body.Errors != nil)
	if jira {
		msgs := body.ErrorMessages
		for _, m := range body.Errors {
			msgs = append(msgs, m)
		}
		e.Message = strings.Join(msgs, "; ")
	} else if len(r.body) > 0 {
		e.Message = abbrev(r.body)
	}
	sentinel := wire.Sentinel(e.Message)
	if sentinel != nil && userprops.HTTPStatus(sentinel) != r.status {
		sentinel = nil
	}
	switch {
	case sentinel != nil && (r.c.userpropsOnly == "" || sentinel != userprops.ErrNotFound):
		e.err = sentinel
	case r.c.userpropsOnly != "" && (r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed ||
		r.status == http.StatusNotImplemented):
		e.err = fmt.Errorf("%w: the server has no %s (it answered its route %s %s with %d, not as a userprops server does): is it Jira Cloud?",
			errors.ErrUnsupported, r.c.userpropsOnly, r.c.method, r.c.path, r.status)
	case r.status == http.StatusUnauthorized:
		e.err = userprops.ErrUnauthorized
	case r.status == http.StatusForbidden:
		e.err = userprops.ErrForbidden
	case r.status == http.StatusNotFound && jira && r.c.key != "":
		e.err = userprops.ErrNotFound
	case r.c.write && r.status >= 500 && r.status != http.StatusServiceUnavailable:
		e.err = userprops.ErrOutcomeUnknown
	}
	return e
}

// unexpected is the error of a status no Jira server answers for the call.
func (r result) unexpected() error {
	e := r.err().(*StatusError)
	if e.err == nil {
		e.err = errUnexpected
	}
	if r.c.write {
		// A success not known as such: what the server did is unknown.
		e.err = fmt.Errorf("%w (%w)", userprops.ErrOutcomeUnknown, e.err)
	}
	return e
}

// malformed is the error of a successful answer that cannot be read.
func (r result) malformed(what string, err error) error {
	if err != nil {
		what += ": " + err.Error()
	}
	return fmt.Errorf("%w: %s %s: %d: %s", errUnexpected, r.c.method, r.c.path, r.status, what)
}

// abbrev returns the start of a body that is not Jira's, for a message.
func abbrev(b []byte) string {
	const max = 200
	s := strings.ToValidUTF8(string(b[:min(len(b), max)]), "?")
	if len(b) > max {
		s += "…"
	}
	return strings.TrimSpace(s)
}
