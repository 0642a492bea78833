package userprops

import "context"

// HeadRevisioner is a Store that tells its latest revision, so that a
// caller can take a position in the change history without waiting for a
// change: read the head, then read the properties, then Watch from the
// head, and nothing is missed or delivered twice. The change feed of
// package httpapi announces it when a stream starts from now, so that a
// client whose connection drops before the first change can resume from
// there.
//
// MemoryStore and BoltStore implement it, and so does a ForActor view of a
// store that does. A store that implements it but cannot answer (a client
// whose server does not tell the head) returns an error wrapping
// errors.ErrUnsupported.
type HeadRevisioner interface {
	// HeadRevision returns the store's latest revision: every change with
	// a revision up to it is committed and readable by Watch, and a Watch
	// from it delivers exactly the changes made after it. 0 for a store
	// with no change yet.
	//
	// It is store-wide, as revisions are: the head of one account's
	// changes is not kept, and a Watch of one account from the store's
	// head delivers exactly that account's changes after it. Every call
	// that starts after HeadRevision returned (a Get, Keys, Find, ForEach)
	// sees every change up to the head. After Close it returns ErrClosed;
	// with a done context, ctx.Err().
	HeadRevision(ctx context.Context) (uint64, error)
}

var (
	_ HeadRevisioner = (*MemoryStore)(nil)
	_ HeadRevisioner = (*BoltStore)(nil)
)
