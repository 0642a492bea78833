package remote_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// cutAfter lets through the first n bytes of a stream's answer and then
// drops the connection, mid-event when n falls there.
type cutAfter struct {
	http.ResponseWriter
	left int
}

func (c *cutAfter) Write(b []byte) (int, error) {
	if len(b) >= c.left {
		c.ResponseWriter.Write(b[:c.left])
		http.NewResponseController(c.ResponseWriter).Flush()
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	c.left -= len(b)
	return c.ResponseWriter.Write(b)
}

func (c *cutAfter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// TestRemote_WatchResumes: a change feed whose connection drops in the
// middle of an event, again and again, while writers go on: the watch
// connects again with Last-Event-ID the last revision it delivered, and
// delivers every change once, in order.
func TestRemote_WatchResumes(t *testing.T) {
	noLeaks(t)
	ctx := context.Background()
	backing := userprops.NewMemory()
	t.Cleanup(func() { backing.Close() })
	h := handler(t, backing)
	var mu sync.Mutex
	var resumedFrom []string
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.ChangesPath {
			h.ServeHTTP(w, r)
			return
		}
		if !r.URL.Query().Has("after") && r.Header.Get("Last-Event-ID") == "" {
			h.ServeHTTP(w, r) // SetIf asking whether the server keeps revisions
			return
		}
		mu.Lock()
		resumedFrom = append(resumedFrom, r.Header.Get("Last-Event-ID"))
		cut := len(resumedFrom) <= 4
		mu.Unlock()
		if cut {
			// The comment that opens the stream, a few events and part
			// of the next.
			w = &cutAfter{ResponseWriter: w, left: 300}
		}
		h.ServeHTTP(w, r)
	})
	st := open(t, c.srv.URL)

	var acked []uint64
	for i := range 10 {
		rev, err := st.SetIf(ctx, "acc", fmt.Sprint("k", i%3), []byte(fmt.Sprintf(`{"n":%d}`, i)), revisionOf(t, st, "acc", fmt.Sprint("k", i%3)))
		require.NoError(t, err)
		acked = append(acked, rev)
	}
	require.NoError(t, st.Delete(ctx, "acc", "k0"))
	const history = 11 // the 10 SetIfs and the Delete

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got []userprops.Change
	var writers sync.WaitGroup
	for c, err := range st.Watch(wctx, "acc", 0) {
		require.NoError(t, err)
		got = append(got, c)
		if len(got) == history {
			// Live changes, through the connections still to be cut.
			writers.Go(func() {
				for i := range 5 {
					_, err := st.Set(ctx, "acc", "live", []byte(fmt.Sprint(i)))
					assert.NoError(t, err)
				}
			})
		}
		if len(got) == history+5 {
			break
		}
	}
	writers.Wait()
	require.Len(t, got, history+5)
	for i, c := range got {
		if i > 0 {
			require.Greater(t, c.Revision, got[i-1].Revision, "change %d: in order, none repeated", i)
		}
		if i < len(acked) {
			assert.Equal(t, acked[i], c.Revision, "change %d: none lost", i)
		}
	}
	assert.Equal(t, `{"n":9}`, string(got[9].Value))
	assert.True(t, got[10].Deleted)
	assert.Equal(t, "4", string(got[len(got)-1].Value))

	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, len(resumedFrom), 4, "the connection was cut 4 times")
	assert.Equal(t, "", resumedFrom[0], "the first connection asks with ?after=")
	for i, id := range resumedFrom[1:] {
		assert.NotEmpty(t, id, "connection %d resumes with Last-Event-ID", i+2)
	}
}

// revisionOf returns the property's revision, 0 if there is none.
func revisionOf(t *testing.T, st userprops.Store, accountID, key string) uint64 {
	t.Helper()
	p, err := st.Get(context.Background(), accountID, key)
	if errors.Is(err, userprops.ErrNotFound) {
		return 0
	}
	require.NoError(t, err)
	return p.Revision
}

// sseServer answers the change feed with the scripts, one a connection
// (the last for every later one), and records each connection's
// Last-Event-ID.
func sseServer(t *testing.T, scripts ...string) (url string, resumed func() []string) {
	t.Helper()
	var mu sync.Mutex
	var ids []string
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(ids)
		ids = append(ids, r.Header.Get("Last-Event-ID"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, scripts[min(n, len(scripts)-1)])
	})
	return c.srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

// watchAll returns what a watch delivers, up to its first error.
func watchAll(t *testing.T, url string, after uint64, n int) ([]userprops.Change, error) {
	t.Helper()
	st := open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []userprops.Change
	for c, err := range st.Watch(ctx, "acc", after) {
		if err != nil {
			return got, err
		}
		got = append(got, c)
		if len(got) == n {
			break
		}
	}
	return got, nil
}

// TestRemote_WatchEventStream: the event-stream rules the client reads
// by: CRLF, CR and LF line ends, a BOM, comments, a field without a space
// or without a colon, data over several lines, an event cut off by the end
// of the stream (dropped, and asked again), an event of another type, and
// a change sent again after a reconnection (not repeated).
func TestRemote_WatchEventStream(t *testing.T) {
	noLeaks(t)
	first := "\xEF\xBB\xBF: hello\r\n\r\n" +
		"id: 5\r\nevent: set\r\ndata: {\"accountId\":\"acc\",\"key\":\"a\",\"revision\":5,\"value\":1}\r\n\r\n" +
		"event: ping\ndata: ignored\n\n" +
		"id:6\revent:delete\rdata:{\"accountId\":\"acc\",\"key\":\"a\",\rdata\r" + // a data field without a colon: an empty line of data
		"data: \"revision\":6}\r\r" +
		"id: 7\nevent: set\ndata: {\"accountId\":\"acc\",\"key\":\"b\",\"revision\":7,\"value\":[2,\n" +
		"data: 3]}\n" // cut off before its blank line
	second := ": again\n\n" +
		"id: 6\nevent: delete\ndata: {\"accountId\":\"acc\",\"key\":\"a\",\"revision\":6}\n\n" +
		"id: 7\nevent: set\ndata: {\"accountId\":\"acc\",\"key\":\"b\",\"revision\":7,\"value\":[2,\n" +
		"data: 3]}\n\n"
	url, resumed := sseServer(t, first, second)
	got, err := watchAll(t, url, 4, 3)
	require.NoError(t, err)
	assert.Equal(t, []userprops.Change{
		{AccountID: "acc", Key: "a", Revision: 5, Value: []byte(`1`)},
		{AccountID: "acc", Key: "a", Revision: 6, Deleted: true},
		{AccountID: "acc", Key: "b", Revision: 7, Value: []byte("[2,\n3]")},
	}, got)
	assert.Equal(t, []string{"", "6"}, resumed()[:2], "resumed after the last change delivered")
}

// TestRemote_WatchErrors: the feed's error event and the answers before a
// stream, as errors.
func TestRemote_WatchErrors(t *testing.T) {
	noLeaks(t)
	url, _ := sseServer(t, "id: 9\nevent: set\ndata: {\"accountId\":\"acc\",\"key\":\"a\",\"revision\":9,\"value\":1}\n\n"+
		"event: error\ndata: "+string(jsonOf(t, wire.ChangeError{Status: 410, Oldest: 40,
		ErrorBody: wire.ErrorBody{ErrorMessages: []string{wire.Message(userprops.ErrCompacted, "")}}}))+"\n\n")
	got, err := watchAll(t, url, 3, 0)
	require.Len(t, got, 1)
	var compacted *userprops.CompactedError
	require.ErrorAs(t, err, &compacted)
	assert.Equal(t, userprops.CompactedError{After: 3, Oldest: 40}, *compacted, "After: what was asked")

	url, _ = sseServer(t, "event: error\ndata: "+string(jsonOf(t, wire.ChangeError{Status: 503,
		ErrorBody: wire.ErrorBody{ErrorMessages: []string{wire.Message(userprops.ErrClosed, "")}}}))+"\n\n")
	_, err = watchAll(t, url, 3, 0)
	assert.ErrorIs(t, err, userprops.ErrClosed)

	url, _ = sseServer(t, "data: "+strings.Repeat("x", userprops.MaxValueBytes+8<<10)+"\n\n")
	_, err = watchAll(t, url, 3, 0)
	assert.ErrorContains(t, err, "longer than", "a line past the cap")

	for _, c := range []struct {
		status int
		err    error
	}{
		{http.StatusUnauthorized, userprops.ErrUnauthorized},
		{http.StatusForbidden, userprops.ErrForbidden},
		{http.StatusNotFound, userprops.ErrUserNotFound},
		{http.StatusBadRequest, userprops.ErrInvalidAccountID},
	} {
		c2 := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
			jiraError(w, c.status, wire.Message(c.err, ""))
		})
		_, err := watchAll(t, c2.srv.URL, 0, 0)
		assert.ErrorIs(t, err, c.err, "%d", c.status)
		assert.NotErrorIs(t, err, errors.ErrUnsupported)
		assert.EqualValues(t, 1, c2.n.Load(), "%d: not retried", c.status)
	}
}

// TestRemote_WatchFromNowDropped: a watch from now whose connection drops,
// on a server that announced no head, before its first change cannot know
// what it missed, and says so.
func TestRemote_WatchFromNowDropped(t *testing.T) {
	noLeaks(t)
	url, resumed := sseServer(t, ": hello\n\n")
	_, err := watchAll(t, url, userprops.FromNow, 1)
	assert.ErrorIs(t, err, userprops.ErrCompacted)
	assert.Len(t, resumed(), 1, "not resumed from now")
}

// TestRemote_ConditionalRetries: a conditional write is sent again after
// a 429, never once it may have reached the server.
func TestRemote_ConditionalRetries(t *testing.T) {
	noLeaks(t)
	ctx := context.Background()
	var puts atomic.Int64
	c, refuse := rateLimited(t, real(t), "0", func(r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		puts.Add(1)
		return true
	})
	st := open(t, c.srv.URL)
	rev, err := st.SetIf(ctx, "acc", "k", []byte(`1`), 0)
	require.NoError(t, err)
	refuse.Store(2)
	puts.Store(0)
	rev2, err := st.SetIf(ctx, "acc", "k", []byte(`2`), rev)
	require.NoError(t, err, "refused twice with 429, then made")
	assert.Greater(t, rev2, rev)
	assert.EqualValues(t, 3, puts.Load())
	_, err = st.SetIf(ctx, "acc", "k", []byte(`3`), rev)
	assert.ErrorIs(t, err, userprops.ErrRevisionMismatch, "412")

	// Reset once the request was read: the write may have been made.
	url, accepted := rawServer(t, func(conn net.Conn) {
		r, err := http.ReadRequest(bufio.NewReader(conn))
		if err == nil && r.Method == http.MethodGet {
			body := "{\"key\":\"k\",\"value\":1}\n"
			fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nETag: \"4\"\r\nContent-Type: application/json\r\n"+
				"Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			conn.Close()
			return
		}
		reset(conn)
	})
	raw := open(t, url)
	_, err = raw.SetIf(ctx, "acc", "k", []byte(`2`), 4)
	assert.ErrorIs(t, err, userprops.ErrOutcomeUnknown)
	assert.EqualValues(t, 2, accepted.Load(), "the GET that learnt of revisions, and one PUT")
	assert.ErrorIs(t, raw.DeleteIf(ctx, "acc", "k", 4), userprops.ErrOutcomeUnknown)
	assert.EqualValues(t, 3, accepted.Load(), "one DELETE")
}
