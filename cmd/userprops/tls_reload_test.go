//go:build unix

package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SIGHUP swaps the certificate under a request in flight: that request
// finishes on its connection, new connections get the new certificate, and
// a bad pair leaves the one in use.
func TestServe_SIGHUPSwapsCertificate(t *testing.T) {
	dir := t.TempDir()
	live := validCert(t, dir, "live") // the files serve reads
	old := live
	accounts := filepath.Join(dir, "team.json")
	require.NoError(t, os.WriteFile(accounts, []byte(`{"accounts":[{"accountId":"root","apiToken":"root-token-0123456789","admin":true}]}`), 0o600))
	p := startServeProcess(t, "--db", filepath.Join(dir, "props.db"), "--accounts", accounts,
		"--tls-cert", live.certFile, "--tls-key", live.keyFile)
	require.True(t, strings.HasPrefix(p.base, "https://"), p.base)
	hostPort := strings.TrimPrefix(p.base, "https://")
	assert.Equal(t, old.Leaf.Raw, servedCert(t, p.base).Raw)

	renewed := validCert(t, dir, "renewed")
	both := httpsClient(true, old, renewed)

	// Requests all along, on fresh connections, so that the race detector
	// (this process runs under it when the tests do) sees handshakes
	// beside reloads; each must succeed, with either certificate.
	stop := keepRequesting(t, func() error {
		resp, err := both.Get(p.base + "/healthz")
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})

	// A request in flight on a connection made with the old certificate.
	conn, err := tls.Dial("tcp", hostPort, &tls.Config{RootCAs: old.Pool})
	require.NoError(t, err)
	defer conn.Close()
	req, err := http.NewRequest("PUT", p.base+"/rest/api/3/user/properties/k?accountId=root", strings.NewReader(`[1,2]`))
	require.NoError(t, err)
	req.SetBasicAuth("root", "root-token-0123456789")
	var wire bytes.Buffer
	require.NoError(t, req.Write(&wire))
	raw := wire.Bytes()
	_, err = conn.Write(raw[:len(raw)-2])
	require.NoError(t, err)

	replace(t, renewed.certFile, live.certFile)
	replace(t, renewed.keyFile, live.keyFile)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitLog(t, "reloaded the TLS certificate", 1)
	assert.Equal(t, renewed.Leaf.Raw, servedCert(t, p.base).Raw, "a new connection after the reload")

	_, err = conn.Write(raw[len(raw)-2:])
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode, "the request in flight across the swap")
	assert.Equal(t, old.Leaf.Raw, conn.ConnectionState().PeerCertificates[0].Raw)

	// A key that is not the certificate's keeps the pair in use.
	stranger := validCert(t, dir, "stranger")
	replace(t, stranger.certFile, live.certFile)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitLog(t, "keeping the certificate in use", 1)
	assert.Contains(t, p.stderr.String(), "private key does not match")
	assert.Equal(t, renewed.Leaf.Raw, servedCert(t, p.base).Raw)
	// The accounts were reloaded by the same signal, and serve goes on.
	p.waitLog(t, "reloaded accounts", 2)
	status, _ := call(t, httpsClient(false, renewed), "GET", p.base+"/rest/api/3/user/properties/k?accountId=root", "root", "root-token-0123456789", "")
	assert.Equal(t, 200, status)

	stop()
	assert.NotContains(t, p.stderr.String(), "DATA RACE")
}
