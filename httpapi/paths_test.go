package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandler_DotKeys(t *testing.T) {
	e := newEnv(t)
	account := "?accountId=" + url.QueryEscape(aliceID)
	props := "/rest/api/3/user/properties/"
	// Keys that are dot segments, sent percent-encoded as clients must.
	for path, value := range map[string]string{"%2E": "1", "%2E%2E": "2", "%252E": "3"} {
		r := e.do(t, alice, "PUT", props+path+account, strings.NewReader(value))
		require.Equal(t, 201, r.status, "PUT %s: %s", path, r.body)
	}
	r := e.do(t, alice, "PUT", props+"%2e"+account, strings.NewReader("4"))
	assert.Equal(t, 200, r.status, "lower-case %%2e is the same key: %s", r.body)
	for key, value := range map[string]string{".": "4", "..": "2", "%2E": "3"} {
		p, err := e.store.Get(t.Context(), aliceID, key)
		require.NoError(t, err, "the store holds %q, decoded once", key)
		assert.Equal(t, value, string(p.Value), "value of %q", key)
	}

	// Self links spell dot keys with %2E, which RFC 3986's dot-segment
	// removal (5.2.4), curl, Go and Python's urllib leave alone, and each
	// leads back to its property. (WHATWG URL parsers, in browsers and
	// Node, take %2E for a dot too: no path names these keys for them.)
	r = e.do(t, alice, "GET", props+account, nil)
	require.Equal(t, 200, r.status)
	want := func(escaped string) string { return e.srv.URL + props + escaped + account }
	var list struct{ Keys []struct{ Key, Self string } }
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	got := map[string]string{}
	for _, ref := range list.Keys {
		got[ref.Key] = ref.Self
	}
	assert.Equal(t, map[string]string{".": want("%2E"), "..": want("%2E%2E"), "%2E": want("%252E")}, got)
	for key, self := range got {
		r := e.do(t, alice, "GET", strings.TrimPrefix(self, e.srv.URL), nil)
		assert.Equal(t, 200, r.status, "self link %s", self)
		p, err := e.store.Get(t.Context(), aliceID, key)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf(`{"key":%s,"value":%s}`+"\n", mustJSON(t, key), p.Value), r.body, "self link %s", self)
	}

	// Raw dot segments (Python's requests, for one, turns %2E back into
	// '.') are keys as the path spells them, not paths to clean away.
	for _, c := range []struct{ path, key string }{
		{".", "."},
		{"..", ".."},
	} {
		r := e.do(t, alice, "GET", props+c.path+account, nil)
		assert.Equal(t, 200, r.status, "GET %s", c.path)
		assert.Contains(t, r.body, `{"key":`+string(mustJSON(t, c.key))+`,"value":`, "GET %s", c.path)
	}
	for _, c := range []struct{ path, key string }{
		{"a/..", "a/.."},
		{"./b", "./b"},
		{"x/./../y", "x/./../y"},
	} {
		r := e.do(t, alice, "PUT", props+c.path+account, strings.NewReader(`true`))
		assert.Equal(t, 201, r.status, "PUT %s: %s", c.path, r.body)
		_, err := e.store.Get(t.Context(), aliceID, c.key)
		assert.NoError(t, err, "PUT %s stores key %q", c.path, c.key)
	}
}
