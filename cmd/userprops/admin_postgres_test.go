package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/pgtest"
)

// TestExportImport_BoltPostgresBolt moves a store file's properties into
// PostgreSQL and back: each export is the same bytes, so values, versions,
// times and the (account ID, key) byte order all survive.
func TestExportImport_BoltPostgresBolt(t *testing.T) {
	dsn := pgtest.Schema(t)
	src := tempDB(t)
	values := setSample(t, src)
	// Byte order is not length order: "b" < "acc-longer" would be wrong.
	for _, id := range []string{"b", "acc-longer", "zz", "a"} {
		mustRun(t, "set", "--db", src, "--account", id, "k", `1`)
	}

	first := mustRun(t, "export", "--db", src)
	require.Len(t, strings.Split(strings.TrimSuffix(first, "\n"), "\n"), 8, first)
	file := filepath.Join(t.TempDir(), "props.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(first), 0o600))

	assert.Equal(t, `{"imported":8,"skipped":0}`+"\n", mustRun(t, "import", "--postgres", dsn, file))
	r := runCmd(t, "", "export", "--postgres", dsn)
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, first, r.stdout, "export of PostgreSQL after the import equals the file's export")
	assert.Contains(t, r.stderr, "exported properties: 8 in all")
	for k, v := range values {
		assert.Equal(t, v, mustRun(t, "get", "--postgres", dsn, "--account", "acc", "--raw", k), "get --raw %s", k)
	}
	assert.Contains(t, mustRun(t, "get", "--postgres", dsn, "--account", "acc", "pretty"), `"version":2`)
	assert.Equal(t, `{"ok":true}`+"\n", mustRun(t, "check", "--postgres", dsn))

	// Importing again, from stdin, replaces each property with itself.
	r = runCmd(t, first, "import", "--postgres", dsn, "-")
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, `{"imported":8,"skipped":0}`+"\n", r.stdout)
	assert.Equal(t, first, mustRun(t, "export", "--postgres", dsn), "export after a second import")

	// And back into a new file, through a file export of PostgreSQL.
	pgFile := filepath.Join(t.TempDir(), "pg.jsonl")
	mustRun(t, "export", "--postgres", dsn, pgFile)
	dst := tempDB(t)
	mustRun(t, "import", "--db", dst, pgFile)
	assert.Equal(t, first, mustRun(t, "export", "--db", dst), "export of the file imported from PostgreSQL")
}

func TestImport_PostgresRefused(t *testing.T) {
	dsn := pgtest.Schema(t)
	r := runCmd(t, `{"accountId":"a","key":"k","value":"{"}`+"\n", "import", "--postgres", dsn, "-")
	assert.Equal(t, 1, r.code)
	assert.ErrorContains(t, r.err, "nothing imported")
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var table *string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT to_regclass('userprops_properties')::text`).Scan(&table))
	assert.Nil(t, table, "a refused import opened the database")
}

func TestCheck_Postgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	mustRun(t, "set", "--postgres", dsn, "--account", "acc", "k", `{"a":1}`)
	assert.Equal(t, `{"ok":true}`+"\n", mustRun(t, "check", "--postgres", dsn))

	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), `UPDATE userprops_properties SET value = 'nope'`)
	require.NoError(t, err)
	r := runCmd(t, "", "check", "--postgres", dsn)
	assert.ErrorIs(t, r.err, userprops.ErrCorrupt)
	assert.ErrorContains(t, r.err, `account "acc", key "k"`)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, 2, runCmd(t, "", "check", "--postgres", dsn, "extra").code)
}
