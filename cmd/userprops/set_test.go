package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func TestSet(t *testing.T) {
	db := tempDB(t)
	assert.Equal(t, `{"key":"k","status":"created"}`+"\n", mustRun(t, "set", "--db", db, "--account", "acc", "k", `1`))
	assert.Equal(t, `{"key":"k","status":"updated"}`+"\n", mustRun(t, "set", "--db", db, "--account", "acc", "k", `2`))

	// From stdin, with "-" or without a value.
	r := runCmd(t, `{"from":"stdin"}`, "set", "--db", db, "--account", "acc", "piped", "-")
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, `{"key":"piped","status":"created"}`+"\n", r.stdout)
	r = runCmd(t, "[true]\n", "set", "--db", db, "--account", "acc", "piped")
	require.NoError(t, r.err)
	assert.Equal(t, `{"key":"piped","status":"updated"}`+"\n", r.stdout)
	assert.Equal(t, "[true]\n", mustRun(t, "get", "--db", db, "--account", "acc", "--raw", "piped"), "stdin stored byte for byte")

	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		err   error
	}{
		{"invalid JSON", "", []string{"k", `{`}, 1, userprops.ErrInvalidJSON},
		{"empty value", "", []string{"k", ``}, 1, userprops.ErrValueMissing},
		{"empty stdin", "", []string{"k"}, 1, userprops.ErrValueMissing},
		{"huge stdin", strings.Repeat(" ", 10<<20), []string{"k", "-"}, 1, userprops.ErrValueTooLarge},
		{"blank key", "", []string{" ", `1`}, 1, userprops.ErrInvalidKey},
	} {
		r := runCmd(t, c.stdin, append([]string{"set", "--db", db, "--account", "acc"}, c.args...)...)
		assert.ErrorIs(t, r.err, c.err, c.name)
		assert.Equal(t, c.code, r.code, c.name)
		assert.Empty(t, r.stdout, c.name)
	}
	r = runCmd(t, "", "set", "--db", db, "--account", "acc")
	assert.Equal(t, 2, r.code, "set without a key")
	r = runCmd(t, "", "set", "--db", db, "--account", "acc", "k", "1", "extra")
	assert.Equal(t, 2, r.code, "set with three arguments")

	// A refused value neither changed the property nor created a file.
	assert.Contains(t, mustRun(t, "get", "--db", db, "--account", "acc", "k"), `"version":2`)
	r = runCmd(t, "", "set", "--db", db+".new", "--account", "acc", "k", `{`)
	assert.Equal(t, 1, r.code)
	assert.NoFileExists(t, db+".new")
}
