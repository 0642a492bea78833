package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// specTrace interprets stream as the HTML standard's event-stream
// interpretation does (section 9.2.6, "Interpreting an event stream"),
// step by step as it is written, on bytes (the UTF-8 decoding it starts
// with replaces invalid bytes, never adds or removes a line end or a
// colon), and returns what a browser's EventSource observes: each event it
// dispatches, with its type, data and lastEventId, and, for a block that
// sets the last event ID without dispatching (an id and no data), that ID;
// then the last event ID at the end of the stream, which a reconnection
// sends.
func specTrace(stream []byte) []string {
	var trace []string
	stream = bytes.TrimPrefix(stream, []byte("\xEF\xBB\xBF")) // one leading BOM is ignored
	var data, eventType, lastEventIDBuffer, lastEventID string
	sawID := false // the observation point: not the standard's state
	dispatch := func() {
		// 1. Set the last event ID string of the event source to the
		// value of the last event ID buffer.
		lastEventID = lastEventIDBuffer
		// 2. If the data buffer is an empty string, set the data buffer
		// and the event type buffer to the empty string and return.
		if data == "" {
			data, eventType = "", ""
			if sawID {
				trace = append(trace, fmt.Sprintf("id %q", lastEventID))
			}
			sawID = false
			return
		}
		// 3. If the data buffer's last character is a U+000A LINE FEED
		// (LF) character, then remove the last character.
		data = strings.TrimSuffix(data, "\n")
		// 4-6. The event: its type is "message" unless the event type
		// buffer holds another; its lastEventId the last event ID string.
		typ := "message"
		if eventType != "" {
			typ = eventType
		}
		trace = append(trace, fmt.Sprintf("event %q %q %q", typ, data, lastEventID))
		data, eventType, sawID = "", "", false
	}
	field := func(name, value string) {
		switch name {
		case "event":
			eventType = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				lastEventIDBuffer, sawID = value, true
			}
		case "retry":
			// The reconnection time: not observed here.
		}
	}
	// Lines end with CRLF, LF or CR; what follows the last line end is
	// an incomplete line, discarded at the end of the stream with any
	// pending event.
	rest := string(stream)
	for {
		i := strings.IndexAny(rest, "\r\n")
		if i < 0 {
			break
		}
		line := rest[:i]
		if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
			i++
		}
		rest = rest[i+1:]
		switch {
		case line == "":
			dispatch()
		case line[0] == ':':
		case strings.Contains(line, ":"):
			name, value, _ := strings.Cut(line, ":")
			field(name, strings.TrimPrefix(value, " "))
		default:
			field(line, "")
		}
	}
	return append(trace, fmt.Sprintf("last %q", lastEventID))
}

// readerTrace is specTrace's trace as eventReader reads stream, in reads
// of one byte each (so that a CR at the end of a read waits for its LF).
func readerTrace(stream []byte) ([]string, error) {
	var trace []string
	er := newEventReader(iotest.OneByteReader(bytes.NewReader(stream)))
	for {
		ev, err := er.next()
		if errors.Is(err, io.EOF) {
			return append(trace, fmt.Sprintf("last %q", er.lastID)), nil
		}
		if err != nil {
			return trace, err
		}
		if ev.typ == "" {
			trace = append(trace, fmt.Sprintf("id %q", ev.id))
			continue
		}
		trace = append(trace, fmt.Sprintf("event %q %q %q", ev.typ, ev.data, ev.id))
	}
}

// eventStreams are streams whose reading the standard decides: id-only
// blocks, ids in every kind of block, NULs, line ends, cut-off events.
var eventStreams = []string{
	"",
	"id: 41\n\n",
	": userprops change feed\n\nid: 41\n\n",
	"id: 41\n\nid: 42\nevent: set\ndata: {}\n\n",
	"id: 41\r\n\r\nid:42\revent:set\rdata:x\r\r",
	"id: 7\n\nid: 41\n\n",
	"id: 4\x001\n\n",
	"id: 41\n\nid: 4\x001\ndata: x\n\n",
	"id: 41\n",
	"id: 41\nevent: set\ndata: x",
	"id: 41\nid:\n\n",
	"id\n\n",
	"id: 41\nretry: 10\n\n",
	"event: ping\nid: 41\ndata: x\n\n",
	"data: x\n\nid: 9\n\ndata: y\n\n",
	"\xEF\xBB\xBFid: 1\n\n",
	"\xEF\xBB\xBF\xEF\xBB\xBFid: 1\n\n",
	"id:  2\n\n",
	"ID: 3\n\nid : 4\n\n",
	"data\n\n",
	"data:\ndata:\n\n",
	"event: x\n\ndata: y\n\n",
	"id: 1\r",
	"id: 1\r\r",
	": only a comment\n\n",
	"id: 5\n: comment\ndata: z\n\n",
}

// TestEventReader_Spec: eventReader reads as an EventSource does: the
// events it dispatches and the last event ID of every block, an id-only
// block's included.
func TestEventReader_Spec(t *testing.T) {
	for _, s := range eventStreams {
		got, err := readerTrace([]byte(s))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if want := specTrace([]byte(s)); !equal(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", s, got, want)
		}
	}
}

// FuzzEventReader: eventReader and the standard's steps agree on every
// stream within the reader's caps.
func FuzzEventReader(f *testing.F) {
	for _, s := range eventStreams {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		got, err := readerTrace(stream)
		if errors.Is(err, errMalformedStream) {
			return // past a cap
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := specTrace(stream); !equal(got, want) {
			t.Fatalf("%q:\n got %q\nwant %q", stream, got, want)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
