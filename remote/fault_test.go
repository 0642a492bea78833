package remote_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/remote"
)

// noLeaks fails t if, once t's cleanups have run (it is registered
// first, so it runs last), more goroutines run than before t began.
func noLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines left behind (%d before the test):\n%s", n-before, before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// counted serves h, counting the requests that reach it.
type counted struct {
	srv *httptest.Server
	n   atomic.Int64
}

func serveCounted(t *testing.T, h http.HandlerFunc) *counted {
	t.Helper()
	c := &counted{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		h(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func open(t *testing.T, url string, opts ...remote.Option) *remote.Store {
	t.Helper()
	st, err := remote.Open(url, append([]remote.Option{remote.WithBasicAuth(adminID, adminToken)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// real is the handler of a server over a memory store.
func real(t *testing.T) http.Handler {
	t.Helper()
	store := userprops.NewMemory()
	t.Cleanup(func() { store.Close() })
	return handler(t, store)
}

func jiraError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errorMessages":[%q],"errors":{}}`, msg)
}

func TestRemote_RetryAfter(t *testing.T) {
	noLeaks(t)
	h := real(t)
	var refuse atomic.Int64
	refuse.Store(2)
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		if refuse.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "1")
			jiraError(w, http.StatusTooManyRequests, "Rate limit exceeded.")
			return
		}
		h.ServeHTTP(w, r)
	})
	st := open(t, c.srv.URL)
	ctx := context.Background()

	start := time.Now()
	status, err := st.Set(ctx, "acc", "k", []byte(`1`))
	require.NoError(t, err, "a write refused with 429 is sent again")
	assert.Equal(t, userprops.Created, status, "the 429s did nothing")
	assert.EqualValues(t, 3, c.n.Load(), "two 429s, then the write")
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Retry-After: 1, twice")

	// A Retry-After longer than the context has left: the 429 at once.
	refuse.Store(1)
	ctx2, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = st.Get(ctx2, "acc", "k")
	var se *remote.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusTooManyRequests, se.StatusCode)
	assert.Equal(t, time.Second, se.RetryAfter)
	assert.Contains(t, err.Error(), "Rate limit exceeded.", "the server's message")
	assert.Less(t, time.Since(start), 200*time.Millisecond, "no wait the deadline cannot hold")

	// More than WithRetries allows waiting: the 429 at once.
	refuse.Store(1)
	short := open(t, c.srv.URL, remote.WithRetries(4, 500*time.Millisecond))
	_, err = short.Get(ctx, "acc", "k")
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusTooManyRequests, se.StatusCode)

	// One attempt: never retried.
	refuse.Store(1)
	n := c.n.Load()
	once := open(t, c.srv.URL, remote.WithRetries(1, time.Minute))
	_, err = once.Set(ctx, "acc", "k", []byte(`2`))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, n+1, c.n.Load())
	assert.Equal(t, `1`, string(mustGet(t, st, "acc", "k").Value), "the refused write did nothing")
}

// TestRemote_RetryAfter_RateLimiter: the server's own limiter, and the
// client waits as it says.
func TestRemote_RetryAfter_RateLimiter(t *testing.T) {
	noLeaks(t)
	limits := httpapi.DefaultRateLimits()
	limits.Account = httpapi.Limit{PerSecond: 5, Burst: 2}
	backing := userprops.NewMemory()
	t.Cleanup(func() { backing.Close() })
	srv := httptest.NewServer(handler(t, backing, httpapi.WithRateLimiter(httpapi.NewRateLimiter(limits))))
	t.Cleanup(srv.Close)
	st := open(t, srv.URL)
	for i := range 6 {
		_, err := st.Set(context.Background(), "acc", fmt.Sprintf("k%d", i), []byte(`1`))
		require.NoError(t, err, "Set %d: the client waits out the limiter", i)
	}
	keys, err := st.Keys(context.Background(), "acc")
	require.NoError(t, err)
	assert.Len(t, keys, 6, "each write made exactly once")
}

func TestRemote_ServiceUnavailable(t *testing.T) {
	noLeaks(t)
	h := real(t)
	var refuse atomic.Int64
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		if refuse.Add(-1) >= 0 {
			jiraError(w, http.StatusServiceUnavailable, "The service is shutting down.")
			return
		}
		h.ServeHTTP(w, r)
	})
	st := open(t, c.srv.URL)
	ctx := context.Background()
	refuse.Store(1)
	_, err := st.Set(ctx, "acc", "k", []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrClosed, "the server's store is closing")
	assert.NotErrorIs(t, err, userprops.ErrOutcomeUnknown, "a 503 is answered before any work")
	assert.EqualValues(t, 1, c.n.Load(), "a write is not retried after a 503")

	refuse.Store(2)
	_, err = st.Keys(ctx, "acc")
	require.NoError(t, err, "a read is retried after a 503")
	assert.EqualValues(t, 4, c.n.Load())
}

// rawServer accepts connections and gives each to handle.
func rawServer(t *testing.T, handle func(net.Conn)) (url string, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted = &atomic.Int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			handle(conn)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return "http://" + l.Addr().String(), accepted
}

// reset closes conn with a TCP RST.
func reset(conn net.Conn) {
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

func TestRemote_ResetAfterSent(t *testing.T) {
	noLeaks(t)
	// Every request is read whole, then the connection is reset: the
	// server may have done the write.
	url, accepted := rawServer(t, func(conn net.Conn) {
		r, err := http.ReadRequest(bufio.NewReader(conn))
		if err == nil {
			io.Copy(io.Discard, r.Body)
		}
		reset(conn)
	})
	st := open(t, url)
	ctx := context.Background()
	_, err := st.Set(ctx, "acc", "k", []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrOutcomeUnknown)
	assert.EqualValues(t, 1, accepted.Load(), "a write that may have arrived is never sent again")
	assert.ErrorIs(t, st.Delete(ctx, "acc", "k"), userprops.ErrOutcomeUnknown)
	assert.EqualValues(t, 2, accepted.Load())

	_, err = st.Get(ctx, "acc", "k")
	require.Error(t, err)
	assert.NotErrorIs(t, err, userprops.ErrOutcomeUnknown)
	assert.EqualValues(t, 2+4, accepted.Load(), "a read is tried 4 times")
}

func TestRemote_ResetBeforeSent(t *testing.T) {
	noLeaks(t)
	// Nothing listens: no connection, so nothing was sent, and the
	// write is tried again.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	var dials atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	st := open(t, "http://"+addr, remote.WithHTTPClient(&http.Client{Transport: tr}))
	_, err = st.Set(context.Background(), "acc", "k", []byte(`1`))
	require.Error(t, err)
	assert.NotErrorIs(t, err, userprops.ErrOutcomeUnknown, "nothing was sent")
	assert.EqualValues(t, 4, dials.Load(), "a write never sent is tried again")

	// A kept-alive connection the server closed before the request:
	// net/http itself sends again on a new one, as nothing was written.
	h := real(t)
	var first atomic.Bool
	first.Store(true)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateIdle && first.Swap(false) {
			reset(c)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	st = open(t, srv.URL)
	ctx := context.Background()
	_, err = st.Set(ctx, "acc", "a", []byte(`1`))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the reset reaches the client's idle connection
	status, err := st.Set(ctx, "acc", "b", []byte(`1`))
	require.NoError(t, err)
	assert.Equal(t, userprops.Created, status)
}

func TestRemote_SlowPastDeadline(t *testing.T) {
	noLeaks(t)
	h := real(t)
	var delay atomic.Int64
	release := make(chan struct{})
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		switch d := time.Duration(delay.Load()); {
		case d < 0: // forever, or until the client goes
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		default:
			time.Sleep(d)
		}
		h.ServeHTTP(w, r.WithContext(context.WithoutCancel(r.Context())))
	})
	t.Cleanup(func() { close(release) })
	st := open(t, c.srv.URL)
	ctx := context.Background()

	delay.Store(-1)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := st.Get(short, "acc", "k")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 400*time.Millisecond, "a read ends with its context")

	short, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = st.Set(short, "acc", "k", []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrOutcomeUnknown, "the write was sent and never answered")
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "a context error says the write was not made")
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, remote.WriteGrace, "the write waits WriteGrace for its answer")
	assert.Less(t, elapsed, remote.WriteGrace+time.Second)

	// An answer within the grace is the write's outcome.
	delay.Store(int64(150 * time.Millisecond))
	short, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	status, err := st.Set(short, "acc", "k", []byte(`2`))
	require.NoError(t, err, "answered within the grace: made")
	assert.Equal(t, userprops.Created, status)
	delay.Store(0)
	assert.Equal(t, `2`, string(mustGet(t, st, "acc", "k").Value))
}

func TestRemote_OversizedBodies(t *testing.T) {
	noLeaks(t)
	var written atomic.Int64
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(`{"keys":[` + strings.Repeat(`{"key":"k","self":"x"},`, 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
		}
	})
	st := open(t, c.srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := st.Get(ctx, "acc", "k")
	require.Error(t, err, "an endless property")
	assert.Contains(t, err.Error(), "larger than")
	_, err = open(t, c.srv.URL, remote.WithMaxKeys(10)).Keys(ctx, "acc")
	require.Error(t, err, "an endless key list")
	assert.Contains(t, err.Error(), "larger than")
	assert.NoError(t, ctx.Err(), "the client stopped reading, it did not wait for the end")
}

func TestRemote_MalformedBodies(t *testing.T) {
	noLeaks(t)
	var answer atomic.Pointer[func(http.ResponseWriter)]
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) { (*answer.Load())(w) })
	st := open(t, c.srv.URL)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter)
		call   func() error
		want   error // nil: any error, but none of the sentinels
	}{
		{"property not JSON", func(w http.ResponseWriter) { io.WriteString(w, `{"key":"k","value":`) },
			func() error { _, err := st.Get(ctx, "acc", "k"); return err }, nil},
		{"property without value", func(w http.ResponseWriter) { io.WriteString(w, `{"key":"k"}`) },
			func() error { _, err := st.Get(ctx, "acc", "k"); return err }, nil},
		{"bad version header", func(w http.ResponseWriter) {
			w.Header().Set("X-Userprops-Version", "one")
			io.WriteString(w, `{"key":"k","value":1}`)
		}, func() error { _, err := st.Get(ctx, "acc", "k"); return err }, nil},
		{"key list not JSON", func(w http.ResponseWriter) { io.WriteString(w, `<html>`) },
			func() error { _, err := st.Keys(ctx, "acc"); return err }, nil},
		{"page not JSON", func(w http.ResponseWriter) { io.WriteString(w, `[]`) },
			func() error { _, err := st.Find(ctx, userprops.Where("k", "", 1), userprops.Page{}); return err }, nil},
		{"404 without Jira's body", func(w http.ResponseWriter) { w.WriteHeader(404); io.WriteString(w, `<html>no</html>`) },
			func() error { _, err := st.Get(ctx, "acc", "k"); return err }, nil},
		{"404 with Jira's body", func(w http.ResponseWriter) { jiraError(w, 404, "No property k.") },
			func() error { _, err := st.Get(ctx, "acc", "k"); return err }, userprops.ErrNotFound},
		{"a message whose status disagrees", func(w http.ResponseWriter) { jiraError(w, 400, "The property k does not exist.") },
			func() error { _, err := st.Get(ctx, "acc", "k"); return err }, nil},
		{"an unexpected success", func(w http.ResponseWriter) { w.WriteHeader(202) },
			func() error { _, err := st.Set(ctx, "acc", "k", []byte(`1`)); return err }, userprops.ErrOutcomeUnknown},
		{"a write's 500", func(w http.ResponseWriter) { jiraError(w, 500, "Internal server error.") },
			func() error { return st.Delete(ctx, "acc", "k") }, userprops.ErrOutcomeUnknown},
		{"a gateway's 502", func(w http.ResponseWriter) { w.WriteHeader(502) },
			func() error { _, err := st.Set(ctx, "acc", "k", []byte(`1`)); return err }, userprops.ErrOutcomeUnknown},
	} {
		answer.Store(&tc.answer)
		err := tc.call()
		require.Error(t, err, tc.name)
		if tc.want != nil {
			assert.ErrorIs(t, err, tc.want, tc.name)
			continue
		}
		for _, s := range []error{userprops.ErrNotFound, userprops.ErrUserNotFound, userprops.ErrOutcomeUnknown} {
			assert.NotErrorIs(t, err, s, tc.name)
		}
	}
}

func mustGet(t *testing.T, st userprops.Store, accountID, key string) userprops.Property {
	t.Helper()
	p, err := st.Get(context.Background(), accountID, key)
	require.NoError(t, err, "Get(%q, %q)", accountID, key)
	return p
}
