package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userprops/userprops"
)

var _ userprops.Scanner = (*Store)(nil)

// ForEach implements userprops.Scanner. It reads in one read-only
// transaction at the repeatable-read level (one snapshot), in the order of
// the primary key's index (bytea sorts byte-wise, whatever the collation),
// and streams the rows: its memory does not grow with the store. fn may call
// the store, writes included, on the pool's other connections. It is not
// retried: a connection lost midway returns its error, after fn has seen
// part of the store.
func (s *Store) ForEach(ctx context.Context, fn func(userprops.Property) error) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.wrap(ctx, "scan", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, `SELECT account_id, key, value, version, updated_at_ns, revision
		FROM userprops_properties ORDER BY account_id, key`)
	if err != nil {
		return s.wrap(ctx, "scan", err)
	}
	defer rows.Close()
	var id, key, value []byte
	var version, updated, revision int64
	for rows.Next() {
		if err := rows.Scan(&id, &key, &value, &version, &updated, &revision); err != nil {
			return s.wrap(ctx, "scan", err)
		}
		p := userprops.Property{AccountID: string(id), Key: string(key), Value: value,
			Version: uint64(version), Revision: uint64(revision), UpdatedAt: time.Unix(0, updated).UTC()}
		value = nil // the next row must not write into what fn keeps
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap(ctx, "scan", err)
	}
	return nil
}
