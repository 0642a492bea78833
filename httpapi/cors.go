package httpapi

import (
	"fmt"
	"net/http"
	"strings"
)

// WithCORS lets web pages served from origins (each a scheme, host and
// optional port, such as "https://app.example.com") call the API from a
// browser with their users' credentials. The handler answers CORS
// preflights (OPTIONS with Access-Control-Request-Method) from these
// origins with 204, allowing GET, HEAD, PUT and DELETE with the headers
// Authorization, Content-Type and X-Atlassian-Token, and refuses those from
// any other origin with 403 and Jira's error body; preflights are not
// counted by the rate limiter (the request that follows is). Every other
// answer to a listed origin names it in Access-Control-Allow-Origin, with
// Access-Control-Allow-Credentials, and exposes Retry-After and the other
// rate-limit headers to the page. Answers carry "Vary: Origin", so that a
// cache does not give one origin's answer to another.
//
// There is no wildcard: answers to credentialed requests may not use one,
// and a page from any origin could otherwise act with its visitor's
// credentials. WithCORS panics if an origin is "*" or not of the form
// scheme://host[:port].
func WithCORS(origins ...string) Option {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		if err := CheckOrigin(o); err != nil {
			panic("httpapi.WithCORS: " + err.Error())
		}
		allowed[strings.ToLower(o)] = true
	}
	return func(s *server) {
		if s.corsOrigins == nil {
			s.corsOrigins = make(map[string]bool, len(allowed))
		}
		for o := range allowed {
			s.corsOrigins[o] = true
		}
	}
}

// The CORS answers' lists.
const (
	corsMethods = "GET, HEAD, PUT, DELETE"
	corsHeaders = "Authorization, Content-Type, X-Atlassian-Token"
	corsExposed = "Retry-After, X-RateLimit-Reset, RateLimit-Reason"
	corsMaxAge  = "600" // seconds a browser may keep a preflight's answer
)

// cors returns middleware that applies the CORS policy of WithCORS.
func (s *server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		allowed := origin != "" && s.corsOrigins[strings.ToLower(origin)]
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !allowed {
				writeError(w, http.StatusForbidden, "Cross-origin requests from "+origin+" are not allowed.")
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", corsExposed)
		}
		next.ServeHTTP(w, r)
	})
}

// CheckOrigin returns an error unless origin is a web origin as a browser
// sends it in the Origin header: "http://" or "https://", a host, and
// optionally ":port", nothing else (no path, not even "/").
func CheckOrigin(origin string) error {
	rest, ok := strings.CutPrefix(strings.ToLower(origin), "https://")
	if !ok {
		rest, ok = strings.CutPrefix(strings.ToLower(origin), "http://")
	}
	if !ok || rest == "" || strings.ContainsAny(rest, "/?#@ \t*") {
		return fmt.Errorf("origin %q is not of the form http[s]://host[:port] (no wildcard, no path)", origin)
	}
	return nil
}
