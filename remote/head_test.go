package remote_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
	"github.com/userprops/userprops/remote"
)

// TestRemote_WatchFromNowResumes: a watch from now whose stream is cut
// right after the server's announcement of its head, before any change,
// connects again with Last-Event-ID that head, and delivers the change
// made while it was disconnected, once, then the live ones.
func TestRemote_WatchFromNowResumes(t *testing.T) {
	noLeaks(t)
	ctx := context.Background()
	backing := userprops.NewMemory()
	t.Cleanup(func() { backing.Close() })
	_, err := backing.Set(ctx, "acc", "before", []byte(`0`))
	require.NoError(t, err)
	head, err := backing.HeadRevision(ctx)
	require.NoError(t, err)
	opening := ": userprops change feed\n\n" + "id: " + strconv.FormatUint(head, 10) + "\n\n"

	h := handler(t, backing)
	var mu sync.Mutex
	var lastEventIDs []string
	var missed uint64
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.ChangesPath {
			h.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		lastEventIDs = append(lastEventIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastEventIDs)
		mu.Unlock()
		switch n {
		case 1:
			// The opening and the announcement, then the connection drops.
			w = &cutAfter{ResponseWriter: w, left: len(opening)}
		case 2:
			// A change while the client was away.
			rev, err := backing.SetIf(ctx, "acc", "missed", []byte(`1`), 0)
			assert.NoError(t, err)
			mu.Lock()
			missed = rev
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
	st := open(t, c.srv.URL)

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got []userprops.Change
	for ch, err := range st.Watch(wctx, "acc", userprops.FromNow) {
		require.NoError(t, err)
		got = append(got, ch)
		if len(got) == 1 {
			_, err := backing.Set(ctx, "acc", "live", []byte(`2`))
			require.NoError(t, err)
		}
		if len(got) == 2 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2)
	assert.Equal(t, userprops.Change{AccountID: "acc", Key: "missed", Revision: missed, Value: []byte(`1`)}, got[0],
		"the change made while disconnected, delivered once")
	assert.Equal(t, "live", got[1].Key)
	assert.Equal(t, []string{"", strconv.FormatUint(head, 10)}, lastEventIDs, "resumed from the announced head")
}

// TestRemote_WatchFromNowAnnounced: what a watch takes from a stream's
// block without data, by the event-stream rules: its id is the last event
// ID (as that of any block is), and a watch from now that drops before a
// change resumes from it; an id holding a NUL, or cut off by the end of
// the stream, sets nothing; a watch that knows its position keeps it.
func TestRemote_WatchFromNowAnnounced(t *testing.T) {
	noLeaks(t)
	change := "id: 42\nevent: set\ndata: {\"accountId\":\"acc\",\"key\":\"a\",\"revision\":42,\"value\":1}\n\n"
	want := []userprops.Change{{AccountID: "acc", Key: "a", Revision: 42, Value: []byte(`1`)}}
	for name, first := range map[string]string{
		"id only":             ": userprops change feed\n\nid: 41\n\n",
		"CRLF, no space":      "id:41\r\n\r\n",
		"with retry":          "retry: 1\nid: 41\n\n",
		"a later id wins":     "id: 7\n\nid: 41\n\n",
		"a NUL id is ignored": "id: 41\n\nid: 4\x001\n\n",
		"then a comment":      "id: 41\n\n: keepalive\n\n",
		"an event not ours":   "event: ping\nid: 41\ndata: x\n\n",
	} {
		url, resumed := sseServer(t, first, change)
		got, err := watchAll(t, url, userprops.FromNow, 1)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
		assert.Equal(t, []string{"", "41"}, resumed()[:2], "%s: resumed from the announced revision", name)
	}

	for name, first := range map[string]string{
		"a NUL id alone":              "id: 4\x001\n\n",
		"cut off before its blank":    "id: 41\n",
		"an empty id resets to none":  "id: 41\nid:\n\n",
		"comments and retry, no id":   ": hello\nretry: 5\n\n",
		"the id of a cut-off event":   "id: 41\nevent: set\ndata: {\"accountId\":\"acc\"",
		"an id-only block's id lines": "id\n\n",
	} {
		url, resumed := sseServer(t, first, change)
		_, err := watchAll(t, url, userprops.FromNow, 1)
		assert.ErrorIs(t, err, userprops.ErrCompacted, "%s: no revision announced", name)
		assert.Len(t, resumed(), 1, "%s: not resumed", name)
	}

	url, _ := sseServer(t, "id: x41\n\n")
	_, err := watchAll(t, url, userprops.FromNow, 1)
	assert.ErrorContains(t, err, "not a revision")

	// After a revision, the position is known: an announcement is not
	// taken for it.
	url, resumed := sseServer(t, "id: 41\n\n", change)
	got, err := watchAll(t, url, 5, 1)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, "5", resumed()[1])
}

// TestRemote_HeadRevision: the client asks GET /userprops/1/revision; a
// server without it, or whose store does not tell its head, is
// unsupported.
func TestRemote_HeadRevision(t *testing.T) {
	noLeaks(t)
	ctx := context.Background()
	backing := userprops.NewMemory()
	t.Cleanup(func() { backing.Close() })
	_, err := backing.Set(ctx, "acc", "k", []byte(`1`))
	require.NoError(t, err)
	st := open(t, serve(t, backing).srv.URL)
	h, err := st.HeadRevision(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, h)

	hidden := struct{ userprops.Store }{userprops.NewMemory()}
	_, err = open(t, serve(t, hidden).srv.URL).HeadRevision(ctx)
	assert.ErrorIs(t, err, errors.ErrUnsupported, "a store without HeadRevision: 501")
	assert.ErrorContains(t, err, "the server's store does not tell its latest revision")
	assert.NotContains(t, err.Error(), "Jira Cloud")
	var se *remote.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusNotImplemented, se.StatusCode)

	jira := open(t, serveCounted(t, jiraCloud(t)).srv.URL)
	_, err = jira.HeadRevision(ctx)
	assert.ErrorIs(t, err, errors.ErrUnsupported, "Jira Cloud: 404")
	assert.Contains(t, err.Error(), "HeadRevision")

	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		jiraError(w, http.StatusUnauthorized, "Client must be authenticated to access this resource.")
	})
	_, err = open(t, c.srv.URL).HeadRevision(ctx)
	assert.ErrorIs(t, err, userprops.ErrUnauthorized)

	require.NoError(t, st.Close())
	_, err = st.HeadRevision(ctx)
	assert.ErrorIs(t, err, userprops.ErrClosed)
}
