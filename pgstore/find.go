package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/userprops/userprops"
)

// Find implements userprops.Store. It answers from one read-only
// transaction at the repeatable-read level, so it sees one snapshot of the
// database: every write committed before it began and none after, and the
// indexes that were ready then, whose entries agree with that snapshot's
// properties. A clause with an index reads its entries; one without reads
// the values of its key (through the index on key).
func (s *Store) Find(ctx context.Context, q userprops.Query, page userprops.Page) (userprops.Found, error) {
	page, err := s.gate.AdmitFind(ctx, q, page)
	if err != nil {
		return userprops.Found{}, err
	}
	var found userprops.Found
	err = s.retry(ctx, true, func(ctx context.Context) error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		view := &pgView{ready: map[userprops.Index]int32{}}
		b := &pgx.Batch{}
		b.BeginTx(pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		b.Queue(`SELECT id, key, path FROM userprops_indexes WHERE state = 'ready'`).Query(func(rows pgx.Rows) error {
			var id int32
			var key, path []byte
			_, err := pgx.ForEachRow(rows, []any{&id, &key, &path}, func() error {
				view.ready[userprops.Index{Key: string(key), Path: string(path)}] = id
				return nil
			})
			return err
		})
		br := conn.SendBatch(ctx, b)
		view.tx = br.Tx()
		defer view.tx.Rollback(ctx)
		if err := br.Close(); err != nil {
			return err
		}
		found, err = userprops.Evaluate(ctx, view, q, page)
		return err
	})
	if err != nil {
		return userprops.Found{}, s.wrap(ctx, "find", err)
	}
	return found, nil
}

// pgView is the FindView of one read-only transaction.
type pgView struct {
	tx pgx.Tx
	// ready maps the indexes ready in the transaction's snapshot to
	// their IDs.
	ready map[userprops.Index]int32
}

func (v *pgView) Indexed(ix userprops.Index) bool {
	_, ok := v.ready[ix]
	return ok
}

func (v *pgView) Lookup(ctx context.Context, ix userprops.Index, term string) ([]string, error) {
	id, ok := v.ready[ix]
	if !ok {
		return nil, fmt.Errorf("no index %s", ix)
	}
	rows, err := v.tx.Query(ctx, `SELECT account_id FROM userprops_index_entries WHERE index_id = $1 AND term = $2`,
		id, entryTerm(term))
	if err != nil {
		return nil, err
	}
	var ids []string
	var a []byte
	_, err = pgx.ForEachRow(rows, []any{&a}, func() error {
		ids = append(ids, string(a))
		return nil
	})
	return ids, err
}

func (v *pgView) Scan(ctx context.Context, key string, fn func(accountID string, value []byte) bool) error {
	rows, err := v.tx.Query(ctx, `SELECT account_id, value FROM userprops_properties WHERE key = $1`, []byte(key))
	if err != nil {
		return err
	}
	_, err = eachValue(rows, fn)
	return err
}

func (v *pgView) Value(ctx context.Context, accountID, key string) ([]byte, bool, error) {
	var value []byte
	err := v.tx.QueryRow(ctx, `SELECT value FROM userprops_properties WHERE account_id = $1 AND key = $2`,
		[]byte(accountID), []byte(key)).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %q of %q: %w", key, accountID, err)
	}
	return value, true, nil
}

var _ userprops.FindValues = (*pgView)(nil)

// valuesChunk is how many accounts one query of Values reads.
const valuesChunk = 1000

// Values implements userprops.FindValues: one query per valuesChunk
// accounts, instead of one per account.
func (v *pgView) Values(ctx context.Context, accountIDs []string, key string, fn func(accountID string, value []byte) bool) error {
	for len(accountIDs) > 0 {
		chunk := accountIDs[:min(len(accountIDs), valuesChunk)]
		accountIDs = accountIDs[len(chunk):]
		ids := make([][]byte, len(chunk))
		for i, id := range chunk {
			ids[i] = []byte(id)
		}
		rows, err := v.tx.Query(ctx, `SELECT account_id, value FROM userprops_properties
WHERE key = $1 AND account_id = ANY($2)`, []byte(key), ids)
		if err != nil {
			return err
		}
		more, err := eachValue(rows, fn)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// eachValue calls fn for each (account_id, value) row of rows until fn
// returns false, closes rows, and reports whether fn wanted more.
func eachValue(rows pgx.Rows, fn func(accountID string, value []byte) bool) (more bool, err error) {
	defer rows.Close()
	var id, value []byte
	for rows.Next() {
		if err := rows.Scan(&id, &value); err != nil {
			return false, err
		}
		if !fn(string(id), value) {
			return false, nil
		}
	}
	return true, rows.Err()
}
