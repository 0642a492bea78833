package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// TestNew_ChecksTheAuthenticatorsDirectory embeds the handler as a program
// would, over a store opened without WithDirectory: unknown accounts still
// answer 404, as `userprops serve` answers.
func TestNew_ChecksTheAuthenticatorsDirectory(t *testing.T) {
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	serve := func(t *testing.T, auth httpapi.Authenticator, opts ...httpapi.Option) *env {
		store := userprops.NewMemory()
		t.Cleanup(func() { store.Close() })
		srv := httptest.NewServer(httpapi.New(store, auth, opts...))
		t.Cleanup(srv.Close)
		return &env{srv: srv, store: store}
	}
	const ghost = "no-such-account"

	e := serve(t, accounts)
	for _, c := range []struct {
		name         string
		who          cred
		method, path string
		body         string
		status       int
		msg          string
	}{
		{"set for an unknown account", admin, "PUT", propPath("3", "k", ghost), `1`, 404, "The specified user does not exist in the system."},
		{"get", admin, "GET", propPath("3", "k", ghost), "", 404, "The specified user does not exist in the system."},
		{"delete", admin, "DELETE", propPath("2", "k", ghost), "", 404, "The specified user does not exist in the system."},
		{"keys", admin, "GET", propPath("3", "", ghost), "", 404, "The specified user does not exist in the system."},
		{"a broken rule before the unknown user", admin, "PUT", propPath("3", "k", ghost), `{`, 400, "The JSON data provided for the property is not a valid JSON."},
		{"a key too long before the unknown user", admin, "GET", propPath("3", strings.Repeat("k", 300), ghost), "", 400, "The property key is too long. Maximum length is 255 characters."},
		{"403 before 404", alice, "GET", propPath("3", "k", ghost), "", 403, "You do not have permission to access the properties of this user."},
	} {
		r := e.do(t, c.who, c.method, c.path, strings.NewReader(c.body))
		assert.Equal(t, c.status, r.status, c.name)
		assert.Equal(t, c.msg, r.errorMessage(t), c.name)
	}
	r := e.do(t, admin, "PUT", propPath("3", "k", aliceID), strings.NewReader(`1`))
	assert.Equal(t, 201, r.status, "a listed account")
	keys, err := e.store.Keys(context.Background(), ghost)
	require.NoError(t, err)
	assert.Empty(t, keys, "nothing was stored for the unknown account")

	// WithDirectory(nil): no check; another directory: that one.
	e = serve(t, accounts, httpapi.WithDirectory(nil))
	assert.Equal(t, 201, e.do(t, admin, "PUT", propPath("3", "k", ghost), strings.NewReader(`1`)).status)
	e = serve(t, accounts, httpapi.WithDirectory(userprops.DirectoryFunc(func(_ context.Context, id string) (bool, error) {
		return id == ghost, nil
	})))
	assert.Equal(t, 201, e.do(t, admin, "PUT", propPath("3", "k", ghost), strings.NewReader(`1`)).status)
	assert.Equal(t, 404, e.do(t, admin, "PUT", propPath("3", "k", aliceID), strings.NewReader(`1`)).status)
	e = serve(t, accounts, httpapi.WithDirectory(userprops.DirectoryFunc(func(context.Context, string) (bool, error) {
		return false, errors.New("directory down")
	})))
	assert.Equal(t, 500, e.do(t, admin, "GET", propPath("3", "k", aliceID), nil).status)

	// An Authenticator that is no directory: nothing to check.
	onlyAuth := httpapi.AuthenticatorFunc(func(*http.Request) (userprops.Actor, error) {
		return userprops.Actor{AccountID: adminID, Admin: true}, nil
	})
	e = serve(t, onlyAuth)
	assert.Equal(t, 201, e.do(t, nobody, "PUT", propPath("3", "k", ghost), strings.NewReader(`1`)).status)
}
