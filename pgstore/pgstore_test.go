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
	assert.Equal(t, len(pgstore.Migrations), version)
}

// TestPostgres_UpgradeSchema1 opens a database left by the version of this
// package whose schema was version 1, without usage rows: Open must count
// every account's usage, so that the account limits hold from the first
// write.
func TestPostgres_UpgradeSchema1(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// Schema version 1, as that version created it.
	_, err = conn.Exec(ctx, `
CREATE TABLE userprops_schema (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	version   integer NOT NULL);
INSERT INTO userprops_schema (version) VALUES (1);
CREATE TABLE userprops_properties (
	account_id    bytea  NOT NULL,
	key           bytea  NOT NULL,
	value         bytea  NOT NULL,
	version       bigint NOT NULL CHECK (version >= 1),
	updated_at_ns bigint NOT NULL,
	PRIMARY KEY (account_id, key));
INSERT INTO userprops_properties VALUES
	('full', 'k1', '1', 1, 0), ('full', 'k2', '"two"', 3, 0), ('full', 'k3', '[3]', 1, 0),
	('small', 'settings', '{"theme":"dark"}', 2, 0)`)
	require.NoError(t, err)

	s := open(t, dsn, userprops.WithAccountLimits(3, 30))
	_, err = s.Set(ctx, "full", "k4", []byte(`4`))
	assert.ErrorIs(t, err, userprops.ErrAccountFull, "a create on an account that had 3 properties")
	_, err = s.Set(ctx, "small", "settings", []byte(`{"theme":"light!"}`)) // 8 + 18 bytes
	require.NoError(t, err)
	_, err = s.Set(ctx, "small", "k", []byte(`1234`)) // 26 + 5 bytes
	assert.ErrorIs(t, err, userprops.ErrAccountFull, "a create past 30 bytes")
	p, err := s.Get(ctx, "full", "k2")
	require.NoError(t, err)
	assert.Equal(t, `"two"`, string(p.Value))
	assert.Equal(t, uint64(3), p.Version)

	rows, err := conn.Query(ctx, `SELECT account_id, properties, bytes FROM userprops_accounts ORDER BY account_id`)
	require.NoError(t, err)
	type usage struct {
		Account           string
		Properties, Bytes int64
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (usage, error) {
		var u usage
		var id []byte
		err := row.Scan(&id, &u.Properties, &u.Bytes)
		u.Account = string(id)
		return u, err
	})
	require.NoError(t, err)
	assert.Equal(t, []usage{{"full", 3, 15}, {"small", 1, 26}}, got)
	var version int
	require.NoError(t, conn.QueryRow(ctx, `SELECT version FROM userprops_schema`).Scan(&version))
	assert.Equal(t, len(pgstore.Migrations), version)
}

// TestPostgres_AccountLocks runs concurrent creates and deletes of one
// account from two stores on one database, as two processes would: the
// usage row must agree with the properties at the end, and the limit must
// hold across them.
func TestPostgres_AccountLocks(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	stores := []*pgstore.Store{
		open(t, dsn, userprops.WithAccountLimits(5, 0)),
		open(t, dsn, userprops.WithAccountLimits(5, 0)),
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			s := stores[i%2]
			key := fmt.Sprintf("k%02d", i)
			for range 10 {
				_, err := s.Set(ctx, "acct", key, []byte(`"value"`))
				if err != nil {
					assert.ErrorIs(t, err, userprops.ErrAccountFull)
					continue
				}
				assert.NoError(t, s.Delete(ctx, "acct", key))
				_, err = s.Set(ctx, "acct", key, []byte(`1`))
				if err != nil {
					assert.ErrorIs(t, err, userprops.ErrAccountFull)
				}
			}
		})
	}
	wg.Wait()
	keys, err := stores[0].Keys(ctx, "acct")
	require.NoError(t, err)
	assert.LessOrEqual(t, len(keys), 5)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var counted, recorded, countedBytes, recordedBytes int64
	require.NoError(t, conn.QueryRow(ctx, `
SELECT (SELECT count(*) FROM userprops_properties WHERE account_id = 'acct'),
	(SELECT coalesce(sum(length(key) + length(value)), 0) FROM userprops_properties WHERE account_id = 'acct'),
	properties, bytes
FROM userprops_accounts WHERE account_id = 'acct'`).Scan(&counted, &countedBytes, &recorded, &recordedBytes))
	assert.Equal(t, counted, recorded, "properties")
	assert.Equal(t, countedBytes, recordedBytes, "bytes")
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
