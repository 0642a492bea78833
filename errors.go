package userprops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Errors returned by stores. Every error a Store returns for one of these
// conditions wraps the sentinel, with the account, key or limit involved in its
// message; test for them with errors.Is, never with ==.
var (
	// ErrAccountIDMissing is returned when the account ID is empty.
	ErrAccountIDMissing = errors.New("userprops: account ID is required")

	// ErrInvalidAccountID is returned when the account ID is longer than
	// MaxAccountIDLength, is not valid UTF-8, or is only white space.
	ErrInvalidAccountID = errors.New("userprops: invalid account ID")

	// ErrKeyMissing is returned when the property key is empty.
	ErrKeyMissing = errors.New("userprops: property key is required")

	// ErrKeyTooLong is returned when the property key is longer than
	// MaxKeyLength UTF-16 code units.
	ErrKeyTooLong = errors.New("userprops: property key is too long")

	// ErrInvalidKey is returned when the property key is not valid UTF-8 or is
	// only white space.
	ErrInvalidKey = errors.New("userprops: invalid property key")

	// ErrValueMissing is returned when the value is empty or only white space.
	ErrValueMissing = errors.New("userprops: property value is empty")

	// ErrValueTooLarge is returned when the value is longer than MaxValueBytes.
	ErrValueTooLarge = errors.New("userprops: property value is too large")

	// ErrInvalidJSON is returned when the value is not exactly one valid JSON
	// value in valid UTF-8.
	ErrInvalidJSON = errors.New("userprops: property value is not valid JSON")

	// ErrAccountFull is returned when a Set would take an account past a
	// limit of the store (WithAccountLimits): create a property on an
	// account that has as many as it may hold, or grow the bytes of its keys
	// and values past their limit. The message names the limit and the
	// figures. Nothing is changed; deleting properties, or storing smaller
	// values, makes room.
	ErrAccountFull = errors.New("userprops: account has reached its limit")

	// ErrInvalidQuery is returned by Find, ParseQuery, ParsePropertyFilter
	// and ParseIndex for a malformed query, index or page; its error text
	// says what was wrong and, for parsed text, at which byte.
	ErrInvalidQuery = errors.New("userprops: invalid query")

	// ErrNotFound is returned when the property does not exist.
	ErrNotFound = errors.New("userprops: property not found")

	// ErrUserNotFound is returned when a Directory is configured and does not
	// know the account.
	ErrUserNotFound = errors.New("userprops: user not found")

	// ErrUnauthorized is returned when the caller is not authenticated.
	ErrUnauthorized = errors.New("userprops: not authenticated")

	// ErrForbidden is returned when the caller may not act on the account.
	ErrForbidden = errors.New("userprops: permission denied")

	// ErrClosed is returned by every call on a store after Close.
	ErrClosed = errors.New("userprops: store is closed")

	// ErrOutcomeUnknown is returned by a write (Set, Delete, Restore)
	// whose context ended after the store had taken it, when the store
	// cannot tell within a bounded time whether the change was made: it may
	// be there or not, and a later read tells. It never wraps the
	// context's error, so that errors.Is(err, context.Canceled) and
	// context.DeadlineExceeded keep meaning that the write was not made.
	ErrOutcomeUnknown = errors.New("userprops: the outcome of the write is unknown")

	// ErrLocked is returned when a store file is held by another handle
	// (in this process or another) for longer than the lock timeout.
	ErrLocked = errors.New("userprops: store file is locked by another handle")

	// ErrNotStore is returned when a file exists but is not a userprops store.
	// The file is left untouched.
	ErrNotStore = errors.New("userprops: file is not a userprops store")

	// ErrCorrupt is returned when a store file is damaged: a record fails its
	// checksum, bbolt finds its pages inconsistent, or reading them faults.
	// Once a store has seen damage, every later call returns an error
	// wrapping ErrCorrupt, so that nothing more is written to a damaged file;
	// restore a backup, or copy out what is still readable.
	ErrCorrupt = errors.New("userprops: store file is damaged")

	// ErrFormatVersion is returned when a store file was written in a newer
	// format than this version of the library understands. The file is left
	// untouched.
	ErrFormatVersion = errors.New("userprops: store file format is newer than this library supports")
)

// StatusClientClosedRequest is the status HTTPStatus gives a call whose
// context was canceled: 499, nginx's "client closed request", which Go
// servers and proxies use for a caller that went away before the answer.
// net/http has no constant for it, and no client ever reads it; it is for
// logs and metrics.
const StatusClientClosedRequest = 499

// HTTPStatus returns the HTTP status code that Jira's REST API answers for
// err, matching with errors.Is, the first row that matches wins:
//
//	nil                                              200
//	ErrUnauthorized                                  401
//	ErrForbidden                                     403
//	ErrKeyMissing                                    405
//	ErrAccountIDMissing, ErrInvalidAccountID,        400 (Jira answers 400 for
//	ErrKeyTooLong, ErrInvalidKey, ErrValueMissing,       every broken rule)
//	ErrValueTooLarge, ErrInvalidJSON, ErrAccountFull,
//	ErrInvalidQuery
//	ErrNotFound, ErrUserNotFound                     404
//	ErrClosed                                        503
//	ErrOutcomeUnknown, ErrLocked, ErrNotStore,       500
//	ErrCorrupt, ErrFormatVersion
//	context.Canceled                                 499 (StatusClientClosedRequest)
//	context.DeadlineExceeded                         504
//	anything else                                    500
//
// The context errors come after this package's errors, so that an error
// wrapping both answers for the sentinel. A store returns ctx.Err() for a
// call whose context ended before it was made (see Store): canceled means
// the caller went away, which a server does not answer (499 is for its
// logs); an expired deadline is the server's own time limit, 504 as a
// gateway that gave up waiting answers.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	for _, row := range httpStatuses {
		if errors.Is(err, row.err) {
			return row.status
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// httpStatuses gives every sentinel of this file its status, first match
// wins; a test checks that each exported Err… has a row. The context
// errors are not this package's sentinels: HTTPStatus matches them after
// the table.
var httpStatuses = [...]struct {
	err    error
	status int
}{
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrForbidden, http.StatusForbidden},
	{ErrKeyMissing, http.StatusMethodNotAllowed},
	{ErrAccountIDMissing, http.StatusBadRequest},
	{ErrInvalidAccountID, http.StatusBadRequest},
	{ErrKeyTooLong, http.StatusBadRequest},
	{ErrInvalidKey, http.StatusBadRequest},
	{ErrValueMissing, http.StatusBadRequest},
	{ErrValueTooLarge, http.StatusBadRequest},
	{ErrInvalidJSON, http.StatusBadRequest},
	// Jira answers 400 for every rule a request breaks, a value too large
	// included (not 413); an account's quota is one more rule, and the
	// clients that handle Jira's 400 read its errorMessages. Not 413 (the
	// request is small), not 429 (waiting does not help), not 507 (a 5xx
	// says the server failed).
	{ErrAccountFull, http.StatusBadRequest},
	{ErrInvalidQuery, http.StatusBadRequest},
	{ErrNotFound, http.StatusNotFound},
	{ErrUserNotFound, http.StatusNotFound},
	{ErrClosed, http.StatusServiceUnavailable},
	// A server fault, not the caller's: the store file cannot be used, or
	// could not say in time whether a write was made.
	{ErrOutcomeUnknown, http.StatusInternalServerError},
	{ErrLocked, http.StatusInternalServerError},
	{ErrNotStore, http.StatusInternalServerError},
	{ErrCorrupt, http.StatusInternalServerError},
	{ErrFormatVersion, http.StatusInternalServerError},
}

// abbrev quotes s for an error message, shortened when it is long.
func abbrev(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
