package httpapi

import (
	"net/http"
	"strings"

	"github.com/userprops/userprops/internal/wire"
)

// escapeKey returns key escaped as the last segment of a self link (see
// wire.EscapeKey: the keys "." and ".." come out as "%2E" and "%2E%2E").
func escapeKey(key string) string { return wire.EscapeKey(key) }

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
