package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userprops/userprops"
)

// Revisions and the change history. Three tables (schema version 4):
//
//	userprops_revision (      -- one row
//	    revision bigint,      -- the latest revision given
//	    trimmed  bigint)      -- the latest revision trimmed from the history
//
//	userprops_history (
//	    revision        bigint PRIMARY KEY,
//	    account_id, key bytea,
//	    deleted         boolean,
//	    value           bytea,   -- NULL for a delete
//	    committed_at_ns bigint)  -- the writing process's clock
//
// and a revision column on userprops_properties. Every write takes its
// revisions by updating the counter row (UPDATE … SET revision = revision +
// n) in its own transaction, after it has locked its accounts, and writes
// its history rows, its properties' revisions, the trimming and a NOTIFY in
// the same transaction. The row stays locked until the transaction ends, so
// writers that change something take their revisions one after another and
// commit in that order: a reader that sees revision r sees every revision
// below it, and Watch can read the history up to the counter without
// skipping a change that commits late (as sequence values, taken without a
// lock, would). The price is that committing writes are serialised, across
// every process sharing the database: see the package documentation for
// what it costs.
//
// Trimming (userprops.WithHistory) happens in each write's transaction too:
// it deletes the changes at or below head-maxChanges and, with an age,
// those older than maxAge by the writing process's clock (at most
// ageTrimBatch of them per write, so that a write after a long quiet time
// does bounded work and the next writes catch up), always from the oldest
// on and never the latest, and records the latest revision it deleted in
// trimmed. Each write deletes only above the previous trimmed, so no scan
// walks over rows deleted before. Processes with different retentions share
// one history: the shortest wins.
//
// Notifications: each write's transaction sends pg_notify on the store's
// channel (see channelName) with its latest revision, which PostgreSQL
// delivers when it commits. Each Store listens on a connection of its own
// and wakes its watchers; they read the rows themselves. A listening
// connection that is lost is opened again, and the watchers are woken then,
// so that what committed meanwhile is read.

// ageTrimBatch bounds how many changes one write trims for their age.
const ageTrimBatch = 256

// changeRows are the changes of one write, as parallel arrays for unnest,
// in the order they take their revisions; a nil value is a delete.
type changeRows struct {
	ids, keys, values [][]byte
}

func (c *changeRows) add(accountID, key, value []byte) {
	c.ids, c.keys, c.values = append(c.ids, accountID), append(c.keys, key), append(c.values, value)
}

// headRevision is an SQL expression for the counter: after queueChanges, in
// the same transaction, the write's last revision; its first is
// headRevision - n + 1.
const headRevision = `(SELECT revision FROM userprops_revision)`

// queueChanges queues, at the start of a write's last batch (after it has
// locked its accounts and read what it replaces), the statements that take
// len(c.ids) revisions, record the changes in the history, trim it, and
// notify the listeners on commit. The statements that follow it in the
// transaction find the write's last revision in headRevision. It does
// nothing for a write without changes, which takes no revision.
func (s *Store) queueChanges(b *pgx.Batch, c changeRows) {
	n := int64(len(c.ids))
	if n == 0 {
		return
	}
	b.Queue(`UPDATE userprops_revision SET revision = revision + $1`, n)
	b.Queue(`INSERT INTO userprops_history (revision, account_id, key, deleted, value, committed_at_ns)
SELECT r.revision - $1 + u.n, u.account_id, u.key, u.value IS NULL, u.value, $5
FROM userprops_revision r, unnest($2::bytea[], $3::bytea[], $4::bytea[]) WITH ORDINALITY AS u(account_id, key, value, n)`,
		n, c.ids, c.keys, c.values, s.gate.Now().UnixNano())
	maxChanges, maxAge := s.gate.History()
	if maxAge > 0 {
		b.Queue(trimByAge, int64(maxChanges), s.gate.Now().Add(-maxAge).UnixNano())
	} else {
		b.Queue(trimByCount, int64(maxChanges))
	}
	b.Queue(`SELECT pg_notify($1, `+headRevision+`::text)`, s.channel)
}

// trimByCount trims the history to the latest $1 changes.
const trimByCount = `
WITH t AS (SELECT trimmed AS old, revision - $1 AS new FROM userprops_revision),
d AS (DELETE FROM userprops_history h USING t WHERE h.revision > t.old AND h.revision <= t.new)
UPDATE userprops_revision SET trimmed = t.new FROM t WHERE t.new > t.old`

// trimByAge trims the history to the latest $1 changes, and then those
// committed before $2 (nanoseconds), the oldest first, at most ageTrimBatch,
// keeping the latest.
var trimByAge = fmt.Sprintf(`
WITH t AS (SELECT trimmed AS old, greatest(c.revision - $1, coalesce((
	SELECT max(o.revision) FROM (
		SELECT h.revision, h.committed_at_ns FROM userprops_history h
		WHERE h.revision > c.trimmed ORDER BY h.revision LIMIT %d) o
	WHERE o.committed_at_ns < $2 AND o.revision < c.revision), 0)) AS new
	FROM userprops_revision c),
d AS (DELETE FROM userprops_history h USING t WHERE h.revision > t.old AND h.revision <= t.new)
UPDATE userprops_revision SET trimmed = t.new FROM t WHERE t.new > t.old`, ageTrimBatch)

// history is the store's change history as userprops.WatchHistory reads it.
type history struct{ s *Store }

// The statements of ReadChanges: the counter row, and beside it the changes
// after $1, at most $2 (of account $3), in one snapshot.
var (
	readChanges        = readChangesWhere(`revision > $1`)
	readAccountChanges = readChangesWhere(`account_id = $3 AND revision > $1`)
)

func readChangesWhere(cond string) string {
	return `
SELECT c.revision, c.trimmed, h.revision, h.account_id, h.key, h.value
FROM userprops_revision c LEFT JOIN LATERAL (
	SELECT revision, account_id, key, value FROM userprops_history
	WHERE ` + cond + ` ORDER BY revision LIMIT $2) h ON true
ORDER BY h.revision`
}

// ReadChanges implements userprops.ChangeSource, in one statement: the
// counter and the changes in one snapshot. Since revisions commit in their
// order, every change up to the counter it reads is in that snapshot.
func (h history) ReadChanges(ctx context.Context, accountID string, after uint64, limit int) (changes []userprops.Change, through, oldest, head uint64, err error) {
	from := int64(min(after, math.MaxInt64)) // FromNow
	err = h.s.retry(ctx, true, func(ctx context.Context) error {
		changes = nil
		var rows pgx.Rows
		var err error
		if accountID == "" {
			rows, err = h.s.pool.Query(ctx, readChanges, from, limit)
		} else {
			rows, err = h.s.pool.Query(ctx, readAccountChanges, from, limit, []byte(accountID))
		}
		if err != nil {
			return err
		}
		var counter, trimmed int64
		var rev *int64
		var id, key, value []byte
		_, err = pgx.ForEachRow(rows, []any{&counter, &trimmed, &rev, &id, &key, &value}, func() error {
			if rev != nil {
				changes = append(changes, userprops.Change{AccountID: string(id), Key: string(key),
					Revision: uint64(*rev), Deleted: value == nil, Value: value})
				value = nil // the next row must not write into this one's
			}
			return nil
		})
		head, oldest = uint64(counter), uint64(trimmed)+1
		return err
	})
	if err != nil {
		return nil, 0, 0, 0, h.s.wrap(ctx, "watch", err)
	}
	through = max(after, head)
	if len(changes) == limit {
		through = changes[len(changes)-1].Revision
	}
	return changes, through, oldest, head, nil
}

// Watch implements userprops.Store: from the history table, woken by the
// notifications of every process that writes to the database, so that a
// watcher sees the changes made through any Store on it. A watcher holds no
// connection while it waits; each read borrows one from the pool.
func (s *Store) Watch(ctx context.Context, accountID string, after uint64) iter.Seq2[userprops.Change, error] {
	if err := s.gate.AdmitWatch(ctx, accountID); err != nil {
		return func(yield func(userprops.Change, error) bool) { yield(userprops.Change{}, err) }
	}
	return userprops.WatchHistory(ctx, s.gate, history{s}, &s.signal, accountID, after)
}

// channelName returns the channel of the store's notifications: one per
// schema, since channels are shared by the whole database, and each store
// keeps its tables in the first schema of its search_path. It is
// "userprops." and the schema's name, or a digest of it for a name too long
// for a channel (63 bytes).
func channelName(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", err
	}
	if schema == nil {
		return "", fmt.Errorf("no schema of the search_path exists")
	}
	name := "userprops." + *schema
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(*schema))
		name = "userprops." + hex.EncodeToString(sum[:16])
	}
	return name, nil
}

// listener wakes a store's watchers when a notification arrives on its
// channel, on a connection of its own.
type listener struct {
	cfg     *pgx.ConnConfig
	channel string
	sig     *userprops.Signal
	s       *Store
	cancel  context.CancelFunc
	done    chan struct{}
}

// startListener connects and listens, then goes on in a goroutine until
// stop.
func (s *Store) startListener(ctx context.Context) error {
	l := &listener{cfg: s.pool.Config().ConnConfig.Copy(), channel: s.channel, sig: &s.signal, s: s,
		done: make(chan struct{})}
	conn, err := l.connect(ctx)
	if err != nil {
		return fmt.Errorf("listening for changes: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	s.listener = l
	go l.run(lctx, conn)
	return nil
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// run waits for notifications on conn, and opens it again when it is lost,
// backing off, until ctx ends. After each reconnection it wakes the
// watchers, since notifications sent meanwhile are lost.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	delay := 10 * time.Millisecond
	for {
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				if ctx.Err() == nil {
					l.s.log.Warn("userprops: postgres: the connection listening for changes was lost; reconnecting",
						"error", err)
				}
				break
			}
			l.sig.Notify()
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		for conn = nil; conn == nil; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			c, err := l.connect(ctx)
			if err != nil {
				delay = min(2*delay, 5*time.Second)
				continue
			}
			conn, delay = c, 10*time.Millisecond
		}
		l.sig.Notify()
	}
}

// stop ends run and waits for it.
func (l *listener) stop() {
	l.cancel()
	<-l.done
}
