package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// newLimitedEnv is newEnv with a store opened with opts.
func newLimitedEnv(t *testing.T, opts ...userprops.Option) (*env, http.Handler) {
	t.Helper()
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	store := userprops.NewMemory(append([]userprops.Option{userprops.WithDirectory(accounts)}, opts...)...)
	t.Cleanup(func() { store.Close() })
	logs := &syncBuffer{}
	h := httpapi.New(store, accounts, httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: store, logs: logs}, h
}

func TestHandler_AccountFull(t *testing.T) {
	e, _ := newLimitedEnv(t, userprops.WithAccountLimits(2, 100))
	put := func(key, value string) response {
		t.Helper()
		return e.do(t, alice, "PUT", propPath("3", key, aliceID), strings.NewReader(value))
	}
	require.Equal(t, 201, put("k1", `1`).status)
	require.Equal(t, 201, put("k2", `2`).status)

	r := put("k3", `3`)
	assert.Equal(t, 400, r.status, "PUT of a third property")
	assert.Equal(t, "The property k3 can not be stored: the user's properties have reached the limit "+
		"on their number or on the total size of their keys and values. Delete properties to make room.",
		r.errorMessage(t))
	assert.Equal(t, 404, e.do(t, alice, "GET", propPath("3", "k3", aliceID), nil).status, "the refused property")

	assert.Equal(t, 200, put("k1", `"updated"`).status, "an update within the limits")
	r = put("k1", `"`+strings.Repeat("x", 100)+`"`)
	assert.Equal(t, 400, r.status, "an update past the byte limit")
	assert.Contains(t, r.errorMessage(t), "The property k1 can not be stored")
	r = e.do(t, alice, "GET", propPath("3", "k1", aliceID), nil)
	assert.Equal(t, `{"key":"k1","value":"updated"}`+"\n", r.body, "the refused update changed the value")

	assert.Equal(t, 204, e.do(t, alice, "DELETE", propPath("3", "k2", aliceID), nil).status)
	assert.Equal(t, 201, put("k3", `3`).status, "a PUT after a DELETE made room")
	// Another account has room of its own.
	assert.Equal(t, 201, e.do(t, bob, "PUT", propPath("3", "k1", bobID), strings.NewReader(`1`)).status)
}

// writeCounter is a ResponseWriter that records the size of every Write.
type writeCounter struct {
	*httptest.ResponseRecorder
	writes  int
	largest int
}

func (w *writeCounter) Write(b []byte) (int, error) {
	w.writes++
	w.largest = max(w.largest, len(b))
	return w.ResponseRecorder.Write(b)
}

// TestHandler_KeysStreamed lists the largest account the default limits
// allow, with the longest keys (255 "€", 765 bytes, whose self links are
// 2295 bytes more): the list must come out whole, exactly as json.Marshal
// encodes it, and be written in pieces, never held whole.
func TestHandler_KeysStreamed(t *testing.T) {
	e, h := newLimitedEnv(t)
	ctx := context.Background()
	var keys []string
	for i := range userprops.DefaultMaxProperties {
		k := fmt.Sprintf("%04d", i) + strings.Repeat("€", userprops.MaxKeyLength-4)
		_, err := e.store.Set(ctx, aliceID, k, []byte(`1`))
		require.NoError(t, err)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	_, err := e.store.Set(ctx, aliceID, "one too many", []byte(`1`))
	require.ErrorIs(t, err, userprops.ErrAccountFull)

	type keyRef struct {
		Key  string `json:"key"`
		Self string `json:"self"`
	}
	want := struct {
		Keys []keyRef `json:"keys"`
	}{}
	query := "?accountId=" + url.QueryEscape(aliceID)
	for _, k := range keys {
		want.Keys = append(want.Keys, keyRef{k, "http://example.com/rest/api/3/user/properties/" + url.PathEscape(k) + query})
	}
	wantBody, err := json.Marshal(want)
	require.NoError(t, err)
	wantBody = append(wantBody, '\n')

	req := httptest.NewRequest("GET", propPath("3", "", aliceID), nil)
	alice(req)
	w := &writeCounter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, req)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, "application/json;charset=UTF-8", w.Header().Get("Content-Type"))
	body := w.Body.Bytes()
	require.True(t, json.Valid(body), "the key list is not valid JSON")
	require.Equal(t, string(wantBody), string(body), "the key list")
	t.Logf("%d keys: %d bytes in %d writes, the largest %d bytes", len(keys), len(body), w.writes, w.largest)
	assert.Greater(t, len(body), 3_000_000, "the list of the longest keys")
	assert.LessOrEqual(t, w.largest, 64<<10, "a Write of %d bytes: the list is held whole", w.largest)

	// Over a connection (chunked), the same bytes.
	r := e.do(t, alice, "GET", propPath("3", "", aliceID), nil)
	require.Equal(t, 200, r.status)
	assert.Equal(t, strings.Replace(string(wantBody), "http://example.com", e.srv.URL, -1), r.body)
}
