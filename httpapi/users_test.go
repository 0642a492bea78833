package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// Accounts of the user-search tests: testAccounts with profiles, and an
// inactive one.
const (
	carolID    = "carol-0003"
	carolToken = "carol-token-0123456789"
)

var inactive = false

// userAccounts are out of order, so that a test sees the directory sort them.
var userAccounts = []httpapi.Account{
	{AccountID: carolID, Email: "carol@example.com", APIToken: carolToken, DisplayName: "Carol Ex", Active: &inactive},
	{AccountID: bobID, Email: "bob@example.com", APIToken: bobToken, DisplayName: "Bob Smith"},
	{AccountID: aliceID, Email: "alice@example.com", APIToken: aliceToken, DisplayName: "Alice Lovelace",
		TimeZone: "Europe/London", Locale: "en_GB"},
	{AccountID: adminID, Email: "admin@example.com", APIToken: adminToken, Admin: true},
}

var carol = basic("carol@example.com", carolToken)

// jiraUser is Jira's User object as a client decodes it; EmailAddress is a
// pointer so that a test can tell an omitted email from an empty one.
type jiraUser struct {
	Self         string            `json:"self"`
	AccountID    string            `json:"accountId"`
	AccountType  string            `json:"accountType"`
	EmailAddress *string           `json:"emailAddress"`
	AvatarURLs   map[string]string `json:"avatarUrls"`
	DisplayName  string            `json:"displayName"`
	Active       bool              `json:"active"`
	TimeZone     string            `json:"timeZone"`
	Locale       string            `json:"locale"`
}

func decodeUser(t *testing.T, r response) jiraUser {
	t.Helper()
	require.Equal(t, 200, r.status, r.body)
	assert.Equal(t, "application/json;charset=UTF-8", r.header.Get("Content-Type"))
	var u jiraUser
	require.NoError(t, json.Unmarshal([]byte(r.body), &u), r.body)
	return u
}

func TestUsers_GetUserAndMyself(t *testing.T) {
	for _, v := range versions {
		t.Run("v"+v, func(t *testing.T) {
			e := newEnvWith(t, userAccounts)
			u := decodeUser(t, e.do(t, alice, "GET", "/rest/api/"+v+"/user?accountId="+url.QueryEscape(bobID), nil))
			assert.Equal(t, e.srv.URL+"/rest/api/"+v+"/user?accountId="+url.QueryEscape(bobID), u.Self)
			assert.Equal(t, bobID, u.AccountID)
			assert.Equal(t, "atlassian", u.AccountType)
			assert.Equal(t, "Bob Smith", u.DisplayName)
			assert.True(t, u.Active)
			assert.Equal(t, httpapi.DefaultTimeZone, u.TimeZone)
			assert.Equal(t, httpapi.DefaultLocale, u.Locale)
			assert.Nil(t, u.EmailAddress, "alice sees bob's email")
			r := e.do(t, alice, "GET", "/rest/api/"+v+"/user?accountId="+url.QueryEscape(bobID), nil)
			assert.NotContains(t, r.body, "emailAddress", "a hidden email is omitted, never null")
			require.Len(t, u.AvatarURLs, 4)
			for _, size := range []string{"16x16", "24x24", "32x32", "48x48"} {
				link, err := url.Parse(u.AvatarURLs[size])
				require.NoError(t, err, size)
				assert.True(t, link.IsAbs(), "avatar %s %q", size, link)
				resp, err := http.Get(link.String()) // no credentials, as an img element
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, 200, resp.StatusCode, size)
				assert.Equal(t, "image/svg+xml", resp.Header.Get("Content-Type"), size)
			}

			u = decodeUser(t, e.do(t, admin, "GET", "/rest/api/"+v+"/user?accountId="+url.QueryEscape(bobID), nil))
			require.NotNil(t, u.EmailAddress, "admins see emails")
			assert.Equal(t, "bob@example.com", *u.EmailAddress)

			u = decodeUser(t, e.do(t, alice, "GET", "/rest/api/"+v+"/myself", nil))
			assert.Equal(t, aliceID, u.AccountID)
			assert.Equal(t, "Alice Lovelace", u.DisplayName)
			assert.Equal(t, "Europe/London", u.TimeZone)
			assert.Equal(t, "en_GB", u.Locale)
			require.NotNil(t, u.EmailAddress, "one's own email")
			assert.Equal(t, "alice@example.com", *u.EmailAddress)

			u = decodeUser(t, e.do(t, admin, "GET", "/rest/api/"+v+"/myself", nil))
			assert.Equal(t, adminID, u.DisplayName, "no displayName: the account ID")

			u = decodeUser(t, e.do(t, bob, "GET", "/rest/api/"+v+"/user?accountId="+carolID, nil))
			assert.False(t, u.Active, "an inactive user is still described")
			u = decodeUser(t, e.do(t, carol, "GET", "/rest/api/"+v+"/myself", nil))
			assert.False(t, u.Active)

			r = e.do(t, alice, "HEAD", "/rest/api/"+v+"/myself", nil)
			assert.Equal(t, 200, r.status)
			assert.Empty(t, r.body)
		})
	}
}

func TestUsers_Errors(t *testing.T) {
	e := newEnvWith(t, userAccounts)
	for _, v := range versions {
		for _, c := range []struct {
			name    string
			cred    cred
			method  string
			path    string
			status  int
			message string
		}{
			{"unknown user", alice, "GET", "/user?accountId=ghost", 404, "The specified user does not exist in the system."},
			{"no accountId", alice, "GET", "/user", 400, "The accountId query parameter is required."},
			{"blank accountId", alice, "GET", "/user?accountId=%20", 400,
				"The accountId is not valid: it must be at most 128 characters of valid UTF-8 and not blank."},
			{"no credentials", nobody, "GET", "/myself", 401, "Client must be authenticated to access this resource."},
			{"wrong token", badToken, "GET", "/user?accountId=" + aliceID, 401, "Client must be authenticated to access this resource."},
			{"search unauthenticated", nobody, "GET", "/user/search?query=a", 401, "Client must be authenticated to access this resource."},
			{"query search unauthenticated", nobody, "GET", "/user/search/query?query=[a]+is+1", 401,
				"Client must be authenticated to access this resource."},
			{"put", alice, "PUT", "/myself", 405, "Method PUT is not allowed here."},
			{"post search", alice, "POST", "/user/search?query=a", 405, "Method POST is not allowed here."},
			{"delete user", admin, "DELETE", "/user?accountId=" + aliceID, 405, "Method DELETE is not allowed here."},
		} {
			r := e.do(t, c.cred, c.method, "/rest/api/"+v+c.path, nil)
			assert.Equal(t, c.status, r.status, "v%s %s: %s", v, c.name, r.body)
			assert.Equal(t, c.message, r.errorMessage(t), "v%s %s", v, c.name)
			if c.status == 405 {
				assert.Equal(t, "GET, HEAD", r.header.Get("Allow"), c.name)
			}
		}
	}
	r := e.do(t, alice, "GET", "/rest/api/4/myself", nil)
	assert.Equal(t, 404, r.status)
	assert.Equal(t, "No resource found at /rest/api/4/myself.", r.errorMessage(t))
	r = e.do(t, alice, "GET", "/rest/api/3/user/search/other?query=a", nil)
	assert.Equal(t, 404, r.status, "only the search routes, with or without a trailing slash")
	r = e.do(t, nobody, "POST", "/secure/useravatar?size=small", nil)
	assert.Equal(t, 405, r.status)
}

func TestUsers_Avatar(t *testing.T) {
	e := newEnvWith(t, userAccounts)
	for size, px := range map[string]string{"xsmall": "16", "small": "24", "medium": "32", "large": "48", "": "48", "huge": "48"} {
		r := e.do(t, nobody, "GET", "/secure/useravatar?ownerId=whoever&size="+size, nil)
		require.Equal(t, 200, r.status, size)
		assert.Equal(t, "image/svg+xml", r.header.Get("Content-Type"))
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
		assert.True(t, strings.HasPrefix(r.body, `<svg xmlns="http://www.w3.org/2000/svg" width="`+px+`" height="`+px+`"`), "size %q: %s", size, r.body)
	}
	known := e.do(t, nobody, "GET", "/secure/useravatar?ownerId="+url.QueryEscape(aliceID)+"&size=large", nil)
	unknown := e.do(t, nobody, "GET", "/secure/useravatar?ownerId=ghost&size=large", nil)
	assert.Equal(t, known.body, unknown.body, "the avatar tells whether an account exists")
}

// onlyAuth is an Authenticator that is not a Users.
type onlyAuth struct{ accounts *httpapi.Accounts }

func (a onlyAuth) Authenticate(r *http.Request) (userprops.Actor, error) {
	return a.accounts.Authenticate(r)
}

// renamed is a Users that names every account "User <ID>".
type renamed struct{ *httpapi.Accounts }

func (u renamed) User(ctx context.Context, id string) (httpapi.User, error) {
	user, err := u.Accounts.User(ctx, id)
	user.DisplayName = "User " + id
	return user, err
}

func TestUsers_Directory(t *testing.T) {
	accounts, err := httpapi.NewAccounts(userAccounts)
	require.NoError(t, err)
	store := userprops.NewMemory()
	t.Cleanup(func() { store.Close() })
	serve := func(h http.Handler, path string) response {
		req, err := http.NewRequest("GET", "http://example.com"+path, nil)
		require.NoError(t, err)
		alice(req)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return response{status: w.Code, header: w.Header(), body: w.Body.String()}
	}

	// Without Users, there are no user routes.
	h := httpapi.New(store, onlyAuth{accounts})
	r := serve(h, "/rest/api/3/myself")
	assert.Equal(t, 404, r.status)
	assert.Equal(t, "No resource found at /rest/api/3/myself.", r.errorMessage(t))

	// WithUsers gives them, and wins over the Authenticator's.
	h = httpapi.New(store, accounts, httpapi.WithUsers(renamed{accounts}), httpapi.WithBaseURL("https://props.example.com/"))
	u := decodeUser(t, serve(h, "/rest/api/3/myself"))
	assert.Equal(t, "User "+aliceID, u.DisplayName)
	assert.Equal(t, "https://props.example.com/rest/api/3/user?accountId="+aliceID, u.Self, "self follows WithBaseURL")
	assert.Equal(t, "https://props.example.com/secure/useravatar?ownerId="+aliceID+"&size=large", u.AvatarURLs["48x48"])
}

func TestAccounts_Users(t *testing.T) {
	a, err := httpapi.NewAccounts(userAccounts)
	require.NoError(t, err)
	var ids []string
	require.NoError(t, a.EachUser(context.Background(), func(u httpapi.User) bool {
		ids = append(ids, u.AccountID)
		return true
	}))
	assert.IsIncreasing(t, ids, "EachUser goes in ascending order")
	assert.ElementsMatch(t, []string{aliceID, bobID, adminID, carolID}, ids)

	n := 0
	require.NoError(t, a.EachUser(context.Background(), func(httpapi.User) bool { n++; return false }))
	assert.Equal(t, 1, n, "EachUser stops when fn says so")

	u, err := a.User(context.Background(), carolID)
	require.NoError(t, err)
	assert.Equal(t, httpapi.User{AccountID: carolID, DisplayName: "Carol Ex", Email: "carol@example.com",
		TimeZone: httpapi.DefaultTimeZone, Locale: httpapi.DefaultLocale}, u)
	_, err = a.User(context.Background(), "ghost")
	assert.ErrorIs(t, err, userprops.ErrUserNotFound)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, a.EachUser(ctx, func(httpapi.User) bool { return true }), context.Canceled)

	_, err = httpapi.NewAccounts([]httpapi.Account{{AccountID: "a", APIToken: "token-a-0123456789", DisplayName: "bad \xff"}})
	assert.ErrorContains(t, err, "displayName must be valid UTF-8")
}
