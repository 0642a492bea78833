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
// (PUT: create only; DELETE: only if there is nothing, which answers 404),
// through SetIf and DeleteIf, so the check and the write are one atomic
// step; a precondition that fails answers 412 with Jira's error body. A
// request with neither header behaves as Jira does.

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
			if rev, err := strconv.ParseUint(tag[1:len(tag)-1], 10, 64); err == nil && rev > 0 {
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

// precondition is what a PUT or DELETE is conditioned on, read from its
// headers: nothing (unconditional), exactly one revision, the property
// being absent (If-None-Match: *), or, for * and lists of tags, whatever
// revision the property has once it is read (resolved by current).
type precondition struct {
	none     bool // no precondition
	absent   bool // If-None-Match: *
	ifMatch  condition
	exactRev uint64 // If-Match with one tag: that revision
}

func readPrecondition(r *http.Request) precondition {
	ifNone := parseCondition(r, "If-None-Match", true)
	ifMatch := parseCondition(r, "If-Match", false)
	p := precondition{ifMatch: ifMatch}
	switch {
	case ifMatch.given && !ifMatch.any && len(ifMatch.revs) == 1:
		p.exactRev = ifMatch.revs[0]
	case ifMatch.given:
	case ifNone.given && ifNone.any:
		p.absent = true
	default:
		p.none = true
	}
	return p
}

// errPrecondition is the answer to an If-Match that names no revision the
// property has.
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
	switch {
	case pre.absent:
		rev, err := store.SetIf(ctx, accountID, key, value, 0)
		return userprops.Created, rev, err
	case pre.exactRev != 0:
		rev, err := store.SetIf(ctx, accountID, key, value, pre.exactRev)
		return userprops.Updated, rev, err
	}
	// Unconditional, or on whatever revision the property has: the first
	// try of an unconditional PUT is a create, which runs the checks in
	// Set's order (the account, the key, the value, then the directory),
	// so that it fails as Set would.
	current := uint64(0)
	for i := range conditionalRetries {
		if !pre.none || i > 0 {
			var err error
			if current, err = currentRevision(r, store, accountID, key); err != nil {
				return 0, 0, err
			}
			if !pre.none && !pre.ifMatch.matches(current) {
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
	if !pre.none {
		return 0, 0, errPrecondition
	}
	status, err := store.Set(ctx, accountID, key, value)
	return status, 0, err
}

// deleteConditionally deletes for a DELETE under its precondition.
func deleteConditionally(r *http.Request, store userprops.Store, accountID, key string) error {
	ctx := r.Context()
	pre := readPrecondition(r)
	switch {
	case pre.none:
		return store.Delete(ctx, accountID, key)
	case pre.absent:
		return store.DeleteIf(ctx, accountID, key, 0)
	case pre.exactRev != 0:
		return store.DeleteIf(ctx, accountID, key, pre.exactRev)
	}
	for range conditionalRetries {
		current, err := currentRevision(r, store, accountID, key)
		if err != nil {
			return err
		}
		if !pre.ifMatch.matches(current) {
			return errPrecondition
		}
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
