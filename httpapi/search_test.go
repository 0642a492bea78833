package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// searchEnv serves userAccounts with location properties: alice, bob and
// carol (inactive) in Sydney, the admin in Oslo.
func searchEnv(t *testing.T) *env {
	t.Helper()
	e := newEnvWith(t, userAccounts)
	for id, city := range map[string]string{aliceID: "Sydney", bobID: "Sydney", carolID: "Sydney", adminID: "Oslo"} {
		_, err := e.store.Set(t.Context(), id, "location", []byte(`{"office":{"country":"AU","city":"`+city+`"}}`))
		require.NoError(t, err)
	}
	return e
}

// accountIDs decodes a JSON array of users and returns their account IDs.
func accountIDs(t *testing.T, r response) []string {
	t.Helper()
	require.Equal(t, 200, r.status, r.body)
	var users []jiraUser
	require.NoError(t, json.Unmarshal([]byte(r.body), &users), r.body)
	ids := []string{}
	for _, u := range users {
		ids = append(ids, u.AccountID)
	}
	return ids
}

func TestSearch_FindUsers(t *testing.T) {
	e := searchEnv(t)
	for _, v := range versions {
		search := func(c cred, params string) []string {
			t.Helper()
			return accountIDs(t, e.do(t, c, "GET", "/rest/api/"+v+"/user/search?"+params, nil))
		}
		sydney := "property=" + url.QueryEscape("location.office.city=Sydney")
		assert.Equal(t, []string{aliceID, bobID}, search(alice, sydney), "v%s: carol is inactive", v)
		assert.Equal(t, []string{adminID}, search(alice, "property=location.office.city%3DOslo"), "v%s", v)
		assert.Equal(t, []string{adminID}, accountIDs(t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/?property=location.office.city%3DOslo", nil)),
			"v%s: with a trailing slash", v)
		assert.Equal(t, []string{}, search(alice, "property=location.office.city%3DPerth"), "v%s: no match is []", v)
		assert.Equal(t, []string{bobID}, search(alice, sydney+"&accountId="+url.QueryEscape(bobID)), "v%s", v)
		assert.Equal(t, []string{}, search(alice, sydney+"&accountId="+adminID), "v%s: filters combine", v)
		assert.Equal(t, []string{}, search(alice, sydney+"&accountId="+carolID), "v%s: inactive", v)
		assert.Equal(t, []string{bobID}, search(alice, sydney+"&query=bo"), "v%s", v)
		assert.Equal(t, []string{aliceID, bobID}, search(alice, sydney+"&startAt=0&maxResults=5"), "v%s", v)
		assert.Equal(t, []string{bobID}, search(alice, sydney+"&startAt=1"), "v%s", v)
		assert.Equal(t, []string{aliceID}, search(alice, sydney+"&maxResults=1"), "v%s", v)
		assert.Equal(t, []string{}, search(alice, sydney+"&startAt=2"), "v%s", v)

		// query alone: the start of display names, case-insensitive,
		// '+' a space; emails only where the caller may see them.
		assert.Equal(t, []string{bobID}, search(alice, "query=BOB+s"), "v%s", v)
		assert.Equal(t, []string{bobID}, search(alice, "query=bob%20smith"), "v%s", v)
		assert.Equal(t, []string{}, search(alice, "query=smith"), "v%s: a prefix, not a substring", v)
		assert.Equal(t, []string{}, search(alice, "query=bob%40"), "v%s: alice may not see bob's email", v)
		assert.Equal(t, []string{bobID}, search(admin, "query=bob%40ex"), "v%s", v)
		assert.Equal(t, []string{aliceID}, search(alice, "query=ALICE%40"), "v%s: one's own email", v)
		assert.Equal(t, []string{}, search(admin, "query=carol"), "v%s: inactive", v)
		all := []string{aliceID, bobID, adminID}
		assert.Equal(t, all, search(alice, "query="), "v%s: an empty query matches every active user", v)
		assert.Equal(t, all[:2], search(alice, "query=&maxResults=2"), "v%s", v)
		assert.Equal(t, all[2:], search(alice, "query&startAt=2"), "v%s", v)

		// accountId alone: that one user, if active.
		assert.Equal(t, []string{bobID}, search(alice, "accountId="+url.QueryEscape(bobID)), "v%s", v)
		assert.Equal(t, []string{}, search(alice, "accountId=ghost"), "v%s", v)
		assert.Equal(t, []string{}, search(alice, "accountId="+carolID), "v%s", v)
		assert.Equal(t, []string{}, search(alice, "accountId="+aliceID+"&query=bob"), "v%s", v)
	}

	// The users are Jira's User objects, emails as the caller may see them.
	r := e.do(t, alice, "GET", "/rest/api/3/user/search?query=", nil)
	var users []jiraUser
	require.NoError(t, json.Unmarshal([]byte(r.body), &users))
	require.Len(t, users, 3)
	assert.Equal(t, "Alice Lovelace", users[0].DisplayName)
	assert.Equal(t, e.srv.URL+"/rest/api/3/user?accountId="+url.QueryEscape(aliceID), users[0].Self)
	require.NotNil(t, users[0].EmailAddress)
	assert.Nil(t, users[1].EmailAddress)
	assert.Equal(t, 1, strings.Count(r.body, "emailAddress"), r.body)
	assert.True(t, users[1].Active)
	assert.Len(t, users[2].AvatarURLs, 4)
}

func TestSearch_FindUsersErrors(t *testing.T) {
	e := searchEnv(t)
	for _, v := range versions {
		for _, c := range []struct {
			params  string
			message string
		}{
			{"", "One of the query parameters 'accountId', 'query' or 'property' must be provided."},
			{"startAt=1&maxResults=2", "One of the query parameters 'accountId', 'query' or 'property' must be provided."},
			{"accountId=", "One of the query parameters 'accountId', 'query' or 'property' must be provided."},
			{"property=location", `The query is not valid: property filter "location" has no '=': expected key.path=value.`},
			{"property=", `The query is not valid: property filter "" has no '=': expected key.path=value.`},
			{"property=location.%3DSydney", `The query is not valid: property filter "location.=Sydney" has an empty path after the key.`},
			{"query=a&startAt=-1", `The query is not valid: startAt "-1" is not a whole number of zero or more.`},
			{"query=a&maxResults=ten", `The query is not valid: maxResults "ten" is not a whole number of zero or more.`},
			{"accountId=%20", "The accountId is not valid: it must be at most 128 characters of valid UTF-8 and not blank."},
			{"query=%zz", `The query string could not be decoded: invalid URL escape "%zz".`},
		} {
			r := e.do(t, alice, "GET", "/rest/api/"+v+"/user/search?"+c.params, nil)
			assert.Equal(t, 400, r.status, "v%s %q: %s", v, c.params, r.body)
			assert.Equal(t, c.message, r.errorMessage(t), "v%s %q", v, c.params)
		}
	}
}

// page is Jira's PageBean as a client decodes it.
type page[T any] struct {
	Self       string  `json:"self"`
	NextPage   *string `json:"nextPage"`
	MaxResults int     `json:"maxResults"`
	StartAt    int     `json:"startAt"`
	Total      int     `json:"total"`
	IsLast     bool    `json:"isLast"`
	Values     []T     `json:"values"`
}

func decodePage[T any](t *testing.T, r response) page[T] {
	t.Helper()
	require.Equal(t, 200, r.status, r.body)
	var p page[T]
	require.NoError(t, json.Unmarshal([]byte(r.body), &p), r.body)
	require.NotNil(t, p.Values, "values is never null: %s", r.body)
	return p
}

func TestSearch_FindUsersByQuery(t *testing.T) {
	e := searchEnv(t)
	for _, v := range versions {
		sydney := url.QueryEscape(`[location].office.city is "Sydney"`)
		p := decodePage[jiraUser](t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/query?query="+sydney, nil))
		assert.Equal(t, 2, p.Total, "v%s: carol is inactive", v)
		assert.True(t, p.IsLast)
		assert.Nil(t, p.NextPage, "the last page has no nextPage")
		assert.Equal(t, 0, p.StartAt)
		assert.Equal(t, userprops.DefaultPageSize, p.MaxResults)
		require.Len(t, p.Values, 2)
		assert.Equal(t, aliceID, p.Values[0].AccountID)
		assert.Equal(t, "Bob Smith", p.Values[1].DisplayName)
		assert.Nil(t, p.Values[1].EmailAddress)
		assert.Equal(t, e.srv.URL+"/rest/api/"+v+"/user/search/query?query="+sydney, p.Self)

		// Paging, and its links.
		p = decodePage[jiraUser](t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/query?query="+sydney+"&maxResults=1", nil))
		assert.Equal(t, 2, p.Total)
		assert.False(t, p.IsLast)
		assert.Equal(t, 1, p.MaxResults)
		require.Len(t, p.Values, 1)
		assert.Equal(t, aliceID, p.Values[0].AccountID)
		require.NotNil(t, p.NextPage)
		next, err := url.Parse(*p.NextPage)
		require.NoError(t, err)
		assert.Equal(t, "/rest/api/"+v+"/user/search/query", next.Path)
		assert.Equal(t, url.Values{"query": {`[location].office.city is "Sydney"`}, "maxResults": {"1"}, "startAt": {"1"}}, next.Query())
		p = decodePage[jiraUser](t, e.do(t, alice, "GET", next.RequestURI(), nil))
		assert.Equal(t, 1, p.StartAt)
		assert.True(t, p.IsLast)
		assert.Nil(t, p.NextPage)
		require.Len(t, p.Values, 1)
		assert.Equal(t, bobID, p.Values[0].AccountID)

		p = decodePage[jiraUser](t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/query?query="+sydney+"&startAt=5", nil))
		assert.Equal(t, 2, p.Total)
		assert.True(t, p.IsLast)
		assert.Empty(t, p.Values)

		p = decodePage[jiraUser](t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/query?query="+sydney+"&maxResults=5000", nil))
		assert.Equal(t, userprops.MaxPageSize, p.MaxResults, "maxResults is cut to the largest page")

		q := url.QueryEscape(`[location].office.city is "Oslo" OR [location].office.country is "AU"`)
		p = decodePage[jiraUser](t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/query?query="+q, nil))
		assert.Equal(t, 3, p.Total)

		// The key page: maxResult, singular, and only account IDs.
		k := decodePage[map[string]string](t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/query/key?query="+q+"&maxResult=2", nil))
		assert.Equal(t, 3, k.Total)
		assert.Equal(t, 2, k.MaxResults)
		assert.Equal(t, []map[string]string{{"accountId": aliceID}, {"accountId": bobID}}, k.Values)
		require.NotNil(t, k.NextPage)
		next, err = url.Parse(*k.NextPage)
		require.NoError(t, err)
		assert.Equal(t, "2", next.Query().Get("maxResult"))
		k = decodePage[map[string]string](t, e.do(t, alice, "GET", next.RequestURI(), nil))
		assert.Equal(t, []map[string]string{{"accountId": adminID}}, k.Values)
		assert.True(t, k.IsLast)
		k = decodePage[map[string]string](t, e.do(t, alice, "GET", "/rest/api/"+v+"/user/search/query/key?query="+q+"&maxResults=1", nil))
		assert.Len(t, k.Values, 3, "the key page's size is maxResult, not maxResults")
	}
}

// TestSearch_JiraJS5Query sends the query as jira.js 5 does: spaces as '+',
// '[' and ']' unescaped, on the wire as written.
func TestSearch_JiraJS5Query(t *testing.T) {
	e := searchEnv(t)
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, path := range []string{
		"/rest/api/3/user/search/query?query=[location].office.city+is+%22Sydney%22&startAt=0&maxResults=50",
		"/rest/api/2/user/search/query/key?query=[location].office.city+is+%22Sydney%22",
	} {
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", path, aliceToken)
		resp, err := readResponse(br)
		require.NoError(t, err)
		assert.Equal(t, 200, resp.status, "%s: %s", path, resp.body)
		p := decodePage[map[string]any](t, resp)
		assert.Equal(t, 2, p.Total, path)
	}
}

func TestSearch_FindUsersByQueryErrors(t *testing.T) {
	e := searchEnv(t)
	for _, v := range versions {
		for _, route := range []string{"/user/search/query", "/user/search/query/key"} {
			for _, c := range []struct {
				params  string
				message string
			}{
				{"", "The query is not valid: the query is empty."},
				{"query=", "The query is not valid: the query is empty."},
				{"query=" + url.QueryEscape(`[location].office.city = "Sydney"`), `The query is not valid: at byte 23: expected "is" after [location], found "=".`},
				{"query=" + url.QueryEscape(`is assignee of ABC-1`), "The query is not valid: at byte 0: "},
				{"query=" + url.QueryEscape(`[a] is 1`) + "&startAt=x", `The query is not valid: startAt "x" is not a whole number of zero or more.`},
			} {
				r := e.do(t, alice, "GET", "/rest/api/"+v+route+"?"+c.params, nil)
				assert.Equal(t, 400, r.status, "v%s %s %q: %s", v, route, c.params, r.body)
				assert.True(t, strings.HasPrefix(r.errorMessage(t), c.message), "v%s %s %q: %q", v, route, c.params, r.errorMessage(t))
			}
		}
	}
}

// TestSearch_PagesPastFindsLargestPage has more matches than Find's largest
// page, with inactive users among them: the totals and every page stay
// exact.
func TestSearch_PagesPastFindsLargestPage(t *testing.T) {
	const n = 2600
	var list []httpapi.Account
	var active []string
	for i := range n {
		acc := httpapi.Account{AccountID: fmt.Sprintf("u%05d", i), APIToken: fmt.Sprintf("token-%05d-0123456789", i)}
		if i%7 == 3 {
			acc.Active = &inactive
		} else {
			active = append(active, acc.AccountID)
		}
		list = append(list, acc)
	}
	list[0].Admin = true
	e := newEnvWith(t, list)
	for _, acc := range list {
		_, err := e.store.Set(t.Context(), acc.AccountID, "team", []byte(`"core"`))
		require.NoError(t, err)
	}
	who := bearer(list[0].APIToken)
	q := url.QueryEscape(`[team] is "core"`)
	for _, startAt := range []int{0, 999, 1000, 1001, 2000, len(active) - 1, len(active), len(active) + 5} {
		k := decodePage[map[string]string](t, e.do(t, who, "GET",
			fmt.Sprintf("/rest/api/3/user/search/query/key?query=%s&startAt=%d&maxResult=1000", q, startAt), nil))
		assert.Equal(t, len(active), k.Total, "startAt %d", startAt)
		want := active[min(startAt, len(active)):min(startAt+1000, len(active))]
		got := make([]string, len(k.Values))
		for i, v := range k.Values {
			got[i] = v["accountId"]
		}
		assert.Equal(t, want, got, "startAt %d", startAt)
		assert.Equal(t, startAt+1000 >= len(active), k.IsLast, "startAt %d", startAt)
	}
	ids := accountIDs(t, e.do(t, who, "GET", "/rest/api/3/user/search?property=team%3Dcore&startAt=1990&maxResults=20", nil))
	assert.Equal(t, active[1990:2010], ids)
}

// readResponse reads one HTTP response from br.
func readResponse(br *bufio.Reader) (response, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}, err
}
