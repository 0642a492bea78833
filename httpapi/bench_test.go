package httpapi_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/internal/testcert"
)

// benchHandler returns a handler on a memory store holding alice's key
// "k", logging nowhere, with opts.
func benchHandler(b *testing.B, opts ...httpapi.Option) http.Handler {
	b.Helper()
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(b, err)
	store := userprops.NewMemory(userprops.WithDirectory(accounts))
	b.Cleanup(func() { store.Close() })
	_, err = store.Set(b.Context(), aliceID, "k", []byte(`{"theme":"dark"}`))
	require.NoError(b, err)
	opts = append([]httpapi.Option{httpapi.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	return httpapi.New(store, accounts, opts...)
}

// reportRate reports the requests a second the benchmark made.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// unlimited is a rate limiter whose buckets never run dry: what it costs
// is the bookkeeping of every request.
func unlimited() *httpapi.RateLimiter {
	l := httpapi.Limit{PerSecond: 1e12, Burst: 1 << 30}
	return httpapi.NewRateLimiter(httpapi.RateLimits{Account: l, Address: l, FailedLogin: l})
}

// BenchmarkHandler_RateLimit: parallel GETs of one property, in process,
// without a limiter and with one that never refuses.
func BenchmarkHandler_RateLimit(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []httpapi.Option
	}{
		{"limiter=off", nil},
		{"limiter=on", []httpapi.Option{httpapi.WithRateLimiter(unlimited())}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := benchHandler(b, c.opts...)
			path := propPath("3", "k", aliceID)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", path, nil)
					alice(req)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d", rec.Code)
					}
				}
			})
			reportRate(b)
		})
	}
}

// BenchmarkServe_TLS: parallel GETs of one property over loopback, plain
// HTTP beside HTTPS (TLS 1.3, an ECDSA P-256 certificate), on keep-alive
// connections and with a new connection (and so a full handshake) each
// request.
func BenchmarkServe_TLS(b *testing.B) {
	for _, c := range []struct {
		name     string
		tls, new bool
	}{
		{"http/keepalive", false, false},
		{"https/keepalive", true, false},
		{"http/newconn", false, true},
		{"https/newconn", true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := benchHandler(b)
			srv := httptest.NewUnstartedServer(h)
			if c.tls {
				srv.TLS = &tls.Config{Certificates: []tls.Certificate{testcert.Valid(b, "bench").TLS(b)}}
				srv.StartTLS()
			} else {
				srv.Start()
			}
			b.Cleanup(srv.Close)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.DisableKeepAlives = c.new
			tr.MaxIdleConnsPerHost = 64
			client := &http.Client{Transport: tr}
			b.Cleanup(tr.CloseIdleConnections)
			url := srv.URL + propPath("3", "k", aliceID)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", url, nil)
					alice(req)
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(body), "dark") {
						b.Fatalf("status %d: %s", resp.StatusCode, body)
					}
				}
			})
			reportRate(b)
		})
	}
}
