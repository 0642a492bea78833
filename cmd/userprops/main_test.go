package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// result is what one run of the command did.
type result struct {
	err            error
	code           int
	stdout, stderr string
}

// runCmd runs the command line with stdin as input.
func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{err: err, code: exitCode(err), stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs the command line and requires it to succeed.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := runCmd(t, "", args...)
	require.NoError(t, r.err, "userprops %s\nstderr: %s", strings.Join(args, " "), r.stderr)
	return r.stdout
}

// TestMain runs the tests, or the command itself when a test starts the
// test binary as a separate userprops process (USERPROPS_TEST_MAIN=1).
func TestMain(m *testing.M) {
	if os.Getenv("USERPROPS_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

func tempDB(t *testing.T) string { return filepath.Join(t.TempDir(), "props.db") }

func TestRun_Usage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"help"}, 0},
		{[]string{"get", "-h"}, 0},
		{[]string{"get", "--no-such-flag"}, 2},
		{[]string{"serve", "extra"}, 2},
		{[]string{"serve", "--base-url", "not a url"}, 2},
	} {
		r := runCmd(t, "", c.args...)
		assert.Equal(t, c.code, r.code, "userprops %q: %v", c.args, r.err)
	}
	r := runCmd(t, "", "help")
	assert.Contains(t, r.stdout, "userprops serve")
}

func TestErrorLine_OnePrefix(t *testing.T) {
	db := tempDB(t)
	mustRun(t, "set", "--db", db, "--account", "a", "k", "1")
	r := runCmd(t, "", "get", "--db", db, "--account", "a", "missing")
	require.Error(t, r.err)
	line := errorLine(r.err)
	assert.True(t, strings.HasPrefix(line, "userprops: property not found"), "errorLine = %q", line)
	assert.Equal(t, 1, strings.Count(line, "userprops:"), "errorLine = %q", line)

	r = runCmd(t, "", "get", "--db", filepath.Join(t.TempDir(), "none.db"), "--account", "a", "k")
	require.Error(t, r.err)
	assert.True(t, strings.HasPrefix(errorLine(r.err), "userprops: no store at "), "errorLine = %q", errorLine(r.err))
}
