//go:build unix

package httpapi_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/httpapi"
)

const oneAccount = `{"accounts":[{"accountId":"a","apiToken":"token-a-0123456789"}]}`

// writeAccountsFile writes an accounts file with mode perm (exactly: not
// filtered by the umask) at path.
func writeAccountsFile(t *testing.T, path string, perm os.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(oneAccount), 0o600))
	require.NoError(t, os.Chmod(path, perm))
}

// safeDir returns a new directory that only this process's user may write.
func safeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	return dir
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give files to another user")
	}
}

func TestLoadAccounts_RefusesFilesOthersCouldHaveWritten(t *testing.T) {
	for _, perm := range []os.FileMode{0o620, 0o602, 0o666} {
		path := filepath.Join(safeDir(t), "accounts.json")
		writeAccountsFile(t, path, perm)
		_, err := httpapi.LoadAccounts(path)
		assert.ErrorContains(t, err, "writable by others", "mode %04o", perm)
	}
	for _, perm := range []os.FileMode{0o600, 0o400, 0o640, 0o644} {
		path := filepath.Join(safeDir(t), "accounts.json")
		writeAccountsFile(t, path, perm)
		_, err := httpapi.LoadAccounts(path)
		assert.NoError(t, err, "mode %04o", perm)
	}
}

func TestLoadAccounts_RefusesAnotherUsersFile(t *testing.T) {
	needRoot(t)
	path := filepath.Join(safeDir(t), "accounts.json")
	writeAccountsFile(t, path, 0o600)
	require.NoError(t, os.Chown(path, 65534, 65534))
	_, err := httpapi.LoadAccounts(path)
	assert.ErrorContains(t, err, "owned by uid 65534")
}

func TestLoadAccounts_DirectoryChain(t *testing.T) {
	// A directory others may write, without the sticky bit, lets them
	// replace the file: refused, at any depth above the file.
	top := safeDir(t)
	mid := filepath.Join(top, "mid")
	dir := filepath.Join(mid, "dir")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	path := filepath.Join(dir, "accounts.json")
	writeAccountsFile(t, path, 0o600)
	_, err := httpapi.LoadAccounts(path)
	require.NoError(t, err)

	for _, d := range []string{dir, mid, top} {
		for _, perm := range []os.FileMode{0o777, 0o770, 0o702} {
			require.NoError(t, os.Chmod(d, perm))
			_, err := httpapi.LoadAccounts(path)
			assert.ErrorContains(t, err, "directory "+d+" is writable by others", "%s mode %04o", d, perm)
			require.NoError(t, os.Chmod(d, 0o700))
		}
		// With the sticky bit others may add files but not replace ours,
		// as in /tmp.
		require.NoError(t, os.Chmod(d, 0o777|os.ModeSticky))
		_, err := httpapi.LoadAccounts(path)
		assert.NoError(t, err, "%s sticky and world-writable", d)
		require.NoError(t, os.Chmod(d, 0o700))
	}

	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(mid, 65534, 65534))
		_, err = httpapi.LoadAccounts(path)
		assert.ErrorContains(t, err, "directory "+mid+" is owned by uid 65534")
		require.NoError(t, os.Chown(mid, 0, 0))
	}

	// Relative paths are checked from the root all the same.
	t.Chdir(mid)
	_, err = httpapi.LoadAccounts("dir/accounts.json")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(mid, 0o777))
	_, err = httpapi.LoadAccounts("dir/accounts.json")
	assert.ErrorContains(t, err, "writable by others")
	require.NoError(t, os.Chmod(mid, 0o700))
}

func TestLoadAccounts_SymbolicLinks(t *testing.T) {
	dir := safeDir(t)
	real := filepath.Join(dir, "real.json")
	writeAccountsFile(t, real, 0o600)
	link := filepath.Join(dir, "accounts.json")
	require.NoError(t, os.Symlink("real.json", link))
	_, err := httpapi.LoadAccounts(link)
	require.NoError(t, err, "a link of this user's to a safe file")

	// A directory on the way that is a link: the directories it leads to
	// are the ones checked.
	other := safeDir(t)
	require.NoError(t, os.Symlink(dir, filepath.Join(other, "d")))
	_, err = httpapi.LoadAccounts(filepath.Join(other, "d", "accounts.json"))
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o777))
	_, err = httpapi.LoadAccounts(filepath.Join(other, "d", "accounts.json"))
	assert.ErrorContains(t, err, "directory "+dir+" is writable by others", "the directory a link leads to")
	require.NoError(t, os.Chmod(dir, 0o700))

	// A link that leads to an unsafe file is refused like the file.
	require.NoError(t, os.Chmod(real, 0o666))
	_, err = httpapi.LoadAccounts(link)
	assert.ErrorContains(t, err, "writable by others")
	require.NoError(t, os.Chmod(real, 0o600))

	if os.Geteuid() == 0 {
		// Someone else's link (say, planted in a sticky directory) is
		// not followed, even to a file of ours.
		require.NoError(t, os.Lchown(link, 65534, 65534))
		_, err = httpapi.LoadAccounts(link)
		assert.ErrorContains(t, err, "symbolic link "+link+" is owned by uid 65534")
	}

	loop := filepath.Join(dir, "loop")
	require.NoError(t, os.Symlink("loop", loop))
	_, err = httpapi.LoadAccounts(loop)
	assert.ErrorIs(t, err, syscall.ELOOP)
}

func TestLoadAccounts_NotARegularFile(t *testing.T) {
	dir := safeDir(t)
	_, err := httpapi.LoadAccounts(dir)
	assert.ErrorContains(t, err, "not a regular file")

	// A FIFO is refused at once: opening it does not wait for a writer.
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan error, 1)
	go func() {
		_, err := httpapi.LoadAccounts(fifo)
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorContains(t, err, "not a regular file")
	case <-time.After(20 * time.Second):
		t.Fatal("LoadAccounts blocked on a FIFO")
	}

	_, err = httpapi.LoadAccounts(filepath.Join(dir, "missing", "accounts.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = httpapi.LoadAccounts(filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestLoadAccounts_UnsafeDirectoryBeforeMissingFile(t *testing.T) {
	// A missing file in an unsafe directory is not "missing" (which would
	// make serve create one there) but unsafe.
	dir := safeDir(t)
	require.NoError(t, os.Chmod(dir, 0o777))
	_, err := httpapi.LoadAccounts(filepath.Join(dir, "accounts.json"))
	assert.ErrorContains(t, err, "writable by others")
	assert.NotErrorIs(t, err, fs.ErrNotExist)
}

func TestOpenAccountsFile_WarnsWhenOthersMayRead(t *testing.T) {
	path := filepath.Join(safeDir(t), "accounts.json")
	writeAccountsFile(t, path, 0o644)
	var logs bytes.Buffer
	f, err := httpapi.OpenAccountsFile(path, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "readable by others (mode 0644)")

	logs.Reset()
	require.NoError(t, os.Chmod(path, 0o600))
	require.NoError(t, f.Reload())
	assert.Empty(t, logs.String())

	// Made writable by others: the reload is refused, the accounts stay.
	require.NoError(t, os.Chmod(path, 0o666))
	assert.ErrorContains(t, f.Reload(), "writable by others")
	assert.NotNil(t, f.Accounts())
}

func TestLoadAccounts_Profiles(t *testing.T) {
	path := filepath.Join(safeDir(t), "accounts.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"accounts":[
		{"accountId":"a","apiToken":"token-a-0123456789","displayName":"Ada L","active":false,"timeZone":"Australia/Sydney","locale":"en_AU"},
		{"accountId":"b","apiToken":"token-b-0123456789","active":true},
		{"accountId":"c","apiToken":"token-c-0123456789"}]}`), 0o600))
	f, err := httpapi.OpenAccountsFile(path, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	a, err := f.User(t.Context(), "a")
	require.NoError(t, err)
	assert.Equal(t, httpapi.User{AccountID: "a", DisplayName: "Ada L", TimeZone: "Australia/Sydney", Locale: "en_AU"}, a)
	var active []string
	require.NoError(t, f.EachUser(t.Context(), func(u httpapi.User) bool {
		if u.Active {
			active = append(active, u.AccountID)
		}
		return true
	}))
	assert.Equal(t, []string{"b", "c"}, active, "active defaults to true")
}
