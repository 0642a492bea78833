package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// accountsJSON is an accounts file of one account with token.
func accountsJSON(id, token string) []byte {
	return fmt.Appendf(nil, `{"accounts":[{"accountId":%q,"apiToken":%q}]}`, id, token)
}

// authenticates reports whether a accepts token as a bearer token, and as
// whom.
func authenticates(a httpapi.Authenticator, token string) (string, bool) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	actor, err := a.Authenticate(r)
	return actor.AccountID, err == nil
}

func TestAccountsFile_Reload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.json")
	require.NoError(t, os.WriteFile(path, accountsJSON("old", "old-token-0123456789"), 0o600))
	f, err := httpapi.OpenAccountsFile(path, nil)
	require.NoError(t, err)
	assert.Equal(t, path, f.Path())
	id, ok := authenticates(f, "old-token-0123456789")
	require.True(t, ok)
	assert.Equal(t, "old", id)

	// Readers all the time, while the file is swapped back and forth:
	// every answer is one of the two files', never a mix, never a race.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answers atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				oldID, oldOK := authenticates(f, "old-token-0123456789")
				newID, newOK := authenticates(f, "new-token-0123456789")
				if (oldOK && oldID != "old") || (newOK && newID != "new") {
					t.Errorf("a token authenticated the wrong account: %q %q", oldID, newID)
				}
				_, _ = f.UserExists(context.Background(), "old")
				answers.Add(1)
			}
		})
	}
	for i := range 50 {
		content := accountsJSON("old", "old-token-0123456789")
		if i%2 == 0 {
			content = accountsJSON("new", "new-token-0123456789")
		}
		require.NoError(t, os.WriteFile(path, content, 0o600))
		seen := answers.Load()
		require.NoError(t, f.Reload())
		for answers.Load() <= seen+1 {
			runtime.Gosched() // readers ran during and after this reload
		}
	}
	// The last swap was to "old"; end on "new".
	require.NoError(t, os.WriteFile(path, accountsJSON("new", "new-token-0123456789"), 0o600))
	require.NoError(t, f.Reload())
	close(stop)
	wg.Wait()

	_, ok = authenticates(f, "old-token-0123456789")
	assert.False(t, ok, "the revoked token still works after Reload")
	id, ok = authenticates(f, "new-token-0123456789")
	assert.True(t, ok, "the new token does not work after Reload")
	assert.Equal(t, "new", id)
	exists, err := f.UserExists(context.Background(), "old")
	require.NoError(t, err)
	assert.False(t, exists, "a removed account still exists for the store")

	// A bad file keeps the accounts in use.
	for name, content := range map[string][]byte{
		"not JSON":   []byte(`{"accounts":`),
		"no account": []byte(`{"accounts":[]}`),
	} {
		require.NoError(t, os.WriteFile(path, content, 0o600))
		assert.Error(t, f.Reload(), name)
		_, ok = authenticates(f, "new-token-0123456789")
		assert.True(t, ok, "%s: a bad file replaced the accounts", name)
	}
	require.NoError(t, os.Remove(path))
	assert.ErrorIs(t, f.Reload(), os.ErrNotExist)
	_, ok = authenticates(f, "new-token-0123456789")
	assert.True(t, ok, "a missing file replaced the accounts")
	assert.NotNil(t, f.Accounts())
}

func TestAccountsFile_Serves(t *testing.T) {
	// The handler and the store's directory follow a reload.
	path := filepath.Join(t.TempDir(), "accounts.json")
	require.NoError(t, os.WriteFile(path, accountsJSON("old", "old-token-0123456789"), 0o600))
	f, err := httpapi.OpenAccountsFile(path, nil)
	require.NoError(t, err)
	store := userprops.NewMemory(userprops.WithDirectory(f))
	srv := httptest.NewServer(httpapi.New(store, f, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	defer srv.Close()
	put := func(id, token string) int {
		t.Helper()
		return doBearer(t, srv.URL+"/rest/api/3/user/properties/k?accountId="+id, token)
	}
	assert.Equal(t, 201, put("old", "old-token-0123456789"))
	require.NoError(t, os.WriteFile(path, accountsJSON("new", "new-token-0123456789"), 0o600))
	require.NoError(t, f.Reload())
	assert.Equal(t, 401, put("old", "old-token-0123456789"))
	assert.Equal(t, 201, put("new", "new-token-0123456789"))
	_, err = store.Keys(context.Background(), "old")
	assert.ErrorIs(t, err, userprops.ErrUserNotFound, "the store still knows the removed account")
}

func doBearer(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest("PUT", url, bytes.NewReader([]byte(`1`)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
