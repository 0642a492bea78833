package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/userprops/userprops"
)

// Conditional requests (RFC 9110 §13), on a property's revision: GET and a
// successful PUT answer ETag: "<revision>" (userprops.Property.Revision);
// GET with If-None-Match holding that tag (or *) answers 304; PUT and
// DELETE honour If-Match ("<revision>", several, or *) and If-None-Match: *
// (PUT: create only; DELETE: only if there is nothing, which answers 404)
// or tags (none of which the property may be at), both headers together if
// both are given, through SetIf and DeleteIf, so the check and the write
// are one atomic step; a precondition that fails answers 412 with Jira's
// error body. A request with neither header behaves as Jira does.

// etag returns the entity tag of a revision.
func etag(revision uint64) string {
	return `"` + strconv.FormatUint(revision, 10) + `"`
}

// condition is what an If-Match or If-None-Match header asks for.
type condition struct {
	given bool     // the header is present
	any   bool     // *
	revs  []uint64 // the revisions of the tags that name one
}

// parseCondition reads the header name of r. Weak tags (W/"…") are read as
// their revision when weak is true (If-None-Match compares weakly) and
// ignored otherwise (If-Match compares strongly: a weak tag never
// matches). Tags that name no revision of this server never match.
func parseCondition(r *http.Request, name string, weak bool) condition {
	values := r.Header.Values(name)
	c := condition{given: len(values) > 0}
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				c.any = true
				continue
			}
			if strings.HasPrefix(tag, "W/") {
				if !weak {
					continue
				}
				tag = tag[2:]
			}
			if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
				continue
			}
			// Compared as text, as entity tags are: "007" is not "7".
			inner := tag[1 : len(tag)-1]
			if rev, err := strconv.ParseUint(inner, 10, 64); err == nil && rev > 0 && strconv.FormatUint(rev, 10) == inner {
				c.revs = append(c.revs, rev)
			}
		}
	}
	return c
}

// matches reports whether a property at revision rev (0: none) meets c.
func (c condition) matches(rev uint64) bool {
	if rev == 0 {
		return false
	}
	if c.any {
		return true
	}
	for _, r := range c.revs {
		if r == rev {
			return true
		}
	}
	return false
}

// precondition is what a PUT or DELETE is conditioned on: its If-Match and
// If-None-Match headers, both of which must hold (RFC 9110 §13.2.2).
type precondition struct {
	ifMatch, ifNone condition
}

func readPrecondition(r *http.Request) precondition {
	return precondition{ifMatch: parseCondition(r, "If-Match", false), ifNone: parseCondition(r, "If-None-Match", true)}
}

// none reports whether the request has no precondition.
func (p precondition) none() bool { return !p.ifMatch.given && !p.ifNone.given }

// exact returns the one revision the write may go on from when the headers
// name exactly one state, so that SetIf or DeleteIf checks it atomically:
// If-Match with one tag alone (that revision), or If-None-Match: * alone
// (0: the property is missing).
func (p precondition) exact() (uint64, bool) {
	switch {
	case p.ifMatch.given && !p.ifNone.given && !p.ifMatch.any && len(p.ifMatch.revs) == 1:
		return p.ifMatch.revs[0], true
	case p.ifNone.given && !p.ifMatch.given && p.ifNone.any:
		return 0, true
	}
	return 0, false
}

// holds reports whether a property at revision current (0: missing) meets
// both headers.
func (p precondition) holds(current uint64) bool {
	if p.ifMatch.given && !p.ifMatch.matches(current) {
		return false
	}
	return !(p.ifNone.given && p.ifNone.matches(current))
}

// errPrecondition is the answer to a precondition the property does not
// meet.
var errPrecondition = userprops.ErrRevisionMismatch

// conditionalRetries bounds how often a PUT without a single revision to
// go on (unconditional, or If-Match: *) reads the property's revision again
// after another write moved it first.
const conditionalRetries = 8

// setConditionally stores value for a PUT under its precondition and
// returns the status and the new revision (0 when it is not known: an
// unconditional PUT that lost the race conditionalRetries times is then
// made as a plain Set, and answers no ETag).
func setConditionally(r *http.Request, store userprops.Store, accountID, key string, value []byte) (userprops.Status, uint64, error) {
	ctx := r.Context()
	pre := readPrecondition(r)
	if rev, ok := pre.exact(); ok {
		newRev, err := store.SetIf(ctx, accountID, key, value, rev)
		status := userprops.Updated
		if rev == 0 {
			status = userprops.Created
		}
		return status, newRev, err
	}
	// Unconditional, or on whatever revision the property has if it meets
	// the headers: the first try of an unconditional PUT is a create, which
	// runs the checks in Set's order (the account, the key, the value, then
	// the directory), so that it fails as Set would.
	current := uint64(0)
	for i := range conditionalRetries {
		if !pre.none() || i > 0 {
			var err error
			if current, err = currentRevision(r, store, accountID, key); err != nil {
				return 0, 0, err
			}
			if !pre.holds(current) {
				return 0, 0, errPrecondition
			}
		}
		rev, err := store.SetIf(ctx, accountID, key, value, current)
		if errors.Is(err, userprops.ErrRevisionMismatch) {
			continue // another write came first: read again
		}
		status := userprops.Updated
		if current == 0 {
			status = userprops.Created
		}
		return status, rev, err
	}
	if !pre.none() {
		return 0, 0, errPrecondition
	}
	status, err := store.Set(ctx, accountID, key, value)
	return status, 0, err
}

// deleteConditionally deletes for a DELETE under its precondition.
func deleteConditionally(r *http.Request, store userprops.Store, accountID, key string) error {
	ctx := r.Context()
	pre := readPrecondition(r)
	if pre.none() {
		return store.Delete(ctx, accountID, key)
	}
	if rev, ok := pre.exact(); ok {
		return store.DeleteIf(ctx, accountID, key, rev)
	}
	for range conditionalRetries {
		current, err := currentRevision(r, store, accountID, key)
		if err != nil {
			return err
		}
		if !pre.holds(current) {
			return errPrecondition
		}
		// current 0 (missing, and the headers allow that): DeleteIf
		// answers ErrNotFound, or a mismatch if it was created meanwhile.
		err = store.DeleteIf(ctx, accountID, key, current)
		if !errors.Is(err, userprops.ErrRevisionMismatch) {
			return err
		}
	}
	return errPrecondition
}

// currentRevision returns the property's revision, 0 if it does not exist.
func currentRevision(r *http.Request, store userprops.Store, accountID, key string) (uint64, error) {
	p, err := store.Get(r.Context(), accountID, key)
	if errors.Is(err, userprops.ErrNotFound) {
		return 0, nil
	}
	return p.Revision, err
}
