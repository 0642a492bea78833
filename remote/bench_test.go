package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// benchValue is a property of 256 bytes.
var benchValue = []byte(`{"theme":"dark","v":"` + strings.Repeat("x", 256-23) + `"}`)

// bareServer answers every request as the userprops server answers a GET
// or a PUT of benchValue, with nothing behind it: the floor of one
// round trip of that size over net/http.
func bareServer(b *testing.B) *httptest.Server {
	body := wire.AppendProperty(nil, "k", benchValue)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// bareRoundTrip sends what remote sends for one call, with net/http alone.
func bareRoundTrip(b *testing.B, c *http.Client, method, url string, body []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.SetBasicAuth(adminID, adminToken)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.Fatal(resp.Status)
	}
}

// BenchmarkRoundTrip: Get and Set through remote → httpapi → memory over
// loopback, beside a bare net/http round trip of the same size (a
// handler that answers without a store) and net/http as the client of the
// same httpapi server, in the same run.
func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	s := serve(b, userprops.NewMemory())
	st := s.client(b)
	b.Cleanup(func() { st.Close() })
	if _, err := st.Set(ctx, "acc", "k", benchValue); err != nil {
		b.Fatal(err)
	}
	bare := bareServer(b)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	b.Cleanup(client.CloseIdleConnections)
	url := bare.URL + "/rest/api/3/user/properties/k?accountId=acc"

	b.Run("Get/remote", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Get(ctx, "acc", "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get/bare", func(b *testing.B) {
		for b.Loop() {
			bareRoundTrip(b, client, http.MethodGet, url, nil)
		}
	})
	// The same server without remote: net/http alone as the client, so
	// that remote's own share shows.
	direct := s.srv.URL + "/rest/api/3/user/properties/k?accountId=acc"
	b.Run("Get/net-http-to-httpapi", func(b *testing.B) {
		for b.Loop() {
			bareRoundTrip(b, client, http.MethodGet, direct, nil)
		}
	})
	b.Run("Set/remote", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Set(ctx, "acc", "k", benchValue); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set/bare", func(b *testing.B) {
		for b.Loop() {
			bareRoundTrip(b, client, http.MethodPut, url, benchValue)
		}
	})
	b.Run("Set/net-http-to-httpapi", func(b *testing.B) {
		for b.Loop() {
			bareRoundTrip(b, client, http.MethodPut, direct, benchValue)
		}
	})
}

// BenchmarkConcurrentClients: 64 goroutines, each with a Store of its own
// (its own connections), Get and Set in turn on their own accounts
// against one server; reports requests/s and the p50 and p99 latency.
func BenchmarkConcurrentClients(b *testing.B) {
	const clients = 64
	ctx := context.Background()
	s := serve(b, userprops.NewMemory())
	stores := make([]userprops.Store, clients)
	for i := range stores {
		st := s.client(b)
		b.Cleanup(func() { st.Close() })
		if _, err := st.Set(ctx, fmt.Sprintf("acc%d", i), "k", benchValue); err != nil {
			b.Fatal(err)
		}
		stores[i] = st
	}
	b.ResetTimer()
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	per := max(b.N/clients, 1)
	for i, st := range stores {
		wg.Go(func() {
			own := make([]time.Duration, 0, per)
			id := fmt.Sprintf("acc%d", i)
			for j := range per {
				t0 := time.Now()
				var err error
				if j%2 == 0 {
					_, err = st.Get(ctx, id, "k")
				} else {
					_, err = st.Set(ctx, id, "k", benchValue)
				}
				if err != nil {
					b.Error(err)
					return
				}
				own = append(own, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, own...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
