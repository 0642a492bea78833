package wire

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/userprops/userprops"
)

// Message returns Jira's wording for err (SPEC.md), or ours where Jira's is
// not known. key is the property key of the request, for messages that name
// it.
func Message(err error, key string) string {
	for _, row := range Messages {
		if errors.Is(err, row.Err) {
			text := strings.ReplaceAll(row.Text, "{key}", key)
			return strings.ReplaceAll(text, "{detail}", detail(err, row.Err))
		}
	}
	// Not sentinels of userprops, so not rows of the table; after it, as
	// userprops.HTTPStatus matches them.
	if errors.Is(err, context.DeadlineExceeded) {
		return TimedOut
	}
	return InternalError
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

// Sentinel returns the sentinel error of package userprops whose message
// (see Messages) text is, the inverse of Message: "The property k does not
// exist." gives userprops.ErrNotFound, "The specified user does not exist in
// the system." userprops.ErrUserNotFound. It returns nil for a text no row
// gives, and for a text that several rows share (InternalError), which
// names no one error.
func Sentinel(text string) error {
	var found error
	for _, row := range Messages {
		if !matches(row.Text, text) {
			continue
		}
		if found != nil {
			return nil // shared by two rows
		}
		found = row.Err
	}
	return found
}

// matches reports whether text is what Message makes of template, whose
// "{key}" and "{detail}" stand for any text.
func matches(template, text string) bool {
	parts := strings.Split(strings.ReplaceAll(template, "{detail}", "{key}"), "{key}")
	if len(parts) == 1 {
		return text == template
	}
	if !strings.HasPrefix(text, parts[0]) {
		return false
	}
	text = text[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(text, p)
		}
		j := strings.Index(text, p)
		if j < 0 {
			return false
		}
		text = text[j+len(p):]
	}
	return true
}

// TimedOut is the message of a request whose store call ran past the
// server's deadline.
const TimedOut = "The request timed out before the store answered: try again."

// InternalError is the message of every fault a caller cannot act on.
const InternalError = "Internal server error."

// Messages gives every sentinel of package userprops its text, first match
// wins; "{key}" stands for the property key of the request, "{detail}" for
// what the error says beyond its sentinel (see detail). A test checks
// that each exported userprops.Err… has a row.
var Messages = [...]struct {
	Err  error
	Text string
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
	{userprops.ErrLocked, InternalError},
	{userprops.ErrNotStore, InternalError},
	{userprops.ErrCorrupt, InternalError},
	{userprops.ErrFormatVersion, InternalError},
}
