package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/remote"
)

// The remote workloads (-systems remote, or all): Get and Set through
// remote → httpapi → userprops-memory over loopback, beside a bare
// net/http round trip of the same size (a handler that answers what the
// server answers, with nothing behind it), from 1 and from 64 clients
// (each of the 64 with a Store, or an http.Client, and connections of its
// own). Each figure is requests/s and the p50 and p99 latency.

// remoteWorkloads are the rows of the table, in order.
var remoteWorkloads = []struct {
	name    string
	clients int
	set     bool // else get
}{
	{"get/clients=1", 1, false},
	{"set/clients=1", 1, true},
	{"get/clients=64", 64, false},
	{"set/clients=64", 64, true},
}

// latencies is one measured figure over HTTP.
type latencies struct {
	perSecond float64
	p50, p99  time.Duration
}

// remoteRow is one workload through remote and bare.
type remoteRow struct {
	workload     string
	remote, bare latencies
}

const (
	benchAdmin = "bench-admin"
	benchToken = "bench-admin-token-0123456789"
)

// roundTrip is one client's call of a workload: a Get or a Set of
// (account, key).
type roundTrip func(set bool, account, key string) error

func measureRemote(cfg config, progress func(string, result)) ([]remoteRow, error) {
	ctx := context.Background()
	mem := userprops.NewMemory()
	defer mem.Close()
	if err := (memoryKV{mem}).load(cfg.users, cfg.keys, value); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	accounts, err := httpapi.NewAccounts([]httpapi.Account{{AccountID: benchAdmin, APIToken: benchToken, Admin: true}})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(httpapi.New(mem, accounts, httpapi.WithDirectory(nil),
		httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	defer srv.Close()
	bare := httptest.NewServer(bareHandler())
	defer bare.Close()

	// newRemote and newBare make one client each.
	newRemote := func() (roundTrip, func(), error) {
		st, err := remote.Open(srv.URL, remote.WithBasicAuth(benchAdmin, benchToken))
		if err != nil {
			return nil, nil, err
		}
		return func(set bool, a, k string) error {
			if set {
				_, err := st.Set(ctx, a, k, value)
				return err
			}
			p, err := st.Get(ctx, a, k)
			if err == nil && len(p.Value) != len(value) {
				err = fmt.Errorf("get %s %s: %d bytes, want %d", a, k, len(p.Value), len(value))
			}
			return err
		}, func() { st.Close() }, nil
	}
	newBare := func() (roundTrip, func(), error) {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		c := &http.Client{Transport: t}
		return func(set bool, a, k string) error {
			return bareRoundTrip(ctx, c, bare.URL, set, a, k)
		}, c.CloseIdleConnections, nil
	}

	var rows []remoteRow
	for _, w := range remoteWorkloads {
		row := remoteRow{workload: w.name}
		for _, side := range []struct {
			name string
			open func() (roundTrip, func(), error)
			out  *latencies
		}{{"remote", newRemote, &row.remote}, {"bare-net/http", newBare, &row.bare}} {
			l, err := timedHTTP(cfg, w.clients, w.set, side.open)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", side.name, w.name, err)
			}
			*side.out = l
			progress(w.name, result{w.name, side.name, l.perSecond})
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// bareHandler answers a GET with the body the userprops server answers for
// a property of value (the key of the request's length), and a PUT with
// 200 and no body, as the server answers an update.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusOK)
			return
		}
		key := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		body, _ := json.Marshal(map[string]any{"key": key, "value": json.RawMessage(value)})
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Write(body)
	})
}

// bareRoundTrip sends what remote sends for a Get or a Set, with net/http
// alone, and reads the whole answer.
func bareRoundTrip(ctx context.Context, c *http.Client, base string, set bool, a, k string) error {
	method, body := http.MethodGet, io.Reader(nil)
	if set {
		method, body = http.MethodPut, bytes.NewReader(value)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/rest/api/3/user/properties/"+k+"?accountId="+a, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(benchAdmin, benchToken)
	if set {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: %s", method, resp.Status)
	case !set && n < int64(len(value)):
		return fmt.Errorf("get: %d bytes", n)
	}
	return nil
}

// timedHTTP runs the workload from n clients, each opened with open, for
// cfg.duration, on random properties of the loaded ones.
func timedHTTP(cfg config, n int, set bool, open func() (roundTrip, func(), error)) (latencies, error) {
	calls := make([]roundTrip, n)
	for i := range calls {
		call, closeFn, err := open()
		if err != nil {
			return latencies{}, err
		}
		defer closeFn()
		calls[i] = call
	}
	var (
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(cfg.duration)
	start := time.Now()
	for i, call := range calls {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			var own []time.Duration
			var err error
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err = call(set, account(r.IntN(cfg.users)), propKey(r.IntN(cfg.keys))); err != nil {
					break
				}
				own = append(own, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, own...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return latencies{}, firstErr
	}
	if len(all) == 0 {
		return latencies{}, fmt.Errorf("no call completed in %v", cfg.duration)
	}
	slices.Sort(all)
	return latencies{
		perSecond: float64(len(all)) / elapsed.Seconds(),
		p50:       all[len(all)/2],
		p99:       all[len(all)*99/100],
	}, nil
}

// remoteMarkdown renders the remote workloads.
func remoteMarkdown(rows []remoteRow, cfg config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Over HTTP on loopback: remote → httpapi → userprops-memory (%d accounts × %d properties), beside a bare net/http round trip of the same size "+
		"(a handler that answers the same bytes with no store behind it), %v a figure, GOMAXPROCS %d, %s. Requests per second, p50 and p99 latency; "+
		"the last column is remote's time per request over the bare round trip's.\n\n",
		cfg.users, cfg.keys, cfg.duration, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| workload | remote req/s | p50 | p99 | bare req/s | p50 | p99 | remote ÷ bare |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %.2f× |\n", r.workload,
			thousands(r.remote.perSecond), micros(r.remote.p50), micros(r.remote.p99),
			thousands(r.bare.perSecond), micros(r.bare.p50), micros(r.bare.p99),
			r.bare.perSecond/r.remote.perSecond)
	}
	return b.String()
}

func micros(d time.Duration) string { return thousands(float64(d.Microseconds())) + " µs" }
