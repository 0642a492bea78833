// Command remotecheck runs the steps of interop/jirajs/steps.json through
// the Go client (package remote) against a userprops server, and compares
// what each step answered with the transcript of the same steps run
// through jira.js (interop/jirajs/agree.mjs): the status, and the key,
// value, keys, account IDs and total, or the error message. It prints each
// step, and exits 1 if any disagree. interop/jirajs/run.sh runs it.
//
// A step that the client refuses before sending it (an invalid value or
// key: remote checks arguments with the rules of the server) is given the
// status and message the server answers for that error
// (userprops.HTTPStatus, and the message table the server writes from).
// For every error, the client's error must also be the sentinel that
// jira.js's message names (errors.Is).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
	"github.com/userprops/userprops/remote"
)

// Step is one operation of steps.json.
type Step struct {
	Name      string          `json:"name"`
	Op        string          `json:"op"` // set, get, keys, delete, find
	As        string          `json:"as"` // admin or user
	AccountID string          `json:"accountId"`
	Key       string          `json:"key"`
	KeyLength int             `json:"keyLength"` // the key is this many 'k'
	Value     json.RawMessage `json:"value"`
	Raw       *string         `json:"raw"` // a body that is not JSON
	Query     string          `json:"query"`
}

func (s Step) key() string {
	if s.KeyLength > 0 {
		return strings.Repeat("k", s.KeyLength)
	}
	return s.Key
}

// Entry is what one step answered.
type Entry struct {
	Step       string    `json:"step"`
	Status     int       `json:"status"`
	Key        *string   `json:"key,omitempty"`
	Value      *any      `json:"value,omitempty"`
	Keys       *[]string `json:"keys,omitempty"`
	AccountIDs *[]string `json:"accountIds,omitempty"`
	Total      *int      `json:"total,omitempty"`
	Message    string    `json:"message,omitempty"`

	err error // the client's error, for the sentinel check
}

func main() {
	var (
		host       = flag.String("host", "", "the server's base URL")
		stepsPath  = flag.String("steps", "", "steps.json")
		transcript = flag.String("transcript", "", "the jira.js transcript to compare with")
		caFile     = flag.String("ca", "", "PEM certificate to trust (for an https server)")
	)
	flag.Parse()
	creds := map[string][2]string{
		"admin": {os.Getenv("ADMIN_EMAIL"), os.Getenv("ADMIN_TOKEN")},
		"user":  {os.Getenv("USER_EMAIL"), os.Getenv("USER_TOKEN")},
	}
	if err := run(*host, *stepsPath, *transcript, *caFile, creds); err != nil {
		fmt.Fprintln(os.Stderr, "remotecheck:", err)
		os.Exit(1)
	}
	fmt.Println("jira.js and remote agree: OK")
}

func run(host, stepsPath, transcriptPath, caFile string, creds map[string][2]string) error {
	var file struct{ Steps []Step }
	if err := readJSON(stepsPath, &file); err != nil {
		return err
	}
	var want []Entry
	if err := readJSON(transcriptPath, &want); err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificate", caFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	stores := map[string]*remote.Store{}
	for who, c := range creds {
		st, err := remote.Open(host, remote.WithBasicAuth(c[0], c[1]), remote.WithHTTPClient(client))
		if err != nil {
			return err
		}
		defer st.Close()
		stores[who] = st
	}
	ctx := context.Background()
	var got []Entry
	for _, step := range file.Steps {
		st := stores[step.As]
		if st == nil {
			return fmt.Errorf("step %q: no account %q", step.Name, step.As)
		}
		e, err := do(ctx, st, step)
		if err != nil {
			return fmt.Errorf("step %q: %w", step.Name, err)
		}
		got = append(got, e)
		fmt.Printf("remote: %s: %d%s\n", e.Step, e.Status, strings.TrimRight(" "+e.Message, " "))
	}
	diffs := Compare(want, got)
	for _, d := range diffs {
		fmt.Println("DISAGREE:", d)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%d of %d steps disagree", len(diffs), len(file.Steps))
	}
	return nil
}

// do runs one step through st.
func do(ctx context.Context, st *remote.Store, step Step) (Entry, error) {
	e := Entry{Step: step.Name}
	key := step.key()
	var err error
	switch step.Op {
	case "set":
		value := []byte(step.Value)
		if step.Raw != nil {
			value = []byte(*step.Raw)
		}
		var status userprops.Status
		if status, err = st.Set(ctx, step.AccountID, key, value); err == nil {
			e.Status = map[userprops.Status]int{userprops.Created: http.StatusCreated, userprops.Updated: http.StatusOK}[status]
		}
	case "get":
		var p userprops.Property
		if p, err = st.Get(ctx, step.AccountID, key); err == nil {
			var v any
			if err := json.Unmarshal(p.Value, &v); err != nil {
				return e, fmt.Errorf("the value got is not JSON: %w", err)
			}
			e.Status, e.Key, e.Value = http.StatusOK, &p.Key, &v
		}
	case "keys":
		var keys []string
		if keys, err = st.Keys(ctx, step.AccountID); err == nil {
			e.Status, e.Keys = http.StatusOK, &keys
		}
	case "delete":
		if err = st.Delete(ctx, step.AccountID, key); err == nil {
			e.Status = http.StatusNoContent
		}
	case "find":
		q, perr := userprops.ParseQuery(step.Query)
		if perr != nil {
			return e, perr
		}
		var found userprops.Found
		if found, err = st.Find(ctx, q, userprops.Page{}); err == nil {
			e.Status, e.AccountIDs, e.Total = http.StatusOK, &found.AccountIDs, &found.Total
		}
	default:
		return e, fmt.Errorf("unknown op %q", step.Op)
	}
	if err != nil {
		e.err = err
		if se, ok := errors.AsType[*remote.StatusError](err); ok {
			e.Status, e.Message = se.StatusCode, se.Message
		} else {
			// Refused here, before a request: what the server answers for it.
			e.Status, e.Message = userprops.HTTPStatus(err), wire.Message(err, key)
		}
	}
	return e, nil
}

// Compare returns how got differs from want, one line a step.
func Compare(want, got []Entry) []string {
	var diffs []string
	if len(want) != len(got) {
		diffs = append(diffs, fmt.Sprintf("jira.js ran %d steps, remote %d", len(want), len(got)))
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		if w.Step != g.Step {
			diffs = append(diffs, fmt.Sprintf("step %d is %q for jira.js, %q for remote", i, w.Step, g.Step))
			continue
		}
		wj, gj := normalize(w), normalize(g)
		if !reflect.DeepEqual(wj, gj) {
			diffs = append(diffs, fmt.Sprintf("%s: jira.js %s, remote %s", w.Step, mustJSON(w), mustJSON(g)))
			continue
		}
		if g.err != nil {
			sentinel := wire.Sentinel(w.Message)
			if sentinel == nil || !errors.Is(g.err, sentinel) {
				diffs = append(diffs, fmt.Sprintf("%s: remote's error %q is not the error jira.js's message %q names (%v)",
					w.Step, g.err, w.Message, sentinel))
			}
		}
	}
	return diffs
}

// normalize returns e as JSON values, so that numbers and empty lists
// compare alike whichever side decoded them.
func normalize(e Entry) any {
	var v any
	if err := json.Unmarshal([]byte(mustJSON(e)), &v); err != nil {
		panic(err)
	}
	return v
}

func mustJSON(e Entry) string {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
