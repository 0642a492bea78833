package userprops_test

// The README's code, as tests: each ```go block of README.md is, verbatim,
// part of this file (TestREADME_CodeBlocks checks it), so that it compiles
// and runs here; the accounts file it shows is loaded as a server loads it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/internal/mystore"
	"github.com/userprops/userprops/remote"
	"github.com/userprops/userprops/storetest"
)

// Example_readmeEmbedding is the README's Embedding section.
func Example_readmeEmbedding() {
	ctx := context.Background()
	accountID := "5b10ac8d82e05b22cc7d4ef5"
	dir, err := os.MkdirTemp("", "userprops-readme-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "props.db")

	store, err := userprops.OpenBolt(path) // or userprops.NewMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	status, err := store.Set(ctx, accountID, "settings", []byte(`{"theme":"dark"}`)) // Created, then Updated
	if err != nil {
		log.Fatal(err) // errors.Is(err, userprops.ErrInvalidJSON), …: see HTTPStatus below
	}
	p, err := store.Get(ctx, accountID, "settings") // p.Value is the exact bytes; p.Version counts updates
	if err != nil {
		log.Fatal(err)
	}
	keys, err := store.Keys(ctx, accountID) // ascending byte order, [] when there are none
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status, string(p.Value), p.Version, keys)

	// Typed values: encoding/json both ways, the same rules and errors.
	type Settings struct {
		Theme string `json:"theme"`
	}
	if _, err := userprops.SetJSON(ctx, store, accountID, "ui", Settings{Theme: "light"}); err != nil {
		log.Fatal(err)
	}
	ui, _, err := userprops.GetJSON[Settings](ctx, store, accountID, "ui")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ui.Theme)

	err = store.Delete(ctx, accountID, "settings")
	fmt.Println(err)
	err = store.Delete(ctx, accountID, "settings")
	fmt.Println(errors.Is(err, userprops.ErrNotFound)) // true: it is gone
	// Output:
	// created {"theme":"dark"} 1 [settings]
	// light
	// <nil>
	// true
}

// Example_readmeFindingUsers is the README's Finding users section.
func Example_readmeFindingUsers() {
	ctx := context.Background()
	store := userprops.NewMemory(userprops.WithIndex("location", "office.city"))
	defer store.Close()
	for id, props := range map[string][2]string{
		"5b10ac8d82e05b22cc7d4ef5": {`{"office":{"country":"AU","city":"Sydney"}}`, `{"done":false}`},
		"5b10a2844c20165700ede21g": {`{"office":{"country":"AU","city":"Sydney"}}`, `{"done":true}`},
		"5b109f2e9729b51b54dc274d": {`{"office":{"country":"NO","city":"Oslo"}}`, `{"done":false}`},
	} {
		if _, err := store.Set(ctx, id, "location", []byte(props[0])); err != nil {
			log.Fatal(err)
		}
		if _, err := store.Set(ctx, id, "onboarding", []byte(props[1])); err != nil {
			log.Fatal(err)
		}
	}

	q, err := userprops.ParseQuery(`[location].office.city is "Sydney" AND [onboarding].done is false`)
	if err != nil {
		log.Fatal(err) // errors.Is(err, userprops.ErrInvalidQuery): the message says where and why
	}
	// the same in code: userprops.And(userprops.Where("location", "office.city", "Sydney"), userprops.Where("onboarding", "done", false))
	found, err := store.Find(ctx, q, userprops.Page{StartAt: 0, MaxResults: 50})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found.Total, found.AccountIDs) // every match counted; this page, in ascending byte order
	// Output:
	// 1 [5b10ac8d82e05b22cc7d4ef5]
}

// Example_readmeRemote is the README's Using a server from Go section.
func Example_readmeRemote() {
	ctx := context.Background()
	accountID, email, apiToken := "5b10ac8d82e05b22cc7d4ef5", "ada@example.com", "ada-api-token-0123456789"
	accounts, err := httpapi.NewAccounts([]httpapi.Account{{AccountID: accountID, Email: email, APIToken: apiToken}})
	if err != nil {
		log.Fatal(err)
	}
	backing := userprops.NewMemory()
	defer backing.Close()
	srv := httptest.NewServer(httpapi.New(backing, accounts, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	defer srv.Close()
	baseURL := srv.URL

	store, err := remote.Open(baseURL, remote.WithBasicAuth(email, apiToken)) // or "https://your-domain.atlassian.net"
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	status, err := store.Set(ctx, accountID, "settings", []byte(`{"theme":"dark"}`)) // PUT: 201 Created, then 200 Updated
	if err != nil {
		log.Fatal(err) // the errors of every store: errors.Is(err, userprops.ErrForbidden), …
	}
	p, err := store.Get(ctx, accountID, "settings") // Version and UpdatedAt from userprops' headers; zero on Jira Cloud
	if err != nil {
		log.Fatal(err)
	}
	_, err = store.Get(ctx, accountID, "missing")
	fmt.Println(status, string(p.Value), p.Version, errors.Is(err, userprops.ErrNotFound))
	_, err = store.Get(ctx, "someone-else", "settings")
	fmt.Println(errors.Is(err, userprops.ErrForbidden)) // Jira's rule: only administrators act for others
	// Output:
	// created {"theme":"dark"} 1 true
	// true
}

// TestMyStore is the README's storetest snippet ("Writing another
// backend"), run on internal/mystore, which stands for the reader's backend.
func TestMyStore(t *testing.T) {
	storetest.RunHarness(t, storetest.Harness{
		Open: func(t *testing.T, opts ...userprops.Option) userprops.Store {
			return mystore.Open(t.TempDir(), opts...)
		},
		// Claim durability, and the suite checks it: close, reopen, all there.
		Reopen: func(t *testing.T, st userprops.Store, opts ...userprops.Option) userprops.Store {
			return mystore.Open(st.(*mystore.Store).Dir(), opts...)
		},
	})
}

// codeBlock is one fenced block of README.md.
type codeBlock struct {
	lang, text string
	line       int
}

var fence = regexp.MustCompile("(?ms)^```(\\w*)\\n(.*?)^```$")

func readmeBlocks(t *testing.T) []codeBlock {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var blocks []codeBlock
	for _, m := range fence.FindAllSubmatchIndex(readme, -1) {
		blocks = append(blocks, codeBlock{
			lang: string(readme[m[2]:m[3]]),
			text: string(readme[m[4]:m[5]]),
			line: bytes.Count(readme[:m[0]], []byte("\n")) + 1,
		})
	}
	require.NotEmpty(t, blocks)
	return blocks
}

// TestREADME_CodeBlocks checks that every Go block of the README is code of
// this file, as it stands at the top level or indented once as a function
// body, and that the JSON block is an accounts file a server loads. The sh
// blocks are command lines and synopses; the commands' own tests run them
// (cmd/userprops: the curl lines serve prints, set/get/keys/delete,
// accounts, backup, export/import).
func TestREADME_CodeBlocks(t *testing.T) {
	self, err := os.ReadFile("readme_test.go")
	require.NoError(t, err)
	goBlocks := 0
	for _, b := range readmeBlocks(t) {
		switch b.lang {
		case "go":
			goBlocks++
			indented := regexp.MustCompile(`(?m)^(.)`).ReplaceAllString(b.text, "\t$1")
			assert.True(t, strings.Contains(string(self), "\n"+b.text) || strings.Contains(string(self), "\n"+indented),
				"README.md:%d: the Go block is not code of readme_test.go:\n%s", b.line, b.text)
		case "json":
			path := filepath.Join(t.TempDir(), "accounts.json")
			require.NoError(t, os.WriteFile(path, []byte(b.text), 0o600))
			a, err := httpapi.LoadAccounts(path)
			if assert.NoError(t, err, "README.md:%d: the accounts file", b.line) {
				assert.Equal(t, 2, a.Len())
			}
		case "sh":
		default:
			t.Errorf("README.md:%d: a block of %q: give it a language this test knows", b.line, b.lang)
		}
	}
	assert.Equal(t, 4, goBlocks, "the README's Go blocks: Finding users, Embedding, Using a server from Go and storetest")
}
