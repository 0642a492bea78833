//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenOf decodes what accounts add and rotate print.
func tokenOf(t *testing.T, out string) tokenLine {
	t.Helper()
	var l tokenLine
	require.NoError(t, json.Unmarshal([]byte(out), &l), "output %q", out)
	require.NotEmpty(t, l.APIToken)
	return l
}

func TestAccounts_AddListRotateRemove(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	file := filepath.Join(dir, "accounts.json")

	r := runCmd(t, "", "accounts", "add", "--accounts", file, "--email", "ada@example.com", "--display-name", "Ada Lovelace", "--admin")
	require.NoError(t, r.err, r.stderr)
	ada := tokenOf(t, r.stdout)
	assert.Regexp(t, `^[0-9a-f]{24}$`, ada.AccountID, "a generated account ID")
	assert.Contains(t, r.stderr, "SIGHUP")
	info, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	bob := tokenOf(t, mustRun(t, "accounts", "add", "--accounts", file, "--email", "bob@example.com", "--account-id", "712020:bob"))
	assert.Equal(t, "712020:bob", bob.AccountID)

	list := mustRun(t, "accounts", "list", "--accounts", file)
	assert.JSONEq(t, `{"accounts":[
		{"accountId":"`+ada.AccountID+`","email":"ada@example.com","displayName":"Ada Lovelace","admin":true},
		{"accountId":"712020:bob","email":"bob@example.com","admin":false}]}`, list)
	assert.NotContains(t, list, ada.APIToken)
	assert.NotContains(t, list, "apiToken")

	// Rotate by email (any case): a new token, the old one gone from the file.
	rotated := tokenOf(t, mustRun(t, "accounts", "rotate", "--accounts", file, "--email", "BOB@example.com"))
	assert.Equal(t, "712020:bob", rotated.AccountID)
	assert.NotEqual(t, bob.APIToken, rotated.APIToken)
	content, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.NotContains(t, string(content), bob.APIToken)
	assert.Contains(t, string(content), rotated.APIToken)

	assert.JSONEq(t, `{"removed":"712020:bob"}`, mustRun(t, "accounts", "remove", "--accounts", file, "--account-id", "712020:bob"))
	assert.NotContains(t, mustRun(t, "accounts", "list", "--accounts", file), "bob")

	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"the same email twice", []string{"add", "--accounts", file, "--email", "ADA@example.com"}, 1, "also names account"},
		{"the last account", []string{"remove", "--accounts", file, "--account-id", ada.AccountID}, 1, "no accounts"},
		{"an unknown account", []string{"rotate", "--accounts", file, "--account-id", "nobody"}, 1, `no account with account ID "nobody"`},
		{"no file", []string{"list", "--accounts", file + ".missing"}, 1, "no such file"},
		{"no --accounts", []string{"list"}, 2, "--accounts is required"},
		{"no --email", []string{"add", "--accounts", file}, 2, "--email is required"},
		{"both picks", []string{"remove", "--accounts", file, "--account-id", "a", "--email", "b"}, 2, "one of them"},
		{"no pick", []string{"rotate", "--accounts", file}, 2, "one of them"},
		{"an argument", []string{"list", "--accounts", file, "extra"}, 2, "takes no arguments"},
	} {
		r := runCmd(t, "", append([]string{"accounts"}, c.args...)...)
		assert.Equal(t, c.code, r.code, "%s: %v", c.name, r.err)
		assert.ErrorContains(t, r.err, c.msg, c.name)
		assert.Empty(t, r.stdout, c.name)
	}
	assert.Equal(t, 2, runCmd(t, "", "accounts").code)
	assert.Equal(t, 2, runCmd(t, "", "accounts", "frobnicate").code)

	// A file others could have written is refused, as serve refuses it.
	require.NoError(t, os.Chmod(file, 0o666))
	r = runCmd(t, "", "accounts", "add", "--accounts", file, "--email", "eve@example.com")
	assert.ErrorContains(t, r.err, "writable by others")
}

// TestAccounts_ServeReloads adds, rotates and removes accounts of a running
// server, which takes each change on SIGHUP.
func TestAccounts_ServeReloads(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	file := filepath.Join(dir, "accounts.json")
	root := tokenOf(t, mustRun(t, "accounts", "add", "--accounts", file, "--email", "root@example.com", "--account-id", "root", "--admin"))
	p := startServeProcess(t, "--db", filepath.Join(dir, "props.db"), "--accounts", file)
	put := func(login, token, account string) int {
		t.Helper()
		return do(t, "PUT", p.base+"/rest/api/3/user/properties/k?accountId="+account, login, token, `1`).StatusCode
	}
	hup := func(n int) {
		t.Helper()
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
		p.waitLog(t, "reloaded accounts", n)
	}
	assert.Equal(t, 404, put("root@example.com", root.APIToken, "ada"), "an account not in the file")

	ada := tokenOf(t, mustRun(t, "accounts", "add", "--accounts", file, "--email", "ada@example.com", "--account-id", "ada"))
	hup(1)
	assert.Equal(t, 201, put("ada@example.com", ada.APIToken, "ada"))

	rotated := tokenOf(t, mustRun(t, "accounts", "rotate", "--accounts", file, "--account-id", "ada"))
	hup(2)
	assert.Equal(t, 401, put("ada@example.com", ada.APIToken, "ada"), "the rotated token still works")
	assert.Equal(t, 200, put("ada@example.com", rotated.APIToken, "ada"))

	mustRun(t, "accounts", "remove", "--accounts", file, "--email", "ada@example.com")
	hup(3)
	assert.Equal(t, 401, put("ada@example.com", rotated.APIToken, "ada"))
	assert.Equal(t, 404, put("root@example.com", root.APIToken, "ada"), "a removed account is an unknown user")
	assert.False(t, strings.Contains(p.stderr.String(), "keeping the accounts in use"), p.stderr.String())
}
