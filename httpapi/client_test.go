package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/httpapi"
)

// proxied is a handler behind a proxy at 10.0.0.5 (trusted: 10.0.0.0/24),
// which logs to logs and limits failed logins to one.
type proxied struct {
	h    http.Handler
	logs *syncBuffer
}

func newProxied(t *testing.T, opts ...httpapi.Option) *proxied {
	t.Helper()
	p := &proxied{logs: &syncBuffer{}}
	opts = append([]httpapi.Option{httpapi.WithLogger(slog.New(slog.NewJSONHandler(p.logs, nil)))}, opts...)
	l := newLimited(t, httpapi.RateLimits{FailedLogin: httpapi.Limit{PerSecond: 0.001, Burst: 1}}, opts...)
	_, err := l.store.Set(t.Context(), aliceID, "k", []byte(`1`))
	require.NoError(t, err)
	p.h = l.h
	return p
}

// keys lists alice's keys as peer, with the given forwarded headers
// (name, value, name, value…), and returns the answer.
func (p *proxied) keys(c cred, peer string, forwarded ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://props.example.com"+propPath("3", "", aliceID), nil)
	req.RemoteAddr = peer
	for i := 0; i+1 < len(forwarded); i += 2 {
		req.Header.Add(forwarded[i], forwarded[i+1])
	}
	c(req)
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	return rec
}

var proxyNet = netip.MustParsePrefix("10.0.0.0/24")

func TestTrustedProxies_FromTheProxy(t *testing.T) {
	p := newProxied(t, httpapi.WithTrustedProxies(proxyNet))
	rec := p.keys(alice, "10.0.0.5:4000", "X-Forwarded-For", "198.51.100.20", "X-Forwarded-Proto", "https")
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"self":"https://props.example.com/rest/api/3/user/properties/k?`)
	assert.Contains(t, p.logs.String(), `"client":"198.51.100.20"`)

	// A chain: the client's own X-Forwarded-For entries left of the
	// first untrusted hop are not believed.
	p.keys(alice, "10.0.0.5:4000", "X-Forwarded-For", "1.2.3.4, 198.51.100.21", "X-Forwarded-For", "10.0.0.7")
	assert.Contains(t, p.logs.String(), `"client":"198.51.100.21"`)
	assert.NotContains(t, p.logs.String(), `"client":"1.2.3.4"`)

	// Rate limits count the client, not the proxy: one failed login
	// spends 198.51.100.20's allowance, and nobody else's.
	assert.Equal(t, 401, p.keys(badToken, "10.0.0.5:4000", "X-Forwarded-For", "198.51.100.20").Code)
	assert.Equal(t, 429, p.keys(alice, "10.0.0.5:4000", "X-Forwarded-For", "198.51.100.20").Code)
	assert.Equal(t, 200, p.keys(alice, "10.0.0.5:4000", "X-Forwarded-For", "198.51.100.30").Code)
	assert.Equal(t, 200, p.keys(alice, "10.0.0.5:4000").Code, "the proxy itself, without a header")
}

func TestTrustedProxies_IgnoredFromOthers(t *testing.T) {
	for name, opts := range map[string][]httpapi.Option{
		"another peer":   {httpapi.WithTrustedProxies(proxyNet)},
		"no proxy given": nil,
	} {
		t.Run(name, func(t *testing.T) {
			p := newProxied(t, opts...)
			rec := p.keys(alice, "203.0.113.50:4000", "X-Forwarded-For", "198.51.100.20", "X-Forwarded-Proto", "https")
			require.Equal(t, 200, rec.Code)
			assert.Contains(t, rec.Body.String(), `"self":"http://props.example.com/`, "a stranger chose the scheme of self links")
			assert.Contains(t, p.logs.String(), `"client":"203.0.113.50"`)
			assert.NotContains(t, p.logs.String(), "198.51.100.20")

			// A stranger cannot escape its failed-login limit by naming
			// other addresses.
			assert.Equal(t, 401, p.keys(badToken, "203.0.113.50:4000", "X-Forwarded-For", "198.51.100.1").Code)
			rec = p.keys(badToken, "203.0.113.50:4000", "X-Forwarded-For", "198.51.100.2")
			assert.Equal(t, 429, rec.Code)
			assert.True(t, strings.HasPrefix(rec.Body.String(), `{"errorMessages":["Rate limit exceeded`), rec.Body.String())
		})
	}
}

func TestTrustedProxies_SchemeAndBadHeaders(t *testing.T) {
	p := newProxied(t, httpapi.WithTrustedProxies(proxyNet, netip.MustParsePrefix("::1/128")))
	rec := p.keys(alice, "[::1]:4000", "X-Forwarded-Proto", "http", "X-Forwarded-For", "[2001:db8::7]:5555")
	assert.Contains(t, rec.Body.String(), `"self":"http://props.example.com/`)
	assert.Contains(t, p.logs.String(), `"client":"2001:db8::7"`)
	// A value that is not an address ends the walk at the proxy.
	p.keys(alice, "10.0.0.9:4000", "X-Forwarded-For", "198.51.100.40, not-an-address")
	assert.Contains(t, p.logs.String(), `"client":"10.0.0.9"`)
	assert.NotContains(t, p.logs.String(), "198.51.100.40")
	rec = p.keys(alice, "10.0.0.9:4000", "X-Forwarded-Proto", "gopher")
	assert.Contains(t, rec.Body.String(), `"self":"http://props.example.com/`, "an unknown scheme is ignored")
}
