package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userprops/userprops"
)

// The indexes of Find. Each index is a row of userprops_indexes, and its
// entries are rows (index_id, term, account_id) of userprops_index_entries,
// one for each term userprops.Index.Terms gives the account's value of the
// index's key. Terms are computed in Go, by the same code as every other
// backend's, so that an index answers exactly as a scan does.
//
// Who writes entries, and when:
//
//   - Set and Delete hold indexLock shared for their transaction and, under
//     it, read the indexes of the key they write (state building or ready),
//     then move the account's entries from the old value's terms to the new
//     one's in the same transaction.
//   - Each batch of a build, and marking an index to be dropped, hold
//     indexLock exclusive, which waits for every write in flight. A write
//     that began before the index was registered (a row in state building)
//     and did not see it has therefore committed before the first batch
//     reads, and the build sees its value; every later write sees the index
//     and keeps its entries itself. A batch reads current values while no
//     write runs, so what it writes is never stale; and once a drop is
//     marked, no write in flight still adds entries.
//   - A build advances built_after (the last account indexed) with each
//     batch, in the batch's transaction, and sets state ready with the last
//     one; a process killed mid-build leaves a building index that Find does
//     not use and that the next AddIndex (or Open declaring it) resumes.
//   - Find reads, in its snapshot, the indexes whose state is ready.
//
// So every process learns of an index at its next write, not at Open: there
// is no cached list to go stale.

// indexLock is the advisory lock that orders writes against changes to the
// set of indexes (see above).
const indexLock = schemaLock + 1

// The states of an index, as userprops_indexes records them.
const (
	stateBuilding = "building"
	stateReady    = "ready"
	stateDropping = "dropping"
)

// buildBatchSize is how many properties one build batch indexes, writes
// waiting meanwhile: a few milliseconds' work.
const buildBatchSize = 2000

// dropBatchSize is how many entries one transaction of a drop deletes.
const dropBatchSize = 10000

// keyIndex is an index on the key a write changes.
type keyIndex struct {
	id int32
	ix userprops.Index
}

// queueKeyIndexes queues, in a write's first batch after lockIndexesShared,
// the query that reads the indexes on key into *into.
func queueKeyIndexes(b *pgx.Batch, key string, into *[]keyIndex) {
	b.Queue(`SELECT id, path FROM userprops_indexes WHERE key = $1 AND state <> 'dropping'`, []byte(key)).
		Query(func(rows pgx.Rows) error {
			var err error
			*into, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (keyIndex, error) {
				var ki keyIndex
				var path []byte
				err := row.Scan(&ki.id, &path)
				ki.ix = userprops.Index{Key: key, Path: string(path)}
				return ki, err
			})
			return err
		})
}

// queueIndexes queues, in a write's first batch after lockIndexesShared, the
// query that reads every index writes keep into *into, by key: for the
// writes of an account or a restore, which may touch any key.
func queueIndexes(b *pgx.Batch, into *map[string][]keyIndex) {
	b.Queue(`SELECT id, key, path FROM userprops_indexes WHERE state <> 'dropping'`).
		Query(func(rows pgx.Rows) error {
			*into = map[string][]keyIndex{}
			var id int32
			var key, path []byte
			_, err := pgx.ForEachRow(rows, []any{&id, &key, &path}, func() error {
				k := string(key)
				(*into)[k] = append((*into)[k], keyIndex{id: id, ix: userprops.Index{Key: k, Path: string(path)}})
				return nil
			})
			return err
		})
}

// lockIndexesShared is the first statement of every write's transaction.
const lockIndexesShared = `SELECT pg_advisory_xact_lock_shared($1)`

// hasIndex is an SQL condition that holds when key $2 has an index a write
// keeps, so that a write reads the value it replaces only when it needs its
// terms.
const hasIndex = `EXISTS (SELECT 1 FROM userprops_indexes i WHERE i.key = $2 AND i.state <> 'dropping')`

// entryChanges are the entries one write removes and adds, as parallel
// arrays for unnest.
type entryChanges struct {
	delIDs, addIDs     []int32
	delTerms, addTerms [][]byte
}

// diffEntries returns the changes that take an account's entries in idx
// from the terms of old to those of value (nil for none): only the terms
// that differ, so that rewriting a value with the same terms writes no
// entry.
func diffEntries(idx []keyIndex, old, value []byte) entryChanges {
	var c entryChanges
	for _, ki := range idx {
		var before, after []string
		if old != nil {
			before = ki.ix.Terms(old)
		}
		if value != nil {
			after = ki.ix.Terms(value)
		}
		for _, t := range before {
			if !slices.Contains(after, t) {
				c.delIDs, c.delTerms = append(c.delIDs, ki.id), append(c.delTerms, entryTerm(t))
			}
		}
		for _, t := range after {
			if !slices.Contains(before, t) {
				c.addIDs, c.addTerms = append(c.addIDs, ki.id), append(c.addTerms, entryTerm(t))
			}
		}
	}
	return c
}

// queue queues the statement that applies c to accountID's entries: one
// statement, deleting and inserting, whatever the number of indexes.
func (c *entryChanges) queue(b *pgx.Batch, accountID []byte) {
	if len(c.delIDs) == 0 && len(c.addIDs) == 0 {
		return
	}
	b.Queue(`WITH d AS (
	DELETE FROM userprops_index_entries e USING unnest($1::integer[], $2::bytea[]) AS d(index_id, term)
	WHERE e.index_id = d.index_id AND e.term = d.term AND e.account_id = $5
)
INSERT INTO userprops_index_entries (index_id, term, account_id)
SELECT index_id, term, $5 FROM unnest($3::integer[], $4::bytea[]) AS n(index_id, term)
ON CONFLICT DO NOTHING`, c.delIDs, c.delTerms, c.addIDs, c.addTerms, accountID)
}

// insertEntries inserts entries given as arrays of index IDs, terms and
// account IDs. An entry that is there already (a build resumed over entries
// a write kept) is left as it is.
const insertEntries = `
INSERT INTO userprops_index_entries (index_id, term, account_id)
SELECT * FROM unnest($1::integer[], $2::bytea[], $3::bytea[])
ON CONFLICT DO NOTHING`

// maxTermBytes bounds a term as stored: a btree entry must fit in a third of
// a page. Longer terms (strings of hundreds of bytes) are stored as their
// first bytes and their SHA-256, which keeps them distinct from every other
// term, short or long, but for a SHA-256 collision.
const maxTermBytes = 512

// entryTerm returns a term as userprops_index_entries stores it: terms
// shorter than maxTermBytes as they are, longer ones cut to exactly
// maxTermBytes, their last 32 bytes a digest of the whole.
func entryTerm(t string) []byte {
	if len(t) < maxTermBytes {
		return []byte(t)
	}
	sum := sha256.Sum256([]byte(t))
	return append([]byte(t[:maxTermBytes-len(sum)]), sum[:]...)
}

// Indexes returns the indexes the database keeps, ready or still being
// built (a build interrupted by a crash; AddIndex finishes it), in order of
// key and path. Every writer keeps all of them, whether or not it declared
// them.
func (s *Store) Indexes(ctx context.Context) ([]userprops.Index, error) {
	if err := s.gate.Ready(ctx); err != nil {
		return nil, err
	}
	var list []userprops.Index
	err := s.retry(ctx, true, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`SELECT key, path FROM userprops_indexes WHERE state <> 'dropping' ORDER BY key, path`)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (userprops.Index, error) {
			var key, path []byte
			err := row.Scan(&key, &path)
			return userprops.Index{Key: string(key), Path: string(path)}, err
		})
		return err
	})
	if err != nil {
		return nil, s.wrap(ctx, "listing indexes", err)
	}
	if list == nil {
		list = []userprops.Index{}
	}
	return list, nil
}

// AddIndex records index ix in the database, if it is not there, and builds
// it: it returns once Find can use it, or with the error that stopped the
// build. Every process that writes to the database keeps the index from
// then on, until DropIndex, whether it declared it or not. The build reads
// the properties of ix.Key in batches of a few thousand, writes pausing
// during each batch, and logs its progress (see WithLogger); several
// processes adding one index share the work. An interrupted build is
// resumed by the next AddIndex, or Open declaring the index; until it is
// finished, Find does not use the index. An invalid ix gets an error
// wrapping userprops.ErrInvalidQuery.
func (s *Store) AddIndex(ctx context.Context, ix userprops.Index) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	if err := ix.Err(); err != nil {
		return err
	}
	if err := s.addIndex(ctx, ix); err != nil {
		return s.wrap(ctx, "adding index "+ix.String(), err)
	}
	return nil
}

func (s *Store) addIndex(ctx context.Context, ix userprops.Index) error {
	var state string
	err := s.retry(ctx, true, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT state FROM userprops_indexes WHERE key = $1 AND path = $2`,
			[]byte(ix.Key), []byte(ix.Path)).Scan(&state)
	})
	switch {
	case err == nil && state == stateReady:
		return nil // the common case at Open: no lock taken
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return err
	}
	if err := s.register(ctx, ix); err != nil {
		return err
	}
	return s.build(ctx, ix)
}

// register records ix in state building, unless it is there already, so
// that every write after it keeps the index. It needs no lock: the build's
// first batch waits for the writes that did not see it. An index being
// dropped is dropped first.
func (s *Store) register(ctx context.Context, ix userprops.Index) error {
	for {
		var id int32
		var state string
		err := s.retry(ctx, true, func(ctx context.Context) error {
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO userprops_indexes (key, path, state) VALUES ($1, $2, 'building')
ON CONFLICT (key, path) DO NOTHING`, []byte(ix.Key), []byte(ix.Path))
			b.Queue(`SELECT id, state FROM userprops_indexes WHERE key = $1 AND path = $2`,
				[]byte(ix.Key), []byte(ix.Path)).QueryRow(func(row pgx.Row) error {
				return row.Scan(&id, &state)
			})
			return s.pool.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return err
		}
		if state != stateDropping {
			return nil
		}
		if err := s.finishDrop(ctx, id); err != nil {
			return err
		}
	}
}

// errDroppedDuringBuild is returned by a build whose index another caller
// dropped meanwhile.
var errDroppedDuringBuild = errors.New("the index was dropped while it was being built")

// build indexes the properties of ix.Key, batch after batch, until the
// index is ready.
func (s *Store) build(ctx context.Context, ix userprops.Index) error {
	start, logged := time.Now(), time.Now()
	total := 0
	for {
		var n int
		var done bool
		err := s.retry(ctx, true, func(ctx context.Context) error {
			var err error
			n, done, err = s.buildBatch(ctx, ix)
			return err
		})
		if err != nil {
			return err
		}
		total += n
		if now := time.Now(); done || now.Sub(logged) >= time.Second {
			logged = now
			elapsed := now.Sub(start)
			s.log.LogAttrs(ctx, slog.LevelInfo, "pgstore: building index",
				slog.String("index", ix.String()), slog.Int("properties", total),
				slog.Bool("done", done), slog.Duration("elapsed", elapsed.Round(time.Millisecond)),
				slog.Float64("per_second", float64(total)/max(elapsed.Seconds(), 1e-9)))
		}
		if done {
			return nil
		}
	}
}

// buildBatch indexes the next properties of ix.Key after built_after, in
// one transaction under indexLock held exclusive, and records how far it
// went (or that the index is ready). It returns how many properties it
// indexed and whether the index is ready. Running it again after a failure
// is safe: each batch starts where the last committed one ended.
func (s *Store) buildBatch(ctx context.Context, ix userprops.Index) (n int, done bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback(ctx)
	var id int32
	var state string
	var after []byte
	var ids, values [][]byte
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(indexLock))
	b.Queue(`SELECT id, state, coalesce(built_after, '') FROM userprops_indexes WHERE key = $1 AND path = $2`,
		[]byte(ix.Key), []byte(ix.Path)).QueryRow(func(row pgx.Row) error {
		return row.Scan(&id, &state, &after)
	})
	if err := tx.SendBatch(ctx, b).Close(); errors.Is(err, pgx.ErrNoRows) {
		return 0, false, errDroppedDuringBuild
	} else if err != nil {
		return 0, false, err
	}
	switch state {
	case stateReady:
		return 0, true, nil
	case stateDropping:
		return 0, false, errDroppedDuringBuild
	}
	// The values are read after the lock is taken, by a statement of
	// their own, so they are the latest and no write changes them before
	// this transaction ends.
	rows, err := tx.Query(ctx, `SELECT account_id, value FROM userprops_properties
WHERE key = $1 AND account_id > $2 ORDER BY key, account_id LIMIT $3`, []byte(ix.Key), after, buildBatchSize)
	if err != nil {
		return 0, false, err
	}
	for rows.Next() {
		var id, value []byte
		if err := rows.Scan(&id, &value); err != nil {
			return 0, false, err
		}
		ids, values = append(ids, id), append(values, value)
	}
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	var entryIDs []int32
	var terms, accounts [][]byte
	for i, v := range values {
		for _, t := range ix.Terms(v) {
			entryIDs, terms, accounts = append(entryIDs, id), append(terms, entryTerm(t)), append(accounts, ids[i])
		}
	}
	b = &pgx.Batch{}
	if len(entryIDs) > 0 {
		b.Queue(insertEntries, entryIDs, terms, accounts)
	}
	done = len(ids) < buildBatchSize
	if done {
		b.Queue(`UPDATE userprops_indexes SET state = 'ready', built_after = NULL WHERE id = $1`, id)
	} else {
		b.Queue(`UPDATE userprops_indexes SET built_after = $2 WHERE id = $1`, id, ids[len(ids)-1])
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, false, err
	}
	return len(ids), done, tx.Commit(ctx)
}

// DropIndex removes index ix and its entries from the database: Find stops
// using it and writers stop keeping it at once, and its entries are deleted
// in batches before DropIndex returns. An index declared with
// userprops.WithIndex is built again by the next Open that declares it.
// DropIndex returns an error wrapping userprops.ErrNotFound if the database
// keeps no such index, and one wrapping userprops.ErrInvalidQuery if ix is
// invalid. A drop interrupted by a crash is finished by the next Open.
func (s *Store) DropIndex(ctx context.Context, ix userprops.Index) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	if err := ix.Err(); err != nil {
		return err
	}
	var id int32
	err := s.retry(ctx, true, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(indexLock))
			b.Queue(`UPDATE userprops_indexes SET state = 'dropping' WHERE key = $1 AND path = $2 RETURNING id`,
				[]byte(ix.Key), []byte(ix.Path)).QueryRow(func(row pgx.Row) error {
				return row.Scan(&id)
			})
			return tx.SendBatch(ctx, b).Close()
		})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: the database keeps no index %s", userprops.ErrNotFound, ix)
	}
	if err == nil {
		err = s.finishDrop(ctx, id)
	}
	if err != nil {
		return s.wrap(ctx, "dropping index "+ix.String(), err)
	}
	return nil
}

// finishDrop deletes the entries of index id, which is being dropped (no
// writer adds any), in batches, then its row.
func (s *Store) finishDrop(ctx context.Context, id int32) error {
	for {
		var deleted int64
		err := s.retry(ctx, true, func(ctx context.Context) error {
			ct, err := s.pool.Exec(ctx, `DELETE FROM userprops_index_entries WHERE ctid = ANY(ARRAY(
SELECT ctid FROM userprops_index_entries WHERE index_id = $1 LIMIT $2))`, id, dropBatchSize)
			deleted = ct.RowsAffected()
			return err
		})
		if err != nil {
			return err
		}
		if deleted < dropBatchSize {
			break
		}
	}
	return s.retry(ctx, true, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `DELETE FROM userprops_indexes WHERE id = $1 AND state = 'dropping'`, id)
		return err
	})
}

// openIndexes runs at Open: it finishes the drops a crash interrupted, then
// adds (builds if need be) the declared indexes.
func (s *Store) openIndexes(ctx context.Context) error {
	var dropping []int32
	err := s.retry(ctx, true, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT id FROM userprops_indexes WHERE state = 'dropping'`)
		if err != nil {
			return err
		}
		dropping, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range dropping {
		if err := s.finishDrop(ctx, id); err != nil {
			return err
		}
	}
	for _, ix := range s.gate.Indexes() {
		if err := s.addIndex(ctx, ix); err != nil {
			return fmt.Errorf("index %s: %w", ix, err)
		}
	}
	return nil
}
