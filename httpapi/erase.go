package httpapi

import (
	"net/http"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// AccountPropertiesPath is the route that erases an account, outside Jira's
// namespace: DELETE AccountPropertiesPath deletes every property of the
// account in the path (percent-encoded, one path segment) in one
// transaction, and answers 200 with {"deleted":N}.
const AccountPropertiesPath = "/userprops/1/accounts/{accountId}/properties"

// deleteAccount answers DELETE AccountPropertiesPath through
// userprops.Store.DeleteAccount, with the permission rules of every write:
// 401 without valid credentials, 403 for another account unless the caller
// is an administrator, 404 for an account the directory does not know, 400
// for an invalid account ID; 405 for other methods.
func (s *server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.routeActor(w, r, http.MethodDelete)
	if !ok {
		return
	}
	n, err := userprops.ForActor(s.store, actor).DeleteAccount(r.Context(), r.PathValue("accountId"))
	if err != nil {
		s.fail(w, r, err, "")
		return
	}
	writeJSON(w, http.StatusOK, wire.Deleted{Deleted: n})
}
