//go:build unix

package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveProcess is "userprops serve" running as a process of its own (the
// test binary, see TestMain), so that it can be sent signals.
type serveProcess struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	exited chan error
}

func startServeProcess(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "USERPROPS_TEST_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &serveProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		p.exited <- nil
	})
	select {
	case p.base = <-found:
		return p
	case err := <-p.exited:
		t.Fatalf("serve ended before serving: %v\n%s", err, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start: %s", p.stderr)
	}
	return nil
}

// waitLog waits until the process's log holds n lines containing s.
func (p *serveProcess) waitLog(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.stderr.String(), s) < n {
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("serve ended (%v) while waiting for %q in its log:\n%s", err, s, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", s, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServe_SIGHUPReloadsAccounts(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "team.json")
	write := func(content string) {
		// Replaced as an editor or deployment tool would: a new file
		// renamed over the old one.
		tmp := accounts + ".new"
		require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
		require.NoError(t, os.Rename(tmp, accounts))
	}
	write(`{"accounts":[{"accountId":"root","apiToken":"old-token-0123456789","admin":true}]}`)
	// The loop below sends refused tokens until the reload, then as many
	// requests of one account as it can: no rate limits, which would
	// answer 429 instead of the 401s and 200s this test is about.
	p := startServeProcess(t, "--db", filepath.Join(dir, "props.db"), "--accounts", accounts,
		"--failed-login-rate", "0", "--account-rate", "0")
	status := func(token string) int {
		t.Helper()
		return do(t, "PUT", p.base+"/rest/api/3/user/properties/k?accountId=root", "root", token, `1`).StatusCode
	}
	assert.Equal(t, 201, status("old-token-0123456789"))

	// Requests all along, so that the race detector (when the tests run
	// under it, so does this process) sees reloads beside requests.
	stop := keepRequesting(t, func() error {
		req, _ := http.NewRequest("GET", p.base+"/rest/api/3/user/properties?accountId=root", nil)
		req.SetBasicAuth("root", "new-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil // refused and failed requests are part of this test
	})

	// Revoke the old token, give a new one.
	write(`{"accounts":[{"accountId":"root","apiToken":"new-token-0123456789","admin":true}]}`)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitLog(t, "reloaded accounts", 1)
	assert.Equal(t, 401, status("old-token-0123456789"), "the revoked token still works")
	assert.Equal(t, 200, status("new-token-0123456789"), "the new token does not work")

	// A bad file, or one others may write, keeps the accounts in use.
	write(`{"accounts":[{"accountId":"root","apiToken":"bad-token-0123456789","admin":true}]} {}`)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitLog(t, "keeping the accounts in use", 1)
	assert.Contains(t, p.stderr.String(), "data after the accounts document")
	assert.Equal(t, 200, status("new-token-0123456789"), "a bad file replaced the accounts")
	assert.Equal(t, 401, status("bad-token-0123456789"))

	write(`{"accounts":[{"accountId":"root","apiToken":"bad-token-0123456789","admin":true}]}`)
	require.NoError(t, os.Chmod(accounts, 0o666))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitLog(t, "keeping the accounts in use", 2)
	assert.Contains(t, p.stderr.String(), "writable by others")
	assert.Equal(t, 200, status("new-token-0123456789"), "an unsafe file replaced the accounts")
	assert.Equal(t, 401, status("bad-token-0123456789"))

	// SIGINT still stops it, cleanly, and no race was seen.
	stop()
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-p.exited:
		p.exited <- err
		assert.NoError(t, err, "serve's exit after SIGINT\n%s", p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
	assert.NotContains(t, p.stderr.String(), "DATA RACE")
}

// keepRequesting calls send over and over in a goroutine of its own until
// the returned stop is called (or the test ends), and fails the test with
// the first error send returned. stop waits for the goroutine; it may be
// called more than once.
func keepRequesting(t *testing.T, send func() error) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var first error
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := send(); err != nil && first == nil {
				first = err
			}
		}
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			if first != nil {
				t.Errorf("a request failed: %v", first)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
