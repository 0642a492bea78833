package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// envOver serves the test accounts from store, which the test closes.
func envOver(t *testing.T, store userprops.Store) *env {
	t.Helper()
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(httpapi.New(store, accounts, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: store, logs: &syncBuffer{}}
}

// hiddenHead is a store whose HeadRevision is hidden: the Store methods
// only.
type hiddenHead struct{ userprops.Store }

// unsupportedHead is a store whose HeadRevision answers err.
type unsupportedHead struct {
	userprops.Store
	err error
}

func (s unsupportedHead) HeadRevision(context.Context) (uint64, error) { return 0, s.err }

// openFeed opens the change feed with query and header, as c.
func (e *env) openFeed(t *testing.T, c cred, query string, header map[string]string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+httpapi.ChangesPath+query, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c(req)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// blockReader reads an event stream block by block: the lines up to a
// blank line, comments included.
type blockReader struct{ sc *bufio.Scanner }

func (b blockReader) next(t *testing.T) []string {
	t.Helper()
	var lines []string
	for b.sc.Scan() {
		if b.sc.Text() == "" {
			return lines
		}
		lines = append(lines, b.sc.Text())
	}
	t.Fatalf("the stream ended: %v (read %q)", b.sc.Err(), lines)
	return nil
}

func blocks(resp *http.Response) blockReader { return blockReader{bufio.NewScanner(resp.Body)} }

// TestHandler_ChangesAnnounceHead: a stream from now announces the head
// revision in a block of its own (only its id), then delivers the changes
// after it; a stream from a revision announces nothing.
func TestHandler_ChangesAnnounceHead(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.store.Set(ctx, bobID, "k", []byte(`1`))
	require.NoError(t, err)
	_, err = e.store.Set(ctx, aliceID, "k", []byte(`1`))
	require.NoError(t, err)
	head := e.store.(userprops.HeadRevisioner)
	h, err := head.HeadRevision(ctx)
	require.NoError(t, err)

	for name, c := range map[string]struct {
		cred  cred
		query string
	}{
		"one account":   {alice, "?accountId=" + aliceID},
		"every account": {admin, ""},
	} {
		resp := e.openFeed(t, c.cred, c.query, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		b := blocks(resp)
		assert.Equal(t, []string{": userprops change feed"}, b.next(t), name)
		assert.Equal(t, []string{"id: " + strconv.FormatUint(h, 10)}, b.next(t), "%s: the head, and nothing else", name)
		rev, err := e.store.SetIf(ctx, aliceID, "k", []byte(fmt.Sprint(h)), revisionOf(t, e.store, aliceID, "k"))
		require.NoError(t, err)
		ev := b.next(t)
		require.NotEmpty(t, ev, name)
		assert.Equal(t, "id: "+strconv.FormatUint(rev, 10), ev[0], "%s: the next change", name)
		h = rev
	}

	// From a revision, or resumed: no announcement.
	for name, c := range map[string]struct {
		query  string
		header map[string]string
	}{
		"after":         {"?accountId=" + aliceID + "&after=" + strconv.FormatUint(h-1, 10), nil},
		"Last-Event-ID": {"?accountId=" + aliceID, map[string]string{"Last-Event-ID": strconv.FormatUint(h-1, 10)}},
	} {
		b := blocks(e.openFeed(t, alice, c.query, c.header))
		assert.Equal(t, []string{": userprops change feed"}, b.next(t), name)
		ev := b.next(t)
		require.Len(t, ev, 3, name)
		assert.Equal(t, []string{"id: " + strconv.FormatUint(h, 10), "event: set"}, ev[:2], name)
	}

	// An empty store announces 0, from which every change follows.
	e = newEnv(t)
	b := blocks(e.openFeed(t, alice, "?accountId="+aliceID, nil))
	b.next(t)
	assert.Equal(t, []string{"id: 0"}, b.next(t))
}

// TestHandler_ChangesAnnounceAgrees: streams opened from now while a
// writer writes deliver exactly the changes after the head they announce:
// none at or below it, none after it missed.
func TestHandler_ChangesAnnounceAgrees(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const streams = 8
	var mu sync.Mutex
	var acked []uint64
	var wg sync.WaitGroup
	allOpen := make(chan struct{})
	wg.Go(func() {
		// Until every stream is open, and a few more.
		var rev uint64
		more := 10
		for i := 0; more > 0; i++ {
			select {
			case <-allOpen:
				more--
			default:
			}
			var err error
			if rev, err = e.store.SetIf(ctx, aliceID, "k", []byte(fmt.Sprint(i)), rev); !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			acked = append(acked, rev)
			mu.Unlock()
			time.Sleep(50 * time.Microsecond) // the history keeps them all
		}
	})
	type opened struct {
		head uint64
		b    blockReader
	}
	var feeds []opened
	for i := range streams {
		if i == streams-1 {
			// The last opens after a write beyond the first's head, so
			// that the streams see different heads however the writer
			// and they are scheduled.
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(acked) > 0 && acked[len(acked)-1] > feeds[0].head
			}, 10*time.Second, time.Millisecond)
		}
		b := blocks(e.openFeed(t, alice, "?accountId="+aliceID, nil))
		b.next(t)
		id := b.next(t)
		require.Len(t, id, 1)
		h, err := strconv.ParseUint(strings.TrimPrefix(id[0], "id: "), 10, 64)
		require.NoError(t, err, id[0])
		feeds = append(feeds, opened{h, b})
	}
	close(allOpen)
	wg.Wait()
	assert.Less(t, feeds[0].head, feeds[streams-1].head, "the streams opened while the writer wrote")
	for _, f := range feeds {
		var want []uint64
		for _, rev := range acked {
			if rev > f.head {
				want = append(want, rev)
			}
		}
		var got []uint64
		for range want {
			ev := f.b.next(t)
			rev, err := strconv.ParseUint(strings.TrimPrefix(ev[0], "id: "), 10, 64)
			require.NoError(t, err, ev[0])
			got = append(got, rev)
		}
		assert.Equal(t, want, got, "the stream that announced %d", f.head)
	}
}

// TestHandler_ChangesWithoutHead: a store that does not tell its head
// streams from now with no announcement, as before; one whose
// HeadRevision fails answers the failure before the stream.
func TestHandler_ChangesWithoutHead(t *testing.T) {
	ctx := context.Background()
	for name, store := range map[string]userprops.Store{
		"not a HeadRevisioner": hiddenHead{userprops.NewMemory()},
		"ErrUnsupported":       unsupportedHead{userprops.NewMemory(), fmt.Errorf("no head here: %w", errors.ErrUnsupported)},
	} {
		e := envOver(t, store)
		resp := e.openFeed(t, alice, "?accountId="+aliceID, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		b := blocks(resp)
		assert.Equal(t, []string{": userprops change feed"}, b.next(t), name)
		_, err := store.Set(ctx, aliceID, "k", []byte(`1`))
		require.NoError(t, err)
		ev := b.next(t)
		assert.Equal(t, []string{"id: 1", "event: set"}, ev[:2], "%s: the change, with no announcement before it", name)

		r := e.do(t, alice, http.MethodGet, httpapi.RevisionPath, nil)
		assert.Equal(t, http.StatusNotImplemented, r.status, name)
		assert.Equal(t, "This store does not tell its latest revision.", r.errorMessage(t), name)
	}

	e := envOver(t, unsupportedHead{userprops.NewMemory(), userprops.ErrClosed})
	resp := e.openFeed(t, alice, "?accountId="+aliceID, nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a failing HeadRevision, before the stream")
	resp = e.openFeed(t, alice, "?accountId="+aliceID+"&after=0", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "from a revision, the head is not asked")
}

// TestHandler_Revision: GET RevisionPath tells the head to every
// authenticated caller.
func TestHandler_Revision(t *testing.T) {
	e := newEnv(t)
	revision := func(c cred) (int, uint64) {
		t.Helper()
		r := e.do(t, c, http.MethodGet, httpapi.RevisionPath, nil)
		if r.status != http.StatusOK {
			return r.status, 0
		}
		assert.Equal(t, "application/json;charset=UTF-8", r.header.Get("Content-Type"))
		var body map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.body), &body), r.body)
		require.Len(t, body, 1, r.body)
		n, ok := body["revision"].(float64)
		require.True(t, ok, r.body)
		return r.status, uint64(n)
	}
	status, h := revision(alice)
	assert.Equal(t, http.StatusOK, status)
	assert.Zero(t, h, "an empty store")
	_, err := e.store.Set(context.Background(), bobID, "k", []byte(`1`))
	require.NoError(t, err)
	for _, c := range []cred{alice, admin} {
		status, h = revision(c)
		assert.Equal(t, http.StatusOK, status)
		assert.EqualValues(t, 1, h, "another account's change counts: the head is store-wide")
	}
	status, _ = revision(nobody)
	assert.Equal(t, http.StatusUnauthorized, status)
	r := e.do(t, alice, http.MethodPost, httpapi.RevisionPath, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
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
