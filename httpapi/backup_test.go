package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

func backupServer(t *testing.T, store userprops.Store) *env {
	t.Helper()
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	logs := &syncBuffer{}
	srv := httptest.NewServer(httpapi.New(store, accounts, httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))))
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: store, logs: logs}
}

// getBackup asks e's server for a backup as the administrator; the body is
// closed when the test ends.
func getBackup(t *testing.T, e *env) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+httpapi.BackupPath, nil)
	require.NoError(t, err)
	admin(req)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestHandler_Backup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := userprops.OpenBolt(filepath.Join(dir, "live.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	for _, k := range []string{"a", "b", "c"} {
		_, err := store.Set(ctx, aliceID, k, []byte(`{"k":"`+k+`"}`))
		require.NoError(t, err)
	}
	e := backupServer(t, store)

	resp := getBackup(t, e)
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	sum := sha256.Sum256(body)
	assert.Equal(t, strconv.Itoa(len(body)), resp.Trailer.Get(httpapi.BackupBytesTrailer))
	assert.Equal(t, hex.EncodeToString(sum[:]), resp.Trailer.Get(httpapi.BackupSHA256Trailer))

	// The copy is a store holding what the live one held.
	copyPath := filepath.Join(dir, "copy.db")
	require.NoError(t, os.WriteFile(copyPath, body, 0o600))
	cp, err := userprops.OpenBolt(copyPath)
	require.NoError(t, err)
	defer cp.Close()
	require.NoError(t, cp.Check(ctx))
	keys, err := cp.Keys(ctx, aliceID)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, keys)

	for _, c := range []struct {
		name   string
		who    cred
		method string
		status int
	}{
		{"not an administrator", alice, "GET", 403},
		{"no credentials", nobody, "GET", 401},
		{"another method", admin, "POST", 405},
	} {
		r := e.do(t, c.who, c.method, httpapi.BackupPath, nil)
		assert.Equal(t, c.status, r.status, c.name)
		assert.NotEmpty(t, r.errorMessage(t), c.name)
	}
}

func TestHandler_BackupUnsupported(t *testing.T) {
	mem := userprops.NewMemory()
	t.Cleanup(func() { mem.Close() })
	r := backupServer(t, mem).do(t, admin, "GET", httpapi.BackupPath, nil)
	assert.Equal(t, http.StatusNotImplemented, r.status)
	assert.Contains(t, r.errorMessage(t), "pg_dump")
}

// failingBackup writes part of a backup, then fails.
type failingBackup struct{ userprops.Store }

func (failingBackup) Backup(_ context.Context, w io.Writer) (int64, error) {
	n, err := w.Write([]byte(strings.Repeat("x", 100<<10)))
	if err != nil {
		return int64(n), err
	}
	return int64(n), errors.New("disk read error")
}

func TestHandler_BackupFailsMidway(t *testing.T) {
	mem := userprops.NewMemory()
	t.Cleanup(func() { mem.Close() })
	e := backupServer(t, failingBackup{mem})
	resp := getBackup(t, e)
	assert.Equal(t, 200, resp.StatusCode, "the status went out with the first bytes")
	_, err := io.ReadAll(resp.Body)
	assert.Error(t, err, "a backup that failed midway read as whole")
	assert.Empty(t, resp.Trailer.Get(httpapi.BackupSHA256Trailer))
	assert.Contains(t, e.logs.String(), "disk read error")

	// Failing before the first byte answers Jira's error body.
	r := backupServer(t, closedBackup{mem}).do(t, admin, "GET", httpapi.BackupPath, nil)
	assert.Equal(t, 503, r.status)
	assert.Empty(t, r.header.Get("Content-Disposition"))
}

// closedBackup fails every backup before writing anything.
type closedBackup struct{ userprops.Store }

func (closedBackup) Backup(context.Context, io.Writer) (int64, error) { return 0, userprops.ErrClosed }
