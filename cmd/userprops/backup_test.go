package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackup(t *testing.T) {
	db := tempDB(t)
	mustRun(t, "set", "--db", db, "--account", "acc", "k", `{"a":1}`)
	out := filepath.Join(t.TempDir(), "copy.db")
	assert.Regexp(t, `^\{"backup":".*copy.db","bytes":\d+\}\n$`, mustRun(t, "backup", "--db", db, out))
	info, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	assert.Contains(t, mustRun(t, "get", "--db", out, "--account", "acc", "k"), `"value":{"a":1}`)
	assert.Equal(t, `{"ok":true}`+"\n", mustRun(t, "check", "--db", out))
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "temporary files left beside the backup")

	r := runCmd(t, "", "backup", "--db", db, out)
	assert.Equal(t, 1, r.code, "backup over an existing file")
	r = runCmd(t, "", "backup", "--db", db)
	assert.Equal(t, 2, r.code, "backup without OUT")
	r = runCmd(t, "", "backup", "--db", db+".missing", out+"2")
	assert.Equal(t, 1, r.code, "backup of a missing store")
}

func TestBackup_Server(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	s := startServe(t, "--db", db)
	token := regexp.MustCompile(`-u 'admin@userprops.localhost:([^']+)'`).FindStringSubmatch(s.stdout.String())[1]
	resp := do(t, "PUT", s.base+"/rest/api/3/user/properties/theme?accountId=admin", "admin@userprops.localhost", token, `{"dark":true}`)
	require.Equal(t, 201, resp.StatusCode)

	// While serve holds the file, --db cannot open it; --server can.
	out := filepath.Join(t.TempDir(), "copy.db")
	t.Setenv(tokenEnv, token)
	r := runCmd(t, "", "backup", "--server", s.base, "--out", out)
	require.NoError(t, r.err, r.stderr)
	assert.Regexp(t, `^\{"backup":".*copy.db","bytes":\d+,"sha256":"[0-9a-f]{64}"\}\n$`, r.stdout)
	assert.Contains(t, r.stderr, "backup bytes received: ")
	info, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	assert.Equal(t, `{"ok":true}`+"\n", mustRun(t, "check", "--db", out))
	assert.Equal(t, `{"dark":true}`, mustRun(t, "get", "--db", out, "--account", "admin", "--raw", "theme"))

	for _, c := range []struct {
		name string
		env  string
		args []string
		code int
		msg  string
	}{
		{"an existing file", token, []string{"--server", s.base, "--out", out}, 1, "exists"},
		{"a wrong token", "wrong-token-0123456789", []string{"--server", s.base, "--out", out + "2"}, 1, "401 Unauthorized: Client must be authenticated"},
		{"no token", "", []string{"--server", s.base, "--out", out + "2"}, 2, tokenEnv},
		{"no --out", token, []string{"--server", s.base}, 2, "--out FILE"},
		{"--db too", token, []string{"--db", db, "--server", s.base, "--out", out + "2"}, 2, "not both"},
		{"--out without --server", token, []string{"--db", db, "--out", out + "2"}, 2, "--out goes with --server"},
		{"not a URL", token, []string{"--server", "localhost", "--out", out + "2"}, 2, "not an absolute URL"},
	} {
		t.Setenv(tokenEnv, c.env)
		r := runCmd(t, "", append([]string{"backup"}, c.args...)...)
		assert.Equal(t, c.code, r.code, "%s: %v", c.name, r.err)
		assert.ErrorContains(t, r.err, c.msg, c.name)
	}
	assert.NoFileExists(t, out+"2")
}
