package httpapi_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

func TestNewAccounts_Rejects(t *testing.T) {
	ok := httpapi.Account{AccountID: "a", Email: "a@example.com", APIToken: "token-a-0123456789"}
	for _, c := range []struct {
		name string
		list []httpapi.Account
	}{
		{"missing account ID", []httpapi.Account{{APIToken: "token-0123456789ab"}}},
		{"blank account ID", []httpapi.Account{{AccountID: " ", APIToken: "token-0123456789ab"}}},
		{"short token", []httpapi.Account{{AccountID: "a", APIToken: "short"}}},
		{"duplicate account ID", []httpapi.Account{ok, {AccountID: "a", APIToken: "token-b-0123456789"}}},
		{"duplicate email", []httpapi.Account{ok, {AccountID: "b", Email: "A@example.com", APIToken: "token-b-0123456789"}}},
		{"duplicate token", []httpapi.Account{ok, {AccountID: "b", APIToken: ok.APIToken}}},
		{"email naming another account", []httpapi.Account{ok, {AccountID: "b", Email: "a", APIToken: "token-b-0123456789"}}},
		// 16 bytes but 8 characters: the rule counts characters.
		{"short token of multi-byte characters", []httpapi.Account{{AccountID: "a", APIToken: strings.Repeat("é", 8)}}},
	} {
		_, err := httpapi.NewAccounts(c.list)
		assert.Error(t, err, c.name)
	}
	_, err := httpapi.NewAccounts([]httpapi.Account{{AccountID: "a", APIToken: strings.Repeat("é", httpapi.MinTokenLength)}})
	assert.NoError(t, err, "a token of %d two-byte characters", httpapi.MinTokenLength)
}

func TestAccounts_Directory(t *testing.T) {
	a, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	for id, want := range map[string]bool{aliceID: true, adminID: true, "ghost": false, "alice@example.com": false} {
		got, err := a.UserExists(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, want, got, "UserExists(%q)", id)
	}
}

func TestAccounts_Authenticate(t *testing.T) {
	a, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	for _, c := range []struct {
		name   string
		header string
		want   userprops.Actor
		err    error
	}{
		{"none", "", userprops.Actor{}, userprops.ErrUnauthorized},
		{"unknown scheme", "Digest abc", userprops.Actor{}, userprops.ErrUnauthorized},
		{"malformed basic", "Basic !!!", userprops.Actor{}, userprops.ErrUnauthorized},
		{"bearer admin", "Bearer " + adminToken, userprops.Actor{AccountID: adminID, Admin: true}, nil},
		{"bearer lower case", "bearer " + bobToken, userprops.Actor{AccountID: bobID}, nil},
		{"bearer empty", "Bearer ", userprops.Actor{}, userprops.ErrUnauthorized},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		got, err := a.Authenticate(r)
		if c.err != nil {
			assert.ErrorIs(t, err, c.err, c.name)
		} else {
			assert.NoError(t, err, c.name)
		}
		assert.Equal(t, c.want, got, c.name)
	}
}

func TestLoadAccounts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.json")
	require.NoError(t, httpapi.WriteAccounts(path, testAccounts))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	assert.Error(t, httpapi.WriteAccounts(path, testAccounts), "WriteAccounts over an existing file")

	a, err := httpapi.LoadAccounts(path)
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("bob@example.com", bobToken)
	actor, err := a.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, userprops.Actor{AccountID: bobID}, actor)

	for name, content := range map[string]string{
		"empty list":    `{"accounts":[]}`,
		"unknown field": `{"accounts":[{"accountId":"a","apiToken":"token-a-0123456789","role":"admin"}]}`,
		"not JSON":      `accounts: []`,
		"bad account":   `{"accounts":[{"accountId":"","apiToken":"token-a-0123456789"}]}`,
		// A second document after the first: its administrator would be
		// silently dropped.
		"trailing document": `{"accounts":[{"accountId":"a","apiToken":"token-a-0123456789"}]}
{"accounts":[{"accountId":"root","apiToken":"token-root-0123456789","admin":true}]}`,
		"trailing garbage": `{"accounts":[{"accountId":"a","apiToken":"token-a-0123456789"}]} x`,
	} {
		p := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		_, err := httpapi.LoadAccounts(p)
		assert.Error(t, err, name)
	}
	p := filepath.Join(dir, "two.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"accounts":[{"accountId":"a","apiToken":"token-a-0123456789"}]}{}`), 0o600))
	_, err = httpapi.LoadAccounts(p)
	assert.ErrorContains(t, err, "data after the accounts document")
	_, err = httpapi.LoadAccounts(filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestNewToken(t *testing.T) {
	a, b := httpapi.NewToken(), httpapi.NewToken()
	assert.NotEqual(t, a, b)
	assert.Len(t, a, 43) // 32 bytes in unpadded base64
	assert.GreaterOrEqual(t, len(a), httpapi.MinTokenLength)
}

// basicHeader is an Authorization header for HTTP Basic with user and
// password joined by a colon, as clients send it.
func basicHeader(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestAccounts_LoginByAccountIDWithColon(t *testing.T) {
	// The README's example ID; HTTP Basic splits user:password at the
	// first colon, which falls inside it.
	const id = "712020:2722a0b4-4b3c-4ee2-a0fc-1fd9bd1bbcb9"
	a, err := httpapi.NewAccounts([]httpapi.Account{
		{AccountID: id, Email: "bob@example.com", APIToken: "bob-token-0123456789abc"},
		{AccountID: "712020", APIToken: "2722a0b4:short-id-token-0123"},
		{AccountID: "qm:1b2c:3d4e", APIToken: "has:colons:in-its-token-0123"},
		{AccountID: "root", APIToken: "root-token-0123456789", Admin: true},
	})
	require.NoError(t, err)
	for _, c := range []struct {
		name           string
		user, password string
		want           string // account ID, "" for 401
	}{
		{"account ID with a colon", id, "bob-token-0123456789abc", id},
		{"email", "bob@example.com", "bob-token-0123456789abc", id},
		{"account ID with a colon, wrong token", id, "wrong-token-0123456789", ""},
		{"account ID with a colon, another account's token", id, "root-token-0123456789", ""},
		{"the part before the colon is an account of its own", "712020", "2722a0b4:short-id-token-0123", "712020"},
		{"two colons in the ID and two in the token", "qm:1b2c:3d4e", "has:colons:in-its-token-0123", "qm:1b2c:3d4e"},
		{"unknown ID with a colon", "712020:ffffffff", "bob-token-0123456789abc", ""},
		{"account ID with a colon, empty token", id, "", ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", basicHeader(c.user, c.password))
		got, err := a.Authenticate(r)
		if c.want == "" {
			assert.ErrorIs(t, err, userprops.ErrUnauthorized, c.name)
			assert.Equal(t, userprops.Actor{}, got, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, got.AccountID, c.name)
	}

	// The whole route, through the handler.
	srv := httptest.NewServer(httpapi.New(userprops.NewMemory(userprops.WithDirectory(a)), a))
	defer srv.Close()
	req, err := http.NewRequest("PUT", srv.URL+"/rest/api/3/user/properties/k?accountId="+url.QueryEscape(id), strings.NewReader(`1`))
	require.NoError(t, err)
	req.SetBasicAuth(id, "bob-token-0123456789abc")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode)
}

func TestNewAccounts_TooManyColonsInALogin(t *testing.T) {
	_, err := httpapi.NewAccounts([]httpapi.Account{{AccountID: "a:b:c:d", APIToken: "token-0123456789ab"}})
	require.NoError(t, err, "three colons")
	_, err = httpapi.NewAccounts([]httpapi.Account{{AccountID: "a:b:c:d:e", APIToken: "token-0123456789ab"}})
	assert.ErrorContains(t, err, "colons")
	_, err = httpapi.NewAccounts([]httpapi.Account{{AccountID: "a", Email: "a:b:c:d:e@example.com", APIToken: "token-0123456789ab"}})
	assert.ErrorContains(t, err, "colons")
}
