package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/httpapi"
)

func preflight(t *testing.T, e *env, origin, method string) response {
	t.Helper()
	req, err := http.NewRequest("OPTIONS", e.srv.URL+propPath("3", "settings", aliceID), nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func TestCORS_Preflight(t *testing.T) {
	e := newEnv(t, httpapi.WithCORS("https://app.example.com", "http://localhost:3000"))

	r := preflight(t, e, "https://app.example.com", "PUT")
	assert.Equal(t, 204, r.status)
	assert.Equal(t, "https://app.example.com", r.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", r.header.Get("Access-Control-Allow-Credentials"))
	assert.Contains(t, r.header.Get("Access-Control-Allow-Methods"), "PUT")
	assert.Contains(t, r.header.Get("Access-Control-Allow-Methods"), "DELETE")
	allowed := strings.ToLower(r.header.Get("Access-Control-Allow-Headers"))
	assert.Contains(t, allowed, "authorization")
	assert.Contains(t, allowed, "content-type")
	assert.Contains(t, r.header.Values("Vary"), "Origin")
	assert.Equal(t, 204, preflight(t, e, "http://localhost:3000", "DELETE").status)

	for _, origin := range []string{"https://evil.example.com", "http://app.example.com", "https://app.example.com.evil.net", "null"} {
		r := preflight(t, e, origin, "PUT")
		assert.Equal(t, 403, r.status, origin)
		assert.Contains(t, r.errorMessage(t), "not allowed", origin)
		assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"), origin)
		assert.Empty(t, r.header.Get("Access-Control-Allow-Credentials"), origin)
		assert.Contains(t, r.header.Values("Vary"), "Origin", origin)
	}
}

func TestCORS_Answers(t *testing.T) {
	e := newEnv(t, httpapi.WithCORS("https://app.example.com"))
	do := func(origin string, c cred) response {
		req, err := http.NewRequest("GET", e.srv.URL+propPath("3", "", aliceID), nil)
		require.NoError(t, err)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		c(req)
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return response{status: resp.StatusCode, header: resp.Header}
	}
	r := do("https://app.example.com", alice)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "https://app.example.com", r.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", r.header.Get("Access-Control-Allow-Credentials"))
	assert.Contains(t, r.header.Get("Access-Control-Expose-Headers"), "Retry-After")
	assert.Equal(t, []string{"Origin"}, r.header.Values("Vary"))
	// Errors carry the headers too, so that the page can read them.
	r = do("https://app.example.com", badToken)
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "https://app.example.com", r.header.Get("Access-Control-Allow-Origin"))

	r = do("https://evil.example.com", alice)
	assert.Equal(t, 200, r.status, "a request without a preflight is served; the browser keeps the answer from the page")
	assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, []string{"Origin"}, r.header.Values("Vary"))
	r = do("", alice)
	assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"))

	// Without WithCORS, no CORS at all: a preflight is a 405.
	plain := newEnv(t)
	assert.Equal(t, 405, preflight(t, plain, "https://app.example.com", "PUT").status)
}

// A 429 to a listed origin carries the CORS headers, so that the page sees
// the status and Retry-After rather than a network error.
func TestCORS_RateLimited(t *testing.T) {
	l := newLimited(t, httpapi.RateLimits{Account: httpapi.Limit{PerSecond: 1, Burst: 1}},
		httpapi.WithCORS("https://app.example.com"))
	withOrigin := func(r *http.Request) { alice(r); r.Header.Set("Origin", "https://app.example.com") }
	require.Equal(t, 200, l.get(withOrigin, "192.0.2.1:1").Code)
	rec := l.get(withOrigin, "192.0.2.1:1")
	assertTooMany(t, rec, "userprops-account")
	assert.Equal(t, "https://app.example.com", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Contains(t, rec.Header().Get("Access-Control-Expose-Headers"), "Retry-After")

	// Preflights are not counted.
	for range 5 {
		req := httptest.NewRequest("OPTIONS", propPath("3", "k", aliceID), nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "PUT")
		rec := httptest.NewRecorder()
		l.h.ServeHTTP(rec, req)
		assert.Equal(t, 204, rec.Code)
	}
}

func TestCheckOrigin(t *testing.T) {
	for _, ok := range []string{"https://app.example.com", "http://localhost:3000", "https://[::1]:8443"} {
		assert.NoError(t, httpapi.CheckOrigin(ok), ok)
	}
	for _, bad := range []string{"*", "", "app.example.com", "https://", "https://app.example.com/", "https://*.example.com", "ftp://x", "https://u@x"} {
		assert.Error(t, httpapi.CheckOrigin(bad), bad)
	}
	assert.Panics(t, func() { httpapi.WithCORS("*") })
}
