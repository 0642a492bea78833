package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// doWith sends a request with extra headers.
func (e *env) doWith(t *testing.T, c cred, method, path, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c(req)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func tagOf(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

func TestHandler_ConditionalRequests(t *testing.T) {
	e := newEnv(t)
	path := propPath("3", "settings", aliceID)
	revision := func() uint64 {
		p, err := e.store.Get(context.Background(), aliceID, "settings")
		if err != nil {
			return 0
		}
		return p.Revision
	}

	// A PUT with no precondition is Jira's, and answers the new ETag.
	r := e.doWith(t, alice, http.MethodPut, path, `{"theme":"dark"}`, nil)
	require.Equal(t, http.StatusCreated, r.status)
	first := revision()
	assert.Equal(t, tagOf(first), r.header.Get("ETag"))
	r = e.doWith(t, alice, http.MethodGet, path, "", nil)
	assert.Equal(t, tagOf(first), r.header.Get("ETag"))
	assert.JSONEq(t, `{"key":"settings","value":{"theme":"dark"}}`, r.body)

	// If-None-Match on GET.
	r = e.doWith(t, alice, http.MethodGet, path, "", map[string]string{"If-None-Match": tagOf(first)})
	assert.Equal(t, http.StatusNotModified, r.status)
	assert.Empty(t, r.body)
	assert.Equal(t, tagOf(first), r.header.Get("ETag"))
	r = e.doWith(t, alice, http.MethodGet, path, "", map[string]string{"If-None-Match": `W/` + tagOf(first) + `, "1"`})
	assert.Equal(t, http.StatusNotModified, r.status, "If-None-Match compares weakly, in a list")
	r = e.doWith(t, alice, http.MethodGet, path, "", map[string]string{"If-None-Match": tagOf(first + 100)})
	assert.Equal(t, http.StatusOK, r.status)

	// If-None-Match: * on PUT creates only.
	r = e.doWith(t, alice, http.MethodPut, path, `1`, map[string]string{"If-None-Match": "*"})
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Contains(t, r.errorMessage(t), "has changed since the revision")
	assert.Equal(t, first, revision(), "a failed precondition changes nothing")
	r = e.doWith(t, alice, http.MethodPut, propPath("3", "other", aliceID), `1`, map[string]string{"If-None-Match": "*"})
	assert.Equal(t, http.StatusCreated, r.status)
	assert.NotEmpty(t, r.header.Get("ETag"))

	// If-Match on PUT.
	r = e.doWith(t, alice, http.MethodPut, path, `2`, map[string]string{"If-Match": tagOf(first + 100)})
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	r = e.doWith(t, alice, http.MethodPut, path, `2`, map[string]string{"If-Match": "W/" + tagOf(first)})
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "a weak tag never matches If-Match")
	r = e.doWith(t, alice, http.MethodPut, path, `2`, map[string]string{"If-Match": tagOf(first)})
	require.Equal(t, http.StatusOK, r.status)
	second := revision()
	assert.Greater(t, second, first)
	assert.Equal(t, tagOf(second), r.header.Get("ETag"))
	r = e.doWith(t, alice, http.MethodPut, path, `3`, map[string]string{"If-Match": tagOf(first)})
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "the old tag is stale")
	r = e.doWith(t, alice, http.MethodPut, path, `3`, map[string]string{"If-Match": tagOf(first) + ", " + tagOf(second)})
	assert.Equal(t, http.StatusOK, r.status, "one tag of a list matches")
	r = e.doWith(t, alice, http.MethodPut, path, `4`, map[string]string{"If-Match": "*"})
	assert.Equal(t, http.StatusOK, r.status, "* matches an existing property")
	r = e.doWith(t, alice, http.MethodPut, propPath("3", "missing", aliceID), `4`, map[string]string{"If-Match": "*"})
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "* never matches a missing property")
	r = e.doWith(t, alice, http.MethodPut, propPath("3", "missing", aliceID), `4`, map[string]string{"If-Match": tagOf(second)})
	assert.Equal(t, http.StatusPreconditionFailed, r.status)

	// If-Match on DELETE.
	current := revision()
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-Match": tagOf(first)})
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-None-Match": "*"})
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "If-None-Match: * on an existing property")
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-Match": tagOf(current)})
	assert.Equal(t, http.StatusNoContent, r.status)
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-Match": tagOf(current)})
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "a missing property never matches")
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-None-Match": "*"})
	assert.Equal(t, http.StatusNotFound, r.status)

	// The rules come first, in Jira's order: a bad value for an unknown
	// account is a 400, another account's property a 403.
	r = e.doWith(t, admin, http.MethodPut, propPath("3", "k", "unknown-account"), `{`, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = e.doWith(t, alice, http.MethodPut, propPath("3", "k", bobID), `1`, map[string]string{"If-None-Match": "*"})
	assert.Equal(t, http.StatusForbidden, r.status)
}

// sseEvent is one event of the change feed.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// readEvents reads n events (comments skipped) from an event stream.
func readEvents(t *testing.T, body io.Reader, n int) []sseEvent {
	t.Helper()
	sc := bufio.NewScanner(body)
	var out []sseEvent
	var ev sseEvent
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.event != "" {
				out = append(out, ev)
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(line[6:]), &ev.data), line)
		}
	}
	require.Len(t, out, n, "events: %v", sc.Err())
	return out
}

func TestHandler_Changes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.store.Set(ctx, aliceID, "before", []byte(`0`))
	require.NoError(t, err)
	p, err := e.store.Get(ctx, aliceID, "before")
	require.NoError(t, err)
	start := p.Revision
	_, err = e.store.Set(ctx, aliceID, "k", []byte("{\n  \"a\": [1, 2]\n}"))
	require.NoError(t, err)
	require.NoError(t, e.store.Delete(ctx, aliceID, "k"))
	_, err = e.store.Set(ctx, bobID, "k", []byte(`"bob's"`))
	require.NoError(t, err)

	open := func(c cred, query string, header map[string]string) *http.Response {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		t.Cleanup(cancel)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, e.srv.URL+"/userprops/1/changes"+query, nil)
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
	resp := open(alice, "?accountId="+aliceID+"&after="+strconv.FormatUint(start, 10), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	evs := readEvents(t, resp.Body, 2)
	assert.Equal(t, "set", evs[0].event)
	assert.Equal(t, map[string]any{"accountId": aliceID, "key": "k", "revision": float64(start + 1),
		"value": map[string]any{"a": []any{float64(1), float64(2)}}}, evs[0].data)
	assert.Equal(t, strconv.FormatUint(start+1, 10), evs[0].id)
	assert.Equal(t, "delete", evs[1].event)
	assert.NotContains(t, evs[1].data, "value")

	// Live, and resumed with Last-Event-ID as an EventSource does.
	_, err = e.store.Set(ctx, aliceID, "live", []byte(`true`))
	require.NoError(t, err)
	live := readEvents(t, resp.Body, 1)
	assert.Equal(t, "live", live[0].data["key"])
	resp = open(alice, "?accountId="+aliceID+"&after=0", map[string]string{"Last-Event-ID": evs[1].id})
	assert.Equal(t, "live", readEvents(t, resp.Body, 1)[0].data["key"], "Last-Event-ID wins over after")

	// Every account, for administrators only.
	resp = open(admin, "?after="+strconv.FormatUint(start, 10), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	all := readEvents(t, resp.Body, 4)
	assert.Equal(t, bobID, all[2].data["accountId"])
	for name, c := range map[string]struct {
		cred   cred
		query  string
		status int
	}{
		"anonymous":            {nobody, "?accountId=" + aliceID, http.StatusUnauthorized},
		"another account":      {alice, "?accountId=" + bobID, http.StatusForbidden},
		"every account":        {alice, "", http.StatusForbidden},
		"unknown account":      {admin, "?accountId=nobody-known", http.StatusNotFound},
		"bad revision":         {alice, "?accountId=" + aliceID + "&after=x", http.StatusBadRequest},
		"history not kept (0)": {alice, "?accountId=" + aliceID + "&after=0", http.StatusOK},
	} {
		resp := open(c.cred, c.query, nil)
		assert.Equal(t, c.status, resp.StatusCode, name)
	}
}

func TestHandler_ChangesCompacted(t *testing.T) {
	e := newEnvWithStore(t, userprops.WithHistory(2, 0))
	ctx := context.Background()
	for i := range 5 {
		_, err := e.store.Set(ctx, aliceID, "k", []byte(strconv.Itoa(i)))
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/userprops/1/changes?accountId="+aliceID+"&after=1", nil)
	require.NoError(t, err)
	alice(req)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	ev := readEvents(t, resp.Body, 1)[0]
	assert.Equal(t, "error", ev.event)
	assert.Equal(t, float64(http.StatusGone), ev.data["status"])
	assert.Equal(t, float64(4), ev.data["oldest"], "the history keeps the last 2 of 5 changes: from revision 4 on")
	_, err = io.ReadAll(resp.Body)
	assert.NoError(t, err, "the stream ends after the error")
}

// TestHandler_ConditionalBothHeaders: If-Match and If-None-Match hold
// together (RFC 9110 §13.2.2), tags compare as text, and If-None-Match with
// tags guards PUT and DELETE too.
func TestHandler_ConditionalBothHeaders(t *testing.T) {
	e := newEnv(t)
	path := propPath("3", "k", aliceID)
	r := e.doWith(t, alice, http.MethodPut, path, `1`, nil)
	require.Equal(t, http.StatusCreated, r.status)
	tag := r.header.Get("ETag")
	rev, err := strconv.ParseUint(strings.Trim(tag, `"`), 10, 64)
	require.NoError(t, err)

	for name, c := range map[string]struct {
		header map[string]string
		status int
	}{
		"If-None-Match the current tag":    {map[string]string{"If-None-Match": tag}, http.StatusPreconditionFailed},
		"If-Match * and If-None-Match *":   {map[string]string{"If-Match": "*", "If-None-Match": "*"}, http.StatusPreconditionFailed},
		"If-Match and If-None-Match a tag": {map[string]string{"If-Match": tag, "If-None-Match": tag}, http.StatusPreconditionFailed},
		"a tag with a leading zero":        {map[string]string{"If-Match": `"0` + strconv.FormatUint(rev, 10) + `"`}, http.StatusPreconditionFailed},
	} {
		r := e.doWith(t, alice, http.MethodPut, path, `2`, c.header)
		assert.Equal(t, c.status, r.status, name)
	}
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-None-Match": tag})
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "DELETE with If-None-Match the current tag")
	assert.Equal(t, rev, func() uint64 {
		p, err := e.store.Get(context.Background(), aliceID, "k")
		require.NoError(t, err)
		return p.Revision
	}(), "every refused request changed nothing")

	r = e.doWith(t, alice, http.MethodPut, path, `3`, map[string]string{"If-None-Match": `"999999"`})
	assert.Equal(t, http.StatusOK, r.status, "If-None-Match another tag holds")
	r = e.doWith(t, alice, http.MethodPut, path, `4`, map[string]string{"If-Match": r.header.Get("ETag"), "If-None-Match": `"999999"`})
	assert.Equal(t, http.StatusOK, r.status, "both hold")
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-None-Match": `"999999"`})
	assert.Equal(t, http.StatusNoContent, r.status)
	r = e.doWith(t, alice, http.MethodDelete, path, "", map[string]string{"If-None-Match": `"999999"`})
	assert.Equal(t, http.StatusNotFound, r.status, "nothing left to delete")
}
