package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// revisionSupport is what the Store has learnt of whether its server keeps
// revisions: known is false until an answer told.
type revisionSupport struct {
	known bool
	ok    bool
	why   string // when !ok: what the server answered
}

// learnRevisions records what an answer told of the server's revisions.
// The first answer that tells decides for the Store's life.
func (s *Store) learnRevisions(ok bool, why string) {
	s.revisions.CompareAndSwap(nil, &revisionSupport{known: true, ok: ok, why: why})
}

// errNoRevisions is the error of a userprops-only operation on revisions
// (SetIf, DeleteIf, Watch) on a server known not to keep them.
func errNoRevisions(op, why string) error {
	return fmt.Errorf("remote: %s: %w: the server keeps no revisions (%s): is it Jira Cloud?",
		op, errors.ErrUnsupported, why)
}

// parseETag returns the revision of an ETag a userprops server writes,
// "<revision>" (strong, decimal, above 0); ok is false for any other tag.
func parseETag(tag string) (rev uint64, ok bool) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, false
	}
	rev, err := strconv.ParseUint(tag[1:len(tag)-1], 10, 64)
	return rev, err == nil && rev > 0
}

// revisionOf reads the revision of a property's successful GET from its
// ETag, and learns from it whether the server keeps revisions: a GET of a
// userprops server always has one; Jira Cloud's has none.
func (s *Store) revisionOf(h http.Header) uint64 {
	tag := h.Get("ETag")
	rev, ok := parseETag(tag)
	switch {
	case ok:
		s.learnRevisions(true, "")
	case tag == "":
		s.learnRevisions(false, "a property's GET answered no ETag")
	default:
		s.learnRevisions(false, "a property's GET answered the ETag "+strconv.Quote(abbrev([]byte(tag)))+", which names no revision")
	}
	return rev
}

// requireRevisions returns nil once the server is known to keep revisions,
// and an error wrapping errors.ErrUnsupported once it is known not to.
// Until it is known, it asks: a GET of the property (whose ETag tells), or,
// when there is none, a GET of the change feed (which only a userprops
// server has). A conditional write is never sent to a server that would
// take it for an unconditional one.
func (s *Store) requireRevisions(ctx context.Context, op, accountID, key string) error {
	if err := s.knownRevisions(op); err != nil || s.revisions.Load() != nil {
		return err
	}
	_, err := s.Get(ctx, accountID, key)
	if errors.Is(err, userprops.ErrNotFound) {
		err = s.probeChanges(ctx, accountID)
	}
	if err != nil {
		return err
	}
	return s.knownRevisions(op)
}

// knownRevisions returns the error of op on a server known to keep no
// revisions, else nil.
func (s *Store) knownRevisions(op string) error {
	if sup := s.revisions.Load(); sup != nil && !sup.ok {
		return errNoRevisions(op, sup.why)
	}
	return nil
}

// SetIf stores value only if the property is at revision: PUT with
// If-Match: "<revision>", or If-None-Match: * for revision 0 (create
// only). It returns the new revision, from the answer's ETag; a 412 is an
// error wrapping userprops.ErrRevisionMismatch. Against a server that
// keeps no revisions (Jira Cloud, whose GET answers no ETag) it returns an
// error wrapping errors.ErrUnsupported, and sends no write: until the Store
// has seen an answer that tells (a Get's ETag), SetIf first asks (see the
// package documentation). Like Set, it is retried after a 429 and never
// once it may have reached the server.
func (s *Store) SetIf(ctx context.Context, accountID, key string, value []byte, revision uint64) (uint64, error) {
	if err := s.gate.AdmitSetIf(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	if err := s.requireRevisions(ctx, "SetIf", accountID, key); err != nil {
		return 0, err
	}
	r, err := s.do(ctx, &call{method: http.MethodPut, path: propertyPath(key), accountID: accountID,
		key: key, body: value, write: true, header: precondition(revision)})
	if err != nil {
		return 0, err
	}
	if r.status != http.StatusCreated && r.status != http.StatusOK && r.status != http.StatusNoContent {
		return 0, r.unexpected()
	}
	rev, ok := parseETag(r.header.Get("ETag"))
	if !ok {
		return 0, fmt.Errorf("%w: %s %s: %d: the value was stored, but the answer's ETag %q names no revision",
			errUnexpected, r.c.method, r.c.path, r.status, abbrev([]byte(r.header.Get("ETag"))))
	}
	return rev, nil
}

// DeleteIf removes the property only if it is at revision: DELETE with
// If-Match: "<revision>" (revision 0, which matches only a missing
// property: If-None-Match: *, which a userprops server answers with 404
// for a missing property and 412 for an existing one). Errors, support
// and retries are as for SetIf.
func (s *Store) DeleteIf(ctx context.Context, accountID, key string, revision uint64) error {
	if err := s.gate.AdmitDeleteIf(ctx, accountID, key); err != nil {
		return err
	}
	if err := s.requireRevisions(ctx, "DeleteIf", accountID, key); err != nil {
		return err
	}
	r, err := s.do(ctx, &call{method: http.MethodDelete, path: propertyPath(key), accountID: accountID,
		key: key, write: true, header: precondition(revision)})
	if err != nil {
		return err
	}
	if r.status != http.StatusNoContent && r.status != http.StatusOK {
		return r.unexpected()
	}
	return nil
}

// precondition returns the header of a write conditioned on revision.
func precondition(revision uint64) http.Header {
	if revision == 0 {
		return http.Header{"If-None-Match": {"*"}}
	}
	return http.Header{"If-Match": {`"` + strconv.FormatUint(revision, 10) + `"`}}
}

// probeChanges asks the change feed of accountID whether the server keeps
// revisions: a userprops server answers 200 with an event stream (closed
// at once), a server without the route a 404 (or 405, 501) that is not
// Jira's unknown-user answer. It learns the answer, and returns the errors
// of any other (ErrForbidden, ErrUserNotFound, …).
func (s *Store) probeChanges(ctx context.Context, accountID string) error {
	body, err := s.openChanges(ctx, accountID, userprops.FromNow, false)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil // learnt
	}
	if err != nil {
		return err
	}
	return body.Close()
}

// isEventStream reports whether a Content-Type is text/event-stream.
func isEventStream(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "text/event-stream")
}

// HeadRevision implements userprops.HeadRevisioner with GET
// /userprops/1/revision, a userprops server's own route: the latest
// revision of the server's store. Against a server without the route (Jira
// Cloud, an older userprops server: a 404, 405 or 501 that is not Jira's
// unknown-user answer), or whose store does not tell its head (501), it
// returns an error wrapping errors.ErrUnsupported; it learns nothing from
// that of the server's revisions. It is a read: retried after a 429 or a
// 503.
func (s *Store) HeadRevision(ctx context.Context) (uint64, error) {
	if err := s.gate.Ready(ctx); err != nil {
		return 0, err
	}
	if err := s.knownRevisions("HeadRevision"); err != nil {
		return 0, err
	}
	r, err := s.do(ctx, &call{method: http.MethodGet, path: wire.RevisionPath, limit: 1 << 10, userpropsOnly: "HeadRevision"})
	if se, ok := errors.AsType[*StatusError](err); ok && se.StatusCode == http.StatusNotImplemented && se.Message != "" {
		// A userprops server whose store does not tell its head: not
		// Jira Cloud, as the error of a route it lacks would say.
		se.err = fmt.Errorf("%w: the server's store does not tell its latest revision", errors.ErrUnsupported)
	}
	if err != nil {
		return 0, err
	}
	if r.status != http.StatusOK {
		return 0, r.unexpected()
	}
	var body wire.Revision
	if err := json.Unmarshal(r.body, &body); err != nil {
		return 0, r.malformed("not a revision", err)
	}
	s.learnRevisions(true, "")
	return body.Revision, nil
}
