package main

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/pgtest"
)

// startProcess runs "userprops serve" as a process of its own (the test
// binary, see TestMain) and returns its base URL.
func startProcess(t *testing.T, args ...string) string {
	t.Helper()
	base, _ := startServer(t, exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...))
	return base
}

// startServer starts cmd, which must end up running the test binary as
// "userprops serve" (see TestMain), stops it when the test ends, and
// returns its base URL and what it writes to stderr.
func startServer(t *testing.T, cmd *exec.Cmd) (string, *syncBuffer) {
	t.Helper()
	cmd.Env = append(os.Environ(), "USERPROPS_TEST_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case base := <-found:
		return base, stderr
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start: %s", stderr.String())
		return "", nil
	}
}

func TestServe_TwoProcessesOnePostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	accounts := filepath.Join(t.TempDir(), "accounts.json")
	require.NoError(t, os.WriteFile(accounts, []byte(`{"accounts":[
		{"accountId":"root","email":"root@example.com","apiToken":"root-token-0123456789","admin":true}]}`), 0o600))
	a := startProcess(t, "--postgres", dsn, "--accounts", accounts)
	b := startProcess(t, "--postgres", dsn, "--accounts", accounts)
	req := func(method, base, key, body string) (int, string) {
		r := do(t, method, base+"/rest/api/3/user/properties/"+url.PathEscape(key)+"?accountId=root",
			"root@example.com", "root-token-0123456789", body)
		return r.StatusCode, readBody(t, r)
	}

	status, _ := req("PUT", a, "shared", `{"from":"a"}`)
	assert.Equal(t, 201, status, "PUT through A")
	status, body := req("GET", b, "shared", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"key":"shared","value":{"from":"a"}}`+"\n", body, "read through B what A wrote")
	status, _ = req("PUT", b, "shared", `{"from":"b"}`)
	assert.Equal(t, 200, status, "update through B")
	status, _ = req("DELETE", b, "shared", "")
	assert.Equal(t, 204, status)
	status, _ = req("GET", a, "shared", "")
	assert.Equal(t, 404, status, "A sees B's delete")

	// Concurrent creates of one new key through both servers: one 201.
	for round := range 5 {
		key := fmt.Sprintf("race-%d", round)
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				base := a
				if i%2 == 1 {
					base = b
				}
				r := do(t, "PUT", base+"/rest/api/3/user/properties/"+key+"?accountId=root",
					"root@example.com", "root-token-0123456789", fmt.Sprint(i))
				mu.Lock()
				statuses[r.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.Equal(t, map[int]int{201: 1, 200: 19}, statuses, "%s: statuses of 20 concurrent PUTs through two servers", key)
	}
}
