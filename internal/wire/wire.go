// Package wire holds the JSON shapes and headers that the server (package
// httpapi) writes and the client (package remote) reads, and Jira's error
// messages for the sentinel errors of package userprops, so that server and
// client share one definition of each and cannot drift apart.
package wire

import (
	"bytes"
	"encoding/json"
	"net/url"
)

// ErrorBody is Jira's error document,
// {"errorMessages":[…],"errors":{}}.
type ErrorBody struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

// KeyList is the key list of an account,
// {"keys":[{"key":K,"self":URL},…]}. The server streams it (see httpapi)
// with exactly the bytes json.Marshal writes for a KeyList.
type KeyList struct {
	Keys []KeyRef `json:"keys"`
}

// KeyRef is one entry of a KeyList: the key and the absolute URL of its
// property.
type KeyRef struct {
	Key  string `json:"key"`
	Self string `json:"self"`
}

// Page is Jira's PageBean: one page of a search, and how to get the next.
type Page[T any] struct {
	Self       string `json:"self"`
	NextPage   string `json:"nextPage,omitempty"`
	MaxResults int    `json:"maxResults"`
	StartAt    int    `json:"startAt"`
	Total      int    `json:"total"`
	IsLast     bool   `json:"isLast"`
	Values     []T    `json:"values"`
}

// UserKey is Jira's UserKey, the values of …/user/search/query/key.
type UserKey struct {
	AccountID string `json:"accountId"`
}

// Deleted is the answer of DELETE AccountPropertiesPath: how many
// properties were deleted.
type Deleted struct {
	Deleted int `json:"deleted"`
}

// The userprops-only headers of GET …/user/properties/{key}. Jira Cloud
// sends neither; Jira clients ignore them.
const (
	// HeaderVersion is the property's userprops.Property.Version, in
	// decimal.
	HeaderVersion = "X-Userprops-Version"
	// HeaderUpdatedAt is the property's userprops.Property.UpdatedAt in
	// UTC, RFC 3339 with nanoseconds (time.RFC3339Nano). Last-Modified
	// says the same to the second, as HTTP dates do.
	HeaderUpdatedAt = "X-Userprops-Updated-At"
)

// PropertiesPath is the path of the user-property resource in API
// version 3, to which a key (EscapeKey) is appended.
const PropertiesPath = "/rest/api/3/user/properties/"

// EscapeKey returns key escaped as the last segment of a path:
// url.PathEscape, except that the keys "." and ".." come out as "%2E" and
// "%2E%2E". Spelled raw they are dot segments, which clients remove before
// sending (RFC 3986 section 5.2.4; curl does it), so the link would lead to
// the key list or to another resource; encoded, RFC 3986 clients send them as
// they are. (WHATWG URL parsers, as in browsers and Node, also remove %2E
// segments: no path reaches these keys from there.) Any other key is one
// segment that is never a dot segment, since PathEscape escapes '/'.
func EscapeKey(key string) string {
	switch key {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(key)
}

// JSONString encodes s as a JSON string, without HTML escaping.
func JSONString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// AppendProperty appends the body of GET …/user/properties/{key},
// {"key":K,"value":V} and a newline, to dst, with value exactly as it was
// stored: encoding/json would compact a json.RawMessage, and trim the white
// space around it.
func AppendProperty(dst []byte, key string, value []byte) []byte {
	dst = append(dst, `{"key":`...)
	dst = append(dst, JSONString(key)...)
	dst = append(dst, `,"value":`...)
	dst = append(dst, value...)
	return append(dst, "}\n"...)
}

// PropertyValue returns the value of a property body for key, as
// AppendProperty wrote it: byte for byte, white space around it included.
// It reports false when body is not in that form (another server, such as
// Jira Cloud, wrote it); then decode it as a Property, which gives the value
// without the white space around it.
func PropertyValue(body []byte, key string) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(body, []byte(`{"key":`))
	if !ok {
		return nil, false
	}
	rest, ok = bytes.CutPrefix(rest, JSONString(key))
	if !ok {
		return nil, false
	}
	rest, ok = bytes.CutPrefix(rest, []byte(`,"value":`))
	if !ok {
		return nil, false
	}
	return bytes.CutSuffix(rest, []byte("}\n"))
}

// Property is the body of GET …/user/properties/{key} as JSON reads it.
type Property struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// ChangesPath is the route of the change feed (Server-Sent Events), a
// userprops server's own: GET ChangesPath?accountId=A[&after=R].
const ChangesPath = "/userprops/1/changes"

// RevisionPath is the route of the store's latest revision, a userprops
// server's own: GET RevisionPath answers a Revision.
const RevisionPath = "/userprops/1/revision"

// Revision is the answer of GET RevisionPath, {"revision":N}: the store's
// head revision (userprops.HeadRevisioner). The change feed announces the
// same at the start of a stream from now, as an event-stream block that
// holds only "id: N".
type Revision struct {
	Revision uint64 `json:"revision"`
}

// Change is the data of a set or delete event of the change feed, one line
// of JSON: {"accountId":…,"key":…,"revision":…,"value":…}, the value
// compacted and absent for a delete.
type Change struct {
	AccountID string          `json:"accountId"`
	Key       string          `json:"key"`
	Revision  uint64          `json:"revision"`
	Value     json.RawMessage `json:"value,omitempty"`
}

// ChangeError is the data of the change feed's error event, which ends
// the stream: Jira's error body, the HTTP status the error stands for and,
// for a compacted history (410), the oldest revision it still holds.
type ChangeError struct {
	ErrorBody
	Status int `json:"status"`
	// Oldest is userprops.CompactedError's Oldest, for a 410; else 0 and
	// absent.
	Oldest uint64 `json:"oldest,omitempty"`
}
