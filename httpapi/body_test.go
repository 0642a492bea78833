package httpapi_test

import (
	"bufio"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// rawRequest writes head (a request line and headers, without the blank
// line that ends them) and then body to a new connection to srv, as they
// are, and returns the response.
func rawRequest(t *testing.T, srv *httptest.Server, head, body string) response {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	auth := base64.StdEncoding.EncodeToString([]byte("alice@example.com:" + aliceToken))
	_, err = conn.Write([]byte(head + "\r\nHost: example.com\r\nAuthorization: Basic " + auth + "\r\n\r\n" + body))
	require.NoError(t, err)
	// Generous: the answers tested here come at once, or after a read
	// timeout of a fraction of a second.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "no answer")
	defer resp.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(resp.Body).WriteTo(&b)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b.String()}
}

// assertNoErrorLogged checks that nothing was logged at ERROR level (the
// client's mistakes must not fill the error log) and that the refusal was
// logged below it.
func assertNoErrorLogged(t *testing.T, logs *syncBuffer) {
	t.Helper()
	assert.NotContains(t, logs.String(), `"level":"ERROR"`)
	assert.Contains(t, logs.String(), `"level":"WARN","msg":"request body unreadable"`)
}

func TestHandler_MalformedChunkedBody(t *testing.T) {
	for _, c := range []struct{ name, body string }{
		{"bad chunk length", "zz\r\n1\r\n0\r\n\r\n"},
		{"chunk longer than sent", "5\r\n1\r\n0\r\n\r\n"}, // "1\r\n0\r\n" is read as data, then no CRLF
		{"line too long", strings.Repeat("1", 8192) + "\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			r := rawRequest(t, e.srv, "PUT "+propPath("3", "k", aliceID)+" HTTP/1.1\r\nTransfer-Encoding: chunked", c.body)
			assert.Equal(t, http.StatusBadRequest, r.status, r.body)
			assert.Equal(t, "The request body could not be read.", r.errorMessage(t))
			assertNoErrorLogged(t, e.logs)
			_, err := e.store.Get(t.Context(), aliceID, "k")
			assert.ErrorIs(t, err, userprops.ErrNotFound, "nothing was stored")
		})
	}
}

func TestHandler_StalledBody(t *testing.T) {
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	store := userprops.NewMemory(userprops.WithDirectory(accounts))
	defer store.Close()
	logs := &syncBuffer{}
	srv := httptest.NewUnstartedServer(httpapi.New(store, accounts, httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))))
	srv.Config.ReadTimeout = 300 * time.Millisecond // shortened for the test
	srv.Start()
	defer srv.Close()

	for _, c := range []struct{ name, head, body string }{
		{"Content-Length", "Content-Length: 10", `[1,`},
		{"chunked", "Transfer-Encoding: chunked", "a\r\n[1,"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The body never completes: the server's read timeout ends it.
			r := rawRequest(t, srv, "PUT "+propPath("3", "k", aliceID)+" HTTP/1.1\r\n"+c.head, c.body)
			assert.Equal(t, http.StatusRequestTimeout, r.status, r.body)
			assert.Equal(t, "The request body was not received in time.", r.errorMessage(t))
			assertNoErrorLogged(t, logs)
		})
	}
	_, err = store.Get(t.Context(), aliceID, "k")
	assert.ErrorIs(t, err, userprops.ErrNotFound, "nothing was stored")
}
