package pgstore

// EntryTerm is entryTerm, for the tests that check entries against values.
var EntryTerm = entryTerm

// BuildBatchSize is how many properties a build batch indexes.
const BuildBatchSize = buildBatchSize

// Migrations are the schema's migrations, for the tests that start from an
// older version.
var Migrations = migrations
