package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userprops/userprops"
)

// migrations[i] takes the schema from version i to version i+1; the schema
// this package writes and reads is version len(migrations).
var migrations = []string{
	`CREATE TABLE userprops_properties (
		account_id    bytea  NOT NULL,
		key           bytea  NOT NULL,
		value         bytea  NOT NULL,
		version       bigint NOT NULL CHECK (version >= 1),
		updated_at_ns bigint NOT NULL,
		PRIMARY KEY (account_id, key)
	)`,
	// Version 2: each account's usage, for the account limits, counted
	// from the properties while writes wait (SHARE mode lets reads go on).
	`LOCK TABLE userprops_properties IN SHARE MODE;
	CREATE TABLE userprops_accounts (
		account_id bytea  PRIMARY KEY,
		properties bigint NOT NULL,
		bytes      bigint NOT NULL
	);
	INSERT INTO userprops_accounts (account_id, properties, bytes)
	SELECT account_id, count(*), sum(length(key) + length(value))
	FROM userprops_properties GROUP BY account_id`,
	// Version 3: the indexes of Find (see index.go), and the properties
	// by key, for Find's scans and index builds. No index of Find exists
	// yet, so no entry is due; the first Open that declares one builds it.
	`CREATE TABLE userprops_indexes (
		id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		key         bytea   NOT NULL,
		path        bytea   NOT NULL,
		state       text    NOT NULL CHECK (state IN ('building', 'ready', 'dropping')),
		built_after bytea,
		UNIQUE (key, path)
	);
	CREATE TABLE userprops_index_entries (
		index_id   integer NOT NULL,
		term       bytea   NOT NULL,
		account_id bytea   NOT NULL,
		PRIMARY KEY (index_id, term, account_id)
	);
	CREATE INDEX userprops_properties_by_key ON userprops_properties (key, account_id)`,
	// Version 4: revisions and the change history (see history.go). The
	// properties already there get revisions 1 to N in the order of account
	// and key, the counter starts at N, and the history starts empty with
	// N trimmed, so that a Watch from before the migration is told it
	// missed changes (its oldest revision is N+1). The column has no
	// default: a process of an older version, whose writes would not
	// count revisions, fails to write instead.
	`ALTER TABLE userprops_properties ADD COLUMN revision bigint;
	UPDATE userprops_properties p SET revision = n.r
	FROM (SELECT account_id, key, row_number() OVER (ORDER BY account_id, key) AS r FROM userprops_properties) n
	WHERE p.account_id = n.account_id AND p.key = n.key;
	ALTER TABLE userprops_properties ALTER COLUMN revision SET NOT NULL,
		ADD CONSTRAINT userprops_properties_revision_check CHECK (revision >= 1);
	CREATE TABLE userprops_revision (
		singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
		revision  bigint  NOT NULL CHECK (revision >= 0),
		trimmed   bigint  NOT NULL CHECK (trimmed >= 0 AND trimmed <= revision)
	);
	INSERT INTO userprops_revision (revision, trimmed) SELECT count(*), count(*) FROM userprops_properties;
	CREATE TABLE userprops_history (
		revision        bigint  PRIMARY KEY,
		account_id      bytea   NOT NULL,
		key             bytea   NOT NULL,
		deleted         boolean NOT NULL,
		value           bytea   CHECK (deleted = (value IS NULL)),
		committed_at_ns bigint  NOT NULL
	);
	CREATE INDEX userprops_history_by_account ON userprops_history (account_id, revision)`,
	// Version 5: revisions from a sequence, drawn by writes in parallel
	// (see history.go), in place of the counter row that made them commit
	// one at a time. The counter's table is locked first, so that a write
	// of an older version in flight commits before the sequence starts
	// after its last revision, and those that follow fail (the counter is
	// gone) instead of giving revisions again. The table keeps the
	// trimmed mark alone.
	`LOCK TABLE userprops_revision IN ACCESS EXCLUSIVE MODE;
	CREATE SEQUENCE userprops_revisions AS bigint MINVALUE 0 START 1 CACHE 1 NO CYCLE;
	SELECT setval('userprops_revisions', revision) FROM userprops_revision;
	ALTER TABLE userprops_revision DROP COLUMN revision;
	ALTER TABLE userprops_revision RENAME TO userprops_trimmed;
	ALTER TABLE userprops_trimmed ADD CONSTRAINT userprops_trimmed_check CHECK (trimmed >= 0)`,
}

// schemaLock is the advisory lock under which Open creates and migrates the
// schema, so that processes opening one database at once take turns.
const schemaLock = 0x75736572_70726f70 // "userprop"

// migrate brings the schema to the current version in one transaction,
// under the advisory lock, and refuses a newer one.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS userprops_schema (
			singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
			version   integer NOT NULL)`)
		if err != nil {
			return err
		}
		var version int
		err = tx.QueryRow(ctx, `SELECT version FROM userprops_schema`).Scan(&version)
		switch {
		case err == pgx.ErrNoRows:
			if _, err := tx.Exec(ctx, `INSERT INTO userprops_schema (version) VALUES (0)`); err != nil {
				return err
			}
		case err != nil:
			return err
		case version > len(migrations):
			return fmt.Errorf("%w: the database has schema version %d, this package reads up to %d",
				userprops.ErrFormatVersion, version, len(migrations))
		}
		for v := version; v < len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrating the schema to version %d: %w", v+1, err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE userprops_schema SET version = $1`, len(migrations))
		return err
	})
}
