package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userprops/userprops"
)

// Revisions and the change history (schema version 5): a sequence, two
// tables and advisory locks.
//
//	userprops_revisions      -- a sequence (CACHE 1): the revisions given
//
//	userprops_trimmed (      -- one row
//	    trimmed bigint)      -- the latest revision trimmed from the history
//
//	userprops_history (
//	    revision        bigint PRIMARY KEY,
//	    account_id, key bytea,
//	    deleted         boolean,
//	    value           bytea,   -- NULL for a delete
//	    committed_at_ns bigint)  -- the writing process's clock
//
// and a revision column on userprops_properties.
//
// Giving revisions. A write draws its revisions with nextval, after it has
// locked its accounts, so that the revisions of one account's changes
// follow the order in which they commit; writes of different accounts draw
// and commit in parallel. A sequence is not transactional: a write drawn
// before another may commit after it, or never (its revisions are then
// never used, and the history has a hole there). So that no reader
// delivers revision r+1 and later finds r committed, each write first
// registers itself where every session can see it at once, before its
// commit: in the statement before the one that draws, it takes a
// transaction-level advisory lock, shared, keyed by (the sequence's OID,
// the low 32 bits of k), where k is the next value the sequence will give,
// read in that statement. Every revision the write then draws is at least
// k, and PostgreSQL releases the lock only after the commit (or the
// rollback) is done and visible.
//
// The safe revision. A reader reads, in this order: L, the latest revision
// the sequence gave; then the revision locks held, from pg_locks (each key
// unwrapped to the k nearest L); and then, in a statement of its own whose
// snapshot is taken after both, the history. The safe revision is
// L, or one below the smallest k held if that is lower; readers deliver
// the history up to it, and it is the head they report. It is gap-free:
// take a revision q at or below the safe revision, drawn by a write W. q is
// at most L, so W drew it before L was read, and took its lock before
// that. If W were still running when pg_locks was read, its lock, keyed at
// most q, would have made the safe revision lower than q; so W had ended,
// committed or rolled back, and if it committed, the snapshot taken after
// holds its changes. So every change up to the safe revision that will
// ever commit is in the reader's snapshot. A rolled-back write holds
// nothing back once it has ended: its lock is gone. This needs the
// sequence to hand out values in the order it records them (CACHE 1, as
// created; Check reports another cache size), a read committed snapshot
// for each statement (pgstore begins its transactions at that level), and
// no write that runs while 2^31 revisions are drawn (a key is 32 bits).
// A safe revision, once found, stays safe, so a Store reports the highest
// it had found when it sent its reads (not one found meanwhile by another
// goroutine, whose pg_locks read may come after this reader's snapshot);
// and a write that hangs with its lock holds back every watcher of the
// database until it ends. Readers do not see a rollback
// (it sends no notification), so a reader held back by a write in flight
// wakes its watchers again a moment later (recheckDelay).
//
// Trimming (userprops.WithHistory) happens in each write's transaction,
// by one write at a time: the write that gets a transaction-level advisory
// lock (trimLockKey) without waiting trims, the others skip it (and the
// next write catches up). It deletes the changes at or below its last
// revision minus maxChanges and, with an age, those older than maxAge by
// the writing process's clock (at most ageTrimBatch of them per write, so
// that a write after a long quiet time does bounded work and the next
// writes catch up), always from the oldest on and never the latest, and
// records the latest revision it deleted in trimmed. It trims nothing
// above a safe revision found before its last round trip, so every change
// it may trim has committed (or never will) and is in its snapshot: no
// change commits later at or below trimmed. A write reads that safe
// revision (the sequence and pg_locks) in its first round trip, unless the
// highest its Store has found already allows the whole trim by count; so
// with a long history most writes spare the read of pg_locks. Each trim deletes only above
// the previous trimmed, so no scan walks over rows deleted before.
// Processes with different retentions share one history: the shortest
// wins. Under concurrent writes the history may hold a few more changes
// than maxChanges, until the next write trims them.
//
// Notifications: after each write that changed something commits, the
// Store sends pg_notify on its channel (see channelName), from a connection
// of its own and not in the write's transaction (see notifier), coalescing
// those of many commits. Each Store listens on another connection of its
// own and wakes its watchers; they read the rows themselves. A listening
// connection that is lost is opened again, and the watchers are woken then,
// so that what committed meanwhile is read; and they are woken every
// pollInterval besides, for a notification lost with its process.

// ageTrimBatch bounds how many changes one write trims for their age.
const ageTrimBatch = 256

// recheckDelay is how soon the watchers read again after a read held back
// by a write in flight, in case that write rolls back (which notifies
// nobody).
const recheckDelay = 25 * time.Millisecond

// trimLockKey returns the key of the advisory lock (the bigint form) that
// the write trimming the history holds: "trim" and the sequence's OID, so
// that the stores of each schema have their own.
func (s *Store) trimLockKey() int64 { return 0x7472696d<<32 | int64(s.revisionSpace) }

// changeRows are the changes of one write, as parallel arrays for unnest,
// in the order they take their revisions; a nil value is a delete.
type changeRows struct {
	ids, keys, values [][]byte
}

func (c *changeRows) add(accountID, key, value []byte) {
	c.ids, c.keys, c.values = append(c.ids, accountID), append(c.keys, key), append(c.values, value)
}

// The statements that give revisions and find the safe one (see above).
const (
	// lockRevisions takes a write's revision lock: $1 is the sequence's
	// OID, as an integer.
	lockRevisions = `SELECT pg_advisory_xact_lock_shared($1,
	(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM userprops_revisions)::bit(32)::integer)`

	// insertHistory draws a revision for each change ($1 to $3, committed
	// at $4), in their order (unnest's), and records it in the history.
	insertHistory = `INSERT INTO userprops_history (revision, account_id, key, deleted, value, committed_at_ns)
SELECT nextval('userprops_revisions'), u.account_id, u.key, u.value IS NULL, u.value, $4
FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS u(account_id, key, value, n)`

	// lastRevision is, after insertHistory, the write's last revision.
	lastRevision = `currval('userprops_revisions')`

	// revisionsGiven returns L, the latest revision given (0 if none).
	revisionsGiven = `SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM userprops_revisions`

	// safeRevision returns L; whether it read the locks, which it does if
	// $2 is NULL or L plus one, less $3, is above $2 (see
	// queueSafePointFor); and if so the low 32 bits of the keys of the
	// revision locks held on the database ($1 is the sequence's OID). The
	// locks are read by a subquery that refers to L's row, so after L.
	safeRevision = `SELECT l.given, c.read, CASE WHEN c.read THEN array(SELECT objid FROM pg_locks
	WHERE l.given IS NOT NULL AND locktype = 'advisory' AND objsubid = 2 AND classid = $1
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) END
FROM (` + revisionsGiven + `) AS l(given),
	LATERAL (SELECT $2::bigint IS NULL OR l.given + 1 - $3::bigint > $2) AS c(read)`
)

// revisionSpace returns the OID of the sequence, which keys the revision
// locks of the schema.
func revisionSpace(ctx context.Context, pool *pgxpool.Pool) (uint32, error) {
	var oid uint32
	err := pool.QueryRow(ctx, `SELECT 'userprops_revisions'::regclass::oid`).Scan(&oid)
	return oid, err
}

// safePoint is what a reader reads to find the safe revision.
type safePoint struct {
	given int64    // L: the latest revision given
	read  bool     // whether the locks were read
	held  []uint32 // the low 32 bits of the revision locks held
	floor uint64   // the highest safe revision found before the reads were sent
}

// queueSafePoint queues the reads of the safe revision (L, then the
// locks). A statement queued after them reads in a snapshot taken after
// both, and holds every change up to p's safe revision that commits.
func (s *Store) queueSafePoint(b *pgx.Batch, p *safePoint) {
	s.queueSafePointFor(b, p, nil, 0)
}

// queueSafePointFor is queueSafePoint for a write that trims to
// maxChanges: if the highest safe revision found before, enough, is not
// below the write's last revision minus maxChanges (assuming it is the
// next revision given), it spares the read of pg_locks and reports that
// one (see safe). A write that trims by age always reads.
func (s *Store) queueSafePointFor(b *pgx.Batch, p *safePoint, enough *int64, maxChanges int) {
	p.floor = s.safeMax.Load()
	b.Queue(safeRevision, s.revisionSpace, enough, int64(maxChanges)).QueryRow(func(row pgx.Row) error {
		return row.Scan(&p.given, &p.read, &p.held)
	})
}

// beginWrite returns a write's first batch: its transaction begun, the
// indexes locked shared (see lockIndexesShared) and, into p, the reads of
// the safe revision that bounds its trimming.
func (s *Store) beginWrite(p *safePoint) *pgx.Batch {
	b := &pgx.Batch{}
	b.BeginTx(writeTx)
	b.Queue(lockIndexesShared, int64(indexLock))
	s.queueWriteSafePoint(b, p)
	return b
}

// queueWriteSafePoint queues, in a write's first batch, the reads of the
// safe revision that bounds its trimming.
func (s *Store) queueWriteSafePoint(b *pgx.Batch, p *safePoint) {
	maxChanges, maxAge := s.gate.History()
	if maxAge > 0 {
		s.queueSafePoint(b, p)
		return
	}
	enough := int64(min(s.safeMax.Load(), math.MaxInt64))
	s.queueSafePointFor(b, p, &enough, maxChanges)
	p.floor = min(p.floor, uint64(enough))
}

// safe returns the safe revision that p shows, or the highest this store
// had found before p's reads were sent if that is higher (a safe revision
// stays safe), or if p did not read the locks; and raises the store's
// highest. Not the highest found meanwhile: another goroutine may have
// found it after the snapshot that follows p's reads, which then need not
// hold every change up to it.
func (s *Store) safe(p safePoint) uint64 {
	if !p.read {
		return p.floor
	}
	safe := p.given
	for _, low := range p.held {
		// The k whose low 32 bits are low, nearest L.
		k := p.given + int64(int32(low-uint32(p.given)))
		safe = min(safe, k-1)
	}
	safe = max(safe, 0)
	for {
		found := s.safeMax.Load()
		if uint64(safe) <= found || s.safeMax.CompareAndSwap(found, uint64(safe)) {
			break
		}
	}
	return max(p.floor, uint64(safe))
}

// committed wakes the watchers after a commit that changed something: the
// store's own at once, the other processes' by a notification.
func (s *Store) committed() {
	s.signal.Notify()
	s.notifier.notify()
}

// recheckSoon wakes the watchers after recheckDelay, once for any number
// of calls meanwhile.
func (s *Store) recheckSoon() {
	if s.rechecking.CompareAndSwap(false, true) {
		time.AfterFunc(recheckDelay, func() {
			s.rechecking.Store(false)
			s.signal.Notify()
		})
	}
}

// queueChanges queues, at the start of a write's last batch (after it has
// locked its accounts and read what it replaces), the statements that take
// len(c.ids) revisions, record the changes in the history, and trim it up
// to safe at most (the safe revision read in the write's first batch); the
// write calls committed after its commit. The statements that follow it in the
// transaction find the write's last revision in lastRevision. It does
// nothing for a write without changes, which takes no revision.
func (s *Store) queueChanges(b *pgx.Batch, c changeRows, safe uint64) {
	if len(c.ids) == 0 {
		return
	}
	b.Queue(lockRevisions, int32(s.revisionSpace))
	b.Queue(insertHistory, c.ids, c.keys, c.values, s.gate.Now().UnixNano())
	s.queueTrim(b, safe)
}

// queueTrim queues, after a write's changes are in the history, the
// trimming.
func (s *Store) queueTrim(b *pgx.Batch, safe uint64) {
	maxChanges, maxAge := s.gate.History()
	limit := int64(min(safe, math.MaxInt64))
	if maxAge > 0 {
		b.Queue(trimByAge, int64(maxChanges), s.gate.Now().Add(-maxAge).UnixNano(), limit, s.trimLockKey())
	} else {
		b.Queue(trimByCount, int64(maxChanges), limit, s.trimLockKey())
	}
}

// trimByCount trims the history to the latest $1 changes, up to $2 at
// most, if the write gets the lock $3.
const trimByCount = `
WITH t AS (SELECT trimmed AS old, least(` + lastRevision + ` - $1, $2) AS new FROM userprops_trimmed
	WHERE pg_try_advisory_xact_lock($3)),
d AS (DELETE FROM userprops_history h USING t WHERE h.revision > t.old AND h.revision <= t.new)
UPDATE userprops_trimmed c SET trimmed = greatest(c.trimmed, t.new) FROM t WHERE t.new > t.old`

// trimByAge trims the history to the latest $1 changes, and then those
// committed before $2 (nanoseconds), the oldest first, at most ageTrimBatch,
// up to $3 at most, if the write gets the lock $4. $3 is below the write's
// revisions, so the latest change is kept.
var trimByAge = fmt.Sprintf(`
WITH t AS (SELECT trimmed AS old, greatest(least(`+lastRevision+` - $1, $3), coalesce((
	SELECT max(o.revision) FROM (
		SELECT h.revision, h.committed_at_ns FROM userprops_history h
		WHERE h.revision > c.trimmed ORDER BY h.revision LIMIT %d) o
	WHERE o.committed_at_ns < $2 AND o.revision <= $3), 0)) AS new
	FROM userprops_trimmed c WHERE pg_try_advisory_xact_lock($4)),
d AS (DELETE FROM userprops_history h USING t WHERE h.revision > t.old AND h.revision <= t.new)
UPDATE userprops_trimmed c SET trimmed = greatest(c.trimmed, t.new) FROM t WHERE t.new > t.old`, ageTrimBatch)

// history is the store's change history as userprops.WatchHistory reads it.
type history struct{ s *Store }

// The statements of ReadChanges: the trimmed mark, and beside it the
// changes after $1, at most $2 (of account $3), in one snapshot.
var (
	readChanges        = readChangesWhere(`revision > $1`)
	readAccountChanges = readChangesWhere(`account_id = $3 AND revision > $1`)
)

func readChangesWhere(cond string) string {
	return `
SELECT c.trimmed, h.revision, h.account_id, h.key, h.value
FROM userprops_trimmed c LEFT JOIN LATERAL (
	SELECT revision, account_id, key, value FROM userprops_history
	WHERE ` + cond + ` ORDER BY revision LIMIT $2) h ON true
ORDER BY h.revision`
}

// ReadChanges implements userprops.ChangeSource, in one round trip: the
// safe revision (see queueSafePoint), then the trimmed mark and the changes
// in a snapshot taken after it, of which it returns those up to the safe
// revision. Every change up to it that commits is in that snapshot, so
// none is skipped; the head it reports is the safe revision, or after if
// after is above it and a revision given (its changes are not all safe
// yet: the watcher waits, as for the changes after the head). A read held
// back by a write in flight wakes the watchers again soon (recheckSoon).
func (h history) ReadChanges(ctx context.Context, accountID string, after uint64, limit int) (changes []userprops.Change, through, oldest, head uint64, err error) {
	from := int64(min(after, math.MaxInt64)) // FromNow
	var safe uint64
	var given int64
	err = h.s.retry(ctx, true, func(ctx context.Context) error {
		changes = nil
		var p safePoint
		var trimmed int64
		b := &pgx.Batch{}
		// Each statement in a snapshot of its own, whatever the
		// connection's default isolation.
		b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED, READ ONLY`)
		h.s.queueSafePoint(b, &p)
		query, args := readChanges, []any{from, limit}
		if accountID != "" {
			query, args = readAccountChanges, append(args, []byte(accountID))
		}
		b.Queue(query, args...).Query(func(rows pgx.Rows) error {
			var rev *int64
			var id, key, value []byte
			_, err := pgx.ForEachRow(rows, []any{&trimmed, &rev, &id, &key, &value}, func() error {
				if rev != nil {
					changes = append(changes, userprops.Change{AccountID: string(id), Key: string(key),
						Revision: uint64(*rev), Deleted: value == nil, Value: value})
					value = nil // the next row must not write into this one's
				}
				return nil
			})
			return err
		})
		b.Queue(`COMMIT`)
		if err := h.s.pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		safe, given, oldest = h.s.safe(p), p.given, uint64(trimmed)+1
		return nil
	})
	if err != nil {
		return nil, 0, 0, 0, h.s.wrap(ctx, "watch", err)
	}
	if safe < uint64(given) {
		h.s.recheckSoon()
	}
	full := len(changes) == limit
	if i := slices.IndexFunc(changes, func(c userprops.Change) bool { return c.Revision > safe }); i >= 0 {
		changes, full = changes[:i], false
	}
	head = safe
	if after > safe && after <= uint64(given) {
		head = after
	}
	through = max(after, safe)
	if full {
		through = changes[len(changes)-1].Revision
	}
	return changes, through, oldest, head, nil
}

// HeadRevision returns the store's latest revision: every change with a revision up to it is committed
// and readable by Watch, and a Watch from it delivers exactly the changes made after. 0 for a store with no change yet.
//
// It is the safe revision (see history.go): the writes in flight, of any
// process on the database, hold it below the revisions they have drawn
// until they end, so it may be below a revision that Set or SetIf has
// already returned, and a revision drawn by a write that failed counts as
// given. It never decreases, on one Store. It is a read: it is retried
// after a lost connection and stops when ctx ends.
func (s *Store) HeadRevision(ctx context.Context) (uint64, error) {
	if err := s.gate.Ready(ctx); err != nil {
		return 0, err
	}
	var head uint64
	err := s.retry(ctx, true, func(ctx context.Context) error {
		var p safePoint
		b := &pgx.Batch{}
		s.queueSafePoint(b, &p)
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		head = s.safe(p)
		return nil
	})
	if err != nil {
		return 0, s.wrap(ctx, "head revision", err)
	}
	return head, nil
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
// channel, on a connection of its own, and every pollInterval besides.
type listener struct {
	cfg     *pgx.ConnConfig
	channel string
	sig     *userprops.Signal
	s       *Store
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

// pollInterval is how often the watchers read again without a
// notification: for the commits whose notification was lost, their
// process having ended between the commit and the notification (see
// notifier).
const pollInterval = 5 * time.Second

// startListener connects and listens, then goes on in a goroutine until
// stop.
func (s *Store) startListener(ctx context.Context) error {
	l := &listener{cfg: s.pool.Config().ConnConfig.Copy(), channel: s.channel, sig: &s.signal, s: s}
	conn, err := l.connect(ctx)
	if err != nil {
		return fmt.Errorf("listening for changes: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	s.listener = l
	l.done.Go(func() { l.run(lctx, conn) })
	l.done.Go(func() {
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				l.sig.Notify()
			}
		}
	})
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
		closeConn(conn)
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

// closeConn closes a connection of the store's own, waiting a second at
// most.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

// stop ends run and waits for it.
func (l *listener) stop() {
	l.cancel()
	l.done.Wait()
}

// notifier sends the notifications of a store's commits to the listeners
// of every process, after the commits, each in a transaction of its own,
// on a connection of its own. Not in the write's transaction: PostgreSQL
// holds a lock of the whole database from the queuing of a transaction's
// notifications until its commit has ended, WAL flush included, so that
// writes that notify commit one at a time (with 32 writers, about a
// third of the commits a second that writes without notifying make).
// The notifications' own transactions commit without waiting for the
// flush (synchronous_commit off: a notification lost with the server is
// lost anyway, and the listeners wake at reconnection), so they hold the
// lock for microseconds. Notifications are coalesced: a commit asks for
// one (notify), and one is sent after every request, at most one at a
// time and one every notifyInterval, so that each commit is followed by a
// notification sent after it, and busy writers cause a few hundred a
// second at most.
// One lost with the process (between the commit and the send) delays the
// other processes' watchers until the next notification, or pollInterval.
type notifier struct {
	cfg     *pgx.ConnConfig
	channel string
	s       *Store
	want    chan struct{} // a request, if one is pending
	cancel  context.CancelFunc
	done    chan struct{}
}

// startNotifier connects the notifier, which then runs in a goroutine
// until stop.
func (s *Store) startNotifier(ctx context.Context) error {
	n := &notifier{cfg: s.pool.Config().ConnConfig.Copy(), channel: s.channel, s: s,
		want: make(chan struct{}, 1), done: make(chan struct{})}
	n.cfg.RuntimeParams["synchronous_commit"] = "off"
	conn, err := pgx.ConnectConfig(ctx, n.cfg)
	if err != nil {
		return fmt.Errorf("connecting to notify changes: %w", err)
	}
	nctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	s.notifier = n
	go n.run(nctx, conn)
	return nil
}

// notifyInterval is the least time between two notifications of a
// store: the commits meanwhile share the next one.
const notifyInterval = 2 * time.Millisecond

// notify asks for a notification, to be sent after the call.
func (n *notifier) notify() {
	select {
	case n.want <- struct{}{}:
	default: // one is pending, and will be sent after this call
	}
}

// run sends a notification after each request, opening the connection
// again when it is lost, backing off, until ctx ends.
func (n *notifier) run(ctx context.Context, conn *pgx.Conn) {
	defer close(n.done)
	defer func() {
		if conn == nil {
			return
		}
		// At Close: the request of a last commit, if pending.
		if len(n.want) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Exec(ctx, `SELECT pg_notify($1, '')`, n.channel)
			cancel()
		}
		closeConn(conn)
	}()
	delay := 10 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.want:
		}
		for {
			var err error
			if conn == nil {
				conn, err = pgx.ConnectConfig(ctx, n.cfg)
			}
			if err == nil {
				if _, err = conn.Exec(ctx, `SELECT pg_notify($1, '')`, n.channel); err == nil {
					delay = 10 * time.Millisecond
					// The requests meanwhile wait for the next one.
					select {
					case <-ctx.Done():
						return
					case <-time.After(notifyInterval):
					}
					break
				}
				closeConn(conn)
				conn = nil
			}
			if ctx.Err() != nil {
				return
			}
			n.s.log.Warn("userprops: postgres: could not notify the other processes of changes; retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
		}
	}
}

// stop ends run and waits for it.
func (n *notifier) stop() {
	n.cancel()
	<-n.done
}
