//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveRefuses runs serve with args and returns what it did, stopping it
// after a generous while if it started serving instead of refusing.
func serveRefuses(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &stdout, &stderr)
	return result{err: err, code: exitCode(err), stdout: stdout.String(), stderr: stderr.String()}
}

const plantedAccounts = `{"accounts":[{"accountId":"intruder","apiToken":"intruder-token-0123456789","admin":true}]}`

func TestServe_RefusesAPlantedAccountsFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give the file to another user")
	}
	// Another local user put accounts.json beside the store before the
	// first start, in a directory they could write to.
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777|os.ModeSticky))
	planted := filepath.Join(dir, "accounts.json")
	require.NoError(t, os.WriteFile(planted, []byte(plantedAccounts), 0o600))
	require.NoError(t, os.Chown(planted, 65534, 65534))
	r := serveRefuses(t, "--db", filepath.Join(dir, "props.db"))
	assert.Equal(t, 1, r.code)
	assert.ErrorContains(t, r.err, "owned by uid 65534")
	assert.NoFileExists(t, filepath.Join(dir, "props.db"), "serve opened the store before refusing")
}

func TestServe_RefusesAccountsInADirectoryOthersMayWrite(t *testing.T) {
	// Without the sticky bit, anyone may replace accounts.json in a
	// world-writable directory, even one serve created itself.
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	r := serveRefuses(t, "--db", filepath.Join(dir, "props.db"))
	assert.Equal(t, 1, r.code)
	assert.ErrorContains(t, r.err, "writable by others")
	assert.NoFileExists(t, filepath.Join(dir, "accounts.json"), "serve created an accounts file where others may replace it")

	// The same for a file named with --accounts, and for a file others may
	// write.
	safe := t.TempDir()
	accounts := filepath.Join(safe, "team.json")
	require.NoError(t, os.WriteFile(accounts, []byte(plantedAccounts), 0o600))
	require.NoError(t, os.Chmod(accounts, 0o666))
	r = serveRefuses(t, "--db", filepath.Join(safe, "props.db"), "--accounts", accounts)
	assert.Equal(t, 1, r.code)
	assert.ErrorContains(t, r.err, "writable by others")
}
