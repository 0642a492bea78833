package httpapi

import (
	"net/http"
	"net/url"
	"strings"
)

// escapeKey returns key escaped as the last segment of a self link:
// url.PathEscape, except that the keys "." and ".." come out as "%2E" and
// "%2E%2E". Spelled raw they are dot segments, which clients remove before
// sending (RFC 3986 section 5.2.4; curl does it), so the link would lead to
// the key list or to another resource; encoded, RFC 3986 clients send them as
// they are. (WHATWG URL parsers, as in browsers and Node, also remove %2E
// segments: no path reaches these keys from there.) Any other key is one
// segment that is never a dot segment, since PathEscape escapes '/'.
func escapeKey(key string) string {
	switch key {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(key)
}

// keepDotSegments passes every request to next, and requests on a property
// key with the key's raw "." and ".." segments percent-encoded, so that the
// key arrives as the path spells it. http.ServeMux cleans the escaped path,
// so it would redirect …/properties/. to the key list and …/properties/a/..
// to …/properties/; encoded segments it leaves alone, and PathValue decodes
// them once, like any other escape. Some clients send raw dots when given
// %2E (Python's requests decodes unreserved escapes). Dot segments before
// the key are cleaned by the mux as usual.
func keepDotSegments(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		escaped := r.URL.EscapedPath()
		if kept, ok := encodeKeyDots(escaped); ok {
			u := *r.URL
			u.RawPath = kept // the decoded u.Path stays as it is
			r = r.WithContext(r.Context())
			r.URL = &u
		}
		next.ServeHTTP(w, r)
	})
}

// encodeKeyDots returns escaped, a request's escaped path, with the dot
// segments of its property key percent-encoded, and whether there were any.
// Only paths of the form /rest/api/{version}/user/properties/{key} count.
func encodeKeyDots(escaped string) (string, bool) {
	rest, ok := strings.CutPrefix(escaped, "/rest/api/")
	if !ok {
		return "", false
	}
	version, rest, ok := strings.Cut(rest, "/")
	if !ok || version == "" || version == "." || version == ".." {
		return "", false
	}
	key, ok := strings.CutPrefix(rest, "user/properties/")
	if !ok {
		return "", false
	}
	segments := strings.Split(key, "/")
	changed := false
	for i, s := range segments {
		if s == "." || s == ".." {
			segments[i] = strings.Repeat("%2E", len(s))
			changed = true
		}
	}
	if !changed {
		return "", false
	}
	return escaped[:len(escaped)-len(key)] + strings.Join(segments, "/"), true
}
