package pgstore

// EntryTerm is entryTerm, for the tests that check entries against values.
var EntryTerm = entryTerm

// BuildBatchSize is how many properties a build batch indexes.
const BuildBatchSize = buildBatchSize
