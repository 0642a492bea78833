package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/userprops/userprops"
)

// The JSON Lines format of export and import: one property a line,
//
//	{"accountId":A,"key":K,"version":N,"updatedAt":T,"value":"<the value's exact text>"}
//
// The value is a JSON string holding the stored JSON text exactly, so that
// values written with white space (pretty-printed ones span lines) survive
// byte for byte and every property stays on one line. On import, a value
// that is not a JSON string is taken as the JSON value itself, for files
// written by hand; version defaults to 1 (when absent; an explicit 0, or one
// above userprops.MaxVersion, is invalid) and updatedAt to the time of
// import.
type line struct {
	AccountID string          `json:"accountId"`
	Key       string          `json:"key"`
	Version   *uint64         `json:"version,omitempty"`
	UpdatedAt *time.Time      `json:"updatedAt,omitempty"`
	Value     json.RawMessage `json:"value"`
}

// maxLine bounds one line: a value of userprops.MaxValueBytes escaped as a
// string (at most two bytes for each), with room for the rest.
const maxLine = 4*userprops.MaxValueBytes + 64<<10

// encodeLine appends the line of p, with its newline, to dst.
func encodeLine(dst []byte, p userprops.Property) ([]byte, error) {
	text, err := marshalNoEscape(string(p.Value))
	if err != nil {
		return nil, err
	}
	updated := p.UpdatedAt
	b, err := marshalNoEscape(line{AccountID: p.AccountID, Key: p.Key, Version: &p.Version, UpdatedAt: &updated, Value: text})
	if err != nil {
		return nil, err
	}
	return append(append(dst, b...), '\n'), nil
}

// decodeLine parses one line into a property, checked with the rules of Set.
func decodeLine(b []byte, now time.Time) (userprops.Property, error) {
	var l line
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return userprops.Property{}, fmt.Errorf("not a property line: %w", err)
	}
	if dec.More() {
		return userprops.Property{}, errors.New("not a property line: more than one JSON value")
	}
	p := userprops.Property{AccountID: l.AccountID, Key: l.Key, Version: 1, UpdatedAt: now, Value: l.Value}
	if len(l.Value) > 0 && l.Value[0] == '"' {
		var text string
		if err := json.Unmarshal(l.Value, &text); err != nil {
			return userprops.Property{}, err
		}
		p.Value = []byte(text)
	}
	if l.Version != nil {
		p.Version = *l.Version
	}
	if l.UpdatedAt != nil {
		p.UpdatedAt = *l.UpdatedAt
	}
	if err := userprops.ValidateRestorable(p); err != nil {
		return userprops.Property{}, err
	}
	return p, nil
}

// marshalNoEscape encodes v as JSON without HTML escaping and without a
// trailing newline.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// progress prints a line to w, at most once per interval, while a long run
// goes on.
type progress struct {
	w        io.Writer
	what     string
	interval time.Duration
	n        int
	last     time.Time
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, interval: time.Second, last: time.Now()}
}

// add counts one more item.
func (p *progress) add() {
	p.n++
	if p.n%256 == 0 {
		p.report()
	}
}

// addN counts n more, for counts that grow in chunks (bytes).
func (p *progress) addN(n int) {
	p.n += n
	p.report()
}

// report prints the count so far if the interval has passed since the last
// line.
func (p *progress) report() {
	if time.Since(p.last) >= p.interval {
		p.last = time.Now()
		fmt.Fprintf(p.w, "%s: %d so far\n", p.what, p.n)
	}
}

// done prints the total.
func (p *progress) done() {
	fmt.Fprintf(p.w, "%s: %d in all\n", p.what, p.n)
}
