// Package pgtest gives tests a PostgreSQL schema of their own, in the
// database that USERPROPS_TEST_POSTGRES names (scripts/postgres start gives
// one), and skips them, saying how to enable them, when there is none.
package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DSNEnv names the environment variable that holds the database URL.
const DSNEnv = "USERPROPS_TEST_POSTGRES"

// Require skips t unless a database is configured, and returns its URL.
func Require(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		t.Skipf("set %s to a PostgreSQL URL to run the PostgreSQL tests (eval \"$(scripts/postgres start)\" starts a throwaway server)", DSNEnv)
	}
	return dsn
}

// Schema creates a schema for t alone and returns a URL whose search_path
// points at it; the schema is dropped when t ends.
func Schema(t testing.TB) string {
	t.Helper()
	base := Require(t)
	ctx := context.Background()
	name := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), rand.Uint32())
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to %s: %v", DSNEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("creating schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if conn, err := pgx.Connect(ctx, base); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", DSNEnv, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
