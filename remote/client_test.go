package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/remote"
)

// TestRemote_Errors: the server's refusals come back as the library's
// sentinels, the two 404s told apart, with the server's message.
func TestRemote_Errors(t *testing.T) {
	noLeaks(t)
	dir := userprops.DirectoryFunc(func(_ context.Context, id string) (bool, error) { return id != "ghost", nil })
	s := serve(t, userprops.NewMemory(userprops.WithDirectory(dir), userprops.WithAccountLimits(1, 0)))
	st := s.client(t)
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()

	_, err := st.Get(ctx, "acc", "missing")
	assert.ErrorIs(t, err, userprops.ErrNotFound)
	assert.NotErrorIs(t, err, userprops.ErrUserNotFound)
	assert.Contains(t, err.Error(), "The property missing does not exist.")
	var se *remote.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusNotFound, se.StatusCode)

	_, err = st.Get(ctx, "ghost", "k")
	assert.ErrorIs(t, err, userprops.ErrUserNotFound)
	assert.NotErrorIs(t, err, userprops.ErrNotFound)
	assert.Contains(t, err.Error(), "The specified user does not exist in the system.")

	_, err = st.Set(ctx, "acc", "one", []byte(`1`))
	require.NoError(t, err)
	_, err = st.Set(ctx, "acc", "two", []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrAccountFull)
	assert.Equal(t, http.StatusBadRequest, userprops.HTTPStatus(err))

	// Wrong credentials; another user's account.
	bad, err := remote.Open(s.srv.URL, remote.WithBasicAuth(adminID, "wrong-token-0123456789"))
	require.NoError(t, err)
	defer bad.Close()
	_, err = bad.Keys(ctx, "acc")
	assert.ErrorIs(t, err, userprops.ErrUnauthorized)
	assert.Contains(t, err.Error(), "Client must be authenticated")
}

// TestRemote_ValidatesLocally: a call the rules refuse costs no request,
// and fails with the error every store gives.
func TestRemote_ValidatesLocally(t *testing.T) {
	noLeaks(t)
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	st := open(t, c.srv.URL)
	ctx := context.Background()
	_, err := st.Set(ctx, "", "k", []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrAccountIDMissing)
	_, err = st.Set(ctx, "acc", strings.Repeat("k", 256), []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrKeyTooLong)
	_, err = st.Set(ctx, "acc", "k", []byte(`{`))
	assert.ErrorIs(t, err, userprops.ErrInvalidJSON)
	_, err = st.Get(ctx, "acc", " ")
	assert.ErrorIs(t, err, userprops.ErrInvalidKey)
	assert.ErrorIs(t, st.Delete(ctx, "acc", ""), userprops.ErrKeyMissing)
	_, err = st.Keys(ctx, "a\xff")
	assert.ErrorIs(t, err, userprops.ErrInvalidAccountID)
	_, err = st.Find(ctx, userprops.Query{}, userprops.Page{})
	assert.ErrorIs(t, err, userprops.ErrInvalidQuery)
	_, err = st.Find(ctx, userprops.Where("k", "", 1), userprops.Page{StartAt: -1})
	assert.ErrorIs(t, err, userprops.ErrInvalidQuery)
	_, err = st.DeleteAccount(ctx, "")
	assert.ErrorIs(t, err, userprops.ErrAccountIDMissing)
	assert.Zero(t, c.n.Load(), "requests sent for calls the rules refuse")
}

// TestRemote_Keys_Escaping: keys that need escaping round-trip, each
// exactly as given.
func TestRemote_Keys_Escaping(t *testing.T) {
	noLeaks(t)
	s := serve(t, userprops.NewMemory())
	st := s.client(t)
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	keys := []string{"a/b", "/", "//", "%", "%2F", "%2E", "a?b=c", "#frag", "a b", "a+b", "é日😀",
		".", "..", "./a", "a/..", "a/./b", "../..", "\x00", "a;b", "a\\b", "~"}
	for _, k := range keys {
		status, err := st.Set(ctx, "acc/../x?#", k, jsonOf(t, k))
		require.NoError(t, err, "Set(%q)", k)
		assert.Equal(t, userprops.Created, status, "Set(%q): one key each", k)
	}
	for _, k := range keys {
		p := mustGet(t, st, "acc/../x?#", k)
		assert.Equal(t, k, p.Key)
		assert.Equal(t, string(jsonOf(t, k)), string(p.Value), "Get(%q)", k)
	}
	got, err := st.Keys(ctx, "acc/../x?#")
	require.NoError(t, err)
	assert.ElementsMatch(t, keys, got)
	direct, err := s.backing.Keys(ctx, "acc/../x?#")
	require.NoError(t, err)
	assert.Equal(t, direct, got, "the server stored each key as given, and Keys lists them in byte order")
}

// jiraCloud stands for Jira Cloud: the four user-property routes and the
// user search as Jira answers them, without userprops' headers, and an
// HTML 404 elsewhere.
func jiraCloud(t *testing.T) http.HandlerFunc {
	h := real(t)
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/rest/api/3/user/") {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<html><body>Oops, you've found a dead link.</body></html>")
			return
		}
		rec := &stripHeaders{ResponseWriter: w}
		h.ServeHTTP(rec, r)
	}
}

// stripHeaders drops the userprops-only headers of an answer.
type stripHeaders struct{ http.ResponseWriter }

func (s *stripHeaders) WriteHeader(code int) {
	for k := range s.Header() {
		if strings.HasPrefix(k, "X-Userprops-") || k == "Last-Modified" {
			s.Header().Del(k)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *stripHeaders) Write(b []byte) (int, error) {
	if s.Header().Get("X-Userprops-Version") != "" {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// TestRemote_JiraCloud: the Jira operations and Find work against a
// server that has only Jira's routes; Version and UpdatedAt stay zero;
// DeleteAccount says it is unsupported, from the answer.
func TestRemote_JiraCloud(t *testing.T) {
	noLeaks(t)
	c := serveCounted(t, jiraCloud(t))
	st := open(t, c.srv.URL)
	ctx := context.Background()
	status, err := st.Set(ctx, "acc", "k", []byte(`{"office":"Sydney"}`))
	require.NoError(t, err)
	assert.Equal(t, userprops.Created, status)
	p := mustGet(t, st, "acc", "k")
	assert.Equal(t, `{"office":"Sydney"}`, string(p.Value))
	assert.Zero(t, p.Version, "Jira sends no version")
	assert.True(t, p.UpdatedAt.IsZero(), "Jira sends no time")
	found, err := st.Find(ctx, userprops.Where("k", "office", "Sydney"), userprops.Page{})
	require.NoError(t, err)
	assert.Equal(t, userprops.Found{AccountIDs: []string{"acc"}, Total: 1}, found)

	_, err = st.DeleteAccount(ctx, "acc")
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Contains(t, err.Error(), "DeleteAccount")
	assert.Equal(t, []string{"k"}, mustKeys(t, st, "acc"), "nothing deleted")
	require.NoError(t, st.Delete(ctx, "acc", "k"))
}

// TestRemote_DeleteAccount_Answers: the route's answers as the client
// reads them.
func TestRemote_DeleteAccount_Answers(t *testing.T) {
	noLeaks(t)
	c := serveCounted(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodDelete, r.Method)
		switch r.URL.EscapedPath() {
		case "/userprops/1/accounts/a%2Fb/properties":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"deleted":3}`+"\n")
		case "/userprops/1/accounts/ghost/properties":
			jiraError(w, http.StatusNotFound, "The specified user does not exist in the system.")
		case "/userprops/1/accounts/%2E%2E/properties":
			jiraError(w, http.StatusNotFound, "No resource found at /userprops/1/accounts/../properties.")
		default:
			jiraError(w, http.StatusForbidden, "You do not have permission to access the properties of this user.")
		}
	})
	st := open(t, c.srv.URL)
	ctx := context.Background()
	n, err := st.DeleteAccount(ctx, "a/b")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	_, err = st.DeleteAccount(ctx, "ghost")
	assert.ErrorIs(t, err, userprops.ErrUserNotFound)
	assert.NotErrorIs(t, err, errors.ErrUnsupported)
	_, err = st.DeleteAccount(ctx, "..")
	assert.ErrorIs(t, err, errors.ErrUnsupported, "a userprops server without the route")
	_, err = st.DeleteAccount(ctx, "other")
	assert.ErrorIs(t, err, userprops.ErrForbidden)
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func mustKeys(t *testing.T, st userprops.Store, accountID string) []string {
	t.Helper()
	ks, err := st.Keys(context.Background(), accountID)
	require.NoError(t, err)
	return ks
}
