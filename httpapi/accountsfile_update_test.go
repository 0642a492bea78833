//go:build unix

package httpapi_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/httpapi"
)

// add returns a change that appends acc.
func add(acc httpapi.Account) func([]httpapi.Account) ([]httpapi.Account, error) {
	return func(list []httpapi.Account) ([]httpapi.Account, error) { return append(list, acc), nil }
}

func TestUpdateAccountsFile(t *testing.T) {
	dir := safeDir(t)
	path := filepath.Join(dir, "accounts.json")
	ada := httpapi.Account{AccountID: "ada", Email: "ada@example.com", APIToken: "ada-token-0123456789", Admin: true, DisplayName: "Ada Lovelace"}
	bob := httpapi.Account{AccountID: "bob", APIToken: "bob-token-0123456789"}

	// A missing file is created.
	require.NoError(t, httpapi.UpdateAccountsFile(path, add(ada)))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.NoError(t, httpapi.UpdateAccountsFile(path, add(bob)))
	list, err := httpapi.ReadAccountsFile(path)
	require.NoError(t, err)
	assert.Equal(t, []httpapi.Account{ada, bob}, list, "the display name is kept")
	served, err := httpapi.OpenAccountsFile(path, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, served.Accounts().Len())

	before, err := os.ReadFile(path)
	require.NoError(t, err)
	unchanged := func(what string) {
		t.Helper()
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, string(before), string(after), what)
	}
	// Refused changes write nothing.
	errChange := errors.New("changed my mind")
	assert.ErrorIs(t, httpapi.UpdateAccountsFile(path, func([]httpapi.Account) ([]httpapi.Account, error) { return nil, errChange }), errChange)
	unchanged("after an error of change")
	assert.ErrorContains(t, httpapi.UpdateAccountsFile(path, add(httpapi.Account{AccountID: "ada", APIToken: "other-token-0123456789"})), "listed twice")
	unchanged("after a duplicate")
	assert.ErrorContains(t, httpapi.UpdateAccountsFile(path, add(httpapi.Account{AccountID: "eve", APIToken: "short"})), "at least 16")
	unchanged("after a short token")
	assert.ErrorContains(t, httpapi.UpdateAccountsFile(path, func([]httpapi.Account) ([]httpapi.Account, error) { return nil, nil }), "no accounts")
	unchanged("after removing every account")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "temporary files left behind: %v", entries)

	// A file others could have written is refused, as serve refuses it.
	require.NoError(t, os.Chmod(path, 0o666))
	assert.ErrorContains(t, httpapi.UpdateAccountsFile(path, add(httpapi.Account{AccountID: "eve", APIToken: "eve-token-0123456789"})), "writable by others")
	require.NoError(t, os.Chmod(path, 0o600))
	unchanged("after refusing an unsafe file")

	// Through a symbolic link, the target is replaced and the link kept.
	link := filepath.Join(dir, "link.json")
	require.NoError(t, os.Symlink(path, link))
	require.NoError(t, httpapi.UpdateAccountsFile(link, add(httpapi.Account{AccountID: "cy", APIToken: "cy-token-0123456789ab"})))
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, fi.Mode().Type())
	list, err = httpapi.ReadAccountsFile(path)
	require.NoError(t, err)
	assert.Len(t, list, 3)
}

func TestUpdateAccountsFile_Concurrent(t *testing.T) {
	path := filepath.Join(safeDir(t), "accounts.json")
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			acc := httpapi.Account{AccountID: fmt.Sprintf("acc-%02d", i), APIToken: httpapi.NewToken()}
			assert.NoError(t, httpapi.UpdateAccountsFile(path, add(acc)))
		})
	}
	wg.Wait()
	list, err := httpapi.ReadAccountsFile(path)
	require.NoError(t, err)
	var ids []string
	for _, a := range list {
		ids = append(ids, a.AccountID)
	}
	slices.Sort(ids)
	assert.Len(t, ids, n, "an update was lost: %v", ids)
}
