// Package userprops stores Jira-style user properties in a Go program, without
// Jira and without HTTP: a small JSON document under an (account ID, property
// key) pair, read back byte for byte, listed per account, and deleted, with
// exactly the rules of Jira Cloud's user-property REST resource.
//
// # Stores
//
// A Store is opened in one line, and every Store follows the same rules:
//
//   - NewMemory keeps properties in memory, for tests and caches.
//   - OpenBolt keeps them in one bbolt file; Set and Delete return only once
//     the change is synced to disk, and concurrent writers share commits.
//
// The conformance suite in package storetest proves each backend against
// these rules; a third-party Store can run it with one call.
//
// # Rules
//
// The rules are Jira's (each violation returns an error wrapping the sentinel
// named here, and changes nothing):
//
//   - account ID: required (ErrAccountIDMissing); at most MaxAccountIDLength
//     UTF-16 code units, valid UTF-8, not blank (ErrInvalidAccountID);
//   - property key: required (ErrKeyMissing); at most MaxKeyLength UTF-16
//     code units (ErrKeyTooLong); valid UTF-8, not blank (ErrInvalidKey);
//   - value: not empty or only white space (ErrValueMissing); at most
//     MaxValueBytes bytes, checked before parsing (ErrValueTooLarge); exactly
//     one JSON value of any type in valid UTF-8 (ErrInvalidJSON).
//
// One more rule is the store's own, not Jira's: an account may hold at most
// DefaultMaxProperties properties and DefaultMaxBytes bytes of keys and
// values (WithAccountLimits changes or lifts the limits); a Set past them
// returns ErrAccountFull.
//
// Set answers Created the first time a property is stored (also after a
// Delete) and Updated afterwards; Property.Version is 1 on creation and grows
// by one with every update. Get and Delete of a missing property return
// ErrNotFound; Keys lists an account's keys in ascending byte order. Every
// account's properties are isolated from every other's, whatever characters
// the account IDs contain. Values passed in and returned are copies: nothing a
// caller holds aliases a store's memory.
//
// ForActor adds Jira's permission rules (administrators act on any account,
// others only on their own), and HTTPStatus maps every error to the status
// Jira's REST API answers with.
//
// # Finding users
//
// Store.Find returns the accounts whose properties match a Query, one Page
// at a time, as Jira's user search does: build a Query with Where, And and
// Or, or parse Jira's structured query with ParseQuery
// (`[location].office.city is "Sydney"`) or its property filter with
// ParsePropertyFilter. Paths are read with gjson; the matching rules are in
// the documentation of Query. WithIndex declares an index that makes the
// clauses on one key and path fast; an index changes how fast Find
// answers, never what it answers.
//
// # Revisions and the change feed
//
// Every committed change gets a revision, a store-wide counter that only
// grows (Property.Revision). SetIf and DeleteIf write only if the property
// is still at the revision a caller read, so concurrent editors never
// silently overwrite each other (ErrRevisionMismatch), and Watch delivers
// every change after a revision, from the history the store keeps
// (WithHistory) and then live, without ever holding up a writer. A store
// that is a HeadRevisioner tells its latest revision, so that a watch can
// start exactly where a read of the properties stood.
//
// # Options
//
// Options that name no backend (WithDirectory, WithClock,
// WithAccountLimits, WithIndex) apply to every store. An option for one
// backend (WithLockTimeout, WithMmapSize and WithLogger for OpenBolt) is
// ignored by the others, so one list of options opens any store.
//
// # Writing a backend
//
// Gate, NotFound, BackendOption and BackendSettings are for backend
// implementers, not for applications: a backend calls its Gate first in every
// method, so that Jira's rules are enforced by this package's code alone, and
// proves itself with storetest.
package userprops
