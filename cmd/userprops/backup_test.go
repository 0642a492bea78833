package main

import (
	"os"
	"path/filepath"
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
