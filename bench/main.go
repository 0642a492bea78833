// Command bench measures userprops beside raw bbolt and BuntDB on the same
// workloads, in one run, and writes a Markdown table (each figure with its
// ratio to raw bbolt) and SVG charts of durable-write throughput against
// the number of writers and of the search workloads.
//
//	cd bench && go run . [-users 20000] [-keys 10] [-duration 2s] [-writers 1,2,4,8,16,32,64] [-out results] [-postgres DSN] [-systems a,b] [-cpuprofile file]
//
// Workloads: load (each system's fastest bulk path), random Get, Keys of a
// random account, Set (an update of a random property) from 1..64 writers,
// a 90/10 Get/Set mix from 16 goroutines, and searches (search.go): every
// account gets a profile, and each system finds the first page of 50 and
// the total of the accounts whose profile holds a value, from an index
// (userprops WithIndex; BuntDB IndexJSON and AscendEqual) for one match,
// 0.1% and 10% of the accounts, and by reading every profile for a path
// without an index (1 in 7); and over HTTP (remote.go, the system
// "remote"): Get and Set through remote → httpapi → memory beside a bare
// net/http round trip of the same size, from 1 and 64 clients, in a second
// table with requests/s, p50 and p99. Durable systems sync every
// write before it returns; the others are shown for reference. Files go to
// $TMPDIR: point it at the disk you care about.
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	users, keys int
	duration    time.Duration
	writers     []int
	out         string
	only        map[string]bool
}

// result is one measured figure.
type result struct {
	workload, system string
	perSecond        float64
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	users := fs.Int("users", 20000, "accounts to load")
	keys := fs.Int("keys", 10, "properties per account")
	duration := fs.Duration("duration", 2*time.Second, "how long each measurement runs")
	writerList := fs.String("writers", "1,2,4,8,16,32,64", "writer counts for the Set workload")
	out := fs.String("out", "results", "directory for results.md, set-throughput.svg and find.svg")
	only := fs.String("systems", "", "comma-separated systems to run, \"remote\" for the workloads over HTTP (default: all)")
	postgres := fs.String("postgres", "", "also measure pgstore on the PostgreSQL database at `DSN`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file` (for go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg := config{users: *users, keys: *keys, duration: *duration, out: *out, only: map[string]bool{}}
	for _, w := range strings.Split(*writerList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			return fmt.Errorf("-writers: %q is not a count", w)
		}
		cfg.writers = append(cfg.writers, n)
	}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			cfg.only[s] = true
		}
	}

	all := systems
	if *postgres != "" {
		all = append(all[:1:1], append([]system{postgresSystem(*postgres)}, all[1:]...)...)
	}
	var chosen []system
	for _, s := range all {
		if len(cfg.only) == 0 || cfg.only[s.name] {
			chosen = append(chosen, s)
		}
	}
	overHTTP := len(cfg.only) == 0 || cfg.only["remote"]
	steps := len(chosen) * (4 + len(cfg.writers) + len(searches))
	if overHTTP {
		steps += 2 * len(remoteWorkloads)
	}
	step := 0
	progress := func(what string, r result) {
		step++
		fmt.Fprintf(stderr, "[%2d/%d] %-18s %-14s %12s/s\n", step, steps, r.system, what, thousands(r.perSecond))
	}

	var results []result
	for _, sys := range chosen {
		rs, err := measure(sys, cfg, progress)
		if err != nil {
			return fmt.Errorf("%s: %w", sys.name, err)
		}
		results = append(results, rs...)
	}

	var table string
	if len(chosen) > 0 {
		table = markdown(results, chosen, cfg)
	}
	if overHTTP {
		rows, err := measureRemote(cfg, progress)
		if err != nil {
			return fmt.Errorf("remote: %w", err)
		}
		if table != "" {
			table += "\n"
		}
		table += remoteMarkdown(rows, cfg)
	}
	fmt.Fprint(stdout, table)
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "results.md"), []byte(table), 0o644); err != nil {
		return err
	}
	if len(chosen) == 0 {
		return nil
	}
	svg := chart(results, chosen, cfg.writers)
	if err := os.WriteFile(filepath.Join(cfg.out, "set-throughput.svg"), []byte(svg), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.out, "find.svg"), []byte(findChart(results, chosen)), 0o644)
}

// value is a ~200-byte settings document.
var value = []byte(`{"theme":"dark","language":"en-GB","timezone":"Europe/London",` +
	`"dashboard":{"columns":[1,2,3],"dense":true,"filters":["assignee = currentUser()",` +
	`"status != Done"]},"notifications":{"email":false,"mobile":true},"seen":1732406400}`)

// measure runs every workload against one system, on a fresh directory.
func measure(sys system, cfg config, progress func(string, result)) ([]result, error) {
	dir, err := os.MkdirTemp("", "userprops-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := sys.open(dir)
	if err != nil {
		return nil, err
	}
	defer db.close()

	var results []result
	add := func(workload string, perSecond float64) {
		r := result{workload, sys.name, perSecond}
		results = append(results, r)
		progress(workload, r)
	}

	start := time.Now()
	if err := db.load(cfg.users, cfg.keys, value); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	add("load", float64(cfg.users*cfg.keys)/time.Since(start).Seconds())

	random := func(r *rand.Rand) (string, string) {
		return account(r.IntN(cfg.users)), propKey(r.IntN(cfg.keys))
	}
	perSecond, err := timed(cfg.duration, 1, func(r *rand.Rand) error { return db.get(random(r)) })
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	add("get", perSecond)

	perSecond, err = timed(cfg.duration, 1, func(r *rand.Rand) error {
		n, err := db.keys(account(r.IntN(cfg.users)))
		if err == nil && n != cfg.keys {
			err = fmt.Errorf("keys: %d, want %d", n, cfg.keys)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	add("keys", perSecond)

	for _, w := range cfg.writers {
		perSecond, err := timed(cfg.duration, w, func(r *rand.Rand) error {
			a, k := random(r)
			return db.set(a, k, value)
		})
		if err != nil {
			return nil, fmt.Errorf("set with %d writers: %w", w, err)
		}
		add(fmt.Sprintf("set/writers=%d", w), perSecond)
	}

	perSecond, err = timed(cfg.duration, 16, func(r *rand.Rand) error {
		a, k := random(r)
		if r.IntN(10) == 0 {
			return db.set(a, k, value)
		}
		return db.get(a, k)
	})
	if err != nil {
		return nil, fmt.Errorf("mixed: %w", err)
	}
	add("mixed-90/10", perSecond)

	if db, ok := db.(searcher); ok {
		if err := measureSearches(db, cfg, add); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// timed runs op from n goroutines for d and returns the calls completed per
// second.
func timed(d time.Duration, n int, op func(r *rand.Rand) error) (float64, error) {
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for count := 0; ; count++ {
				if count%16 == 0 && time.Now().After(deadline) {
					return
				}
				if err := op(r); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	runtime.GC()
	return float64(done.Load()) / time.Since(start).Seconds(), firstErr
}

// markdown renders the results, each with its ratio to raw bbolt (one
// Update per write) on the same workload.
func markdown(results []result, chosen []system, cfg config) string {
	byKey := map[[2]string]float64{}
	var workloads []string
	for _, r := range results {
		if _, seen := byKey[[2]string{r.workload, ""}]; !seen {
			byKey[[2]string{r.workload, ""}] = 0
			workloads = append(workloads, r.workload)
		}
		byKey[[2]string{r.workload, r.system}] = r.perSecond
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Operations per second (higher is better) and, in brackets, the ratio to raw bbolt. %d accounts × %d properties of %d bytes, %v a figure, GOMAXPROCS %d, %s.\n\n",
		cfg.users, cfg.keys, len(value), cfg.duration, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| workload |")
	for _, s := range chosen {
		fmt.Fprintf(&b, " %s |", s.name)
	}
	b.WriteString("\n|---|")
	for range chosen {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, w := range workloads {
		base := byKey[[2]string{w, "bbolt-update"}]
		fmt.Fprintf(&b, "| %s |", w)
		for _, s := range chosen {
			v, ok := byKey[[2]string{w, s.name}]
			switch {
			case !ok:
				b.WriteString(" – |")
			case base > 0:
				fmt.Fprintf(&b, " %s (%.2f×) |", thousands(v), v/base)
			default:
				fmt.Fprintf(&b, " %s |", thousands(v))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, s := range chosen {
		durable := "durable"
		if !s.durable {
			durable = "not durable"
		}
		fmt.Fprintf(&b, "- **%s** (%s): %s\n", s.name, durable, s.note)
	}
	return b.String()
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
