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
// database: every write committed before it began and none after.
func (s *Store) Find(ctx context.Context, q userprops.Query, page userprops.Page) (userprops.Found, error) {
	page, err := s.gate.AdmitFind(ctx, q, page)
	if err != nil {
		return userprops.Found{}, err
	}
	var found userprops.Found
	err = s.retry(ctx, true, func(ctx context.Context) error {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		found, err = userprops.Evaluate(ctx, &pgView{tx: tx}, q, page)
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
}

func (v *pgView) Indexed(userprops.Index) bool { return false }

func (v *pgView) Lookup(context.Context, userprops.Index, string) ([]string, error) {
	return nil, errors.New("userprops: postgres store keeps no index")
}

func (v *pgView) Scan(ctx context.Context, key string, fn func(accountID string, value []byte) bool) error {
	rows, err := v.tx.Query(ctx, `SELECT account_id, value FROM userprops_properties WHERE key = $1`, []byte(key))
	if err != nil {
		return err
	}
	defer rows.Close()
	var id, value []byte
	for rows.Next() {
		if err := rows.Scan(&id, &value); err != nil {
			return err
		}
		if !fn(string(id), value) {
			break
		}
	}
	return rows.Err()
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
