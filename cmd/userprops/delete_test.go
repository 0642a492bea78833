package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/userprops/userprops"
)

func TestDelete(t *testing.T) {
	db := tempDB(t)
	mustRun(t, "set", "--db", db, "--account", "acc", "k", `1`)
	assert.Equal(t, `{"key":"k","deleted":true}`+"\n", mustRun(t, "delete", "--db", db, "--account", "acc", "k"))

	r := runCmd(t, "", "delete", "--db", db, "--account", "acc", "k")
	assert.ErrorIs(t, r.err, userprops.ErrNotFound, "second delete")
	assert.Equal(t, 1, r.code)
	r = runCmd(t, "", "delete", "--db", db, "--account", "acc")
	assert.Equal(t, 2, r.code, "delete without a key")
	r = runCmd(t, "", "delete", "--db", db+".missing", "--account", "acc", "k")
	assert.Equal(t, 1, r.code, "delete on a missing store")
	assert.NoFileExists(t, db+".missing")
}
