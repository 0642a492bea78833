package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running "userprops serve".
type server struct {
	base   string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   context.CancelFunc
	done   chan error
}

var servingLine = regexp.MustCompile(`serving on (https?://\S+)`)

// startServe runs serve with args (plus a free port) until the test ends or
// stop is called.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), s.stdout, s.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := servingLine.FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve ended before serving: %v\nstderr: %s", err, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start\nstdout: %s\nstderr: %s", s.stdout, s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shutdown stops the server and returns what serve returned.
func (s *server) shutdown(t *testing.T) error {
	t.Helper()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
		return nil
	}
}

var curlLine = regexp.MustCompile(`(?m)^\s+(curl .*)$`)

func TestServe_FirstStart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "props.db")
	s := startServe(t, "--db", db)

	out := s.stdout.String()
	assert.Contains(t, out, "created "+filepath.Join(dir, "accounts.json"))
	info, err := os.Stat(filepath.Join(dir, "accounts.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "accounts file mode")

	curls := curlLine.FindAllStringSubmatch(out, -1)
	require.Len(t, curls, 2, out)
	for _, c := range curls {
		assert.Contains(t, c[1], s.base)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: the printed lines were not run")
	}
	// The printed lines work as printed.
	put, err := exec.Command("sh", "-c", curls[0][1]+" --silent").CombinedOutput()
	require.NoError(t, err, "%s", put)
	assert.Contains(t, string(put), "HTTP/1.1 201")
	got, err := exec.Command("sh", "-c", curls[1][1]+" --silent").CombinedOutput()
	require.NoError(t, err, "%s", got)
	assert.Equal(t, `{"key":"settings","value":{"theme":"dark"}}`+"\n", string(got))

	// The request log names method, path and status, and no token.
	logs := s.stderr.String()
	assert.Contains(t, logs, "method=PUT path=/rest/api/3/user/properties/settings status=201")
	token := regexp.MustCompile(`-u '[^:]+:([^']+)'`).FindStringSubmatch(curls[0][1])[1]
	assert.NotContains(t, logs, token)
}

func TestServe_RestartKeepsDataAndAccounts(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "props.db")
	s := startServe(t, "--db", db)
	token := regexp.MustCompile(`-u 'admin@userprops.localhost:([^']+)'`).FindStringSubmatch(s.stdout.String())[1]
	resp := do(t, "PUT", s.base+"/rest/api/2/user/properties/k?accountId=admin", "admin@userprops.localhost", token, `[1]`)
	assert.Equal(t, 201, resp.StatusCode)
	require.NoError(t, s.shutdown(t))

	// The store file was closed: it opens at once.
	st, err := userprops.OpenBolt(db, userprops.WithLockTimeout(100*time.Millisecond))
	require.NoError(t, err, "the store is still locked after serve stopped")
	require.NoError(t, st.Close())

	s = startServe(t, "--db", db)
	assert.NotContains(t, s.stdout.String(), "created", "a second start made new accounts")
	// It says which file it uses and how to list its accounts, and that works.
	m := regexp.MustCompile(`(?m)^accounts from (\S+) \(1\); list them with: userprops (accounts list --accounts \S+)$`).FindStringSubmatch(s.stdout.String())
	require.NotNil(t, m, "stdout of a second start:\n%s", s.stdout)
	assert.Equal(t, filepath.Join(dir, "accounts.json"), m[1])
	assert.Contains(t, mustRun(t, strings.Fields(m[2])...), `"accountId":"admin"`)
	resp = do(t, "PUT", s.base+"/rest/api/2/user/properties/k?accountId=admin", "admin@userprops.localhost", token, `[2]`)
	assert.Equal(t, 200, resp.StatusCode, "the property survived the restart")
}

func TestServe_HealthzAndErrors(t *testing.T) {
	s := startServe(t, "--db", tempDB(t))
	resp, err := http.Get(s.base + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, `{"status":"ok"}`+"\n", string(body))

	resp = do(t, "GET", s.base+"/rest/api/3/user/properties?accountId=admin", "", "", "")
	assert.Equal(t, 401, resp.StatusCode)
	resp = do(t, "GET", s.base+"/rest/api/3/user/properties?accountId=admin", "admin@userprops.localhost", "wrong-token-0123456789", "")
	assert.Equal(t, 401, resp.StatusCode)
}

func TestServe_AccountsFileAndBaseURL(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "team.json")
	require.NoError(t, os.WriteFile(accounts, []byte(`{"accounts":[
		{"accountId":"ada","email":"ada@example.com","apiToken":"ada-token-0123456789"},
		{"accountId":"root","apiToken":"root-token-0123456789","admin":true}]}`), 0o600))
	s := startServe(t, "--db", filepath.Join(dir, "props.db"), "--accounts", accounts, "--base-url", "https://props.example.com")
	assert.NotContains(t, s.stdout.String(), "curl")
	assert.NoFileExists(t, filepath.Join(dir, "accounts.json"))

	resp := do(t, "PUT", s.base+"/rest/api/3/user/properties/k?accountId=ada", "ada@example.com", "ada-token-0123456789", `1`)
	assert.Equal(t, 201, resp.StatusCode)
	resp = do(t, "PUT", s.base+"/rest/api/3/user/properties/k?accountId=root", "ada@example.com", "ada-token-0123456789", `1`)
	assert.Equal(t, 403, resp.StatusCode)
	resp = do(t, "PUT", s.base+"/rest/api/3/user/properties/k?accountId=ghost", "root", "root-token-0123456789", `1`)
	assert.Equal(t, 404, resp.StatusCode, "an account missing from the accounts file")
	body := readBody(t, do(t, "GET", s.base+"/rest/api/3/user/properties?accountId=ada", "root", "root-token-0123456789", ""))
	assert.Contains(t, body, `"self":"https://props.example.com/rest/api/3/user/properties/k?accountId=ada"`)

	r := runCmd(t, "", "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "other.db"), "--accounts", filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, r.code, "serve with a missing accounts file")
}

func TestServe_FinishesRequestsInFlight(t *testing.T) {
	s := startServe(t, "--db", tempDB(t))
	token := regexp.MustCompile(`-u 'admin@userprops.localhost:([^']+)'`).FindStringSubmatch(s.stdout.String())[1]

	// Send a request whose body is not complete yet.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	req, err := http.NewRequest("PUT", s.base+"/rest/api/3/user/properties/slow?accountId=admin", strings.NewReader(`[1,2]`))
	require.NoError(t, err)
	req.SetBasicAuth("admin@userprops.localhost", token)
	var wire bytes.Buffer
	require.NoError(t, req.Write(&wire))
	raw := wire.Bytes()
	_, err = conn.Write(raw[:len(raw)-2])
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the server has read the headers

	stopped := make(chan error, 1)
	go func() { stopped <- s.shutdown(t) }()
	select {
	case err := <-stopped:
		t.Fatalf("serve stopped with a request in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	_, err = conn.Write(raw[len(raw)-2:])
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	require.NoError(t, err)
	assert.Equal(t, 201, resp.StatusCode, "the request in flight was answered")
	require.NoError(t, <-stopped)
}

func do(t *testing.T, method, url, user, token, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return fmt.Sprint(string(b))
}
