package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func erasePath(accountID string) string {
	return "/userprops/1/accounts/" + url.PathEscape(accountID) + "/properties"
}

func TestHandler_DeleteAccount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, id := range []string{aliceID, bobID} {
		for _, k := range []string{"a", "b", "c"} {
			_, err := e.store.Set(ctx, id, k, []byte(`1`))
			require.NoError(t, err)
		}
	}

	r := e.do(t, nobody, http.MethodDelete, erasePath(aliceID), nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	r = e.do(t, alice, http.MethodDelete, erasePath(bobID), nil)
	assert.Equal(t, http.StatusForbidden, r.status, "another account's erasure")
	r = e.do(t, admin, http.MethodDelete, erasePath("no-such-account"), nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "The specified user does not exist in the system.", r.errorMessage(t))
	r = e.do(t, admin, http.MethodDelete, erasePath(" "), nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = e.do(t, alice, http.MethodGet, erasePath(aliceID), nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "DELETE", r.header.Get("Allow"))
	ks, err := e.store.Keys(ctx, bobID)
	require.NoError(t, err)
	assert.Len(t, ks, 3, "refused erasures change nothing")

	r = e.do(t, alice, http.MethodDelete, erasePath(aliceID), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"deleted":3}`, r.body)
	assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"))
	r = e.do(t, admin, http.MethodDelete, erasePath(bobID), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"deleted":3}`, r.body)
	r = e.do(t, admin, http.MethodDelete, erasePath(bobID), nil)
	assert.JSONEq(t, `{"deleted":0}`, r.body, "nothing left to erase")
	ks, err = e.store.Keys(ctx, bobID)
	require.NoError(t, err)
	assert.Empty(t, ks)
}
