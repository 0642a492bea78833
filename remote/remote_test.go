package remote_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/internal/pgtest"
	"github.com/userprops/userprops/pgstore"
	"github.com/userprops/userprops/remote"
	"github.com/userprops/userprops/storetest"
)

const (
	adminID    = "remote-admin"
	adminToken = "remote-admin-token-0123456789"
)

// everyone is the Users of the test servers: every account exists and is
// active, so that the user search finds what the store's Find finds.
type everyone struct{}

func (everyone) User(_ context.Context, id string) (httpapi.User, error) {
	return httpapi.User{AccountID: id, DisplayName: id, Active: true}, nil
}

func (everyone) EachUser(context.Context, func(httpapi.User) bool) error { return nil }

var discard = slog.New(slog.DiscardHandler)

// server is a userprops server over backing, for remote to talk to.
type server struct {
	srv     *httptest.Server
	backing userprops.Store
}

// handler is an httpapi handler over backing, its administrator the one
// account. It checks no directory of its own (httpapi.WithDirectory(nil)):
// the backing store's, opened with the suite's options, decides, as the
// suite's Directory tests need.
func handler(t testing.TB, backing userprops.Store, opts ...httpapi.Option) http.Handler {
	t.Helper()
	accounts, err := httpapi.NewAccounts([]httpapi.Account{{AccountID: adminID, APIToken: adminToken, Admin: true}})
	require.NoError(t, err)
	opts = append([]httpapi.Option{
		httpapi.WithDirectory(nil),
		httpapi.WithUsers(everyone{}),
		httpapi.WithLogger(discard),
	}, opts...)
	return httpapi.New(backing, accounts, opts...)
}

// serve starts a server over backing (see handler), which it closes with
// the server at the end of the test.
func serve(t testing.TB, backing userprops.Store, opts ...httpapi.Option) *server {
	t.Helper()
	s := &server{srv: httptest.NewServer(handler(t, backing, opts...)), backing: backing}
	t.Cleanup(s.close)
	return s
}

func (s *server) close() {
	s.srv.Close()
	s.backing.Close()
}

// client opens a remote.Store on s as its administrator.
func (s *server) client(t testing.TB, opts ...remote.Option) *remote.Store {
	t.Helper()
	st, err := remote.Open(s.srv.URL, append([]remote.Option{remote.WithBasicAuth(adminID, adminToken)}, opts...)...)
	require.NoError(t, err)
	return st
}

// overHTTP are the subtests of storetest that cannot hold over HTTP, and
// why.
var overHTTP = map[string]string{
	"Directory/Error": "the directory's own error reaches the client only as a 500 with Jira's " +
		"\"Internal server error.\": the client cannot wrap the server's Go error value",
}

// harness runs the suite on remote → httpapi → the stores open returns at
// a place (a directory, a database schema) that place makes, opened with
// the suite's options. A durable backend's Reopen restarts the server
// over a store opened again at the place of the closed client's.
func harness(place func(t *testing.T) string, open func(t *testing.T, where string, opts ...userprops.Option) userprops.Store, durable bool) storetest.Harness {
	var mu sync.Mutex
	dirs := map[*remote.Store]string{}
	servers := map[*remote.Store]*server{}
	start := func(t *testing.T, dir string, opts ...userprops.Option) userprops.Store {
		s := serve(t, open(t, dir, opts...))
		st := s.client(t)
		mu.Lock()
		dirs[st], servers[st] = dir, s
		mu.Unlock()
		return st
	}
	h := storetest.Harness{
		Open: func(t *testing.T, opts ...userprops.Option) userprops.Store {
			return start(t, place(t), opts...)
		},
		Skip: overHTTP,
	}
	if durable {
		h.Reopen = func(t *testing.T, st userprops.Store, opts ...userprops.Option) userprops.Store {
			mu.Lock()
			dir, s := dirs[st.(*remote.Store)], servers[st.(*remote.Store)]
			mu.Unlock()
			s.close() // the server and its store, as a restart would
			return start(t, dir, opts...)
		}
	}
	return h
}

func tempDir(t *testing.T) string { return t.TempDir() }

func TestRemote_Memory(t *testing.T) {
	storetest.RunHarness(t, harness(tempDir, func(t *testing.T, _ string, opts ...userprops.Option) userprops.Store {
		return userprops.NewMemory(opts...)
	}, false))
}

func TestRemote_Bolt(t *testing.T) {
	storetest.RunHarness(t, harness(tempDir, func(t *testing.T, dir string, opts ...userprops.Option) userprops.Store {
		st, err := userprops.OpenBolt(filepath.Join(dir, "props.db"), opts...)
		require.NoError(t, err)
		return st
	}, true))
}

func TestRemote_Postgres(t *testing.T) {
	pgtest.Require(t)
	storetest.RunHarness(t, harness(func(t *testing.T) string { return pgtest.Schema(t) },
		func(t *testing.T, dsn string, opts ...userprops.Option) userprops.Store {
			st, err := pgstore.Open(context.Background(), dsn, opts...)
			require.NoError(t, err)
			return st
		}, true))
}
