package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// FuzzHandler sends arbitrary keys, account IDs and bodies through the
// handler: it must never fail with 5xx, every error must carry Jira's body,
// and a value it accepts must read back byte for byte. route picks the
// resource: the property routes, or (route 1 to 6) the user routes and the
// user search, with key as the query or property filter and body as the
// raw startAt and page size; their 200s must be JSON of the right shape.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), "PUT", "settings", aliceID, []byte(`{"a":1}`))
	f.Add(uint8(0), "PUT", "a/b c", aliceID, []byte(` "x" `))
	f.Add(uint8(0), "GET", "", aliceID, []byte(nil))
	f.Add(uint8(0), "DELETE", "k", bobID, []byte(nil))
	f.Add(uint8(0), "PUT", "k", "", []byte(`1`))
	f.Add(uint8(0), "PUT", "\x00", aliceID, []byte("\"\xff\""))
	f.Add(uint8(0), "PATCH", "%", "\t", []byte(`{`))
	f.Add(uint8(1), "GET", "", bobID, []byte(nil))
	f.Add(uint8(2), "GET", "", "", []byte(nil))
	f.Add(uint8(3), "GET", "settings.a=1", aliceID, []byte("1 2"))
	f.Add(uint8(4), "GET", "ali", "", []byte("0 -1"))
	f.Add(uint8(5), "GET", `[settings].a is 1 OR ([x] is "y" AND [z].w is true)`, "", []byte("0 10"))
	f.Add(uint8(6), "GET", `[settings] is`, "", []byte("x 1"))
	f.Add(uint8(5), "HEAD", "[settings].a is 1", "", []byte(nil))
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
	f.Fuzz(func(t *testing.T, route uint8, method, key, accountID string, body []byte) {
		switch method {
		case "GET", "HEAD", "PUT", "DELETE", "POST":
		default:
			method = "PATCH"
		}
		if route%8 >= 1 && route%8 <= 6 {
			fuzzUserRoute(t, serve, route%8, method, key, accountID, body)
			return
		}
		target := "/rest/api/3/user/properties/" + url.PathEscape(key) + "?accountId=" + url.QueryEscape(accountID)
		w := serve(method, target, body)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
		checkFuzzAnswer(t, method, target, w)
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

// checkFuzzAnswer fails t if w is a 5xx or an error without Jira's body.
func checkFuzzAnswer(t *testing.T, method, target string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
	}
	if w.Code >= 400 && method != "HEAD" {
		var e struct {
			ErrorMessages []string          `json:"errorMessages"`
			Errors        map[string]string `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.ErrorMessages) != 1 || e.Errors == nil {
			t.Fatalf("%s %s: %d with body %q", method, target, w.Code, w.Body)
		}
	}
}

// fuzzUserRoute sends one request to a user route (see FuzzHandler).
func fuzzUserRoute(t *testing.T, serve func(method, target string, body []byte) *httptest.ResponseRecorder,
	route uint8, method, key, accountID string, body []byte) {
	startAt, size, _ := strings.Cut(string(body), " ")
	paging := "&startAt=" + url.QueryEscape(startAt)
	var target string
	switch route {
	case 1:
		target = "/rest/api/2/user?accountId=" + url.QueryEscape(accountID)
	case 2:
		target = "/rest/api/3/myself"
	case 3:
		target = "/rest/api/3/user/search?property=" + url.QueryEscape(key) + "&accountId=" + url.QueryEscape(accountID) +
			paging + "&maxResults=" + url.QueryEscape(size)
	case 4:
		target = "/rest/api/2/user/search?query=" + url.QueryEscape(key) + paging + "&maxResults=" + url.QueryEscape(size)
	case 5:
		target = "/rest/api/3/user/search/query?query=" + url.QueryEscape(key) + paging + "&maxResults=" + url.QueryEscape(size)
	default:
		target = "/rest/api/3/user/search/query/key?query=" + url.QueryEscape(key) + paging + "&maxResult=" + url.QueryEscape(size)
	}
	w := serve(method, target, nil)
	checkFuzzAnswer(t, method, target, w)
	if w.Code != http.StatusOK || method == "HEAD" {
		return
	}
	var shape any
	switch route {
	case 1, 2:
		shape = &struct {
			AccountID string `json:"accountId"`
		}{}
	case 3, 4:
		shape = &[]struct {
			AccountID string `json:"accountId"`
		}{}
	default:
		shape = &struct {
			Total  *int              `json:"total"`
			IsLast *bool             `json:"isLast"`
			Values []json.RawMessage `json:"values"`
		}{}
	}
	if err := json.Unmarshal(w.Body.Bytes(), shape); err != nil {
		t.Fatalf("%s %s: 200 with body %q: %v", method, target, w.Body, err)
	}
}
