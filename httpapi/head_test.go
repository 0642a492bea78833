package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandler_Head(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, 201, e.do(t, alice, "PUT", propPath("3", "settings", aliceID), strings.NewReader(` {"a": 1} `)).status)
	for _, c := range []struct {
		name   string
		cred   cred
		path   string
		status int
	}{
		{"property", alice, propPath("3", "settings", aliceID), 200},
		{"key list", alice, propPath("2", "", aliceID), 200},
		{"missing property", alice, propPath("3", "nope", aliceID), 404},
		{"no credentials", nobody, propPath("3", "settings", aliceID), 401},
		{"other's property", alice, propPath("3", "settings", bobID), 403},
		{"no accountId", alice, propPath("3", "settings", ""), 400},
		{"unknown version", alice, propPath("4", "settings", aliceID), 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			get := e.do(t, c.cred, "GET", c.path, nil)
			head := e.do(t, c.cred, "HEAD", c.path, nil)
			require.Equal(t, c.status, get.status, get.body)
			assert.Equal(t, get.status, head.status, "HEAD answers as GET")
			assert.Empty(t, head.body)
			get.header.Del("Date")
			head.header.Del("Date")
			assert.Equal(t, get.header, head.header, "HEAD has GET's headers")
			assert.Equal(t, fmt.Sprint(len(get.body)), head.header.Get("Content-Length"))
		})
	}
	r := e.do(t, alice, "POST", propPath("3", "settings", aliceID), strings.NewReader("1"))
	assert.Equal(t, 405, r.status)
	assert.Equal(t, "GET, HEAD, PUT, DELETE", r.header.Get("Allow"))
	r = e.do(t, alice, "PUT", propPath("3", "", aliceID), strings.NewReader("1"))
	assert.Equal(t, 405, r.status)
	assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
}
