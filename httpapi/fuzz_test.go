package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// FuzzHandler sends arbitrary keys, account IDs and bodies through the
// handler: it must never fail with 5xx, every error must carry Jira's body,
// and a value it accepts must read back byte for byte.
func FuzzHandler(f *testing.F) {
	f.Add("PUT", "settings", aliceID, []byte(`{"a":1}`))
	f.Add("PUT", "a/b c", aliceID, []byte(` "x" `))
	f.Add("GET", "", aliceID, []byte(nil))
	f.Add("DELETE", "k", bobID, []byte(nil))
	f.Add("PUT", "k", "", []byte(`1`))
	f.Add("PUT", "\x00", aliceID, []byte("\"\xff\""))
	f.Add("PATCH", "%", "\t", []byte(`{`))
	accounts, err := httpapi.NewAccounts(testAccounts)
	if err != nil {
		f.Fatal(err)
	}
	store := userprops.NewMemory(userprops.WithDirectory(accounts))
	h := httpapi.New(store, accounts, httpapi.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	serve := func(method, target string, body []byte) *httptest.ResponseRecorder {
		// target is built from escaped parts, so it always parses.
		r := httptest.NewRequest(method, "http://example.com"+target, bytes.NewReader(body))
		r.SetBasicAuth(aliceID, aliceToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	f.Fuzz(func(t *testing.T, method, key, accountID string, body []byte) {
		switch method {
		case "GET", "PUT", "DELETE", "POST":
		default:
			method = "PATCH"
		}
		target := "/rest/api/3/user/properties/" + url.PathEscape(key) + "?accountId=" + url.QueryEscape(accountID)
		w := serve(method, target, body)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e struct {
				ErrorMessages []string          `json:"errorMessages"`
				Errors        map[string]string `json:"errors"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.ErrorMessages) != 1 || e.Errors == nil {
				t.Fatalf("%s %s: %d with body %q", method, target, w.Code, w.Body)
			}
		}
		if method == "PUT" && (w.Code == http.StatusCreated || w.Code == http.StatusOK) {
			g := serve("GET", target, nil)
			var got struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			}
			if g.Code != 200 || json.Unmarshal(g.Body.Bytes(), &got) != nil || got.Key != key {
				t.Fatalf("GET %s after PUT: %d %q", target, g.Code, g.Body)
			}
			p, err := store.Get(t.Context(), accountID, key)
			if err != nil || !bytes.Equal(p.Value, body) {
				t.Fatalf("stored %q, want %q (%v)", p.Value, body, err)
			}
		}
	})
}
