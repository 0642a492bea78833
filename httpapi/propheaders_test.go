package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/wire"
)

// TestHandler_PropertyHeaders: a GET says the property's version and when
// it was last set, to the nanosecond, in headers of its own; HEAD too.
func TestHandler_PropertyHeaders(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		resp := e.do(t, admin, http.MethodPut, propPath("3", "k", aliceID), strings.NewReader(`1`))
		require.Less(t, resp.status, 300, resp.body)
	}
	p, err := e.store.Get(context.Background(), aliceID, "k")
	require.NoError(t, err)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		resp := e.do(t, admin, method, propPath("3", "k", aliceID), nil)
		require.Equal(t, http.StatusOK, resp.status)
		assert.Equal(t, "3", resp.header.Get(wire.HeaderVersion), method)
		at, err := time.Parse(time.RFC3339Nano, resp.header.Get(wire.HeaderUpdatedAt))
		require.NoError(t, err, method)
		assert.True(t, p.UpdatedAt.Equal(at), "%s: %s = %v, want %v", method, wire.HeaderUpdatedAt, at, p.UpdatedAt)
		assert.Equal(t, p.UpdatedAt.UTC().Format(http.TimeFormat), resp.header.Get("Last-Modified"), method)
	}
}

// TestHandler_KeyListIsWireShape: the streamed key list is, byte for byte,
// json.Marshal of the wire.KeyList the client decodes.
func TestHandler_KeyListIsWireShape(t *testing.T) {
	e := newEnv(t)
	keys := []string{"a", "<b&>", "é/%?#", "."}
	for _, k := range keys {
		_, err := e.store.Set(context.Background(), aliceID, k, []byte(`1`))
		require.NoError(t, err)
	}
	resp := e.do(t, admin, http.MethodGet, propPath("3", "", aliceID), nil)
	require.Equal(t, http.StatusOK, resp.status)
	var list wire.KeyList
	require.NoError(t, json.Unmarshal([]byte(resp.body), &list))
	want, err := json.Marshal(list)
	require.NoError(t, err)
	assert.Equal(t, string(want)+"\n", resp.body)
	got := make([]string, len(list.Keys))
	for i, r := range list.Keys {
		got[i] = r.Key
	}
	stored, err := e.store.Keys(context.Background(), aliceID)
	require.NoError(t, err)
	assert.Equal(t, stored, got)
}
