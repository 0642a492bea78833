package httpapi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/httpapi"
)

// Every JSON answer, success or error, carries nosniff and no-store.
func TestHandler_JSONHeaders(t *testing.T) {
	e := newEnv(t, httpapi.WithRateLimiter(httpapi.NewRateLimiter(httpapi.RateLimits{
		FailedLogin: httpapi.Limit{PerSecond: 0.001, Burst: 1},
	})))
	require.Equal(t, 201, e.do(t, alice, "PUT", propPath("3", "k", aliceID), strings.NewReader(`1`)).status)
	for _, c := range []struct {
		name         string
		c            cred
		method, path string
		status       int
	}{
		{"get", alice, "GET", propPath("3", "k", aliceID), 200},
		{"keys", alice, "GET", propPath("3", "", aliceID), 200},
		{"head", alice, "HEAD", propPath("3", "k", aliceID), 200},
		{"not found", alice, "GET", propPath("3", "nope", aliceID), 404},
		{"forbidden", alice, "GET", propPath("3", "k", adminID), 403},
		{"no route", alice, "GET", "/elsewhere", 404},
		{"method", alice, "POST", propPath("3", "k", aliceID), 405},
		{"unauthorized", badToken, "GET", propPath("3", "k", aliceID), 401},
		{"rate limited", badToken, "GET", propPath("3", "k", aliceID), 429},
	} {
		r := e.do(t, c.c, c.method, c.path, nil)
		assert.Equal(t, c.status, r.status, c.name)
		assert.Equal(t, "application/json;charset=UTF-8", r.header.Get("Content-Type"), c.name)
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), c.name)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"), c.name)
	}
}
