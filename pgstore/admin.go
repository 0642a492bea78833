package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userprops/userprops"
)

// Operations on a whole account or a whole store: erasure, restore and
// verification, the PostgreSQL equivalents of BoltStore's.

// DeleteAccount deletes every property of accountID, with its index entries
// and its usage row, in one transaction under the account's lock (the lock
// Set and Delete take), and returns how many properties it deleted: 0, and
// no error, for an account with none. A Set of the account that runs
// meanwhile lands wholly before the erasure or wholly after it. Each
// property deleted is a change of its own, with its own revision, in the
// order of keys. It checks
// its argument and the Directory as Keys does.
//
// It is a write (see Store): it runs to its end once sent, is retried only
// when the database certainly did not apply it, and returns an error
// wrapping userprops.ErrOutcomeUnknown if the database gave no answer
// within WriteTimeout.
func (s *Store) DeleteAccount(ctx context.Context, accountID string) (deleted int, err error) {
	if err := s.gate.AdmitDeleteAccount(ctx, accountID); err != nil {
		return 0, err
	}
	err = s.write(ctx, false, func(ctx context.Context, conn *pgxpool.Conn) error {
		// Deleting the usage row locks it, as Set and Delete lock it, and
		// the properties go in a statement of their own, which sees every
		// write of the account committed before the lock. A Set waiting
		// for the lock creates the row afresh once this commits.
		id := []byte(accountID)
		var idx map[string][]keyIndex
		var gone []storedValue
		var sp safePoint
		b := s.beginWrite(&sp)
		b.Queue(`DELETE FROM userprops_accounts WHERE account_id = $1`, id)
		queueIndexes(b, &idx)
		queueStoredValues(b, &gone, `WITH d AS (DELETE FROM userprops_properties WHERE account_id = $1 RETURNING key, value)
SELECT $1::bytea, key, CASE WHEN `+keyHasIndex+` THEN value END FROM d`, id)
		br := conn.SendBatch(ctx, b)
		tx := br.Tx()
		defer rollback(ctx, tx)
		if err := br.Close(); err != nil {
			return err
		}
		// One revision for each property, in the order of keys.
		slices.SortFunc(gone, func(a, b storedValue) int { return bytes.Compare(a.key, b.key) })
		var entries accountEntries
		var changes changeRows
		for _, p := range gone {
			changes.add(id, p.key, nil)
			if p.value != nil {
				entries.add(id, diffEntries(idx[string(p.key)], p.value, nil))
			}
		}
		b = &pgx.Batch{}
		s.queueChanges(b, changes, s.safe(sp))
		entries.queue(b)
		deleted = len(gone)
		return commitWith(ctx, tx, b, accountID, "")
	})
	if err != nil {
		return 0, s.wrap(ctx, "deleting account", err)
	}
	if deleted > 0 {
		s.committed()
	}
	return deleted, nil
}

// keyHasIndex is an SQL condition that holds when the key of row d has an
// index a write keeps (hasIndex, for a row rather than a parameter).
const keyHasIndex = `EXISTS (SELECT 1 FROM userprops_indexes i WHERE i.key = d.key AND i.state <> 'dropping')`

// storedValue is a property as a write reads it back: its account and key,
// and its value if its key has an index (else nil).
type storedValue struct {
	accountID, key, value []byte
}

// queueStoredValues queues query, whose rows are (account ID, key, value or
// NULL), to be read into *into.
func queueStoredValues(b *pgx.Batch, into *[]storedValue, query string, args ...any) {
	b.Queue(query, args...).Query(func(rows pgx.Rows) error {
		var err error
		*into, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedValue, error) {
			var v storedValue
			return v, row.Scan(&v.accountID, &v.key, &v.value)
		})
		return err
	})
}

// accountEntries are entry changes of any number of accounts, as parallel
// arrays for unnest.
type accountEntries struct {
	delIDs, addIDs           []int32
	delTerms, addTerms       [][]byte
	delAccounts, addAccounts [][]byte
}

// add adds c, the changes of accountID's entries.
func (a *accountEntries) add(accountID []byte, c entryChanges) {
	a.delIDs, a.delTerms = append(a.delIDs, c.delIDs...), append(a.delTerms, c.delTerms...)
	a.addIDs, a.addTerms = append(a.addIDs, c.addIDs...), append(a.addTerms, c.addTerms...)
	for range c.delIDs {
		a.delAccounts = append(a.delAccounts, accountID)
	}
	for range c.addIDs {
		a.addAccounts = append(a.addAccounts, accountID)
	}
}

// queue queues the statements that apply a: the deletes, then the inserts.
func (a *accountEntries) queue(b *pgx.Batch) {
	if len(a.delIDs) > 0 {
		b.Queue(`DELETE FROM userprops_index_entries e
USING unnest($1::integer[], $2::bytea[], $3::bytea[]) AS d(index_id, term, account_id)
WHERE e.index_id = d.index_id AND e.term = d.term AND e.account_id = d.account_id`,
			a.delIDs, a.delTerms, a.delAccounts)
	}
	if len(a.addIDs) > 0 {
		b.Queue(insertEntries, a.addIDs, a.addTerms, a.addAccounts)
	}
}

// Restore writes props in one transaction, each property exactly as given
// (Value, Version and UpdatedAt), replacing whatever is stored under the
// same account and key, as BoltStore.Restore does; of one account and key
// given twice, the last wins. Every property is first checked with the
// rules of Set, and its Version must be from 1 to userprops.MaxVersion; if
// one fails, nothing is written and the error names it. Restore is an
// administrative operation: it does not consult the Directory, and the
// account limits do not apply to it, so that a backup restores whole; the
// usage rows count what it writes, and an account it leaves above a limit
// can only shrink. Index entries move with the values, in the same
// transaction. Each property written is a change, with a new revision (the
// Revision given is ignored), in the order given.
//
// Running Restore twice leaves what running it once does, so unlike Set it
// is retried after a lost connection too; a retry may overwrite a write
// that landed in between, as a Restore that ran a moment later would. It
// returns an error wrapping userprops.ErrOutcomeUnknown if the database gave
// no answer within WriteTimeout. A batch is sent as one set of arrays:
// restore large sets in batches of some thousands.
func (s *Store) Restore(ctx context.Context, props []userprops.Property) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	r, err := newRestore(props)
	if err != nil || len(r.accountIDs) == 0 {
		return err
	}
	err = s.write(ctx, true, func(ctx context.Context, conn *pgxpool.Conn) error {
		var idx map[string][]keyIndex
		var old []storedValue
		var sp safePoint
		b := s.beginWrite(&sp)
		// The accounts' rows, locked in byte order (as every Restore
		// locks them, so two never deadlock), then the values replaced,
		// read after the locks.
		b.Queue(`INSERT INTO userprops_accounts AS a (account_id, properties, bytes)
SELECT id, 0, 0 FROM unnest($1::bytea[]) AS u(id)
ON CONFLICT (account_id) DO UPDATE SET properties = a.properties`, r.accounts())
		queueIndexes(b, &idx)
		queueStoredValues(b, &old, `SELECT p.account_id, p.key, p.value
FROM unnest($1::bytea[], $2::bytea[]) AS d(account_id, key)
JOIN userprops_properties p ON p.account_id = d.account_id AND p.key = d.key
WHERE `+keyHasIndex, r.ids, r.keys)
		br := conn.SendBatch(ctx, b)
		tx := br.Tx()
		defer rollback(ctx, tx)
		if err := br.Close(); err != nil {
			return err
		}
		// Each property written is a change, with a revision of its
		// own, in the order given: the history's rows and the
		// properties in one statement, which joins each property to
		// the revision it drew (an account and key is given once).
		b = &pgx.Batch{}
		b.Queue(lockRevisions, int32(s.revisionSpace))
		b.Queue(`WITH h AS (`+insertHistory+` RETURNING revision, account_id, key)
INSERT INTO userprops_properties AS p (account_id, key, value, version, updated_at_ns, revision)
SELECT u.account_id, u.key, u.value, u.version, u.updated_at_ns, h.revision
FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $5::bigint[], $6::bigint[])
	AS u(account_id, key, value, version, updated_at_ns)
JOIN h ON h.account_id = u.account_id AND h.key = u.key
ON CONFLICT (account_id, key) DO UPDATE
SET value = excluded.value, version = excluded.version, updated_at_ns = excluded.updated_at_ns,
	revision = excluded.revision`,
			r.ids, r.keys, r.values, s.gate.Now().UnixNano(), r.versions, r.updated)
		s.queueTrim(b, s.safe(sp))
		entries := r.entries(idx, old)
		entries.queue(b)
		b.Queue(`UPDATE userprops_accounts a SET properties = c.n, bytes = c.b
FROM (SELECT account_id, count(*) AS n, sum(length(key) + length(value)) AS b
	FROM userprops_properties WHERE account_id = ANY($1::bytea[]) GROUP BY account_id) c
WHERE a.account_id = c.account_id`, r.accounts())
		return commitWith(ctx, tx, b, "", "")
	})
	if err != nil {
		return s.wrap(ctx, "restore", err)
	}
	s.committed()
	return nil
}

// restore is a Restore's properties as parallel arrays, one element a
// property (the last of each account and key), and the accounts they touch.
type restore struct {
	ids, keys, values [][]byte
	versions, updated []int64
	accountIDs        []string // sorted, each once
}

// newRestore checks props, as BoltStore.Restore does, and returns them as
// arrays.
func newRestore(props []userprops.Property) (*restore, error) {
	type pk struct{ accountID, key string }
	at := make(map[pk]int, len(props)) // index in the arrays
	r := &restore{}
	accounts := map[string]bool{}
	for i, p := range props {
		if err := userprops.ValidateRestorable(p); err != nil {
			return nil, fmt.Errorf("property %d (account %s, key %s): %w", i+1, quote(p.AccountID), quote(p.Key), err)
		}
		v, ts := int64(p.Version), p.UpdatedAt.UnixNano()
		if j, ok := at[pk{p.AccountID, p.Key}]; ok {
			r.values[j], r.versions[j], r.updated[j] = p.Value, v, ts
			continue
		}
		at[pk{p.AccountID, p.Key}] = len(r.ids)
		r.ids, r.keys = append(r.ids, []byte(p.AccountID)), append(r.keys, []byte(p.Key))
		r.values, r.versions, r.updated = append(r.values, p.Value), append(r.versions, v), append(r.updated, ts)
		if !accounts[p.AccountID] {
			accounts[p.AccountID] = true
			r.accountIDs = append(r.accountIDs, p.AccountID)
		}
	}
	slices.Sort(r.accountIDs)
	return r, nil
}

// accounts returns the account IDs as bytea.
func (r *restore) accounts() [][]byte {
	ids := make([][]byte, len(r.accountIDs))
	for i, id := range r.accountIDs {
		ids[i] = []byte(id)
	}
	return ids
}

// entries returns the entry changes that take the restored properties from
// their old values (those of indexed keys, as read under the locks) to the
// new ones.
func (r *restore) entries(idx map[string][]keyIndex, old []storedValue) accountEntries {
	type pk struct{ accountID, key string }
	before := make(map[pk][]byte, len(old))
	for _, o := range old {
		before[pk{string(o.accountID), string(o.key)}] = o.value
	}
	var a accountEntries
	for i, key := range r.keys {
		if ki := idx[string(key)]; len(ki) > 0 {
			a.add(r.ids[i], diffEntries(ki, before[pk{string(r.ids[i]), string(key)}], r.values[i]))
		}
	}
	return a
}

// quote quotes s for an error message, shortened when it is long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// maxProblems is how many problems Check lists before it stops looking.
const maxProblems = 10

// Check reads the whole store and verifies it, in one read-only transaction
// at the repeatable-read level (one snapshot, alongside other calls): every
// property's account ID, key and value pass the rules of Set and its
// version runs from 1 to userprops.MaxVersion; every account's usage row
// holds the number and bytes of its properties (an account with properties
// has one; an account without has none, or one of zeros, which a Delete
// leaves); and the entries of every ready index are exactly those its
// properties give (userprops.Index.Terms, long terms hashed as stored),
// none missing and none extra, and no entry belongs to an index the
// database does not record. It returns nil, or an error wrapping
// userprops.ErrCorrupt that lists the first problems found.
//
// Unlike BoltStore.Check, finding damage does not mark the store damaged:
// the rows are shared with other processes, which go on writing, and SQL can
// repair them while the store is open. Check is retried, from the start,
// after a lost connection.
func (s *Store) Check(ctx context.Context) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	var problems []string
	err := s.retry(ctx, true, func(ctx context.Context) error {
		problems = nil
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
			func(tx pgx.Tx) error {
				c := &checker{tx: tx}
				defer func() { problems = c.problems }()
				for _, step := range []func(context.Context) error{c.properties, c.usage, c.revisions, c.indexes} {
					if err := step(ctx); err != nil || c.full() {
						return err
					}
				}
				return nil
			})
	})
	if err != nil {
		return s.wrap(ctx, "check", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: postgres: %s", userprops.ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// checker runs the steps of a Check in its transaction and collects what
// they find.
type checker struct {
	tx       pgx.Tx
	problems []string
}

func (c *checker) report(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) full() bool { return len(c.problems) >= maxProblems }

// properties checks every property against the rules.
func (c *checker) properties(ctx context.Context) error {
	rows, err := c.tx.Query(ctx, `SELECT account_id, key, value, version FROM userprops_properties`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var id, key, value []byte
	var version int64
	for rows.Next() && !c.full() {
		if err := rows.Scan(&id, &key, &value, &version); err != nil {
			return err
		}
		p := userprops.Property{AccountID: string(id), Key: string(key), Value: value, Version: uint64(max(version, 0))}
		if err := userprops.ValidateRestorable(p); err != nil {
			c.report("account %s, key %s: %v", quote(p.AccountID), quote(p.Key), err)
		}
	}
	return rows.Err()
}

// usage checks the usage rows against the properties, in SQL: a full join
// of the rows with the properties counted by account.
func (c *checker) usage(ctx context.Context) error {
	rows, err := c.tx.Query(ctx, `
SELECT coalesce(p.account_id, a.account_id), coalesce(p.n, 0), coalesce(p.b, 0), a.properties, a.bytes
FROM (SELECT account_id, count(*) AS n, sum(length(key) + length(value)) AS b
	FROM userprops_properties GROUP BY account_id) p
FULL JOIN userprops_accounts a ON a.account_id = p.account_id
WHERE a.account_id IS NULL OR coalesce(p.n, 0) <> a.properties OR coalesce(p.b, 0) <> a.bytes
ORDER BY 1 LIMIT $1`, maxProblems-len(c.problems))
	if err != nil {
		return err
	}
	defer rows.Close()
	var id []byte
	var n, b int64
	var rowN, rowB *int64
	for rows.Next() {
		if err := rows.Scan(&id, &n, &b, &rowN, &rowB); err != nil {
			return err
		}
		if rowN == nil {
			c.report("account %s has %d properties of %d bytes and no usage row", quote(string(id)), n, b)
		} else {
			c.report("account %s: its usage row counts %d properties of %d bytes, it has %d of %d",
				quote(string(id)), *rowN, *rowB, n, b)
		}
	}
	return rows.Err()
}

// revisions checks the revisions and the change history: the sequence
// exists and caches no values (see history.go) and the trimmed mark has its
// row; the sequence is at or above every property's revision and every
// change's; no two properties share a revision; the history holds no
// change at or below the trimmed mark; every property changed after the
// mark has its change in the history, at its revision, with its value; and
// the latest change the history holds of each property agrees with it (a
// set at the property's revision, a delete of a property that is gone).
// Revisions are unique in the history by its primary key.
func (c *checker) revisions(ctx context.Context) error {
	var cache *int64
	err := c.tx.QueryRow(ctx, `SELECT max(cache_size) FROM pg_sequences
WHERE schemaname = current_schema() AND sequencename = 'userprops_revisions'`).Scan(&cache)
	if err != nil {
		return err
	}
	switch {
	case cache == nil:
		c.report("the revision sequence (userprops_revisions) is missing")
		return nil
	case *cache != 1:
		c.report("the revision sequence (userprops_revisions) caches %d values per session: Watch could skip changes (ALTER SEQUENCE userprops_revisions CACHE 1)", *cache)
	}
	var given int64
	var trimmed *int64
	if err := c.tx.QueryRow(ctx, revisionsGiven).Scan(&given); err != nil {
		return err
	}
	if err := c.tx.QueryRow(ctx, `SELECT max(trimmed) FROM userprops_trimmed`).Scan(&trimmed); err != nil {
		return err
	}
	if trimmed == nil {
		c.report("the trimmed mark (userprops_trimmed) has no row")
		return nil
	}
	for _, q := range []struct{ what, query string }{
		{"property above the latest revision given", `SELECT account_id, key, revision FROM userprops_properties
WHERE revision > {given} ORDER BY revision LIMIT $1`},
		{"change above the latest revision given", `SELECT account_id, key, revision FROM userprops_history
WHERE revision > {given} ORDER BY revision LIMIT $1`},
		{"change at or below the trimmed mark", `SELECT account_id, key, revision FROM userprops_history
WHERE revision <= {trimmed} ORDER BY revision LIMIT $1`},
		{"property sharing its revision with another", `SELECT account_id, key, revision FROM userprops_properties
WHERE revision IN (SELECT revision FROM userprops_properties GROUP BY revision HAVING count(*) > 1)
ORDER BY revision, account_id, key LIMIT $1`},
		{"property whose change the history lacks", `SELECT p.account_id, p.key, p.revision FROM userprops_properties p
LEFT JOIN userprops_history h ON h.revision = p.revision
WHERE p.revision > {trimmed} AND (h.revision IS NULL OR h.account_id <> p.account_id OR h.key <> p.key
	OR h.deleted OR h.value <> p.value)
ORDER BY p.revision LIMIT $1`},
		{"property whose latest change in the history is another", `SELECT h.account_id, h.key, h.revision
FROM (SELECT DISTINCT ON (account_id, key) account_id, key, revision, deleted FROM userprops_history
	ORDER BY account_id, key, revision DESC) h
LEFT JOIN userprops_properties p ON p.account_id = h.account_id AND p.key = h.key
WHERE CASE WHEN h.deleted THEN p.revision IS NOT NULL ELSE p.revision IS DISTINCT FROM h.revision END
ORDER BY h.revision LIMIT $1`},
	} {
		// The latest revision and the mark are numbers read from the database.
		query := strings.NewReplacer("{given}", fmt.Sprint(given), "{trimmed}", fmt.Sprint(*trimmed)).Replace(q.query)
		rows, err := c.tx.Query(ctx, query, maxProblems-len(c.problems))
		if err != nil {
			return err
		}
		var id, key []byte
		var rev int64
		_, err = pgx.ForEachRow(rows, []any{&id, &key, &rev}, func() error {
			c.report("revision %d (account %s, key %s): %s (given %d, trimmed %d)",
				rev, quote(string(id)), quote(string(key)), q.what, given, *trimmed)
			return nil
		})
		if err != nil || c.full() {
			return err
		}
	}
	return nil
}

// indexes checks the entries of every ready index against the values of
// its key, and that every entry belongs to an index.
func (c *checker) indexes(ctx context.Context) error {
	rows, err := c.tx.Query(ctx, `SELECT id, key, path FROM userprops_indexes WHERE state = 'ready' ORDER BY key, path`)
	if err != nil {
		return err
	}
	ready, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (keyIndex, error) {
		var ki keyIndex
		var key, path []byte
		err := row.Scan(&ki.id, &key, &path)
		ki.ix = userprops.Index{Key: string(key), Path: string(path)}
		return ki, err
	})
	if err != nil {
		return err
	}
	for _, ki := range ready {
		if err := c.index(ctx, ki); err != nil || c.full() {
			return err
		}
	}
	rows, err = c.tx.Query(ctx, `SELECT DISTINCT index_id FROM userprops_index_entries e
WHERE NOT EXISTS (SELECT 1 FROM userprops_indexes i WHERE i.id = e.index_id) ORDER BY 1 LIMIT $1`,
		maxProblems-len(c.problems))
	if err != nil {
		return err
	}
	orphans, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	for _, id := range orphans {
		c.report("entries of index %d, which the database does not record", id)
	}
	return err
}

// index checks one ready index: a merge, account by account in byte order,
// of the values of its key with its entries, each read through a cursor a
// few thousand rows at a time, so that memory stays bounded by one
// account's terms.
func (c *checker) index(ctx context.Context, ki keyIndex) error {
	values, err := openCursor(ctx, c.tx, "check_values",
		`SELECT account_id, value FROM userprops_properties WHERE key = $1 ORDER BY account_id`, []byte(ki.ix.Key))
	if err != nil {
		return err
	}
	defer values.close(ctx)
	entries, err := openCursor(ctx, c.tx, "check_entries",
		`SELECT account_id, term FROM userprops_index_entries WHERE index_id = $1 ORDER BY account_id, term`, ki.id)
	if err != nil {
		return err
	}
	defer entries.close(ctx)
	for !c.full() {
		v, vok, err := values.peek(ctx)
		if err != nil {
			return err
		}
		e, eok, err := entries.peek(ctx)
		if err != nil {
			return err
		}
		if !vok && !eok {
			return nil
		}
		// The next account: the smaller of the two heads.
		var account []byte
		switch {
		case !eok || vok && bytes.Compare(v[0], e[0]) <= 0:
			account = v[0]
		default:
			account = e[0]
		}
		account = bytes.Clone(account)
		var want [][]byte
		if vok && bytes.Equal(v[0], account) {
			for _, t := range ki.ix.Terms(v[1]) {
				want = append(want, entryTerm(t))
			}
			slices.SortFunc(want, bytes.Compare)
			want = slices.CompactFunc(want, bytes.Equal)
			values.next()
		}
		var have [][]byte
		for {
			e, eok, err := entries.peek(ctx)
			if err != nil {
				return err
			}
			if !eok || !bytes.Equal(e[0], account) {
				break
			}
			have = append(have, bytes.Clone(e[1]))
			entries.next()
		}
		c.compareTerms(ki, account, want, have)
	}
	return nil
}

// compareTerms reports the differences between the terms an account's
// value gives (want) and its entries (have), both sorted.
func (c *checker) compareTerms(ki keyIndex, account []byte, want, have [][]byte) {
	for i, j := 0, 0; (i < len(want) || j < len(have)) && !c.full(); {
		switch d := cmpHeads(want, have, i, j); {
		case d == 0:
			i, j = i+1, j+1
		case d < 0:
			c.report("index %s: account %s lacks the entry for term %s", ki.ix, quote(string(account)), quote(string(want[i])))
			i++
		default:
			c.report("index %s: account %s has an entry for term %s, which its value does not give",
				ki.ix, quote(string(account)), quote(string(have[j])))
			j++
		}
	}
}

// cmpHeads compares want[i] with have[j], either of which may be past its
// end (and then greater than anything).
func cmpHeads(want, have [][]byte, i, j int) int {
	switch {
	case i == len(want):
		return 1
	case j == len(have):
		return -1
	}
	return bytes.Compare(want[i], have[j])
}

// cursorRows reads the two-column rows of a query through a cursor of the
// transaction, fetchSize rows at a time, so that two can be read in step on
// one connection.
type cursorRows struct {
	tx   pgx.Tx
	name string
	buf  [][2][]byte
	i    int
	eof  bool
}

const fetchSize = 2000

func openCursor(ctx context.Context, tx pgx.Tx, name, query string, args ...any) (*cursorRows, error) {
	if _, err := tx.Exec(ctx, "DECLARE "+name+" NO SCROLL CURSOR FOR "+query, args...); err != nil {
		return nil, err
	}
	return &cursorRows{tx: tx, name: name}, nil
}

// peek returns the current row, fetching more when the buffer is spent, and
// false once the rows end. The row's bytes are its caller's.
func (c *cursorRows) peek(ctx context.Context) ([2][]byte, bool, error) {
	if c.i == len(c.buf) && !c.eof {
		rows, err := c.tx.Query(ctx, fmt.Sprintf("FETCH %d FROM %s", fetchSize, c.name))
		if err != nil {
			return [2][]byte{}, false, err
		}
		c.buf, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2][]byte, error) {
			var r [2][]byte
			return r, row.Scan(&r[0], &r[1])
		})
		if err != nil {
			return [2][]byte{}, false, err
		}
		c.i, c.eof = 0, len(c.buf) < fetchSize
	}
	if c.i == len(c.buf) {
		return [2][]byte{}, false, nil
	}
	return c.buf[c.i], true, nil
}

// next moves past the current row.
func (c *cursorRows) next() { c.i++ }

func (c *cursorRows) close(ctx context.Context) {
	c.tx.Exec(ctx, "CLOSE "+c.name)
}
