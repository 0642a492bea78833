package userprops

// Process-level reliability tests: the test binary starts itself as a child
// (see TestMain) that uses a store, and the parent kills it, traces its
// system calls or limits its file size.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	childModeEnv = "USERPROPS_TEST_CHILD"
	childDBEnv   = "USERPROPS_TEST_DB"
	childArgEnv  = "USERPROPS_TEST_ARG"
)

// runChild runs the child program named mode.
func runChild(mode string) error {
	path, arg := os.Getenv(childDBEnv), os.Getenv(childArgEnv)
	switch mode {
	case "crash":
		round, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		return crashChild(path, round)
	case "trace":
		return traceChild(path)
	case "reopen":
		return reopenChild(path)
	case "log-only":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		return logOnlyChild(path, n)
	case "fsize":
		return fsizeChild(path)
	case "readonly":
		return readOnlyChild(path, arg)
	case "crash-index":
		round, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		return crashIndexChild(path, round)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

// startChild returns the command that runs the test binary as child mode.
func startChild(t *testing.T, binary, mode, db, arg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "-test.run=^$")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childDBEnv+"="+db, childArgEnv+"="+arg)
	return cmd
}

// --- kill -9 ---------------------------------------------------------------

const crashWriters, crashKeys = 8, 5

// crashHistory keeps every change the kill -9 test makes, so that a watch
// from revision 0 replays the whole file.
var crashHistory = WithHistory(1<<30, 0)

// crashLogEnv, set to "on" or "off", makes the crash tests' stores keep a
// write-ahead log or not, in the test and in its children.
const crashLogEnv = "USERPROPS_TEST_LOG"

// crashOptions are the options of the crash tests' stores.
func crashOptions() []Option {
	return []Option{crashHistory, WithWriteAheadLog(os.Getenv(crashLogEnv) != "off")}
}

// bothLogs runs test as two subtests, with and without the write-ahead
// log (crashLogEnv).
func bothLogs(t *testing.T, test func(t *testing.T)) {
	for _, log := range []string{"on", "off"} {
		t.Run("log "+log, func(t *testing.T) {
			t.Setenv(crashLogEnv, log)
			test(t)
		})
	}
}

// crashOp is operation i of writer g in round r: a Set, or every sixth time
// a Delete, on one of the writer's keys of that round.
func crashOp(round, g, i int) (account, key string, value []byte, del bool) {
	return fmt.Sprintf("w%d", g), fmt.Sprintf("r%02d-k%d", round, i%crashKeys),
		fmt.Appendf(nil, `{"r":%d,"g":%d,"i":%d}`, round, g, i), i%6 == 5
}

// crashChild writes as fast as it can from crashWriters goroutines and
// prints "g i" once operation i of writer g has returned, until it is killed.
//
// With the write-ahead log, even rounds make the applier run all the time
// (a flush every 16 KiB or 2 ms), so that kills land in applies and log
// releases; odd rounds keep the default cadence, which leaves up to 200 ms
// of log for the next open to replay.
func crashChild(path string, round int) error {
	opts := crashOptions()
	if round%2 == 0 {
		opts = append(opts, withLogFlush(16<<10, 2*time.Millisecond))
	}
	s, err := OpenBolt(path, opts...)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	fail := make(chan error)
	for g := range crashWriters {
		go func() {
			ctx := context.Background()
			for i := 0; ; i++ {
				account, key, value, del := crashOp(round, g, i)
				var err error
				if del {
					err = s.Delete(ctx, account, key)
				} else {
					_, err = s.Set(ctx, account, key, value)
				}
				if err != nil && !errors.Is(err, ErrNotFound) {
					fail <- err
					return
				}
				mu.Lock()
				_, err = fmt.Fprintf(os.Stdout, "%d %d\n", g, i) // one write(2): the acknowledgement
				mu.Unlock()
				if err != nil {
					fail <- err
					return
				}
			}
		}()
	}
	return <-fail
}

// crashState is what a writer's keys of one round hold after its first n
// operations.
func crashState(round, g, n int) map[string]Property {
	m := map[string]Property{}
	for i := range n {
		account, key, value, del := crashOp(round, g, i)
		old, ok := m[key]
		switch {
		case del:
			delete(m, key)
		case ok:
			m[key] = Property{AccountID: account, Key: key, Value: value, Version: old.Version + 1}
		default:
			m[key] = Property{AccountID: account, Key: key, Value: value, Version: 1}
		}
	}
	return m
}

func TestBolt_KillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds")
	}
	bothLogs(t, testKillNine)
}

func testKillNine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	const rounds = 40
	acked := map[[2]int]int{} // (round, writer) → operations acknowledged
	total := 0
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range rounds {
		killAfterAck(t, "crash", path, strconv.Itoa(round), time.Duration(5+r.IntN(150))*time.Millisecond, func(line string) {
			var g, i int
			if _, err := fmt.Sscan(line, &g, &i); err == nil {
				acked[[2]int{round, g}] = i + 1
				total++
			}
		})
		if round%2 == 1 && os.Getenv(crashLogEnv) != "off" {
			// A kill while the next open replays the log.
			killReopen(t, path, time.Duration(r.IntN(80))*time.Millisecond)
		}
		verifyCrash(t, path, round, acked)
	}
	t.Logf("%d kill -9 rounds on one file, %d acknowledged writes, 0 lost", rounds, total)
}

// reopenChild opens the store, replaying its log, says so, and waits to be
// killed.
func reopenChild(path string) error {
	if _, err := OpenBolt(path, crashOptions()...); err != nil {
		return err
	}
	os.Stdout.WriteString("open\n")
	select {}
}

// killReopen starts reopenChild on the file at path and kills it delay
// later, opened or not.
func killReopen(t *testing.T, path string, delay time.Duration) {
	t.Helper()
	cmd := startChild(t, os.Args[0], "reopen", path, "")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	time.Sleep(delay)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "reopen child: %s", out.String())
	require.Equal(t, "signal: killed", exit.String(), "the reopen child ended on its own: %s", out.String())
}

// killAfterAck runs the child program mode on the file at path, passes
// each line it prints to onLine, and kills it (SIGKILL) delay after its
// first line. It returns once the child is dead and onLine has seen every
// line; the child must not have ended on its own.
func killAfterAck(t *testing.T, mode, path, arg string, delay time.Duration, onLine func(line string)) {
	t.Helper()
	cmd := startChild(t, os.Args[0], mode, path, arg)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	first := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		once := sync.OnceFunc(func() { close(first) })
		for sc.Scan() {
			onLine(sc.Text())
			once()
		}
	}()
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s %s: nothing acknowledged; child: %s", mode, arg, stderr.String())
	}
	time.Sleep(delay)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-read
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s %s: child: %s", mode, arg, stderr.String())
	require.Equal(t, "signal: killed", exit.String(), "%s %s ended on its own: %s", mode, arg, stderr.String())
}

// verifyCrash opens the file after a kill and requires every acknowledged
// operation of every round so far to be there: each writer's keys hold the
// state after its acknowledged operations, or after one more (written but
// killed before its acknowledgement was printed). Then the whole file must
// pass Check, and a watch from revision 0 must replay to exactly the
// properties the file holds.
func verifyCrash(t *testing.T, path string, lastRound int, acked map[[2]int]int) {
	t.Helper()
	s, err := OpenBolt(path, crashOptions()...)
	require.NoError(t, err, "reopening after round %d", lastRound)
	defer s.Close()
	ctx := context.Background()
	for round := 0; round <= lastRound; round++ {
		for g := range crashWriters {
			n := acked[[2]int{round, g}]
			got := map[string]Property{}
			for k := range crashKeys {
				key := fmt.Sprintf("r%02d-k%d", round, k)
				p, err := s.Get(ctx, fmt.Sprintf("w%d", g), key)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				require.NoError(t, err)
				p.UpdatedAt = time.Time{}
				got[key] = p
			}
			if !equalState(got, crashState(round, g, n)) && !equalState(got, crashState(round, g, n+1)) {
				t.Fatalf("after round %d: writer %d of round %d had %d operations acknowledged, but the store holds %s (want %s)",
					lastRound, g, round, n, describeState(got), describeState(crashState(round, g, n)))
			}
		}
	}
	require.NoError(t, s.Check(ctx), "the file after round %d", lastRound)
	requireReplay(t, s, lastRound)
}

// requireReplay watches s from revision 0, applies every change to an
// empty map, and requires the revisions to run from 1 to the head, each
// once, and the map to be what ForEach reads.
func requireReplay(t *testing.T, s *BoltStore, round int) {
	t.Helper()
	var head uint64
	require.NoError(t, s.read("test", func(kv *kvRead) error {
		r, err := s.readRevisions(kv.meta())
		head = r.head
		return err
	}))
	type state struct {
		value    string
		revision uint64
	}
	replayed := map[[2]string]state{}
	if head > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		want := uint64(1)
		for c, err := range s.Watch(ctx, "", 0) {
			require.NoError(t, err, "after round %d: watching from 0", round)
			require.Equal(t, want, c.Revision, "after round %d: the changes run from 1 to the head, in order", round)
			want++
			if c.Deleted {
				delete(replayed, [2]string{c.AccountID, c.Key})
			} else {
				replayed[[2]string{c.AccountID, c.Key}] = state{string(c.Value), c.Revision}
			}
			if c.Revision == head {
				break
			}
		}
	}
	stored := map[[2]string]state{}
	require.NoError(t, s.ForEach(context.Background(), func(p Property) error {
		stored[[2]string{p.AccountID, p.Key}] = state{string(p.Value), p.Revision}
		return nil
	}))
	require.Equal(t, stored, replayed, "after round %d: the replay of the history from 0 (%d changes) is the store", round, head)
}

func describeState(m map[string]Property) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%s v%d", k, m[k].Value, m[k].Version))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func equalState(a, b map[string]Property) bool {
	if len(a) != len(b) {
		return false
	}
	for k, p := range a {
		q, ok := b[k]
		if !ok || p.Version != q.Version || string(p.Value) != string(q.Value) || p.AccountID != q.AccountID {
			return false
		}
	}
	return true
}

// --- acknowledgement after sync (strace) -------------------------------------

// traceChild runs writers whose acknowledgements (stdout, "ack ID") and
// whose commits (stderr, "commit ID ID …", written by the committer before
// it starts the transaction) show up as write(2) calls in a system call
// trace, between the pwrite64 and fdatasync calls of bbolt's commits.
func traceChild(path string) error {
	s, err := OpenBolt(path, crashOptions()...)
	if err != nil {
		return err
	}
	defer s.Close()
	s.commitTrace = func(batch []*boltWrite) {
		var b strings.Builder
		b.WriteString("commit")
		for _, w := range batch {
			b.WriteString(" " + w.propKey)
		}
		b.WriteString("\n")
		os.Stderr.WriteString(b.String())
	}
	const writers, ops = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range ops {
				id := fmt.Sprintf("w%d.%d", g, i)
				if _, err := s.Set(context.Background(), "acct", id, []byte(`1`)); err != nil {
					errs <- err
					return
				}
				os.Stdout.WriteString("ack " + id + "\n")
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

var (
	straceLine   = regexp.MustCompile(`^(\d+) +(.*)$`)
	straceCall   = regexp.MustCompile(`^(\w+)\((.*?)(?:\) += (-?\d+).*| <unfinished \.\.\.>)$`)
	straceResume = regexp.MustCompile(`^<\.\.\. (\w+) resumed>.*\) += (-?\d+)`)
	straceWrite  = regexp.MustCompile(`^(\d+), "((?:commit|ack) [^"]*)\\n"`)
	straceOpen   = regexp.MustCompile(`^AT_FDCWD, "([^"]+)", ([A-Z_|]+)`)
	stracePwrite = regexp.MustCompile(`^(\d+), .*, (\d+), (\d+)$`)
)

// ackCheck is what checkAcksAfterSync found in a trace.
type ackCheck struct {
	acks, commits, syncs int
	violations           []string
}

// ackState follows one write from the line announcing its commit: has the
// commit's last write (a meta page, or a log record) been made since, and
// synced after that?
type ackState struct{ metaWritten, synced bool }

// ackRule says which writes make a commit durable once synced: a pwrite64
// at offset (see lastWrite) to a file at a path file accepts; what names it
// in the messages.
type ackRule struct {
	file      func(path string) bool
	lastWrite func(offset int) bool
	what      string
}

// bboltRule: bbolt's commit ends with one of its two meta pages, at offset
// 0 or one page in, of the store file.
func bboltRule(dbPath string, pageSize int) ackRule {
	return ackRule{
		file:      func(path string) bool { return path == dbPath },
		lastWrite: func(off int) bool { return off == 0 || off == pageSize },
		what:      "meta page",
	}
}

// logRule: with the write-ahead log, a commit is the record of its group,
// written to a segment file in the log's directory.
func logRule(dbPath string) ackRule {
	return ackRule{
		file:      func(path string) bool { return strings.HasPrefix(path, dbPath+".wal/") },
		lastWrite: func(int) bool { return true },
		what:      "log record",
	}
}

// checkAcksAfterSync reads an "strace -f" log and checks that every write
// was acknowledged only after its commit's meta page was written (pwrite64 at
// offset 0 or one page in, bbolt's two meta pages) and then synced
// (fdatasync returned 0 on the store file): in the log, between the
// committer's "commit" line naming the write and the write's "ack" line.
func checkAcksAfterSync(log io.Reader, dbPath string, pageSize int) (ackCheck, error) {
	return checkAcks(log, bboltRule(dbPath, pageSize))
}

// checkAcks is checkAcksAfterSync with the rule of what makes a commit
// durable.
func checkAcks(log io.Reader, rule ackRule) (ackCheck, error) {
	var res ackCheck
	type call struct{ name, args string }
	unfinished := map[string]call{} // pid → call awaiting its "resumed" line
	fds := map[string]bool{}        // the descriptors of the files rule names
	ids := map[string]*ackState{}
	var open []*ackState // commit announced, not yet synced

	completed := func(c call, ret string) {
		switch c.name {
		case "openat":
			m := straceOpen.FindStringSubmatch(c.args)
			if m != nil && rule.file(m[1]) && strings.Contains(m[2], "O_RDWR") && ret != "-1" {
				fds[ret] = true
			}
		case "close":
			if ret == "0" {
				delete(fds, strings.TrimSpace(c.args))
			}
		case "pwrite64":
			m := stracePwrite.FindStringSubmatch(c.args)
			if m != nil && fds[m[1]] && ret != "-1" {
				if off, _ := strconv.Atoi(m[3]); rule.lastWrite(off) {
					for _, s := range open {
						s.metaWritten = true
					}
				}
			}
		case "fdatasync", "fsync":
			if fds[strings.TrimSpace(c.args)] && ret == "0" {
				res.syncs++
				for _, s := range open {
					s.synced = s.synced || s.metaWritten
				}
				open = slices.DeleteFunc(open, func(s *ackState) bool { return s.synced })
			}
		}
	}
	entered := func(c call) {
		w := straceWrite.FindStringSubmatch(c.args)
		if c.name != "write" || w == nil {
			return
		}
		f := strings.Fields(w[2])
		switch f[0] {
		case "commit":
			res.commits++
			for _, id := range f[1:] {
				s := &ackState{}
				ids[id] = s
				open = append(open, s)
			}
		case "ack":
			res.acks++
			switch s := ids[f[1]]; {
			case s == nil:
				res.violations = append(res.violations, f[1]+": acknowledged before its commit began")
			case !s.metaWritten:
				res.violations = append(res.violations, f[1]+": acknowledged before its commit wrote a "+rule.what)
			case !s.synced:
				res.violations = append(res.violations, f[1]+": acknowledged before the "+rule.what+" was synced")
			}
		}
	}

	sc := bufio.NewScanner(log)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, rest := m[1], m[2]
		if r := straceResume.FindStringSubmatch(rest); r != nil {
			c := unfinished[pid]
			delete(unfinished, pid)
			completed(c, r[2])
			continue
		}
		cm := straceCall.FindStringSubmatch(rest)
		if cm == nil {
			continue
		}
		c := call{cm[1], cm[2]}
		entered(c)
		if ret := cm[3]; ret != "" {
			completed(c, ret)
		} else {
			unfinished[pid] = c
		}
	}
	return res, sc.Err()
}

func TestCheckAcksAfterSync_FindsEarlyAcks(t *testing.T) {
	// The checker itself must fail a trace that acknowledges too early.
	const db = "/d/p.db"
	good := `10 openat(AT_FDCWD, "/d/p.db", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 7
11 write(2, "commit a b\n", 11) = 11
11 pwrite64(7, "x"..., 4096, 8192) = 4096
11 fdatasync(7) = 0
11 pwrite64(7, "m"..., 4096, 4096 <unfinished ...>
12 write(1, "ack z\n", 6) = 6
11 <... pwrite64 resumed>) = 4096
11 fdatasync(7 <unfinished ...>
13 write(1, "ack a\n", 6) = 6
11 <... fdatasync resumed>) = 0
13 write(1, "ack b\n", 6) = 6
`
	res, err := checkAcksAfterSync(strings.NewReader(good), db, 4096)
	require.NoError(t, err)
	assert.Equal(t, 3, res.acks)
	assert.Equal(t, 1, res.commits)
	assert.Equal(t, 2, res.syncs)
	assert.Equal(t, []string{
		"z: acknowledged before its commit began",
		"a: acknowledged before the meta page was synced",
	}, res.violations)
}

func TestBolt_AckAfterSync(t *testing.T) {
	if testing.Short() {
		t.Skip("traces a child process")
	}
	bothLogs(t, testAckAfterSync)
}

func testAckAfterSync(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	db, log := filepath.Join(dir, "trace.db"), filepath.Join(dir, "strace.log")
	child := startChild(t, os.Args[0], "trace", db, "")
	cmd := exec.Command(strace, append([]string{"-f", "-qq", "-e", "signal=none", "-s", "256",
		"-e", "trace=openat,close,write,pwrite64,fdatasync,fsync", "-o", log}, child.Args...)...)
	cmd.Env = child.Env
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "ptrace") {
		t.Skipf("strace cannot trace here: %s", out)
	}
	require.NoError(t, err, "%s", out)

	f, err := os.Open(log)
	require.NoError(t, err)
	defer f.Close()
	rule, syncsPerCommit := bboltRule(db, os.Getpagesize()), 2 // bbolt syncs twice a commit
	if os.Getenv(crashLogEnv) != "off" {
		rule, syncsPerCommit = logRule(db), 1
	}
	res, err := checkAcks(f, rule)
	require.NoError(t, err)
	assert.Equal(t, 6*40, res.acks, "acknowledgements seen in the trace")
	assert.Positive(t, res.commits)
	assert.GreaterOrEqual(t, res.syncs, syncsPerCommit*res.commits, "syncs of the %s's file", rule.what)
	assert.Empty(t, res.violations[:min(10, len(res.violations))], "%d violations; the first ten", len(res.violations))
	t.Logf("%d acknowledged writes, %d commits, %d fdatasyncs: every acknowledgement came after its commit's %s was synced",
		res.acks, res.commits, res.syncs, rule.what)
}
