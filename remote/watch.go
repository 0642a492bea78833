package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// Bounds of the change feed's reading.
const (
	// eventLineLimit is the longest line of the feed read: a data line
	// holds a value (at most userprops.MaxValueBytes, compacted) in its
	// envelope (the account ID and key as JSON, field names).
	eventLineLimit = userprops.MaxValueBytes + envelope
	// eventDataLimit is the most data one event may gather over its data
	// lines.
	eventDataLimit = eventLineLimit
)

// watchIdle is how long a Watch waits for a byte of its stream before it
// takes the connection for dead and reconnects: three of the server's
// 15-second heartbeats.
var watchIdle = 45 * time.Second

// Watch delivers the changes with GET /userprops/1/changes, the server's
// change feed (Server-Sent Events): after as ?after= (omitted for
// userprops.FromNow). Each set or delete event is one Change, in the
// server's revision order; its Value is the value compacted, as the feed
// sends it (valid JSON, equal to the value set but for insignificant white
// space).
//
// When the connection drops (a reset, the server ending the stream, no
// byte within three heartbeats), Watch connects again with Last-Event-ID
// the revision of the last change it delivered (or after, before the
// first), waiting a growing time with jitter between attempts (from 100
// ms, capped as WithRetries caps), so no change is lost or repeated; a
// change the server sends again at or below that revision is dropped. A
// watch from FromNow learns where it starts from the server: a stream from
// now opens with a block holding only the id of the revision it streams
// after (the store's head, see httpapi), which sets the stream's last event
// ID as any id field does, so one whose connection drops before its first
// change connects again with Last-Event-ID that revision.
// Against a server that announces none (its store does not tell its head)
// it cannot know where it was, and delivers an error wrapping
// userprops.ErrCompacted (read the properties again and watch anew) rather
// than miss changes.
//
// Errors end the watch: the server's answers before the stream (the
// sentinels of every call: ErrUnauthorized, ErrForbidden, ErrUserNotFound,
// ErrInvalidAccountID, …, after the retries of a read for 429 and 503), an
// error event of the stream (a 410 is a *userprops.CompactedError whose
// After is the revision asked to resume after and Oldest the server's), a
// malformed stream, ctx.Err() when ctx ends, userprops.ErrClosed on Close.
// Against a server without the feed (Jira Cloud) it is an error wrapping
// errors.ErrUnsupported, as for SetIf. Stopping the iteration closes the
// connection.
func (s *Store) Watch(ctx context.Context, accountID string, after uint64) iter.Seq2[userprops.Change, error] {
	return func(yield func(userprops.Change, error) bool) {
		if err := s.gate.AdmitWatch(ctx, accountID); err != nil {
			yield(userprops.Change{}, err)
			return
		}
		if err := s.knownRevisions("Watch"); err != nil {
			yield(userprops.Change{}, err)
			return
		}
		w := &watch{s: s, accountID: accountID, after: after}
		if err := w.run(ctx, yield); err != nil {
			yield(userprops.Change{}, err)
		}
	}
}

// watch is one Watch's position.
type watch struct {
	s         *Store
	accountID string
	after     uint64        // the last revision delivered, or the after asked for
	delivered bool          // a change was delivered: after is its revision
	learnt    bool          // after is the stream's last event ID, from a watch from now
	connected bool          // the feed answered once: connect again with Last-Event-ID
	retry     time.Duration // the stream's retry field, the least wait before connecting again
}

// errStopped is run's answer when the caller stopped the iteration.
var errStopped = errors.New("remote: the watch was stopped")

// run connects and reconnects until an error ends the watch; it returns
// that error, or nil once the caller stopped.
func (w *watch) run(ctx context.Context, yield func(userprops.Change, error) bool) error {
	for drops := 1; ; drops++ {
		progressed, err := w.stream(ctx, yield)
		var drop *droppedError
		switch {
		case errors.Is(err, errStopped):
			return nil
		case !errors.As(err, &drop):
			return err
		case w.after == userprops.FromNow:
			return fmt.Errorf("remote: Watch from now: %w: the connection to the server was lost before the first change (%v), "+
				"and the server announced no revision to resume from, so the changes made meanwhile are not known: read the properties again and watch anew",
				userprops.ErrCompacted, drop.err)
		}
		if progressed {
			drops = 1
		}
		wait, _ := w.s.retry.wait(drops, 0)
		wait = max(wait, min(w.retry, w.s.retry.maxWait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-w.s.closed.Done():
			t.Stop()
			return userprops.ErrClosed
		case <-t.C:
		}
	}
}

// droppedError is a connection lost in the middle of the stream: the watch
// connects again.
type droppedError struct{ err error }

func (e *droppedError) Error() string {
	return "the change feed's connection was lost: " + e.err.Error()
}

// stream connects once and delivers what the stream brings. It returns
// errStopped when the caller stopped, a *droppedError when the connection
// was lost, and any other error to end the watch with; progressed reports
// whether a change was delivered.
func (w *watch) stream(ctx context.Context, yield func(userprops.Change, error) bool) (progressed bool, err error) {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.s.closed, cancel)()
	asked := w.after
	body, err := w.s.openChanges(connCtx, w.accountID, asked, w.connected)
	if err != nil {
		// Once the feed has answered, a connection that fails is lost for
		// now; an answer of the server's, or a first connection that
		// fails, ends the watch.
		var se *StatusError
		dropped := w.connected && !errors.As(err, &se) && !errors.Is(err, errors.ErrUnsupported)
		return false, w.ended(ctx, err, dropped)
	}
	defer body.Close()
	w.connected = true
	idle := time.AfterFunc(watchIdle, cancel)
	defer idle.Stop()

	events := newEventReader(idleReader{body, idle})
	for {
		ev, err := events.next()
		if err != nil {
			return progressed, w.ended(ctx, err, !errors.Is(err, errMalformedStream))
		}
		if ev.retry > 0 {
			w.retry = ev.retry
		}
		switch ev.typ {
		case "set", "delete":
		case "error":
			return progressed, w.errorEvent(ev.data, asked)
		default:
			// A block with an id and no data (typ ""), as a stream from
			// now opens with, or an event not ours (a "message" without
			// a type, say), ignored as EventSource does but for its id.
			if err := w.learnPosition(ev.id); err != nil {
				return progressed, err
			}
			if asked == userprops.FromNow {
				asked = w.after
			}
			continue
		}
		c, err := w.change(ev)
		if err != nil {
			return progressed, err
		}
		if (w.delivered || w.after != userprops.FromNow) && c.Revision <= w.after {
			continue // sent again after a reconnection: delivered already
		}
		if !yield(c, nil) {
			return progressed, errStopped
		}
		w.after, w.delivered, progressed = c.Revision, true, true
	}
}

// learnPosition takes id, the stream's last event ID, as the position of
// a watch from now until its first change, as an EventSource would send it
// when it connects again: a userprops server starts a stream from now with
// a block holding only the id of the head revision it streams after, so
// that a watch from now that drops before its first change resumes from
// there. A watch asked after a revision, or that delivered a change, keeps
// its position: only a delivered change moves it. A last event ID that is
// not a revision is a malformed stream; an empty one (an id field without
// a value resets it) tells nothing, and leaves the position learnt.
func (w *watch) learnPosition(id string) error {
	if w.delivered || w.after != userprops.FromNow && !w.learnt || id == "" {
		return nil
	}
	rev, err := strconv.ParseUint(id, 10, 64)
	if err != nil || rev == userprops.FromNow {
		return fmt.Errorf("%w: the stream starts after %q, which is not a revision", errMalformedStream, id)
	}
	w.after, w.learnt = rev, true
	return nil
}

// idleReader reads r, and resets idle at every read that brings a byte:
// the heartbeats, comments that the events never show, keep the
// connection.
type idleReader struct {
	r    io.Reader
	idle *time.Timer
}

func (ir idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.idle.Reset(watchIdle)
	}
	return n, err
}

// ended tells what a failed connection or read means: the context's end,
// the Store's Close, a lost connection (a *droppedError, when dropped), or
// the error itself.
func (w *watch) ended(ctx context.Context, err error, dropped bool) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case w.s.gate.Closed():
		return userprops.ErrClosed
	case dropped:
		return &droppedError{err}
	}
	return err
}

// change reads a set or delete event.
func (w *watch) change(ev event) (userprops.Change, error) {
	var data wire.Change
	if err := json.Unmarshal(ev.data, &data); err != nil {
		return userprops.Change{}, fmt.Errorf("%w: a %s event's data is not a change: %v", errMalformedStream, ev.typ, err)
	}
	rev := data.Revision
	if id, err := strconv.ParseUint(ev.id, 10, 64); ev.id != "" && (err != nil || id != rev) {
		return userprops.Change{}, fmt.Errorf("%w: a %s event's id %q is not its revision %d", errMalformedStream, ev.typ, ev.id, rev)
	}
	c := userprops.Change{AccountID: data.AccountID, Key: data.Key, Revision: rev, Deleted: ev.typ == "delete"}
	switch {
	case rev == 0:
		return userprops.Change{}, fmt.Errorf("%w: a %s event without a revision", errMalformedStream, ev.typ)
	case !c.Deleted && len(data.Value) == 0:
		return userprops.Change{}, fmt.Errorf("%w: a set event without a value", errMalformedStream)
	case !c.Deleted:
		c.Value = data.Value
	}
	return c, nil
}

// errorEvent returns the error an error event stands for: a
// *userprops.CompactedError for a 410, else what the same status and body
// would stand for as an answer.
func (w *watch) errorEvent(data []byte, asked uint64) error {
	var ev wire.ChangeError
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("%w: an error event's data is not Jira's error body: %v", errMalformedStream, err)
	}
	if ev.Status == http.StatusGone {
		return &userprops.CompactedError{After: asked, Oldest: ev.Oldest}
	}
	r := result{c: &call{method: http.MethodGet, path: wire.ChangesPath}, status: ev.Status, body: data}
	return r.err()
}

// openChanges connects to the change feed of accountID: after after, as
// Last-Event-ID when resume is set, else as ?after= (none for FromNow). It
// learns from the answer whether the server keeps revisions, and returns
// the stream's body, for the caller to close.
func (s *Store) openChanges(ctx context.Context, accountID string, after uint64, resume bool) (io.ReadCloser, error) {
	c := &call{method: http.MethodGet, path: wire.ChangesPath, accountID: accountID,
		header: http.Header{"Accept": {"text/event-stream"}}, stream: true, userpropsOnly: "Watch", limit: errorLimit}
	switch {
	case resume:
		c.header.Set("Last-Event-ID", strconv.FormatUint(after, 10))
	case after != userprops.FromNow:
		c.query = "after=" + strconv.FormatUint(after, 10)
	}
	r, err := s.do(ctx, c)
	if errors.Is(err, errors.ErrUnsupported) {
		var se *StatusError
		errors.As(err, &se)
		s.learnRevisions(false, fmt.Sprintf("GET %s answered %d", wire.ChangesPath, se.StatusCode))
		return nil, errNoRevisions("Watch", fmt.Sprintf("GET %s answered %d", wire.ChangesPath, se.StatusCode))
	}
	if err != nil {
		return nil, err
	}
	if r.stream == nil || !isEventStream(r.header.Get("Content-Type")) {
		if r.stream != nil {
			r.stream.Close()
		}
		why := fmt.Sprintf("GET %s answered %d %q, not an event stream", wire.ChangesPath, r.status, abbrev([]byte(r.header.Get("Content-Type"))))
		s.learnRevisions(false, why)
		return nil, errNoRevisions("Watch", why)
	}
	s.learnRevisions(true, "")
	return r.stream, nil
}

// errMalformedStream is what a stream that breaks the feed's form wraps.
var errMalformedStream = fmt.Errorf("%w: the change feed's stream is malformed", errUnexpected)

// event is one dispatched Server-Sent Event, or a block that set the last
// event ID and dispatched nothing (typ "").
type event struct {
	typ   string // "message" when the event named none; "" for a block with an id and no data
	data  []byte // the data lines joined with "\n"
	id    string // the last event ID (it carries over events without one)
	retry time.Duration
}

// eventReader reads Server-Sent Events as the HTML standard's
// event-stream interpretation does: lines end with CRLF, LF or CR; a
// leading BOM is dropped; a line starting with ':' is a comment; "field:
// value" drops one space after the colon, and a line without a colon is a
// field with an empty value; data lines are joined with "\n"; id sets the
// last event ID buffer unless it holds a NUL; retry, all digits, the
// reconnection time; a blank line sets the last event ID from its buffer,
// in every block, and dispatches the event, unless its data is empty; an
// event cut off by the end of the stream is dropped, and its id with it. A
// block with an id and no data dispatches nothing, as an EventSource does,
// but next returns it (typ "", id the last event ID), since it tells where
// the stream is: the change feed announces its start so. A line longer
// than eventLineLimit, or an event with more data than eventDataLimit, is
// an error wrapping errMalformedStream.
type eventReader struct {
	lines *bufio.Scanner
	first bool
	// lastID is the last event ID, as of the last blank line; idBuf the
	// buffer that id fields set, which a blank line makes the last event
	// ID; sawID that the block being read has an id field.
	lastID  string
	idBuf   string
	sawID   bool
	typ     string
	data    []byte
	retry   time.Duration
	hasData bool
}

func newEventReader(r io.Reader) *eventReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4<<10), eventLineLimit)
	sc.Split(splitLines)
	return &eventReader{lines: sc, first: true}
}

// next returns the next event, or the error that ended the stream (io.EOF
// for its end).
func (er *eventReader) next() (event, error) {
	for er.lines.Scan() {
		line := er.lines.Bytes()
		if er.first {
			line, er.first = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF")), false
		}
		if len(line) == 0 {
			er.lastID = er.idBuf
			sawID := er.sawID
			er.sawID = false
			if !er.hasData {
				er.typ, er.data = "", er.data[:0]
				if !sawID {
					continue
				}
				ev := event{id: er.lastID, retry: er.retry}
				er.retry = 0
				return ev, nil
			}
			ev := event{typ: er.typ, data: bytes.TrimSuffix(er.data, []byte("\n")), id: er.lastID, retry: er.retry}
			if ev.typ == "" {
				ev.typ = "message"
			}
			ev.data = bytes.Clone(ev.data)
			er.typ, er.data, er.hasData, er.retry = "", er.data[:0], false, 0
			return ev, nil
		}
		if line[0] == ':' {
			continue // a comment: the heartbeats
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(name) {
		case "event":
			er.typ = string(value)
		case "data":
			if len(er.data)+len(value)+1 > eventDataLimit {
				return event{}, fmt.Errorf("%w: an event's data is longer than %d bytes", errMalformedStream, eventDataLimit)
			}
			er.data = append(append(er.data, value...), '\n')
			er.hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				er.idBuf, er.sawID = string(value), true
			}
		case "retry":
			if n, err := strconv.ParseUint(string(value), 10, 32); err == nil && len(value) > 0 && value[0] != '+' {
				er.retry = time.Duration(n) * time.Millisecond
			}
		}
	}
	err := er.lines.Err()
	switch {
	case errors.Is(err, bufio.ErrTooLong):
		return event{}, fmt.Errorf("%w: a line is longer than %d bytes", errMalformedStream, eventLineLimit)
	case err == nil:
		return event{}, io.EOF
	}
	return event{}, err
}

// splitLines splits at CRLF, LF or CR, the line ends of an event stream.
// A CR at the end of what has been read waits for the next byte, which may
// be its LF.
func splitLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF:
		return len(data), nil, nil // a line the stream cut off: dropped
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data) && data[i+1] == '\n':
		return i + 2, data[:i], nil
	case i+1 == len(data) && !atEOF:
		return 0, nil, nil
	}
	return i + 1, data[:i], nil
}
