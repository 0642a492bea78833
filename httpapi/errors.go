package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/userprops/userprops"
)

// errorBody is Jira's error document.
type errorBody struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

// message returns Jira's wording for err (SPEC.md), or ours where Jira's is
// not known. key is the property key of the request, for messages that name
// it.
func message(err error, key string) string {
	for _, row := range messages {
		if errors.Is(err, row.err) {
			text := strings.ReplaceAll(row.text, "{key}", key)
			return strings.ReplaceAll(text, "{detail}", detail(err, row.err))
		}
	}
	// Not sentinels of userprops, so not rows of the table; after it, as
	// userprops.HTTPStatus matches them.
	if errors.Is(err, context.DeadlineExceeded) {
		return timedOut
	}
	return internalError
}

// detail returns what err says after the text of sentinel, which it wraps,
// as ": what" (so "userprops: invalid query: at byte 3: expected is" gives
// ": at byte 3: expected is"), or "" when it says nothing more.
func detail(err, sentinel error) string {
	text, prefix := err.Error(), sentinel.Error()
	i := strings.Index(text, prefix)
	if i < 0 {
		return ""
	}
	rest := strings.TrimPrefix(text[i+len(prefix):], ":")
	if rest = strings.TrimSpace(rest); rest == "" {
		return ""
	}
	return ": " + rest
}

const timedOut = "The request timed out before the store answered: try again."

const internalError = "Internal server error."

// messages gives every sentinel of package userprops its text, first match
// wins; "{key}" stands for the property key of the request, "{detail}" for
// what the error says beyond its sentinel (see detail). A test checks
// that each exported userprops.Err… has a row.
var messages = [...]struct {
	err  error
	text string
}{
	{userprops.ErrUnauthorized, "Client must be authenticated to access this resource."},
	{userprops.ErrForbidden, "You do not have permission to access the properties of this user."},
	{userprops.ErrAccountIDMissing, "The accountId query parameter is required."},
	{userprops.ErrInvalidAccountID, "The accountId is not valid: it must be at most " +
		strconv.Itoa(userprops.MaxAccountIDLength) + " characters of valid UTF-8 and not blank."},
	{userprops.ErrKeyMissing, "The property key must be specified."},
	{userprops.ErrKeyTooLong, "The property key is too long. Maximum length is " +
		strconv.Itoa(userprops.MaxKeyLength) + " characters."},
	{userprops.ErrInvalidKey, "The property key is not valid: it must be valid UTF-8 and not blank."},
	{userprops.ErrValueMissing, "The property value can not be empty."},
	{userprops.ErrValueTooLarge, "The JSON data provided for the property is too long. Maximum length is " +
		strconv.Itoa(userprops.MaxValueBytes) + " bytes."},
	{userprops.ErrInvalidJSON, "The JSON data provided for the property is not a valid JSON."},
	{userprops.ErrAccountFull, "The property {key} can not be stored: the user's properties have reached " +
		"the limit on their number or on the total size of their keys and values. Delete properties to make room."},
	{userprops.ErrInvalidQuery, "The query is not valid{detail}."},
	{userprops.ErrUserNotFound, "The specified user does not exist in the system."},
	{userprops.ErrNotFound, "The property {key} does not exist."},
	{userprops.ErrClosed, "The service is shutting down."},
	{userprops.ErrOutcomeUnknown, "The change may or may not have been saved: read the property to find out."},
	// Faults of the server's store: nothing a caller can act on.
	{userprops.ErrLocked, internalError},
	{userprops.ErrNotStore, internalError},
	{userprops.ErrCorrupt, internalError},
	{userprops.ErrFormatVersion, internalError},
}

// writeStoreError answers err with its status (userprops.HTTPStatus) and
// Jira's error body.
func writeStoreError(w http.ResponseWriter, err error, key string) {
	writeError(w, userprops.HTTPStatus(err), message(err, key))
}

// writeError answers status with Jira's error body holding msg.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{ErrorMessages: []string{msg}, Errors: map[string]string{}})
}

// writeJSON answers status with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errorMessages":["`+internalError+`"],"errors":{}}`)
	}
	writeBody(w, status, append(body, '\n'))
}

// writeBody answers status with a JSON body.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	SetJSONHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// SetJSONHeaders sets the headers of every JSON answer: the Content-Type,
// X-Content-Type-Options: nosniff (no browser takes the answer for
// anything but JSON) and Cache-Control: no-store (no cache, a browser's
// included, keeps a user's properties or a credential's answer).
func SetJSONHeaders(h http.Header) {
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}
