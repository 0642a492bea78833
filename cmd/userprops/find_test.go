package main

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

const sydney = `[location].office.city is "Sydney"`

// locations returns a store file where accounts a and c are in Sydney and b
// in Oslo.
func locations(t *testing.T) string {
	t.Helper()
	db := tempDB(t)
	for id, city := range map[string]string{"a": "Sydney", "b": "Oslo", "c": "Sydney"} {
		mustRun(t, "set", "--db", db, "--account", id, "location", `{"office":{"country":"AU","city":"`+city+`"}}`)
	}
	return db
}

func TestFind(t *testing.T) {
	db := locations(t)
	assert.Equal(t, `{"accountIds":["a","c"],"total":2}`+"\n", mustRun(t, "find", "--db", db, sydney))
	assert.Equal(t, `{"accountIds":["c"],"total":2}`+"\n", mustRun(t, "find", "--db", db, "--start-at", "1", "--max-results", "1", sydney))
	assert.Equal(t, `{"accountIds":[],"total":2}`+"\n", mustRun(t, "find", "--db", db, "--start-at", "5", sydney))
	assert.Equal(t, `{"accountIds":["a","b","c"],"total":3}`+"\n",
		mustRun(t, "find", "--db", db, `[location].office.city is "Oslo" OR [location].office.country is "AU"`))
	assert.Equal(t, `{"accountIds":[],"total":0}`+"\n", mustRun(t, "find", "--db", db, `[nothing] is 1`))
	// An index changes no answer.
	assert.Equal(t, `{"accountIds":["a","c"],"total":2}`+"\n",
		mustRun(t, "find", "--db", db, "--index", "[location].office.city", "--index", "[location]", sydney))
}

func TestFind_Errors(t *testing.T) {
	db := locations(t)
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"invalid query", []string{"find", "--db", db, `[location].office.city = "Sydney"`}, 1, `at byte 23: expected "is"`},
		{"issue statement", []string{"find", "--db", db, `is assignee of ABC-1`}, 1, "is about Jira issues"},
		{"negative start", []string{"find", "--db", db, "--start-at", "-1", sydney}, 1, "startAt -1 is negative"},
		{"no query", []string{"find", "--db", db}, 2, "takes 1 to 1 arguments"},
		{"two queries", []string{"find", "--db", db, sydney, sydney}, 2, "takes 1 to 1 arguments"},
		{"invalid index", []string{"find", "--db", db, "--index", "location.office", sydney}, 2, "invalid query"},
		{"missing store", []string{"find", "--db", db + ".missing", sydney}, 1, "no store at"},
		{"account flag", []string{"find", "--db", db, "--account", "a", sydney}, 2, "flag provided but not defined"},
	} {
		r := runCmd(t, "", c.args...)
		require.Error(t, r.err, c.name)
		assert.Equal(t, c.code, r.code, "%s: %v", c.name, r.err)
		assert.Contains(t, r.err.Error(), c.msg, c.name)
		assert.Empty(t, r.stdout, c.name)
	}
	assert.NoFileExists(t, db+".missing", "find created a store")
	r := runCmd(t, "", "find", "--db", db, `[a] is`)
	assert.ErrorIs(t, r.err, userprops.ErrInvalidQuery)
}

func TestServe_Search(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "team.json")
	require.NoError(t, os.WriteFile(accounts, []byte(`{"accounts":[
		{"accountId":"ada","email":"ada@example.com","apiToken":"ada-token-0123456789","displayName":"Ada Lovelace"},
		{"accountId":"bob","apiToken":"bob-token-0123456789","active":false},
		{"accountId":"root","apiToken":"root-token-0123456789","admin":true}]}`), 0o600))
	s := startServe(t, "--db", filepath.Join(dir, "props.db"), "--accounts", accounts,
		"--index", "[location].office.city", "--index", `[team]`)
	for _, id := range []string{"ada", "bob", "root"} {
		resp := do(t, "PUT", s.base+"/rest/api/3/user/properties/location?accountId="+id, "root", "root-token-0123456789",
			`{"office":{"city":"Sydney"}}`)
		require.Equal(t, 201, resp.StatusCode)
	}
	body := readBody(t, do(t, "GET", s.base+"/rest/api/3/user/search/query/key?query="+url.QueryEscape(sydney), "ada", "ada-token-0123456789", ""))
	assert.JSONEq(t, `{"self":"`+s.base+`/rest/api/3/user/search/query/key?query=`+url.QueryEscape(sydney)+`",
		"maxResults":50,"startAt":0,"total":2,"isLast":true,"values":[{"accountId":"ada"},{"accountId":"root"}]}`, body,
		"bob is inactive")
	body = readBody(t, do(t, "GET", s.base+"/rest/api/2/myself", "ada@example.com", "ada-token-0123456789", ""))
	assert.Contains(t, body, `"displayName":"Ada Lovelace"`)
	assert.Contains(t, body, `"emailAddress":"ada@example.com"`)

	r := runCmd(t, "", "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "other.db"), "--index", "[location")
	assert.Equal(t, 2, r.code, "serve with an invalid --index: %v", r.err)
	assert.NoFileExists(t, filepath.Join(dir, "other.db"))
}
