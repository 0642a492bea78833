// Package pgstore keeps user properties in PostgreSQL (or an engine that
// speaks its wire protocol), so that many processes on many machines share
// one store with the same rules as every userprops.Store.
//
//	store, err := pgstore.Open(ctx, "postgres://app@db.internal/app")
//
// The schema is created and migrated by Open: a table userprops_schema that
// records its version, and
//
//	userprops_properties (
//	    account_id    bytea,   -- the account ID's UTF-8 bytes
//	    key           bytea,   -- the property key's UTF-8 bytes
//	    value         bytea,   -- the value exactly as it was given to Set
//	    version       bigint,  -- 1 when created, +1 per update
//	    updated_at_ns bigint,  -- nanoseconds since the Unix epoch
//	    revision      bigint,  -- the revision of its last change
//	    PRIMARY KEY (account_id, key))
//
//	userprops_accounts (
//	    account_id bytea PRIMARY KEY,
//	    properties bigint,  -- the number of the account's properties
//	    bytes      bigint)  -- the sum of their key and value lengths
//
// userprops_accounts holds what each account counts against the account
// limits (userprops.WithAccountLimits), and its row is the lock that
// serialises the writes of one account: Set and Delete each run in one
// transaction that first locks the account's row (Set creates it if need
// be), then reads what it needs, changes the property, and writes the row,
// so that concurrent writes of one account, from any number of processes,
// pass the limits one after another, and the row always agrees with the
// properties. Schema version 2 added the table, counting it from the
// properties while writes wait; a process of an older version that is still
// running writes without counting, so stop those before opening the
// database with this one.
//
// Find's indexes (userprops.WithIndex, AddIndex) live in two tables:
//
//	userprops_indexes (
//	    id          integer PRIMARY KEY,
//	    key, path   bytea,  -- the index: UNIQUE (key, path)
//	    state       text,   -- building, ready or dropping
//	    built_after bytea)  -- building: the last account indexed
//
//	userprops_index_entries (
//	    index_id   integer,
//	    term       bytea,  -- one of userprops.Index.Terms of the value
//	    account_id bytea,
//	    PRIMARY KEY (index_id, term, account_id))
//
// and an index on userprops_properties (key, account_id) serves the scans of
// one key (clauses without an index) and index builds. Set and Delete move
// the account's entries from the old value's terms to the new one's in
// their own transaction, so an index never lags its properties. Terms are
// computed in Go by userprops.Index.Terms, with gjson, as every backend
// computes them, so an index answers exactly as a scan; a term of 512 bytes
// or more is stored as its first 480 bytes and its SHA-256.
//
// Why a table and not expression indexes on the values: an expression index
// must compute terms in SQL, from jsonb, and jsonb cannot be made to agree
// with gjson. It keeps the last of duplicate object keys where gjson reads
// the first ({"a":1,"a":2}), and it refuses values every store accepts:
// "\u0000" (unsupported Unicode escape) and 1e1000000 (numeric overflow),
// so a Set would fail on an indexed key. It also needs DDL per index,
// which every process would have to agree on. The table costs more per
// write (see BenchmarkSet: with 32 writers and two indexes on the key, Set
// kept 0.86x the throughput of Set without, where two jsonb btree expression
// indexes keep 0.77x of a raw upsert and two GIN ones 0.55x), and it reads
// faster: an index-only scan of one term, where the expression index fetches
// every matching row (BenchmarkFind, 200k accounts: 0.75 ms against 2.7 ms
// for 1000 matches, 7.7 ms against 15 ms for 10k).
//
// Which process keeps which index: every process keeps every index the
// database records, whether it declared it or not. A write takes an
// advisory lock shared and reads, under it, the indexes of the key it
// writes, in its own transaction; each batch of a build and the marking of
// a drop take it exclusive, which waits for every write in flight. So a
// process learns of an index that another added at its next write, never
// later; there is no cached list to go stale. Open builds the declared
// indexes the database lacks or has not finished, in batches of a few
// thousand properties each under the exclusive lock (writes pause for each
// batch, a few milliseconds), each batch recording how far it went, so
// several processes opening at once share the work and one killed mid-build
// leaves an index that Find does not use until the next Open declaring it,
// or AddIndex, finishes it. Find uses an index only once it is ready, in its
// snapshot. Schema version 3 added these tables; a process of an older
// version writes without keeping the entries, so stop those before opening
// the database with this one.
//
// Revisions and the change history (userprops.Property.Revision, SetIf,
// DeleteIf, Watch, HeadRevision) live in a sequence, userprops_revisions
// (the revisions given), and two more tables, userprops_trimmed (one row:
// the latest revision trimmed from the history) and userprops_history (one
// row a change, by revision); history.go describes them exactly. Each write
// draws its revisions from the sequence in its own transaction, after its
// account's lock, and writes its changes to the history and trims it
// (userprops.WithHistory: count and age) in that transaction; writes of
// different accounts draw and commit in parallel, across processes too. A
// revision drawn by a write that then fails is never used: revisions
// increase, but not one by one. Since a write drawn earlier may commit
// later, each write, before it draws, takes a transaction-level advisory
// lock that every session sees at once, keyed by the next revision the
// sequence will give; readers (Watch, HeadRevision) read the sequence, then
// the locks held (pg_locks), then the history in a later snapshot, and go
// no further than the safe revision: one below the smallest revision still
// held by a write in flight. So a watcher that has read revision 12 never
// finds 11 committed later; a write in flight holds back what comes after
// it until it commits or rolls back. SetIf and DeleteIf compare the
// revision under the account's lock, in the transaction of the write, and
// Get reports a property's committed revision, in the order of its
// account's changes; HeadRevision, not the largest revision a Get has
// shown, is where a Watch of every account that follows a read of many
// properties should start. Watchers wake up on the notifications that every
// writing process sends on the schema's channel (userprops.<schema>) after
// its commits, which each Store listens to on a connection of its own,
// opened again when it is lost; so a watcher sees the writes of every
// process on the database.
//
// What revisions cost: writes no longer wait for each other, but each does
// more work than before revisions: a history row, the trimming, two more
// statements (the revision lock and the safe revision, the latter mostly a
// sequence read), and its share of the notifications. Measured with
// BenchmarkSet here (fsync on, 2 shared cores, 3 runs of each version
// taking turns, medians of ms a Set, history kept at its default), before
// revisions (schema 3), with the counter (schema 4), and now: 1 writer
// 0.60, 0.87, 0.72; 4 writers 0.26, 0.72, 0.33; 32 writers 0.19, 1.45,
// 0.28. So about 0.8x the throughput of a Set without revisions with 1 and
// 4 writers and 0.67x with 32, where the two cores are the limit, against
// 0.68x, 0.37x and 0.13x with the counter. The commit of a write goes in
// its last batch, so a Set takes two round trips, not three.
// Schema version 4 added revisions, with a counter row that every write
// updated, so that revisions committed in their order but one commit at a
// time on the whole database (about 650 to 1,200 Sets a second at any
// number of writers); version 5 replaced it with the sequence. Open
// migrates a database of version 4, taking the counter's table first (a
// write of version 4 in flight commits before the sequence starts after
// it; those after fail: the counter is gone). Stop the processes of an
// older version first all the same.
//
// IDs and keys are bytea, not text, because the rules allow NUL in them,
// which PostgreSQL text cannot hold; bytea also sorts byte-wise, as Keys must,
// whatever the database's collation (the effect of COLLATE "C" on text), and
// Keys reads them in order from the primary key's index. Values are bytea so
// that they come back byte for byte whatever the database's encoding: jsonb
// would normalise them.
//
// Tables are created unqualified, in the first schema of the search_path; a
// search_path in the connection string (…?search_path=tenant_a) gives each
// store its own tables.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userprops/userprops"
)

// Store is a userprops.Store kept in PostgreSQL.
//
// It is safe for concurrent use by multiple goroutines and by many processes
// sharing one database. Set and Delete return once the database has
// committed the change (with its usual durability: synchronous_commit).
// Revisions are store-wide across every process on the database, and a
// Watch on one Store sees the changes made through any other; a write in
// flight holds back the changes after it from every watcher until it ends
// (see HeadRevision).
// A Set is one transaction under its account's lock, with an upsert that
// returns the new version, so Created and Updated are exact under any
// concurrency, across processes too, and so are the account limits.
//
// Reads stop when their context ends. A write stops while it waits for a
// connection; once its statement is sent, it runs to the end (at most
// WriteTimeout), so that a write that reports a context error never lands.
type Store struct {
	gate     *userprops.Gate
	pool     *pgxpool.Pool
	log      *slog.Logger
	channel  string           // of the notifications (channelName)
	signal   userprops.Signal // wakes the watchers
	listener *listener        // feeds signal from the channel
	notifier *notifier        // notifies the channel of commits

	revisionSpace uint32        // the sequence's OID, which keys the revision locks
	safeMax       atomic.Uint64 // the highest safe revision found (see safe)
	rechecking    atomic.Bool   // a recheckSoon is pending
}

var _ userprops.Store = (*Store)(nil)

// WriteTimeout bounds a write once its statement is sent; past it the
// outcome is unknown and the error says so.
const WriteTimeout = 30 * time.Second

// Open connects to the database at dsn (a PostgreSQL URL or key=value
// string, as pgx reads it), creates or migrates the schema, and returns the
// store. It accepts userprops.WithDirectory, userprops.WithClock,
// userprops.WithAccountLimits, userprops.WithIndex, userprops.WithHistory
// and WithLogger. Besides its pool, the store holds two connections until
// Close: one listens for the notifications of changes, one sends them.
// Each index declared with WithIndex that the database lacks (or has not
// finished) is built before Open returns, as AddIndex does; the indexes the
// database keeps but opts do not declare are kept and used all the same.
//
// Processes that open one database at once are safe: the schema is created
// under an advisory lock. A database whose schema is newer than this
// version of the package understands is refused with an error wrapping
// userprops.ErrFormatVersion.
func Open(ctx context.Context, dsn string, opts ...userprops.Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("userprops: postgres: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("userprops: postgres: %v", err)
	}
	s := &Store{gate: userprops.NewGate(opts...), pool: pool, log: newConfig(opts).log}
	if err := s.retry(ctx, true, func(ctx context.Context) error { return migrate(ctx, pool) }); err != nil {
		pool.Close()
		return nil, s.wrap(ctx, "opening", err)
	}
	if err := s.openIndexes(ctx); err != nil {
		pool.Close()
		return nil, s.wrap(ctx, "opening", err)
	}
	err = s.retry(ctx, true, func(ctx context.Context) error {
		if s.revisionSpace, err = revisionSpace(ctx, pool); err != nil {
			return err
		}
		s.channel, err = channelName(ctx, pool)
		return err
	})
	if err == nil {
		err = s.startListener(ctx)
	}
	if err == nil {
		if err = s.startNotifier(ctx); err != nil {
			s.listener.stop()
		}
	}
	if err != nil {
		pool.Close()
		return nil, s.wrap(ctx, "opening", err)
	}
	return s, nil
}

// Set implements userprops.Store.
func (s *Store) Set(ctx context.Context, accountID, key string, value []byte) (userprops.Status, error) {
	if err := s.gate.AdmitSet(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	version, _, err := s.set(ctx, accountID, key, value, nil)
	if err != nil {
		return 0, err
	}
	if version == 1 {
		return userprops.Created, nil
	}
	return userprops.Updated, nil
}

// SetIf implements userprops.Store: the revision is compared under the
// account's lock, in the transaction of the write, so that of concurrent
// SetIfs on one revision, from any number of processes, one succeeds.
func (s *Store) SetIf(ctx context.Context, accountID, key string, value []byte, revision uint64) (uint64, error) {
	if err := s.gate.AdmitSetIf(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	_, rev, err := s.set(ctx, accountID, key, value, &revision)
	return rev, err
}

// set stores a property after its admission, if it is at revision *cond
// (when cond is not nil), and returns its new version and revision.
func (s *Store) set(ctx context.Context, accountID, key string, value []byte, cond *uint64) (version int64, revision uint64, err error) {
	err = s.write(ctx, false, func(ctx context.Context, conn *pgxpool.Conn) error {
		id, k := []byte(accountID), []byte(key)
		// One round trip: begin, lock the account's row (reading its
		// usage), and read the size of the property it replaces. Each
		// statement reads what was committed before it started, so the
		// second sees every write of the account before the lock.
		// The value it replaces is read only if the key has indexes,
		// whose entries move from its terms to the new value's.
		var before userprops.Usage
		var oldBytes, oldRevision *int64
		var old []byte
		var idx []keyIndex
		var sp safePoint
		b := s.beginWrite(&sp)
		b.Queue(lockAccount, id).QueryRow(func(row pgx.Row) error {
			return row.Scan(&before.Properties, &before.Bytes)
		})
		b.Queue(`SELECT length(key) + length(value), revision, CASE WHEN `+hasIndex+` THEN value END
FROM userprops_properties WHERE account_id = $1 AND key = $2`,
			id, k).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&oldBytes, &oldRevision, &old); !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			return nil
		})
		queueKeyIndexes(b, key, &idx)
		br := conn.SendBatch(ctx, b)
		tx := br.Tx()
		defer rollback(ctx, tx)
		if err := br.Close(); err != nil {
			return err
		}
		if cond != nil {
			if err := userprops.CheckRevision(accountID, key, revisionOf(oldRevision), *cond); err != nil {
				return err
			}
		}
		replaced := userprops.NoProperty
		if oldBytes != nil {
			replaced = *oldBytes
		}
		after := before.Change(replaced, userprops.PropertyBytes(key, value))
		if err := s.gate.CheckUsage(accountID, before, after); err != nil {
			return err
		}
		b = &pgx.Batch{}
		var c changeRows
		c.add(id, k, value)
		s.queueChanges(b, c, s.safe(sp))
		b.Queue(upsert, id, k, value, s.gate.Now().UnixNano()).QueryRow(func(row pgx.Row) error {
			var rev int64
			err := row.Scan(&version, &rev)
			revision = uint64(rev)
			return err
		})
		b.Queue(`UPDATE userprops_accounts SET properties = $2, bytes = $3 WHERE account_id = $1`,
			id, after.Properties, after.Bytes)
		changes := diffEntries(idx, old, value)
		changes.queue(b, id)
		return commitWith(ctx, tx, b, accountID, key)
	})
	if err != nil {
		return 0, 0, s.wrap(ctx, "set", err)
	}
	s.committed()
	return version, revision, nil
}

// revisionOf returns the revision a write read, 0 for a missing property.
func revisionOf(rev *int64) uint64 {
	if rev == nil {
		return 0
	}
	return uint64(*rev)
}

// The statements of a Set.
const (
	// lockAccount locks the row of an account, creating it for an account
	// with no properties, and returns its usage.
	lockAccount = `
INSERT INTO userprops_accounts AS a (account_id, properties, bytes) VALUES ($1, 0, 0)
ON CONFLICT (account_id) DO UPDATE SET properties = a.properties
RETURNING properties, bytes`

	// upsert writes the property at the revision queueChanges took.
	upsert = `
INSERT INTO userprops_properties AS p (account_id, key, value, version, updated_at_ns, revision)
VALUES ($1, $2, $3, 1, $4, ` + lastRevision + `)
ON CONFLICT (account_id, key) DO UPDATE
SET value = excluded.value, version = p.version + 1, updated_at_ns = excluded.updated_at_ns,
	revision = excluded.revision
RETURNING version, revision`
)

// Get implements userprops.Store.
func (s *Store) Get(ctx context.Context, accountID, key string) (userprops.Property, error) {
	if err := s.gate.AdmitGet(ctx, accountID, key); err != nil {
		return userprops.Property{}, err
	}
	p := userprops.Property{AccountID: accountID, Key: key}
	var version, updated, revision int64
	err := s.retry(ctx, true, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx,
			`SELECT value, version, updated_at_ns, revision FROM userprops_properties WHERE account_id = $1 AND key = $2`,
			[]byte(accountID), []byte(key)).Scan(&p.Value, &version, &updated, &revision)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return userprops.Property{}, userprops.NotFound(accountID, key)
	}
	if err != nil {
		return userprops.Property{}, s.wrap(ctx, "get", err)
	}
	p.Version, p.UpdatedAt, p.Revision = uint64(version), time.Unix(0, updated).UTC(), uint64(revision)
	return p, nil
}

// Delete implements userprops.Store.
func (s *Store) Delete(ctx context.Context, accountID, key string) error {
	if err := s.gate.AdmitDelete(ctx, accountID, key); err != nil {
		return err
	}
	return s.delete(ctx, accountID, key, nil)
}

// DeleteIf implements userprops.Store: as SetIf, under the account's lock.
func (s *Store) DeleteIf(ctx context.Context, accountID, key string, revision uint64) error {
	if err := s.gate.AdmitDeleteIf(ctx, accountID, key); err != nil {
		return err
	}
	return s.delete(ctx, accountID, key, &revision)
}

// delete removes a property after its admission, if it is at revision
// *cond (when cond is not nil).
func (s *Store) delete(ctx context.Context, accountID, key string, cond *uint64) error {
	var deleted int64
	var current *int64
	var want any // NULL: any revision
	if cond != nil {
		want = int64(min(*cond, math.MaxInt64))
	}
	err := s.write(ctx, false, func(ctx context.Context, conn *pgxpool.Conn) error {
		// As a Set does: the account's row first (an account without
		// one has no properties), then the property, in statements of
		// their own, so that the delete sees every write before the
		// lock.
		id := []byte(accountID)
		var old []byte
		var idx []keyIndex
		var sp safePoint
		b := s.beginWrite(&sp)
		b.Queue(`SELECT 1 FROM userprops_accounts WHERE account_id = $1 FOR UPDATE`, id)
		queueKeyIndexes(b, key, &idx)
		if cond != nil {
			b.Queue(`SELECT revision FROM userprops_properties WHERE account_id = $1 AND key = $2`,
				id, []byte(key)).QueryRow(func(row pgx.Row) error {
				if err := row.Scan(&current); !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				return nil
			})
		}
		b.Queue(deleteProperty, id, []byte(key), want).QueryRow(func(row pgx.Row) error {
			return row.Scan(&deleted, &old)
		})
		br := conn.SendBatch(ctx, b)
		tx := br.Tx()
		defer rollback(ctx, tx)
		if err := br.Close(); err != nil {
			return err
		}
		if cond != nil && !(*cond == 0 && current == nil) {
			if err := userprops.CheckRevision(accountID, key, revisionOf(current), *cond); err != nil {
				return err
			}
		}
		if deleted == 0 {
			return nil
		}
		b = &pgx.Batch{}
		var c changeRows
		c.add(id, []byte(key), nil)
		s.queueChanges(b, c, s.safe(sp))
		changes := diffEntries(idx, old, nil)
		changes.queue(b, id)
		return commitWith(ctx, tx, b, accountID, key)
	})
	if err != nil {
		return s.wrap(ctx, "delete", err)
	}
	if deleted == 0 {
		return userprops.NotFound(accountID, key)
	}
	s.committed()
	return nil
}

// deleteProperty deletes a property, if it is at revision $3 (NULL: any),
// takes it off its account's usage, and returns the number of properties
// deleted and, if its key has indexes, the value deleted (whose entries go
// with it).
const deleteProperty = `
WITH d AS (
	DELETE FROM userprops_properties WHERE account_id = $1 AND key = $2 AND ($3::bigint IS NULL OR revision = $3)
	RETURNING length(key) + length(value) AS n, value
), u AS (
	UPDATE userprops_accounts a SET properties = a.properties - 1, bytes = a.bytes - d.n
	FROM d WHERE a.account_id = $1
)
SELECT count(*), (SELECT value FROM d WHERE ` + hasIndex + `) FROM d`

// Keys implements userprops.Store.
func (s *Store) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := s.gate.AdmitKeys(ctx, accountID); err != nil {
		return nil, err
	}
	var keys []string
	err := s.retry(ctx, true, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`SELECT key FROM userprops_properties WHERE account_id = $1 ORDER BY key`, []byte(accountID))
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
			var k []byte
			err := row.Scan(&k)
			return string(k), err
		})
		return err
	})
	if err != nil {
		return nil, s.wrap(ctx, "keys", err)
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}

// Close implements userprops.Store: it waits for the calls in flight and
// closes the connections.
func (s *Store) Close() error {
	if s.gate.MarkClosed() {
		s.listener.stop()
		s.notifier.stop()
		s.signal.Close()
		s.pool.Close()
	}
	return nil
}

// writeTx begins every write's transaction. Read committed, whatever the
// connection's default, so that each statement reads in a snapshot of its
// own: the second of a Set sees the writes before its account's lock, and
// the trimming sees every change up to the safe revision of the first
// batch (see history.go).
var writeTx = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// commitWith sends b, the last batch of a write's transaction tx, with the
// commit at its end: one round trip, not two. With beforeCommit set, it
// sends b, calls it, and commits after.
func commitWith(ctx context.Context, tx pgx.Tx, b *pgx.Batch, accountID, key string) error {
	if beforeCommit == nil {
		b.Queue(`COMMIT`)
		return tx.SendBatch(ctx, b).Close()
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if err := beforeCommit(accountID, key); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// rollback rolls tx back unless it has ended (commitWith commits it without
// pgx knowing): the deferred end of every write's transaction.
func rollback(ctx context.Context, tx pgx.Tx) {
	if tx.Conn().PgConn().TxStatus() != 'I' {
		tx.Rollback(ctx)
	}
}

// beforeCommit, if not nil, runs in every write after its last batch (its
// revisions drawn) and before its commit, with its account and key ("" for
// DeleteAccount's key and Restore's): an error rolls the write back and is
// its error. Tests set it (SetBeforeCommit) to hold writes open, or to fail
// them.
var beforeCommit func(accountID, key string) error

// write runs a write on a connection of its own. Waiting for the connection
// stops with ctx; the statement itself runs under a context that ctx cannot
// cancel (bounded by WriteTimeout), so that a write is either reported as
// failed and absent, or done. Only failures where the database certainly did
// not apply the statement are retried, unless idempotent says that running
// fn again after an unknown outcome leaves what running it once does (see
// retry).
func (s *Store) write(ctx context.Context, idempotent bool, fn func(context.Context, *pgxpool.Conn) error) error {
	return s.retry(ctx, idempotent, func(ctx context.Context) error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), WriteTimeout)
		defer cancel()
		return fn(wctx, conn)
	})
}

// retry runs fn until it succeeds, fails for good, or ctx ends, backing off
// between attempts. idempotent says whether fn may run again after a failure
// whose effect is unknown (a lost connection); otherwise only failures that
// left the database untouched are retried: a serialization failure or
// deadlock (the transaction was rolled back) or a request never sent.
func (s *Store) retry(ctx context.Context, idempotent bool, fn func(context.Context) error) error {
	const attempts = 6
	delay := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || attempt == attempts || !transient(err, idempotent) || ctx.Err() != nil {
			return err
		}
		jittered := delay/2 + time.Duration(rand.Int64N(int64(delay)))
		select {
		case <-time.After(jittered):
		case <-ctx.Done():
			return err
		}
		delay *= 2
	}
}

// transient reports whether err is worth another attempt.
func transient(err error, idempotent bool) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected: rolled back
			return true
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return idempotent
		}
		return idempotent && len(pgErr.Code) == 5 && pgErr.Code[:2] == "08" // connection_exception
	}
	// A connection broken under the statement: the outcome is unknown.
	var netErr net.Error
	return idempotent && !pgconn.Timeout(err) &&
		(errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}

// wrap translates an error of the driver: the context's own error when the
// context has ended, ErrClosed after Close, and otherwise the error as text,
// so that no driver type leaks to callers.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.gate.Closed() {
		return userprops.ErrClosed
	}
	if errors.Is(err, userprops.ErrFormatVersion) || errors.Is(err, userprops.ErrAccountFull) ||
		errors.Is(err, userprops.ErrRevisionMismatch) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: postgres: %s: no answer within %v", userprops.ErrOutcomeUnknown, op, WriteTimeout)
	}
	return fmt.Errorf("userprops: postgres: %s: %v", op, err)
}
