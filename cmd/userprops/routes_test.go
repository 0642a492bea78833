package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServe_DotKeys(t *testing.T) {
	s := startServe(t, "--db", tempDB(t))
	token := regexp.MustCompile(`-u 'admin@userprops.localhost:([^']+)'`).FindStringSubmatch(s.stdout.String())[1]
	props := s.base + "/rest/api/3/user/properties/"
	call := func(method, path, body string) (int, string) {
		resp := do(t, method, props+path+"?accountId=admin", "admin@userprops.localhost", token, body)
		return resp.StatusCode, readBody(t, resp)
	}

	status, _ := call("PUT", "%2E", `"dot"`)
	require.Equal(t, 201, status)
	status, body := call("GET", "", "")
	require.Equal(t, 200, status)
	assert.Contains(t, body, `"self":"`+props+`%2E?accountId=admin"`)
	status, body = call("GET", "%2E", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"key":".","value":"dot"}`+"\n", body)
	// A raw dot reaches the key too, not the key list after a redirect.
	status, body = call("GET", ".", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"key":".","value":"dot"}`+"\n", body)
	status, _ = call("PUT", "..", `"dots"`)
	assert.Equal(t, 201, status, "a raw .. is the key ..")
	status, body = call("GET", "%2E%2E", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"key":"..","value":"dots"}`+"\n", body)

	resp := do(t, "HEAD", s.base+"/healthz", "", "", "")
	assert.Equal(t, 200, resp.StatusCode)
	for _, c := range []struct{ method, path string }{{"GET", "/healthz/"}, {"POST", "/healthz"}} {
		resp = do(t, c.method, s.base+c.path, "", "", "")
		assert.Equal(t, 404, resp.StatusCode, "%s %s", c.method, c.path)
		assert.True(t, strings.HasPrefix(readBody(t, resp), `{"errorMessages":["No resource found at `+c.path+`."]`))
	}
}
