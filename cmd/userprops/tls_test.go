package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/testcert"
)

// testCert is a certificate made for one test (testcert.New), written to
// its files.
type testCert struct {
	testcert.Cert
	certFile, keyFile string
}

// newTestCert makes a certificate named name in dir, valid from notBefore
// to notAfter.
func newTestCert(t *testing.T, dir, name string, notBefore, notAfter time.Time) testCert {
	t.Helper()
	made := testcert.New(t, name, notBefore, notAfter)
	c := testCert{Cert: made, certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	require.NoError(t, os.WriteFile(c.certFile, made.CertPEM, 0o644))
	require.NoError(t, os.WriteFile(c.keyFile, made.KeyPEM, 0o600))
	return c
}

// validCert makes a certificate valid for a day around now.
func validCert(t *testing.T, dir, name string) testCert {
	return newTestCert(t, dir, name, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// httpsClient returns a client that trusts the certificates given, and
// only those, on fresh connections each request when fresh is true.
func httpsClient(fresh bool, certs ...testCert) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c.Leaf)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: fresh}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// servedCert returns the certificate a fresh TLS connection to base is
// given.
func servedCert(t *testing.T, base string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func adminToken(t *testing.T, stdout string) string {
	t.Helper()
	m := regexp.MustCompile(`-u 'admin@userprops.localhost:([^']+)'`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "no token in %s", stdout)
	return m[1]
}

// call sends a request as user through client and returns the status and
// body of its answer.
func call(t *testing.T, client *http.Client, method, url, user, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, token)
	resp, err := client.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServe_HTTPS(t *testing.T) {
	dir := t.TempDir()
	cert := validCert(t, dir, "a")
	s := startServe(t, "--db", filepath.Join(dir, "props.db"), "--tls-cert", cert.certFile, "--tls-key", cert.keyFile)
	require.True(t, strings.HasPrefix(s.base, "https://127.0.0.1:"), s.base)
	curls := curlLine.FindAllStringSubmatch(s.stdout.String(), -1)
	require.Len(t, curls, 2)
	for _, c := range curls {
		assert.Contains(t, c[1], "'https://127.0.0.1:", "printed curl line")
	}

	if _, err := exec.LookPath("curl"); err == nil {
		// The printed lines work as printed, given the certificate to
		// trust (a public one needs nothing).
		out, err := exec.Command("sh", "-c", curls[0][1]+" --silent --cacert "+cert.certFile).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), " 201")
	}

	token := adminToken(t, s.stdout.String())
	client := httpsClient(false, cert)
	props := s.base + "/rest/api/3/user/properties"
	status, _ := call(t, client, "PUT", props+"/over-tls?accountId=admin", "admin@userprops.localhost", token, `{"theme":"dark"}`)
	assert.Equal(t, 201, status)
	status, body := call(t, client, "GET", props+"/over-tls?accountId=admin", "admin@userprops.localhost", token, "")
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"key":"over-tls","value":{"theme":"dark"}}`+"\n", body)
	_, body = call(t, client, "GET", props+"?accountId=admin", "admin@userprops.localhost", token, "")
	assert.Contains(t, body, `"self":"`+props+`/over-tls?accountId=admin"`, "self links use https")

	// HTTP/2, which Go clients use over TLS by default.
	h2 := httpsClient(false, cert)
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	req, err := http.NewRequest("GET", props+"/over-tls?accountId=admin", nil)
	require.NoError(t, err)
	req.SetBasicAuth("admin@userprops.localhost", token)
	resp, err := h2.Do(req)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.Equal(t, `{"key":"over-tls","value":{"theme":"dark"}}`+"\n", readBody(t, resp))
	resp.Body.Close()

	// TLS 1.2 at least; plain HTTP gets no answer from the store.
	_, err = tls.Dial("tcp", strings.TrimPrefix(s.base, "https://"), &tls.Config{RootCAs: cert.Pool, MaxVersion: tls.VersionTLS11})
	assert.Error(t, err, "a TLS 1.1 handshake succeeded")
	resp, err = http.Get("http://" + strings.TrimPrefix(s.base, "https://") + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode, "plain HTTP to the HTTPS port")
}

func TestCertificate_Reload(t *testing.T) {
	dir := t.TempDir()
	a := validCert(t, dir, "a")
	c, err := loadCertificate(a.certFile, a.keyFile)
	require.NoError(t, err)
	served := func() []byte {
		pair, err := c.getCertificate(nil)
		require.NoError(t, err)
		return pair.Leaf.Raw
	}
	assert.Equal(t, a.Leaf.Raw, served())

	b := validCert(t, dir, "b")
	replace(t, b.certFile, a.certFile)
	replace(t, b.keyFile, a.keyFile)
	require.NoError(t, c.Reload())
	assert.Equal(t, b.Leaf.Raw, served(), "a renewed pair")

	// A bad pair keeps the one in use, and says why.
	other := validCert(t, dir, "other")
	replace(t, other.certFile, a.certFile) // key still b's
	assert.ErrorContains(t, c.Reload(), "private key does not match")
	assert.Equal(t, b.Leaf.Raw, served())
	expired := newTestCert(t, dir, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	replace(t, expired.certFile, a.certFile)
	replace(t, expired.keyFile, a.keyFile)
	assert.ErrorContains(t, c.Reload(), "expired")
	assert.Equal(t, b.Leaf.Raw, served())
	require.NoError(t, os.Remove(a.keyFile))
	assert.ErrorContains(t, c.Reload(), "no such file")
	assert.Equal(t, b.Leaf.Raw, served())

	_, err = loadCertificate(expired.certFile, expired.keyFile)
	assert.ErrorContains(t, err, "expired", "starting with an expired certificate")
}

// replace renames a copy of from over to, as a renewal tool would.
func replace(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to+".new", data, 0o600))
	require.NoError(t, os.Rename(to+".new", to))
}
