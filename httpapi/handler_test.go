package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

const (
	aliceID = "5b10ac8d82e05b22cc7d4ef5"
	bobID   = "712020:2722a0b4-4b3c-4ee2-a0fc-1fd9bd1bbcb9"
	adminID = "admin-0001"

	aliceToken = "alice-token-0123456789"
	bobToken   = "bob-token-0123456789abc"
	adminToken = "admin-token-0123456789"
)

var testAccounts = []httpapi.Account{
	{AccountID: aliceID, Email: "alice@example.com", APIToken: aliceToken},
	{AccountID: bobID, Email: "bob@example.com", APIToken: bobToken},
	{AccountID: adminID, Email: "admin@example.com", APIToken: adminToken, Admin: true},
}

// cred is how a test request authenticates.
type cred func(r *http.Request)

func basic(user, token string) cred { return func(r *http.Request) { r.SetBasicAuth(user, token) } }
func bearer(token string) cred {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

var (
	alice    = basic("alice@example.com", aliceToken)
	admin    = basic("admin@example.com", adminToken)
	nobody   = cred(func(*http.Request) {})
	badToken = basic("alice@example.com", "wrong-token-0123456789")
)

type env struct {
	srv   *httptest.Server
	store userprops.Store
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, opts ...httpapi.Option) *env {
	t.Helper()
	return newEnvWith(t, testAccounts, opts...)
}

// newEnvWith is newEnv serving the accounts list.
func newEnvWith(t *testing.T, list []httpapi.Account, opts ...httpapi.Option) *env {
	t.Helper()
	accounts, err := httpapi.NewAccounts(list)
	require.NoError(t, err)
	store := userprops.NewMemory(userprops.WithDirectory(accounts))
	t.Cleanup(func() { store.Close() })
	logs := &syncBuffer{}
	opts = append([]httpapi.Option{httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))}, opts...)
	srv := httptest.NewServer(httpapi.New(store, accounts, opts...))
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: store, logs: logs}
}

type response struct {
	status int
	header http.Header
	body   string
}

// errorMessage returns the single message of a Jira error body.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	assert.Equal(t, "application/json;charset=UTF-8", r.header.Get("Content-Type"), "error body type")
	var body struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &body), "error body %q", r.body)
	require.Len(t, body.ErrorMessages, 1, "error body %q", r.body)
	assert.NotNil(t, body.Errors, `error body %q has no "errors" object`, r.body)
	return body.ErrorMessages[0]
}

func (e *env) do(t *testing.T, c cred, method, path string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	require.NoError(t, err)
	c(req)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// propPath returns the path of a property, escaping the key and account.
func propPath(version, key, accountID string) string {
	p := "/rest/api/" + version + "/user/properties"
	if key != "" {
		p += "/" + url.PathEscape(key)
	}
	if accountID != "" {
		p += "?accountId=" + url.QueryEscape(accountID)
	}
	return p
}

var versions = []string{"2", "3"}

func TestHandler_Lifecycle(t *testing.T) {
	for _, v := range versions {
		t.Run("v"+v, func(t *testing.T) {
			e := newEnv(t)
			value := " {\"theme\" : \"dark\",\n \"n\": [1, 2.50]} "

			r := e.do(t, alice, "PUT", propPath(v, "settings", aliceID), strings.NewReader(value))
			assert.Equal(t, 201, r.status, "first PUT")
			assert.Empty(t, r.body)
			r = e.do(t, alice, "PUT", propPath(v, "settings", aliceID), strings.NewReader(value))
			assert.Equal(t, 200, r.status, "second PUT")
			assert.Empty(t, r.body)

			r = e.do(t, alice, "GET", propPath(v, "settings", aliceID), nil)
			require.Equal(t, 200, r.status, r.body)
			assert.Equal(t, "application/json;charset=UTF-8", r.header.Get("Content-Type"))
			assert.Equal(t, `{"key":"settings","value":`+value+"}\n", r.body, "value byte for byte")
			var got struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.body), &got))

			e.do(t, alice, "PUT", propPath(v, "a.first", aliceID), strings.NewReader(`1`))
			wantKeys := fmt.Sprintf(`{"keys":[`+
				`{"key":"a.first","self":"%[1]s/rest/api/%[2]s/user/properties/a.first?accountId=%[3]s"},`+
				`{"key":"settings","self":"%[1]s/rest/api/%[2]s/user/properties/settings?accountId=%[3]s"}]}`+"\n",
				e.srv.URL, v, url.QueryEscape(aliceID))
			for _, path := range []string{propPath(v, "", aliceID), "/rest/api/" + v + "/user/properties/?accountId=" + aliceID} {
				r = e.do(t, alice, "GET", path, nil)
				assert.Equal(t, 200, r.status, path)
				assert.Equal(t, wantKeys, r.body, path)
			}

			r = e.do(t, alice, "DELETE", propPath(v, "settings", aliceID), nil)
			assert.Equal(t, 204, r.status)
			assert.Empty(t, r.body)
			r = e.do(t, alice, "DELETE", propPath(v, "settings", aliceID), nil)
			assert.Equal(t, 404, r.status)
			assert.Equal(t, "The property settings does not exist.", r.errorMessage(t))
			r = e.do(t, alice, "GET", propPath(v, "settings", aliceID), nil)
			assert.Equal(t, 404, r.status)
			assert.Equal(t, "The property settings does not exist.", r.errorMessage(t))

			r = e.do(t, bob, "GET", propPath(v, "", bobID), nil)
			assert.Equal(t, 200, r.status)
			assert.Equal(t, "{\"keys\":[]}\n", r.body, "an account with no properties")
		})
	}
}

var bob = basic("bob@example.com", bobToken)

func TestHandler_Errors(t *testing.T) {
	tooLong := strings.Repeat("k", userprops.MaxKeyLength+1)
	cases := []struct {
		name    string
		cred    cred
		method  string
		path    func(v string) string
		body    string
		status  int
		message string
	}{
		{"no credentials", nobody, "GET", func(v string) string { return propPath(v, "k", aliceID) }, "",
			401, "Client must be authenticated to access this resource."},
		{"wrong token", badToken, "PUT", func(v string) string { return propPath(v, "k", aliceID) }, "1",
			401, "Client must be authenticated to access this resource."},
		{"unknown user name", basic("eve@example.com", aliceToken), "GET", func(v string) string { return propPath(v, "", aliceID) }, "",
			401, "Client must be authenticated to access this resource."},
		{"wrong bearer", bearer("wrong-token-0123456789"), "GET", func(v string) string { return propPath(v, "", aliceID) }, "",
			401, "Client must be authenticated to access this resource."},
		{"401 before 400", nobody, "PUT", func(v string) string { return propPath(v, "k", "") }, "{",
			401, "Client must be authenticated to access this resource."},
		{"other's property", alice, "GET", func(v string) string { return propPath(v, "k", bobID) }, "",
			403, "You do not have permission to access the properties of this user."},
		{"other's keys", alice, "GET", func(v string) string { return propPath(v, "", bobID) }, "",
			403, "You do not have permission to access the properties of this user."},
		{"other's write", alice, "PUT", func(v string) string { return propPath(v, "k", bobID) }, "1",
			403, "You do not have permission to access the properties of this user."},
		{"403 before 404 user", alice, "GET", func(v string) string { return propPath(v, "k", "ghost") }, "",
			403, "You do not have permission to access the properties of this user."},
		{"unknown user", admin, "GET", func(v string) string { return propPath(v, "", "ghost") }, "",
			404, "The specified user does not exist in the system."},
		{"unknown user write", admin, "PUT", func(v string) string { return propPath(v, "k", "ghost") }, "1",
			404, "The specified user does not exist in the system."},
		{"missing property", alice, "GET", func(v string) string { return propPath(v, "nope", aliceID) }, "",
			404, "The property nope does not exist."},
		{"put without key", alice, "PUT", func(v string) string { return propPath(v, "", aliceID) }, "1",
			405, "The property key must be specified."},
		{"put without key, slash", alice, "PUT", func(v string) string { return "/rest/api/" + v + "/user/properties/?accountId=" + aliceID }, "1",
			405, "The property key must be specified."},
		{"delete without key", alice, "DELETE", func(v string) string { return propPath(v, "", aliceID) }, "",
			405, "The property key must be specified."},
		{"post", alice, "POST", func(v string) string { return propPath(v, "k", aliceID) }, "1",
			405, "Method POST is not allowed here."},
		{"keys without accountId", alice, "GET", func(v string) string { return propPath(v, "", "") }, "",
			400, "The accountId query parameter is required."},
		{"get without accountId", alice, "GET", func(v string) string { return propPath(v, "k", "") }, "",
			400, "The accountId query parameter is required."},
		{"put without accountId", alice, "PUT", func(v string) string { return propPath(v, "k", "") }, "1",
			400, "The accountId query parameter is required."},
		{"delete without accountId", alice, "DELETE", func(v string) string { return propPath(v, "k", "") }, "",
			400, "The accountId query parameter is required."},
		{"account ID too long", admin, "GET", func(v string) string { return propPath(v, "", strings.Repeat("a", 129)) }, "",
			400, "The accountId is not valid: it must be at most 128 characters of valid UTF-8 and not blank."},
		{"key too long", alice, "PUT", func(v string) string { return propPath(v, tooLong, aliceID) }, "1",
			400, "The property key is too long. Maximum length is 255 characters."},
		{"key of 128 emoji", alice, "PUT", func(v string) string { return propPath(v, strings.Repeat("😀", 128), aliceID) }, "1",
			400, "The property key is too long. Maximum length is 255 characters."},
		{"blank key", alice, "PUT", func(v string) string { return propPath(v, "  ", aliceID) }, "1",
			400, "The property key is not valid: it must be valid UTF-8 and not blank."},
		{"key not UTF-8", alice, "PUT", func(v string) string { return propPath(v, "k\xff", aliceID) }, "1",
			400, "The property key is not valid: it must be valid UTF-8 and not blank."},
		{"empty value", alice, "PUT", func(v string) string { return propPath(v, "k", aliceID) }, "",
			400, "The property value can not be empty."},
		{"blank value", alice, "PUT", func(v string) string { return propPath(v, "k", aliceID) }, " \n ",
			400, "The property value can not be empty."},
		{"invalid JSON", alice, "PUT", func(v string) string { return propPath(v, "k", aliceID) }, `{"a":`,
			400, "The JSON data provided for the property is not a valid JSON."},
		{"two values", alice, "PUT", func(v string) string { return propPath(v, "k", aliceID) }, `{}{}`,
			400, "The JSON data provided for the property is not a valid JSON."},
		{"value too large", alice, "PUT", func(v string) string { return propPath(v, "k", aliceID) },
			`"` + strings.Repeat("x", userprops.MaxValueBytes-1) + `"`,
			400, "The JSON data provided for the property is too long. Maximum length is 32768 bytes."},
		{"unknown API version", alice, "GET", func(string) string { return propPath("4", "", aliceID) }, "",
			404, "No resource found at /rest/api/4/user/properties."},
		{"unknown resource", alice, "GET", func(v string) string { return "/rest/api/" + v + "/serverInfo" }, "",
			404, "No resource found at /rest/api/{v}/serverInfo."},
	}
	for _, v := range versions {
		e := newEnv(t)
		require.Equal(t, 201, e.do(t, bob, "PUT", propPath(v, "k", bobID), strings.NewReader(`"bob's"`)).status)
		for _, c := range cases {
			t.Run("v"+v+"/"+c.name, func(t *testing.T) {
				var body io.Reader
				if c.method == "PUT" || c.method == "POST" {
					body = strings.NewReader(c.body)
				}
				r := e.do(t, c.cred, c.method, c.path(v), body)
				assert.Equal(t, c.status, r.status, r.body)
				assert.Equal(t, strings.ReplaceAll(c.message, "{v}", v), r.errorMessage(t))
				if c.status == 401 {
					assert.Contains(t, r.header.Get("WWW-Authenticate"), "Basic")
				}
				if c.status == 405 {
					assert.NotEmpty(t, r.header.Get("Allow"))
				}
			})
		}
		// None of the refused calls changed anything.
		r := e.do(t, admin, "GET", propPath(v, "", bobID), nil)
		assert.Contains(t, r.body, `"key":"k"`)
		assert.Equal(t, 1, strings.Count(r.body, `"key"`), r.body)
		r = e.do(t, admin, "GET", propPath(v, "", aliceID), nil)
		assert.Equal(t, "{\"keys\":[]}\n", r.body)
		r = e.do(t, admin, "GET", propPath(v, "k", bobID), nil)
		assert.Equal(t, `{"key":"k","value":"bob's"}`+"\n", r.body)
	}
}

func TestHandler_Authentication(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name string
		cred cred
	}{
		{"email", basic("alice@example.com", aliceToken)},
		{"email in other case", basic("Alice@Example.COM", aliceToken)},
		{"account ID", basic(aliceID, aliceToken)},
		{"bearer", bearer(aliceToken)},
	} {
		r := e.do(t, c.cred, "GET", propPath("3", "", aliceID), nil)
		assert.Equal(t, 200, r.status, "%s: %s", c.name, r.body)
	}
	// One account's token with another's name is refused.
	r := e.do(t, basic("alice@example.com", bobToken), "GET", propPath("3", "", aliceID), nil)
	assert.Equal(t, 401, r.status)
	// The admin may act on everyone.
	r = e.do(t, admin, "PUT", propPath("3", "by-admin", aliceID), strings.NewReader(`true`))
	assert.Equal(t, 201, r.status, r.body)
	r = e.do(t, alice, "GET", propPath("3", "by-admin", aliceID), nil)
	assert.Equal(t, `{"key":"by-admin","value":true}`+"\n", r.body)
}

func TestHandler_PercentEncodedKeys(t *testing.T) {
	e := newEnv(t)
	keys := []string{"my key", "a/b", "a.b", "a:b", "é😀", "100%", "a?b", "a#b", "+plus", "a%2Fb", "..x", "ü/../v", "日本"}
	for i, k := range keys {
		r := e.do(t, alice, "PUT", propPath("2", k, aliceID), strings.NewReader(fmt.Sprint(i)))
		require.Equal(t, 201, r.status, "PUT %q: %s", k, r.body)
	}
	for i, k := range keys {
		r := e.do(t, alice, "GET", propPath("3", k, aliceID), nil)
		require.Equal(t, 200, r.status, "GET %q: %s", k, r.body)
		var got struct {
			Key   string `json:"key"`
			Value int    `json:"value"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.body), &got))
		assert.Equal(t, k, got.Key)
		assert.Equal(t, i, got.Value, "value of %q", k)
		// The library sees the decoded key.
		_, err := e.store.Get(context.Background(), aliceID, k)
		assert.NoError(t, err, "store.Get(%q)", k)
	}
	// Every self link leads back to its property.
	r := e.do(t, alice, "GET", propPath("2", "", aliceID), nil)
	var list struct {
		Keys []struct{ Key, Self string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	require.Len(t, list.Keys, len(keys))
	for _, ref := range list.Keys {
		require.True(t, strings.HasPrefix(ref.Self, e.srv.URL), ref.Self)
		r := e.do(t, alice, "GET", strings.TrimPrefix(ref.Self, e.srv.URL), nil)
		assert.Equal(t, 200, r.status, "self link %s", ref.Self)
		assert.Contains(t, r.body, string(mustJSON(t, ref.Key)), "self link %s", ref.Self)
	}
	// A key sent with a raw slash is one key, as the path spells it.
	r = e.do(t, alice, "PUT", "/rest/api/2/user/properties/raw/slash?accountId="+aliceID, strings.NewReader(`1`))
	assert.Equal(t, 201, r.status, r.body)
	_, err := e.store.Get(context.Background(), aliceID, "raw/slash")
	assert.NoError(t, err)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestHandler_HugeBody(t *testing.T) {
	e := newEnv(t)
	huge := bytes.Repeat([]byte("x"), 5<<20)
	for _, c := range []struct {
		name string
		body io.Reader
	}{
		{"with Content-Length", bytes.NewReader(huge)},
		{"chunked", io.MultiReader(bytes.NewReader(huge))}, // unknown length: sent chunked
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, alice, "PUT", propPath("3", "big", aliceID), c.body)
			assert.Equal(t, 400, r.status)
			assert.Equal(t, "The JSON data provided for the property is too long. Maximum length is 32768 bytes.", r.errorMessage(t))
		})
	}
	_, err := e.store.Get(context.Background(), aliceID, "big")
	assert.ErrorIs(t, err, userprops.ErrNotFound)

	// The largest value passes, chunked or not.
	largest := `"` + strings.Repeat("x", userprops.MaxValueBytes-2) + `"`
	r := e.do(t, alice, "PUT", propPath("3", "big", aliceID), io.MultiReader(strings.NewReader(largest)))
	assert.Equal(t, 201, r.status, r.body)
}

func TestHandler_ConcurrentPuts(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	statuses := make([]int, 100)
	for i := range statuses {
		wg.Go(func() {
			req, err := http.NewRequest("PUT", e.srv.URL+propPath("3", fmt.Sprintf("key-%03d", i), aliceID),
				strings.NewReader(fmt.Sprint(i)))
			if !assert.NoError(t, err) {
				return
			}
			alice(req)
			resp, err := e.srv.Client().Do(req)
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		assert.Equal(t, 201, s, "PUT key-%03d", i)
	}
	keys, err := e.store.Keys(context.Background(), aliceID)
	require.NoError(t, err)
	assert.Len(t, keys, 100)
}

func TestHandler_BaseURL(t *testing.T) {
	e := newEnv(t, httpapi.WithBaseURL("https://props.example.com/"))
	e.do(t, alice, "PUT", propPath("3", "k k", aliceID), strings.NewReader(`1`))
	r := e.do(t, alice, "GET", propPath("3", "", aliceID), nil)
	assert.Equal(t, `{"keys":[{"key":"k k","self":"https://props.example.com/rest/api/3/user/properties/k%20k?accountId=`+
		url.QueryEscape(aliceID)+`"}]}`+"\n", r.body)
}

func TestHandler_LogsWithoutSecrets(t *testing.T) {
	e := newEnv(t)
	e.do(t, alice, "PUT", propPath("3", "k", aliceID), strings.NewReader(`1`))
	e.do(t, bearer(bobToken), "GET", propPath("3", "k", aliceID), nil)
	logs := e.logs.String()
	assert.Contains(t, logs, `"method":"PUT"`)
	assert.Contains(t, logs, `"path":"/rest/api/3/user/properties/k"`)
	assert.Contains(t, logs, `"status":201`)
	assert.Contains(t, logs, `"status":403`)
	assert.Contains(t, logs, `"duration"`)
	for _, secret := range []string{aliceToken, bobToken, "Basic ", "Bearer"} {
		assert.NotContains(t, logs, secret)
	}
}

// panicStore panics on every Get.
type panicStore struct{ userprops.Store }

func (panicStore) Get(context.Context, string, string) (userprops.Property, error) { panic("boom") }

func TestHandler_RecoversFromPanics(t *testing.T) {
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	logs := &syncBuffer{}
	store := userprops.NewMemory()
	h := httpapi.New(panicStore{store}, accounts, httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &env{srv: srv, store: store, logs: logs}

	r := e.do(t, alice, "GET", propPath("3", "k", aliceID), nil)
	assert.Equal(t, 500, r.status)
	assert.Equal(t, "Internal server error.", r.errorMessage(t))
	assert.Contains(t, logs.String(), "boom")
	assert.Contains(t, logs.String(), `"status":500`)
	// The server goes on serving.
	r = e.do(t, alice, "PUT", propPath("3", "k", aliceID), strings.NewReader(`1`))
	assert.Equal(t, 201, r.status)
}

// ctxErrStore fails every Get with err, after waiting for the request's
// context to end when wait is set.
type ctxErrStore struct {
	userprops.Store
	err     error
	wait    bool
	entered chan struct{}
}

func (s ctxErrStore) Get(ctx context.Context, _, _ string) (userprops.Property, error) {
	if s.wait {
		close(s.entered)
		<-ctx.Done()
	}
	return userprops.Property{}, s.err
}

func TestHandler_ContextErrors(t *testing.T) {
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	newServer := func(t *testing.T, st userprops.Store) (*env, *syncBuffer) {
		logs := &syncBuffer{}
		srv := httptest.NewServer(httpapi.New(st, accounts, httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))))
		t.Cleanup(srv.Close)
		return &env{srv: srv, logs: logs}, logs
	}
	mem := userprops.NewMemory()
	t.Cleanup(func() { mem.Close() })

	t.Run("Deadline", func(t *testing.T) {
		e, _ := newServer(t, ctxErrStore{Store: mem, err: fmt.Errorf("userprops: looking up account: %w", context.DeadlineExceeded)})
		r := e.do(t, alice, "GET", propPath("3", "k", aliceID), nil)
		assert.Equal(t, http.StatusGatewayTimeout, r.status)
		assert.Contains(t, r.errorMessage(t), "timed out")
	})
	t.Run("CanceledWhileTheClientWaits", func(t *testing.T) {
		// Not the client's doing: the server's fault.
		e, _ := newServer(t, ctxErrStore{Store: mem, err: context.Canceled})
		r := e.do(t, alice, "GET", propPath("3", "k", aliceID), nil)
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "Internal server error.", r.errorMessage(t))
	})
	t.Run("ClientGone", func(t *testing.T) {
		st := ctxErrStore{Store: mem, err: context.Canceled, wait: true, entered: make(chan struct{})}
		e, logs := newServer(t, st)
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+propPath("3", "k", aliceID), nil)
		require.NoError(t, err)
		alice(req)
		go func() { <-st.entered; cancel() }()
		_, err = e.srv.Client().Do(req)
		require.ErrorIs(t, err, context.Canceled)
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"status":499`) }, 5*time.Second, 10*time.Millisecond,
			"request log: %s", logs.String())
		assert.Contains(t, logs.String(), "client went away")
		assert.NotContains(t, logs.String(), `"level":"ERROR"`)
	})
}
