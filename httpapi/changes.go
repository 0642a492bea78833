package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// ChangesPath is the route of the change feed, outside Jira's namespace:
// GET ChangesPath?accountId=A[&after=R] streams A's changes (every
// account's without accountId, for administrators) as Server-Sent Events.
const ChangesPath = wire.ChangesPath

// heartbeatEvery is how often an idle change feed sends a comment, so that
// proxies and clients keep the connection open.
const heartbeatEvery = 15 * time.Second

// streamStallTimeout is how long the change feed waits for a client to take
// what it writes.
const streamStallTimeout = time.Minute

// changes answers GET ChangesPath with userprops.Store.Watch as
// Server-Sent Events (text/event-stream): each change is one event whose id
// is its revision, whose type is set or delete, and whose data is one line
// of JSON, {"accountId":…,"key":…,"revision":…,"value":…} (value compacted,
// absent for a delete). It starts after the revision given by the
// Last-Event-ID header (an EventSource sends it when it reconnects), or
// else by the after parameter, or else with the changes made from now on.
// The permission rules are those of the property routes: an account's own
// feed, or any for an administrator, who alone may omit accountId. Errors
// before the stream starts answer with their status and Jira's body; an
// error once it has started (the history no longer holds the changes the
// watcher needs, the store closing) is sent as an event of type error, with
// Jira's error body as data and the HTTP status in it as "status" (and,
// for a history that no longer holds the changes, 410, the oldest
// revision it holds as "oldest"), and ends the stream (wire.ChangeError).
// An idle stream sends a comment every 15 seconds.
//
// A stream from now (neither Last-Event-ID nor after) starts, when the
// store is a userprops.HeadRevisioner, with a block that holds only the id
// of the store's head revision ("id: <head>" and a blank line), and then
// delivers exactly the changes after that head. An EventSource takes the
// block's id as its last event ID and dispatches nothing (a block without
// data is no event), so when the connection drops before the first change
// it reconnects with Last-Event-ID the head, and the changes made while it
// was away are not lost. With a store that does not tell its head (or
// whose HeadRevision answers errors.ErrUnsupported), the stream announces
// nothing and starts with the changes made from now on, as before: a
// client that loses it before its first change does not know where it
// was.
func (s *server) changes(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.routeActor(w, r, http.MethodGet)
	if !ok {
		return
	}
	q := r.URL.Query()
	accountID := q.Get("accountId")
	after := userprops.FromNow
	from := r.Header.Get("Last-Event-ID")
	if from == "" {
		from = q.Get("after")
	}
	if from != "" {
		rev, err := strconv.ParseUint(strings.TrimSpace(from), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "The revision to start after must be a decimal number: "+strconv.Quote(from)+".")
			return
		}
		after = rev
	}
	store := userprops.ForActor(s.store, actor)
	if accountID != "" {
		// The account, the directory and the permission are checked
		// before the stream starts, so that they answer with a status.
		if _, err := store.Keys(r.Context(), accountID); err != nil {
			s.fail(w, r, err, "")
			return
		}
	} else if !actor.Admin {
		writeError(w, http.StatusForbidden, "Only administrators may watch every account: give accountId.")
		return
	}
	// A stream from now starts at the head it announces, so that the
	// announcement and the stream agree exactly.
	announce := false
	if after == userprops.FromNow {
		head, ok, err := s.headRevision(r.Context(), actor)
		if err != nil {
			s.fail(w, r, err, "")
			return
		}
		if ok {
			after, announce = head, true
		}
	}

	ctx := r.Context()
	type item struct {
		c   userprops.Change
		err error
	}
	// A few changes may wait here while the last ones are written, so
	// that a burst goes out in few writes; the watch reads the history no
	// faster than the client takes them.
	items := make(chan item, 16)
	go func() {
		defer close(items)
		for c, err := range store.Watch(ctx, accountID, after) {
			select {
			case items <- item{c, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	out := bufio.NewWriter(w)
	// Each write may take up to streamStallTimeout: a client that stops
	// reading is let go, and the server's own write timeout, meant for
	// ordinary answers, does not cut a long stream.
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamStallTimeout))
		return out.Flush() == nil && rc.Flush() == nil
	}
	out.WriteString(": userprops change feed\n\n")
	if announce {
		out.WriteString("id: " + strconv.FormatUint(after, 10) + "\n\n")
	}
	if !flush() {
		return
	}
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	var data bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			out.WriteString(": keepalive\n\n")
			if !flush() {
				return
			}
		case it, ok := <-items:
			if !ok {
				return
			}
			if it.err != nil {
				if ctx.Err() == nil {
					ev := wire.ChangeError{
						ErrorBody: wire.ErrorBody{ErrorMessages: []string{message(it.err, "")}, Errors: map[string]string{}},
						Status:    userprops.HTTPStatus(it.err),
					}
					if compacted, ok := errors.AsType[*userprops.CompactedError](it.err); ok {
						ev.Oldest = compacted.Oldest
					}
					body, _ := json.Marshal(ev)
					out.WriteString("event: error\ndata: ")
					out.Write(body)
					out.WriteString("\n\n")
					flush()
				}
				return
			}
			data.Reset()
			ev := wire.Change{AccountID: it.c.AccountID, Key: it.c.Key, Revision: it.c.Revision}
			if !it.c.Deleted {
				var compact bytes.Buffer
				if err := json.Compact(&compact, it.c.Value); err == nil {
					ev.Value = compact.Bytes()
				}
			}
			enc := json.NewEncoder(&data)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(ev) // one line, ending in "\n"
			kind := "set"
			if it.c.Deleted {
				kind = "delete"
			}
			out.WriteString("id: " + strconv.FormatUint(it.c.Revision, 10) + "\nevent: " + kind + "\ndata: ")
			out.Write(data.Bytes())
			out.WriteString("\n")
			// Write what is waiting before flushing, so that a burst
			// of changes goes out in few writes.
			if len(items) == 0 && !flush() {
				return
			}
		}
	}
}
