package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setSample sets, in the store file db, values that an export must keep
// byte for byte (white space, escapes, non-ASCII) under account "acc", one
// of them at version 2, and "k" of account "other"; it returns the values
// by key.
func setSample(t *testing.T, db string) map[string]string {
	t.Helper()
	values := map[string]string{
		"pretty":  "{\n  \"theme\": \"dark\",\n  \"cols\": [1, 2]\n}\n",
		"string":  `"a \"quoted\" <b>&"`,
		"unicode": `["é", "😀"]`,
	}
	for k, v := range values {
		mustRun(t, "set", "--db", db, "--account", "acc", k, v)
	}
	mustRun(t, "set", "--db", db, "--account", "acc", "pretty", values["pretty"]) // version 2
	mustRun(t, "set", "--db", db, "--account", "other", "k", `1`)
	return values
}

func TestExportImport_RoundTrip(t *testing.T) {
	src := tempDB(t)
	values := setSample(t, src)

	r := runCmd(t, "", "export", "--db", src)
	require.NoError(t, r.err)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	assert.Len(t, lines, 4, r.stdout)
	assert.Contains(t, r.stdout, `"version":2`)
	assert.Contains(t, r.stderr, "exported properties: 4 in all")

	// To a file, then into a new store: byte for byte, versions kept.
	file := filepath.Join(t.TempDir(), "props.jsonl")
	mustRun(t, "export", "--db", src, file)
	exported, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, r.stdout, string(exported))

	dst := tempDB(t)
	assert.Equal(t, `{"imported":4,"skipped":0}`+"\n", mustRun(t, "import", "--db", dst, file))
	for k, v := range values {
		got := mustRun(t, "get", "--db", dst, "--account", "acc", "--raw", k)
		assert.Equal(t, v, got, "get --raw %s", k)
	}
	assert.Contains(t, mustRun(t, "get", "--db", dst, "--account", "acc", "pretty"), `"version":2`)
	again := runCmd(t, "", "export", "--db", dst)
	assert.Equal(t, r.stdout, again.stdout, "export of the import equals the first export")

	assert.Equal(t, 1, runCmd(t, "", "export", "--db", src, file).code, "export over an existing file")
	assert.Equal(t, 1, runCmd(t, "", "export", "--db", src+".missing").code)
}
