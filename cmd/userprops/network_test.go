package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServe_PlaintextRefusedOffLoopback(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, "", "serve", "--db", filepath.Join(dir, "props.db"), "--addr", "0.0.0.0:0")
	assert.Equal(t, 2, r.code, "plain HTTP on every interface: %v", r.err)
	require.Error(t, r.err)
	msg := r.err.Error()
	for _, says := range []string{"plain HTTP", "not a loopback address", "cleartext", "--tls-cert", "--tls-key", "--behind-tls-proxy"} {
		assert.Contains(t, msg, says)
	}
	assert.NoFileExists(t, filepath.Join(dir, "props.db"), "the store was opened before refusing")
	assert.NoFileExists(t, filepath.Join(dir, "accounts.json"))

	// With a proxy said to be in front, or with TLS, it serves.
	s := startServe(t, "--db", filepath.Join(dir, "props.db"), "--addr", "0.0.0.0:0", "--behind-tls-proxy")
	assert.True(t, strings.HasPrefix(s.base, "http://"), s.base) // 0.0.0.0, or [::] on a dual-stack machine
	require.Equal(t, 200, do(t, "GET", s.base+"/healthz", "", "", "").StatusCode)
	assert.Contains(t, s.stderr.String(), "without --trusted-proxy", "the warning that only a local proxy is believed")
	require.NoError(t, s.shutdown(t))
	cert := validCert(t, dir, "c")
	s = startServe(t, "--db", filepath.Join(dir, "props.db"), "--addr", "0.0.0.0:0", "--tls-cert", cert.certFile, "--tls-key", cert.keyFile)
	assert.True(t, strings.HasPrefix(s.base, "https://"), s.base)
}

func TestServe_NetworkUsage(t *testing.T) {
	dir := t.TempDir()
	cert := validCert(t, dir, "c")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--tls-cert", cert.certFile}, 2},
		{[]string{"--tls-key", cert.keyFile}, 2},
		{[]string{"--trusted-proxy", "10.0.0.0/8"}, 2},
		{[]string{"--behind-tls-proxy", "--trusted-proxy", "10.0.0.0/33"}, 2},
		{[]string{"--cors-origin", "*"}, 2},
		{[]string{"--cors-origin", "https://app.example.com/path"}, 2},
		{[]string{"--account-rate", "-1"}, 2},
		{[]string{"--failed-login-burst", "0"}, 2},
		{[]string{"--tls-cert", cert.keyFile, "--tls-key", cert.keyFile}, 1},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.crt"), "--tls-key", cert.keyFile}, 1},
	} {
		args := append([]string{"serve", "--db", filepath.Join(dir, "props.db"), "--addr", "127.0.0.1:0"}, c.args...)
		r := runCmd(t, "", args...)
		assert.Equal(t, c.code, r.code, "serve %q: %v", c.args, r.err)
	}
}

// The forwarded headers are believed from the proxy named, and from no one
// else.
func TestServe_BehindProxy(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		trusted bool
	}{
		{"a proxy on this machine", []string{"--behind-tls-proxy"}, true},
		{"a proxy elsewhere; this peer is not it", []string{"--behind-tls-proxy", "--trusted-proxy", "192.0.2.1"}, false},
		{"no proxy", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServe(t, append([]string{"--db", tempDB(t)}, c.args...)...)
			token := adminToken(t, s.stdout.String())
			props := s.base + "/rest/api/3/user/properties"
			status, _ := call(t, http.DefaultClient, "PUT", props+"/k?accountId=admin", "admin@userprops.localhost", token, "1")
			require.Equal(t, 201, status)

			req, err := http.NewRequest("GET", props+"?accountId=admin", nil)
			require.NoError(t, err)
			req.SetBasicAuth("admin@userprops.localhost", token)
			req.Header.Set("X-Forwarded-For", "198.51.100.77")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, logs := readBody(t, resp), s.stderr.String()
			if c.trusted {
				assert.Contains(t, body, `"self":"https://127.0.0.1:`)
				assert.Contains(t, logs, "client=198.51.100.77")
			} else {
				assert.Contains(t, body, `"self":"http://127.0.0.1:`)
				assert.Contains(t, logs, "client=127.0.0.1")
				assert.NotContains(t, logs, "198.51.100.77")
			}
		})
	}
}

// The rate-limit flags reach the handler: a burst from one account is cut
// off with 429 and Retry-After while another account is still served.
func TestServe_RateLimitFlags(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "team.json")
	require.NoError(t, os.WriteFile(accounts, []byte(`{"accounts":[
		{"accountId":"ada","apiToken":"ada-token-0123456789"},
		{"accountId":"bob","apiToken":"bob-token-0123456789"}]}`), 0o600))
	s := startServe(t, "--db", filepath.Join(dir, "props.db"), "--accounts", accounts, "--account-rate", "0.01", "--account-burst", "3")
	url := func(id string) string { return s.base + "/rest/api/3/user/properties?accountId=" + id }
	for range 3 {
		require.Equal(t, 200, do(t, "GET", url("ada"), "ada", "ada-token-0123456789", "").StatusCode)
	}
	resp := do(t, "GET", url("ada"), "ada", "ada-token-0123456789", "")
	assert.Equal(t, 429, resp.StatusCode)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.Equal(t, 100, secs, "one request every 100 s")
	assert.Contains(t, readBody(t, resp), `{"errorMessages":["Rate limit exceeded`)
	assert.Equal(t, 200, do(t, "GET", url("bob"), "bob", "bob-token-0123456789", "").StatusCode, "another account")

	// The defaults: 100 concurrent requests of one account all pass.
	s = startServe(t, "--db", tempDB(t))
	token := adminToken(t, s.stdout.String())
	codes := make(chan int, 100)
	for range 100 {
		go func() {
			req, _ := http.NewRequest("GET", s.base+"/rest/api/3/user/properties?accountId=admin", nil)
			req.SetBasicAuth("admin@userprops.localhost", token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for range 100 {
		assert.Equal(t, 200, <-codes)
	}
}

func TestServe_CORSFlag(t *testing.T) {
	s := startServe(t, "--db", tempDB(t), "--cors-origin", "https://app.example.com")
	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest("OPTIONS", s.base+"/rest/api/3/user/properties/k?accountId=admin", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.com")
	assert.Equal(t, 204, ok.StatusCode)
	assert.Equal(t, "https://app.example.com", ok.Header.Get("Access-Control-Allow-Origin"))
	no := preflight("https://elsewhere.example.com")
	assert.Equal(t, 403, no.StatusCode)
	assert.Empty(t, no.Header.Get("Access-Control-Allow-Origin"))

	resp, err := http.Get(s.base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "/healthz is a JSON answer too")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}
