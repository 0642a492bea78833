package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/pgtest"
	"github.com/userprops/userprops/pgstore"
	"github.com/userprops/userprops/storetest"
)

func open(t *testing.T, dsn string, opts ...userprops.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgres(t *testing.T) {
	pgtest.Require(t)
	var mu sync.Mutex
	dsns := map[userprops.Store]string{} // the schema of each store
	openAt := func(t *testing.T, dsn string, opts ...userprops.Option) userprops.Store {
		s, err := pgstore.Open(context.Background(), dsn, opts...)
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		dsns[s] = dsn
		return s
	}
	storetest.RunHarness(t, storetest.Harness{
		Open: func(t *testing.T, opts ...userprops.Option) userprops.Store {
			return openAt(t, pgtest.Schema(t), opts...)
		},
		Reopen: func(t *testing.T, st userprops.Store, opts ...userprops.Option) userprops.Store {
			mu.Lock()
			dsn := dsns[st]
			mu.Unlock()
			return openAt(t, dsn, opts...)
		},
	})
}

func TestPostgres_ConcurrentOpen(t *testing.T) {
	dsn := pgtest.Schema(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := pgstore.Open(context.Background(), dsn)
			if assert.NoError(t, err) {
				_, err := s.Set(context.Background(), "acct", "k", []byte(`1`))
				assert.NoError(t, err)
				s.Close()
			}
		})
	}
	wg.Wait()
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var rows, version int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*), max(version) FROM userprops_schema`).Scan(&rows, &version))
	assert.Equal(t, 1, rows)
	assert.Equal(t, 1, version)
}

func TestPostgres_NewerSchemaRefused(t *testing.T) {
	dsn := pgtest.Schema(t)
	s := open(t, dsn)
	_, err := s.Set(context.Background(), "acct", "k", []byte(`1`))
	require.NoError(t, err)
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), `UPDATE userprops_schema SET version = 99`)
	require.NoError(t, err)

	_, err = pgstore.Open(context.Background(), dsn)
	require.ErrorIs(t, err, userprops.ErrFormatVersion)
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM userprops_properties`).Scan(&n))
	assert.Equal(t, 1, n, "a refused open changed the data")
}

func TestPostgres_BadDSN(t *testing.T) {
	_, err := pgstore.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	require.Error(t, err)
	var pgErr *pgconn.PgError
	assert.False(t, errors.As(err, &pgErr), "a driver error type leaked: %T", err)
	assert.Contains(t, err.Error(), "userprops: postgres")
}

// TestPostgres_DroppedConnections kills the store's connections while it
// reads and writes: reads are retried and succeed; a write either succeeds
// or fails with an error of this package, never a driver type, and a write
// that failed may or may not have landed (that is what "the outcome is
// unknown" means), but a write that succeeded is there.
func TestPostgres_DroppedConnections(t *testing.T) {
	dsn := pgtest.Schema(t)
	s := open(t, dsn)
	ctx := context.Background()
	for i := range 20 {
		_, err := s.Set(ctx, "acct", fmt.Sprintf("k%02d", i), []byte(`0`))
		require.NoError(t, err)
	}
	killer, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer killer.Close(ctx)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	killed := 0
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			var n int
			if killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&n) == nil {
				killed += n
			}
		}
	})
	reads, readFailures, writeFailures, writes := 0, 0, 0, map[string]int{}
	deadline := time.Now().Add(time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		key := fmt.Sprintf("k%02d", i%20)
		if _, err := s.Get(ctx, "acct", key); err != nil {
			readFailures++
			t.Logf("read: %v", err)
		}
		reads++
		_, err := s.Set(ctx, "acct", key, fmt.Appendf(nil, `%d`, i))
		if err == nil {
			writes[key] = i
			continue
		}
		writeFailures++
		var pgErr *pgconn.PgError
		assert.False(t, errors.As(err, &pgErr), "a driver error type leaked: %v", err)
		assert.Contains(t, err.Error(), "userprops: postgres")
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, readFailures, "reads are retried after a dropped connection")
	assert.Positive(t, killed, "no connection was killed")
	t.Logf("%d connections killed; %d reads, all answered; %d writes, %d failed with the outcome unknown",
		killed, reads, reads, writeFailures)
	for key, i := range writes {
		p, err := s.Get(ctx, "acct", key)
		require.NoError(t, err)
		var got int
		fmt.Sscan(string(p.Value), &got)
		assert.GreaterOrEqual(t, got, i, "%s lost its last acknowledged write", key)
	}
}
