package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImport_BadLines(t *testing.T) {
	in := strings.Join([]string{
		`{"accountId":"a","key":"one","version":3,"value":"{\"x\":1}"}`,
		`{"accountId":"a","key":"two","value":{"hand":"written"}}`,
		`{"accountId":"a","key":"bad json","value":"{"}`,
		``,
		`not json at all`,
		`{"accountId":"","key":"k","value":"1"}`,
		`{"accountId":"a","key":"k","value":"1","extra":true}`,
		`{"accountId":"a","key":"` + strings.Repeat("k", 256) + `","value":"1"}`,
		`{"accountId":"a","key":"three","value":"[3]"}`,
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "in.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(in), 0o600))
	db := tempDB(t)

	r := runCmd(t, "", "import", "--db", db, path)
	assert.Equal(t, 1, r.code)
	assert.ErrorContains(t, r.err, "5 of 9 lines are invalid; nothing imported")
	for _, n := range []string{"line 3:", "line 5:", "line 6:", "line 7:", "line 8:"} {
		assert.Contains(t, r.stderr, n)
	}
	assert.Contains(t, r.stderr, "line 3: userprops: property value is not valid JSON")
	assert.Contains(t, r.stderr, "line 8: userprops: property key is too long")
	assert.NotContains(t, r.stderr, "line 1:")
	assert.NoFileExists(t, db, "a refused import created the store")

	r = runCmd(t, "", "import", "--db", db, "--skip-invalid", path)
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, `{"imported":3,"skipped":5}`+"\n", r.stdout)
	assert.Equal(t, `{"keys":["one","three","two"]}`+"\n", mustRun(t, "keys", "--db", db, "--account", "a"))
	assert.Contains(t, mustRun(t, "get", "--db", db, "--account", "a", "one"), `"version":3`)
	assert.Contains(t, mustRun(t, "get", "--db", db, "--account", "a", "two"), `"version":1`)
	assert.Contains(t, mustRun(t, "get", "--db", db, "--account", "a", "two"), `"value":{"hand":"written"}`)
}

func TestImport_Stdin(t *testing.T) {
	db := tempDB(t)
	r := runCmd(t, `{"accountId":"a","key":"k","value":"true"}`+"\n", "import", "--db", db, "-")
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, `{"imported":1,"skipped":0}`+"\n", r.stdout)
	assert.Contains(t, mustRun(t, "get", "--db", db, "--account", "a", "k"), `"value":true}`)

	assert.Equal(t, 2, runCmd(t, "", "import", "--db", db).code, "import without IN")
	assert.Equal(t, 1, runCmd(t, "", "import", "--db", db, "/no/such/file").code)
}

// jsonLines returns n valid property lines for account a, keys k0001…,
// one a line.
func jsonLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"accountId":"a","key":"k%04d","value":"%d"}`+"\n", i+1, i+1)
	}
	return b.String()
}

func TestImport_StdinIsCheckedFirst(t *testing.T) {
	// A bad line after a whole batch: from stdin as from a file, nothing
	// may be imported.
	in := jsonLines(importBatch) + `{"accountId":"a","key":"bad","value":"{"}` + "\n"
	db := tempDB(t)
	r := runCmd(t, in, "import", "--db", db, "-")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.ErrorContains(t, r.err, fmt.Sprintf("1 of %d lines are invalid; nothing imported", importBatch+1))
	assert.Contains(t, r.stderr, fmt.Sprintf("line %d: userprops: property value is not valid JSON", importBatch+1))
	assert.NoFileExists(t, db, "a refused import from stdin created the store")

	r = runCmd(t, in, "import", "--db", db, "--skip-invalid", "-")
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, fmt.Sprintf(`{"imported":%d,"skipped":1}`, importBatch)+"\n", r.stdout)
	assert.Contains(t, mustRun(t, "get", "--db", db, "--account", "a", "k5000"), `"value":5000}`)
}

func TestImport_LineTooLong(t *testing.T) {
	long := `{"accountId":"a","key":"long","value":"` + strings.Repeat(" ", maxLine) + `1"}`
	in := jsonLines(2) + long + "\n" + `{"accountId":"a","key":"after","value":"2"}` + "\n"
	path := filepath.Join(t.TempDir(), "in.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(in), 0o600))
	db := tempDB(t)

	r := runCmd(t, "", "import", "--db", db, path)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, fmt.Sprintf("line 3: longer than %d bytes", maxLine))
	assert.ErrorContains(t, r.err, "1 of 4 lines are invalid; nothing imported")
	assert.NoFileExists(t, db)

	// It is a bad line like any other: the lines around it are read.
	r = runCmd(t, "", "import", "--db", db, "--skip-invalid", path)
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, `{"imported":3,"skipped":1}`+"\n", r.stdout)
	assert.Equal(t, `{"keys":["after","k0001","k0002"]}`+"\n", mustRun(t, "keys", "--db", db, "--account", "a"))

	// A line of exactly maxLine bytes is not too long (it is invalid for
	// another reason: its value is too large).
	exact := `{"accountId":"a","key":"exact","value":"` + strings.Repeat(" ", maxLine-len(`{"accountId":"a","key":"exact","value":"`)-2) + `"}`
	require.Len(t, exact, maxLine)
	require.NoError(t, os.WriteFile(path, []byte(exact), 0o600))
	r = runCmd(t, "", "import", "--db", db, path)
	assert.Contains(t, r.stderr, "line 1: userprops: property value is too large")
}

func TestImport_RepeatedPropertyLastWins(t *testing.T) {
	in := strings.Join([]string{
		`{"accountId":"a","key":"k","version":1,"value":"\"first\""}`,
		`{"accountId":"b","key":"k","value":"\"b\""}`,
		`{"accountId":"a","key":"k","version":7,"value":"\"second\""}`,
		`{"accountId":"a","key":"k","value":"{"}`, // invalid: it replaces nothing
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "in.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(in), 0o600))
	db := tempDB(t)
	r := runCmd(t, "", "import", "--db", db, "--skip-invalid", path)
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, `{"imported":2,"skipped":1}`+"\n", r.stdout, "a repeated property counts once")
	assert.Contains(t, r.stderr, "line 3: replaces line 1 (same account and key; the last line wins)")
	got := mustRun(t, "get", "--db", db, "--account", "a", "k")
	assert.Contains(t, got, `"version":7`)
	assert.Contains(t, got, `"value":"second"`)
}

func TestImport_VersionsOutOfRange(t *testing.T) {
	for _, v := range []string{"0", "9223372036854775808", "18446744073709551615"} {
		in := `{"accountId":"a","key":"k","version":` + v + `,"value":"1"}` + "\n"
		path := filepath.Join(t.TempDir(), "in.jsonl")
		require.NoError(t, os.WriteFile(path, []byte(in), 0o600))
		db := tempDB(t)
		r := runCmd(t, "", "import", "--db", db, path)
		assert.Equal(t, 1, r.code, "version %s", v)
		assert.Contains(t, r.stderr, "line 1: version "+v, "version %s", v)
		assert.NoFileExists(t, db, "version %s: a refused import created the store", v)
	}
	in := `{"accountId":"a","key":"k","version":9223372036854775807,"value":"1"}` + "\n"
	path := filepath.Join(t.TempDir(), "in.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(in), 0o600))
	mustRun(t, "import", "--db", tempDB(t), path)
}
