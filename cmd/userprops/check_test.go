package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func TestCheck(t *testing.T) {
	db := tempDB(t)
	mustRun(t, "set", "--db", db, "--account", "acc", "k", `{"marker":"abcdefgh"}`)
	assert.Equal(t, `{"ok":true}`+"\n", mustRun(t, "check", "--db", db))

	b, err := os.ReadFile(db)
	require.NoError(t, err)
	i := bytes.Index(b, []byte("abcdefgh"))
	require.Positive(t, i)
	b[i] ^= 1
	require.NoError(t, os.WriteFile(db, b, 0o600))
	r := runCmd(t, "", "check", "--db", db)
	assert.ErrorIs(t, r.err, userprops.ErrCorrupt)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)

	assert.Equal(t, 2, runCmd(t, "", "check", "--db", db, "extra").code)
}
