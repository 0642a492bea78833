package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// RevisionPath is the route of the store's latest revision, outside Jira's
// namespace: GET RevisionPath answers 200 with {"revision":N}, the store's
// userprops.HeadRevisioner.HeadRevision.
const RevisionPath = wire.RevisionPath

// revision answers GET RevisionPath: 200 {"revision":N} to every
// authenticated caller (every one may watch its own account, whose feed
// announces the same revision), 401 without valid credentials, 405 for
// other methods, 501 for a store that does not tell its head.
func (s *server) revision(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.routeActor(w, r, http.MethodGet)
	if !ok {
		return
	}
	head, ok, err := s.headRevision(r.Context(), actor)
	switch {
	case err != nil:
		s.fail(w, r, err, "")
	case !ok:
		writeError(w, http.StatusNotImplemented, "This store does not tell its latest revision.")
	default:
		writeJSON(w, http.StatusOK, wire.Revision{Revision: head})
	}
}

// headRevision returns the store's latest revision, as actor may ask it
// (userprops.ForActor), and whether the store tells it: false, with no
// error, for a store that is not a userprops.HeadRevisioner or whose
// HeadRevision answers errors.ErrUnsupported (a client of a server that
// does not tell it). It asks the store as given to New: the head belongs to
// no account, so no directory has a say.
func (s *server) headRevision(ctx context.Context, actor userprops.Actor) (head uint64, ok bool, err error) {
	hr, ok := userprops.ForActor(s.rawStore, actor).(userprops.HeadRevisioner)
	if !ok {
		return 0, false, nil
	}
	head, err = hr.HeadRevision(ctx)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return head, true, nil
}
