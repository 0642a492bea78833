package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/userprops/userprops"
)

func TestKeys(t *testing.T) {
	db := tempDB(t)
	for _, k := range []string{"b", "a", "c<d>&"} {
		mustRun(t, "set", "--db", db, "--account", "acc", k, `1`)
	}
	assert.Equal(t, `{"keys":["a","b","c<d>&"]}`+"\n", mustRun(t, "keys", "--db", db, "--account", "acc"))
	assert.Equal(t, `{"keys":[]}`+"\n", mustRun(t, "keys", "--db", db, "--account", "nobody"))

	r := runCmd(t, "", "keys", "--db", db, "--account", "acc", "extra")
	assert.Equal(t, 2, r.code, "keys with an argument")
	r = runCmd(t, "", "keys", "--db", db, "--account", " ")
	assert.ErrorIs(t, r.err, userprops.ErrInvalidAccountID)
	assert.Equal(t, 1, r.code)
}
