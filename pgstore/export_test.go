package pgstore

// EntryTerm is entryTerm, for the tests that check entries against values.
var EntryTerm = entryTerm

// BuildBatchSize is how many properties a build batch indexes.
const BuildBatchSize = buildBatchSize

// Migrations are the schema's migrations, for the tests that start from an
// older version.
var Migrations = migrations

// SetBeforeCommit makes Set and Delete (of every Store) call f after their
// last batch, their revision drawn, and before their commit; an error from
// f rolls the write back and is its error. It returns a function that
// restores the hook; tests that set it must not run in parallel.
func SetBeforeCommit(f func(accountID, key string) error) (restore func()) {
	old := beforeCommit
	beforeCommit = f
	return func() { beforeCommit = old }
}
