package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func TestHandler_ContentEncoding(t *testing.T) {
	e := newEnv(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte(`{"a":1}`))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	encoded := func(coding string, c cred) cred {
		return func(r *http.Request) {
			c(r)
			r.Header.Set("Content-Encoding", coding)
		}
	}

	for _, coding := range []string{"gzip", "br", "deflate, identity", "x-unknown"} {
		r := e.do(t, encoded(coding, alice), "PUT", propPath("3", "k", aliceID), bytes.NewReader(gz.Bytes()))
		assert.Equal(t, http.StatusUnsupportedMediaType, r.status, "Content-Encoding %q: %s", coding, r.body)
		assert.Equal(t, "The request's Content-Encoding is not supported: send the body unencoded (identity).", r.errorMessage(t))
		assert.Equal(t, "identity", r.header.Get("Accept-Encoding"), "RFC 7694: say which coding is accepted")
	}
	_, err = e.store.Get(t.Context(), aliceID, "k")
	assert.ErrorIs(t, err, userprops.ErrNotFound, "nothing was stored")
	r := e.do(t, encoded("gzip", alice), "GET", propPath("3", "", aliceID), nil)
	assert.Equal(t, http.StatusUnsupportedMediaType, r.status, "any request that declares a coding")
	r = e.do(t, encoded("gzip", nobody), "PUT", propPath("3", "k", aliceID), bytes.NewReader(gz.Bytes()))
	assert.Equal(t, http.StatusUnauthorized, r.status, "401 comes first")

	for i, coding := range []string{"identity", "Identity", ""} {
		r := e.do(t, encoded(coding, alice), "PUT", propPath("3", "k", aliceID), strings.NewReader(fmt.Sprint(i)))
		assert.Contains(t, []int{200, 201}, r.status, "Content-Encoding %q: %s", coding, r.body)
	}
}
