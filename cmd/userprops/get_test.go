package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGet(t *testing.T) {
	db := tempDB(t)
	stored := " {\n  \"a\": [1, 2],\n  \"s\": \"<b> & \\u00e9  x\"\n}\n"
	mustRun(t, "set", "--db", db, "--account", "acc", "k", stored)
	out := mustRun(t, "get", "--db", db, "--account", "acc", "k")
	assert.Regexp(t, `^\{"key":"k","version":1,"revision":1,"updatedAt":"[^"]+","value":\{"a":\[1,2\],"s":"<b> & \\u00e9  x"\}\}\n$`, out,
		"one line, the value compacted, its strings as stored")
	assert.Equal(t, stored, mustRun(t, "get", "--db", db, "--account", "acc", "--raw", "k"),
		"--raw prints the value byte for byte")

	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing property", []string{"get", "--db", db, "--account", "acc", "nope"}, 1, "property not found"},
		{"missing store", []string{"get", "--db", db + ".missing", "--account", "acc", "k"}, 1, "no store at"},
		{"no account", []string{"get", "--db", db, "k"}, 2, "--account is required"},
		{"no key", []string{"get", "--db", db, "--account", "acc"}, 2, "takes 1 to 1 arguments"},
		{"two keys", []string{"get", "--db", db, "--account", "acc", "a", "b"}, 2, "takes 1 to 1 arguments"},
		{"key too long", []string{"get", "--db", db, "--account", "acc", string(make([]byte, 300))}, 1, "too long"},
	} {
		r := runCmd(t, "", c.args...)
		require.Error(t, r.err, c.name)
		assert.Equal(t, c.code, r.code, c.name)
		assert.Contains(t, r.err.Error(), c.msg, c.name)
		assert.Empty(t, r.stdout, c.name)
	}
	assert.NoFileExists(t, db+".missing", "get created a store")
}
