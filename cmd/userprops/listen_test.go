package main

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answerTimeout is how long the tests below wait for an answer the server
// should give at once: generous, so that only a server that does not answer
// fails.
const answerTimeout = 10 * time.Second

// client is one raw HTTP/1.1 keep-alive connection.
type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: bufio.NewReader(c)}
}

// send writes a GET of path.
func (c *client) send(t *testing.T, path string) {
	t.Helper()
	_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n")
	require.NoError(t, err)
}

// answer reads the response to what was sent, waiting until deadline.
func (c *client) answer(deadline time.Time) (int, error) {
	c.SetReadDeadline(deadline)
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// get sends a GET of path and returns the status of its answer.
func (c *client) get(t *testing.T, path string) int {
	t.Helper()
	c.send(t, path)
	status, err := c.answer(time.Now().Add(answerTimeout))
	require.NoError(t, err)
	return status
}

// requireClosedByServer checks that the server closed c: a read ends
// without data and without waiting for the deadline.
func (c *client) requireClosedByServer(t *testing.T) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(answerTimeout))
	_, err := c.r.ReadByte()
	var netErr net.Error
	require.Error(t, err, "the connection is still open")
	require.False(t, errors.As(err, &netErr) && netErr.Timeout(), "the connection is still open: %v", err)
}

// startLimited serves handler on a loopback listener limited to max
// connections.
func startLimited(t *testing.T, max int, handler http.HandlerFunc) (*connLimiter, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := limitConnections(ln, max, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := newHTTPServer(handler, l, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l, ln.Addr().String()
}

// counts returns the open and idle connections of l and how many were
// closed to make room or refused.
func (l *connLimiter) counts() (open, idle, evicted, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.idle.Len(), l.evicted, l.refused
}

// waitIdle waits until l counts n idle connections: net/http reports a
// connection idle just after it sent the answer.
func waitIdle(t *testing.T, l *connLimiter, n int) {
	t.Helper()
	deadline := time.Now().Add(answerTimeout)
	for {
		if _, idle, _, _ := l.counts(); idle == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "never %d idle connections", n)
		time.Sleep(time.Millisecond)
	}
}

func ok(w http.ResponseWriter, r *http.Request) {}

func TestConnLimiter_ClosesLongestIdle(t *testing.T) {
	// Each wait below makes sure that net/http has reported the connection
	// just answered idle before the next one arrives: it may do so after
	// the client has read the answer.
	l, addr := startLimited(t, 2, ok)
	a := dial(t, addr)
	require.Equal(t, 200, a.get(t, "/"))
	waitIdle(t, l, 1)
	b := dial(t, addr)
	require.Equal(t, 200, b.get(t, "/"))
	waitIdle(t, l, 2) // a, then b

	// At the cap, a third connection is answered: a, idle longest, made
	// room.
	c := dial(t, addr)
	assert.Equal(t, 200, c.get(t, "/"))
	a.requireClosedByServer(t)
	waitIdle(t, l, 2) // b, then c
	assert.Equal(t, 200, b.get(t, "/"), "b stays open")
	open, _, evicted, refused := l.counts()
	assert.Equal(t, []int{2, 1, 0}, []int{open, evicted, refused}, "open, closed to make room, refused")

	// A connection that has sent nothing is idle from its arrival.
	waitIdle(t, l, 2) // c, then b
	d := dial(t, addr)
	c.requireClosedByServer(t)
	e := dial(t, addr)
	assert.Equal(t, 200, e.get(t, "/"))
	b.requireClosedByServer(t)
	waitIdle(t, l, 2) // d, then e
	f := dial(t, addr)
	assert.Equal(t, 200, f.get(t, "/"))
	d.requireClosedByServer(t)
	assert.Equal(t, 200, e.get(t, "/"), "e stays open")
}

func TestConnLimiter_KeepsBusyConnections(t *testing.T) {
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	l, addr := startLimited(t, 2, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	a, b := dial(t, addr), dial(t, addr)
	a.send(t, "/")
	b.send(t, "/")
	for range 2 {
		select {
		case <-entered:
		case <-time.After(answerTimeout):
			t.Fatal("the requests did not reach the handler")
		}
	}

	// Both connections run a request: a new one is closed at once,
	// instead of waiting, and neither of theirs is cut off.
	dial(t, addr).requireClosedByServer(t)
	close(release)
	for _, busy := range []*client{a, b} {
		status, err := busy.answer(time.Now().Add(answerTimeout))
		require.NoError(t, err)
		assert.Equal(t, 200, status)
	}
	open, _, evicted, refused := l.counts()
	assert.Equal(t, []int{2, 0, 1}, []int{open, evicted, refused}, "open, closed to make room, refused")
	waitIdle(t, l, 2)
	assert.Equal(t, 200, dial(t, addr).get(t, "/"), "idle again, they make room")
}

func TestCapConnections(t *testing.T) {
	for _, c := range []struct {
		requested int
		limit     uint64
		want      int
		fits      bool
	}{
		{1024, 0, 1024, true}, // limit unknown
		{1024, 1024 + reservedFiles, 1024, true},
		{1024, 1024, 1024 - reservedFiles, false},
		{1024, 256, 256 - reservedFiles, false},
		{10, reservedFiles, 1, false},
	} {
		got, fits := capConnections(c.requested, c.limit)
		assert.Equal(t, c.want, got, "%d under a limit of %d", c.requested, c.limit)
		assert.Equal(t, c.fits, fits, "%d under a limit of %d", c.requested, c.limit)
	}
}

func TestServe_ConnectionFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--max-connections", "0"},
		{"--idle-timeout", "0s"},
		{"--idle-timeout", "-1s"},
	} {
		r := runCmd(t, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--db", tempDB(t)}, args...)...)
		assert.Equal(t, 2, r.code, "serve %q: %v", args, r.err)
	}
}

// TestServe_ConnectionFlood runs serve under a low limit on open files
// (256, so --max-connections defaults to 256-64), opens twice that many
// keep-alive connections, each answered once and left idle, and as many
// again that send nothing, then checks that a normal request still answers.
// Without the cap the descriptors run out ("accept4: too many open files")
// and every new connection waits for idle ones to time out.
func TestServe_ConnectionFlood(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to lower the limit on open files with")
	}
	const nofile = 256
	base, stderr := startServer(t, exec.Command("sh", "-c", `ulimit -n 256 && exec "$0" "$@"`,
		os.Args[0], "serve", "--addr", "127.0.0.1:0", "--db", tempDB(t)))
	addr := strings.TrimPrefix(base, "http://")

	deadline := time.Now().Add(2 * answerTimeout)
	answered := 0
	for range 2 * nofile {
		c := dial(t, addr)
		c.send(t, "/healthz")
		if status, err := c.answer(deadline); err == nil && status == 200 {
			answered++
		}
	}
	for range nofile {
		dial(t, addr)
	}
	client := &http.Client{Timeout: answerTimeout}
	start := time.Now()
	resp, err := client.Get(base + "/healthz")
	took := time.Since(start)
	t.Logf("%d of %d keep-alive connections answered, %d silent ones opened; a new request then took %v",
		answered, 2*nofile, nofile, took)
	require.NoError(t, err, "a normal request during the flood")
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 2*nofile, answered, "each keep-alive connection was answered")
	logs := stderr.String()
	assert.Contains(t, logs, "--max-connections lowered to fit the open-file limit")
	assert.Contains(t, logs, "connection limit reached")
	assert.NotContains(t, logs, "too many open files")
}
