package userprops

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noApply keeps everything a store writes in its log: the applier never
// runs until Close.
var noApply = withLogFlush(1<<40, 1000*time.Hour)

// logOnlyChild makes n Sets, one at a time, acknowledging each on stdout,
// with the applier held back, and exits without closing the store: the
// file holds none of them, the log all.
func logOnlyChild(path string, n int) error {
	s, err := OpenBolt(path, WithWriteAheadLog(true), noApply)
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := s.Set(context.Background(), "acct", fmt.Sprintf("k%03d", i), fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
			return err
		}
		fmt.Printf("ack %d\n", i)
	}
	os.Exit(0)
	return nil
}

// copyStore copies the store file at path and its log directory into dir,
// and returns the copy's path.
func copyStore(t testing.TB, path, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(path))
	copyFile(t, path, dst, 0o600)
	require.NoError(t, os.MkdirAll(dst+".wal", 0o700))
	entries, err := os.ReadDir(path + ".wal")
	require.NoError(t, err)
	for _, e := range entries {
		copyFile(t, filepath.Join(path+".wal", e.Name()), filepath.Join(dst+".wal", e.Name()), 0o600)
	}
	return dst
}

// TestBoltLog_TornTail: a crash in the middle of the log's last appends,
// at many byte offsets (the file cut there, or the bytes from there
// zeroed): the store opens, holds the acknowledged Sets before the cut in
// order, never a part of one, and passes Check; and a Set made after the
// reopen survives the next one.
func TestBoltLog_TornTail(t *testing.T) {
	const n = 12
	path := filepath.Join(t.TempDir(), "torn.db")
	cmd := startChild(t, os.Args[0], "log-only", path, strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, n, strings.Count(string(out), "ack "), "%s", out)

	segs, err := filepath.Glob(filepath.Join(path+".wal", "*.wal"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	seg := filepath.Base(segs[0])
	img, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	end := len(img)
	for end > 0 && img[end-1] == 0 {
		end--
	}
	// The last three records, about 150 bytes each.
	for cut := end; cut >= end-450; cut -= 5 {
		for _, zero := range []bool{false, true} {
			dst := copyStore(t, path, t.TempDir())
			segPath := filepath.Join(dst+".wal", seg)
			if zero {
				b := append(append([]byte(nil), img[:cut]...), make([]byte, len(img)-cut)...)
				require.NoError(t, os.WriteFile(segPath, b, 0o600))
			} else {
				require.NoError(t, os.Truncate(segPath, int64(cut)))
			}
			how := fmt.Sprintf("cut at %d of %d (zeroed: %v)", cut, end, zero)
			s, err := OpenBolt(dst)
			require.NoError(t, err, how)
			ctx := context.Background()
			keys, err := s.Keys(ctx, "acct")
			require.NoError(t, err, how)
			require.GreaterOrEqual(t, len(keys), n-3, how)
			for i, k := range keys {
				require.Equal(t, fmt.Sprintf("k%03d", i), k, how)
				p, err := s.Get(ctx, "acct", k)
				require.NoError(t, err, how)
				require.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(p.Value), how)
				require.Equal(t, uint64(i+1), p.Revision, how)
			}
			require.NoError(t, s.Check(ctx), how)
			_, err = s.Set(ctx, "acct", "after", []byte(`1`))
			require.NoError(t, err, how)
			require.NoError(t, s.Close())
			s, err = OpenBolt(dst)
			require.NoError(t, err, how)
			_, err = s.Get(ctx, "acct", "after")
			require.NoError(t, err, how)
			got, err := s.Keys(ctx, "acct")
			require.NoError(t, err, how)
			assert.Len(t, got, len(keys)+1, how)
			require.NoError(t, s.Close())
		}
	}
}

// TestBoltLog_DamageBeforeTail: a record damaged before the log's last is
// ErrCorrupt at open, never skipped.
func TestBoltLog_DamageBeforeTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "damaged.db")
	cmd := startChild(t, os.Args[0], "log-only", path, "12")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	segs, err := filepath.Glob(filepath.Join(path+".wal", "*.wal"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	img, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	// The value of the fourth Set, in its record.
	at := strings.Index(string(img), `{"i":3}`)
	require.Positive(t, at)
	img[at+5] ^= 0x01
	require.NoError(t, os.WriteFile(segs[0], img, 0o600))
	_, err = OpenBolt(path)
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestBoltLog_ReadsSeePending: what the log holds and the file does not
// yet is what every read answers, and Backup and Close put it in the file.
func TestBoltLog_ReadsSeePending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "pending.db")
	s, err := OpenBolt(path, WithWriteAheadLog(true), noApply, WithIndex("k", "city"))
	require.NoError(t, err)
	for i := range 5 {
		_, err := s.Set(ctx, fmt.Sprintf("a%d", i), "k", fmt.Appendf(nil, `{"city":"c%d"}`, i%2))
		require.NoError(t, err)
	}
	require.NoError(t, s.Delete(ctx, "a4", "k"))
	require.Positive(t, s.walState.active.Len(), "the writes are pending")

	check := func(when string) {
		t.Helper()
		p, err := s.Get(ctx, "a3", "k")
		require.NoError(t, err, when)
		assert.JSONEq(t, `{"city":"c1"}`, string(p.Value), when)
		_, err = s.Get(ctx, "a4", "k")
		assert.ErrorIs(t, err, ErrNotFound, when)
		keys, err := s.Keys(ctx, "a2")
		require.NoError(t, err, when)
		assert.Equal(t, []string{"k"}, keys, when)
		found, err := s.Find(ctx, Where("k", "city", "c0"), Page{})
		require.NoError(t, err, when)
		assert.Equal(t, []string{"a0", "a2"}, found.AccountIDs, when)
		var all []string
		require.NoError(t, s.ForEach(ctx, func(p Property) error {
			all = append(all, p.AccountID)
			return nil
		}), when)
		assert.Equal(t, []string{"a0", "a1", "a2", "a3"}, all, when)
		head, err := s.HeadRevision(ctx)
		require.NoError(t, err, when)
		assert.Equal(t, uint64(6), head, when)
		n := 0
		for c, err := range s.Watch(ctx, "", 0) {
			require.NoError(t, err, when)
			if n++; n == 6 {
				assert.True(t, c.Deleted, when)
				break
			}
		}
		require.NoError(t, s.Check(ctx), when)
	}
	check("pending in the log")
	var backup strings.Builder
	_, err = s.Backup(ctx, &backup)
	require.NoError(t, err)
	assert.Zero(t, s.walState.active.Len(), "Backup wrote what was pending into the file")
	check("after Backup's flush")
	require.NoError(t, s.Close())

	s, err = OpenBolt(path, WithWriteAheadLog(false))
	require.NoError(t, err)
	check("in the file, reopened without the log")
	require.NoError(t, s.Close())
}

// TestBoltLog_ConcurrentReads: readers beside writers while the applier
// freezes, applies and drops layers all the time never see a state that
// goes back: each reader's sequence of values of one counter only grows,
// and the number of keys of an account that only gains keys never falls.
func TestBoltLog_ConcurrentReads(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "reads.db"), WithWriteAheadLog(true), withLogFlush(2<<10, time.Millisecond))
	require.NoError(t, err)
	defer s.Close()
	const writes = 600
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= writes; i++ {
			_, err := s.Set(ctx, "counter", "n", []byte(strconv.Itoa(i)))
			assert.NoError(t, err)
			_, err = s.Set(ctx, "grows", fmt.Sprintf("k%04d", i), []byte(`1`))
			assert.NoError(t, err)
		}
	})
	for range 3 {
		wg.Go(func() {
			last, lastKeys := 0, 0
			for last < writes {
				p, err := s.Get(ctx, "counter", "n")
				if errors.Is(err, ErrNotFound) {
					continue
				}
				require.NoError(t, err)
				n, _ := strconv.Atoi(string(p.Value))
				require.GreaterOrEqual(t, n, last, "a read went back")
				keys, err := s.Keys(ctx, "grows")
				require.NoError(t, err)
				require.GreaterOrEqual(t, len(keys), lastKeys, "an account lost keys")
				require.GreaterOrEqual(t, len(keys), n-1, "keys older than the counter's value are missing")
				last, lastKeys = n, len(keys)
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.Check(ctx))
}

// BenchmarkReopenLog measures an open that replays 64 MiB of log, the
// state a crash leaves when the applier has fallen that far behind: a copy
// of a store whose writes are all in its log.
func BenchmarkReopenLog(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "big.db")
	s, err := OpenBolt(path, WithWriteAheadLog(true), noApply)
	if err != nil {
		b.Fatal(err)
	}
	value := []byte(`"` + strings.Repeat("v", 400) + `"`)
	var next sync.Mutex
	i := 0
	logBytes := func() int64 {
		var n int64
		filepath.WalkDir(path+".wal", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".wal") {
				info, _ := d.Info()
				n += info.Size()
			}
			return nil
		})
		return n
	}
	for logBytes() < 64<<20 {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 200 {
					next.Lock()
					i++
					k := i
					next.Unlock()
					if _, err := s.Set(ctx, benchAccount(k%5000), benchKey(k/5000%100), value); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	image := b.TempDir()
	copyStore(b, path, image)
	records := s.walState.log.Last()
	s.Close()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dst := copyStore(b, filepath.Join(image, "big.db"), b.TempDir())
		b.StartTimer()
		r, err := OpenBolt(dst, WithWriteAheadLog(true))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		r.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(records), "records")
	b.ReportMetric(float64(i), "sets")
}

// TestBoltLog_PendingCount: the overlay's byte count is what it holds:
// writes that replace pending entries (one key written again and again,
// and the revision record every group rewrites) count once, and a flush
// brings it back to zero, so the applier's cadence and the writers' wait
// stay where they are set.
func TestBoltLog_PendingCount(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "pending.db"), WithWriteAheadLog(true), noApply)
	require.NoError(t, err)
	defer s.Close()
	for i := range 1000 {
		_, err := s.Set(ctx, "acct", "k", fmt.Appendf(nil, `{"i":%d}`, i))
		require.NoError(t, err)
	}
	held := 0
	s.walState.active.Ascend(func(e *ovEntry) bool {
		held += len(e.key) + len(e.val)
		return true
	})
	assert.Equal(t, held, s.walState.pending)
	require.NoError(t, s.flushLog(ctx))
	assert.Zero(t, s.walState.pending)
}

// TestBoltLog_FileAheadOfLog: a file that holds more than the log beside
// it (a copy put in place of the store, with the old log left) opens, with
// a new log after the file's index, and loses nothing.
func TestBoltLog_FileAheadOfLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	_, err = s.Set(ctx, "acct", "k", []byte(`1`))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	stale := t.TempDir()
	require.NoError(t, os.Rename(path+".wal", filepath.Join(stale, "old.wal")))

	s, err = OpenBolt(path)
	require.NoError(t, err)
	for i := range 10 {
		_, err = s.Set(ctx, "acct", fmt.Sprintf("k%d", i), []byte(`2`))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	require.NoError(t, os.RemoveAll(path+".wal"))
	require.NoError(t, os.Rename(filepath.Join(stale, "old.wal"), path+".wal"))

	s, err = OpenBolt(path)
	require.NoError(t, err, "a log behind its file")
	keys, err := s.Keys(ctx, "acct")
	require.NoError(t, err)
	assert.Len(t, keys, 11)
	_, err = s.Set(ctx, "acct", "after", []byte(`3`))
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())
	s, err = OpenBolt(path)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Get(ctx, "acct", "after")
	require.NoError(t, err)
}

// TestBoltLog_FileBehindItsLog: a backup put in the store's place beside
// the log of the file it replaced is refused, not rolled forward by the
// log's later records (the log keeps them: it releases whole segments
// only); once the log is removed, as Backup says, the backup opens as it
// was. A crash, whose file is behind its log too, never trips the check:
// the kill -9 tests reopen with it every round.
func TestBoltLog_FileBehindItsLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	_, err = s.Set(ctx, "acct", "k", []byte(`"backed up"`))
	require.NoError(t, err)
	var backup bytes.Buffer
	_, err = s.Backup(ctx, &backup)
	require.NoError(t, err)
	for i := range 5 {
		_, err = s.Set(ctx, "acct", "k", []byte(fmt.Sprintf(`"after %d"`, i)))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	require.NoError(t, os.WriteFile(path, backup.Bytes(), 0o600))

	_, err = OpenBolt(path)
	require.ErrorIs(t, err, ErrCorrupt, "a file older than its log")
	assert.Contains(t, err.Error(), "older than the file the log belongs to")
	assert.Contains(t, err.Error(), path+".wal")

	require.NoError(t, os.RemoveAll(path+".wal"))
	s, err = OpenBolt(path)
	require.NoError(t, err, "the backup without the log")
	p, err := s.Get(ctx, "acct", "k")
	require.NoError(t, err)
	assert.JSONEq(t, `"backed up"`, string(p.Value), "the backup as it was")
	_, err = s.Set(ctx, "acct", "k", []byte(`"new"`))
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())
	s, err = OpenBolt(path)
	require.NoError(t, err, "reopened after writes on the restored file")
	defer s.Close()
	p, err = s.Get(ctx, "acct", "k")
	require.NoError(t, err)
	assert.JSONEq(t, `"new"`, string(p.Value))
}

// TestBoltLog_MarkRepaired: a damaged mark (here too long) switches the
// check off with a warning, and the open writes a good one again.
func TestBoltLog_MarkRepaired(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	_, err = s.Set(ctx, "acct", "k", []byte(`1`))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	mark := filepath.Join(path+".wal", walMarkName)
	require.NoError(t, os.WriteFile(mark, bytes.Repeat([]byte{0xff}, 20), 0o600))

	s, err = OpenBolt(path)
	require.NoError(t, err, "a damaged mark is taken as 0")
	require.NoError(t, s.Close())
	b, err := os.ReadFile(mark)
	require.NoError(t, err)
	require.Len(t, b, 16)
	assert.Equal(t, crc32.Checksum(b[:8], castagnoli), binary.BigEndian.Uint32(b[8:]), "a good mark again")
	assert.NotZero(t, binary.BigEndian.Uint64(b), "the index the file holds")
}

// TestBoltLog_Lead: with the log, a lone Set is committed in its caller's
// goroutine (lead); the writes that arrive while that commit is in
// progress queue, and the committer commits them in one group; a writer
// whose context ends while it waits behind a commit withdraws, and its
// write is not made.
func TestBoltLog_Lead(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "lead.db"), WithWriteAheadLog(true))
	require.NoError(t, err)
	defer s.Close()

	type commit struct {
		writes int
		led    bool
	}
	commits := make(chan commit, 64)
	var hold chan struct{} // when set, a led commit waits for it to close
	s.commitTrace = func(batch []*boltWrite) {
		buf := make([]byte, 64<<10)
		stack := string(buf[:runtime.Stack(buf, false)])
		c := commit{len(batch), strings.Contains(stack, ".(*BoltStore).lead(")}
		commits <- c
		if c.led && hold != nil {
			<-hold
		}
	}

	_, err = s.Set(ctx, "a", "lone", []byte(`1`))
	require.NoError(t, err)
	assert.Equal(t, commit{1, true}, <-commits, "a lone Set is committed by its caller")

	// A led commit held in progress: the writers behind it queue.
	hold = make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := s.Set(ctx, "a", "held", []byte(`2`))
		assert.NoError(t, err)
	})
	require.Equal(t, commit{1, true}, <-commits)
	const queued = 6
	for i := range queued {
		wg.Go(func() {
			_, err := s.Set(ctx, "a", fmt.Sprintf("q%d", i), []byte(`3`))
			assert.NoError(t, err)
		})
	}
	// The committer may hold one of them, waiting for the commit.
	require.Eventually(t, func() bool { return len(s.queue) >= queued-1 }, 10*time.Second, time.Millisecond)
	cctx, cancel := context.WithCancel(ctx)
	withdrawn := make(chan error, 1)
	go func() {
		_, err := s.Set(cctx, "a", "withdrawn", []byte(`4`))
		withdrawn <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it queue (if it does not yet, it withdraws all the same)
	cancel()
	require.ErrorIs(t, <-withdrawn, context.Canceled)
	close(hold)
	wg.Wait()
	s.commitTrace = nil

	var got []commit
	for len(commits) > 0 {
		got = append(got, <-commits)
	}
	grouped := false
	for _, c := range got {
		grouped = grouped || (!c.led && c.writes >= queued-1)
	}
	assert.True(t, grouped, "the writes queued behind a led commit are committed together: %v", got)
	keys, err := s.Keys(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, []string{"held", "lone", "q0", "q1", "q2", "q3", "q4", "q5"}, keys)
	require.NoError(t, s.Check(ctx))
}

// TestBoltLog_LeadersAndTheApplier: led and grouped writes, with the
// applier running all the time and the overlay often full, beside the
// writes that flush the log (Backup) and those committed to the file
// directly (AddIndex, DropIndex): nothing waits for ever, every Set's value
// is the last one acknowledged, and Check passes.
func TestBoltLog_LeadersAndTheApplier(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	s, err := OpenBolt(path, WithWriteAheadLog(true), withLogFlush(4<<10, time.Millisecond))
	require.NoError(t, err)
	defer s.Close()
	const writers, rounds = 6, 150
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range rounds {
				_, err := s.Set(ctx, fmt.Sprintf("w%d", g), fmt.Sprintf("k%d", i%7), fmt.Appendf(nil, `{"i":%d}`, i))
				if !assert.NoError(t, err) {
					return
				}
				if g == 0 && i%25 == 0 {
					err := s.Delete(ctx, "w0", "k0")
					assert.True(t, err == nil || errors.Is(err, ErrNotFound), "Delete: %v", err)
				}
			}
		})
	}
	wg.Go(func() {
		ix := Index{"k1", "i"}
		for i := range 6 {
			_, err := s.Backup(ctx, io.Discard)
			assert.NoError(t, err)
			if i%2 == 0 {
				assert.NoError(t, s.AddIndex(ctx, ix))
			} else {
				assert.NoError(t, s.DropIndex(ctx, ix))
			}
		}
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the writers did not finish")
	}
	for g := range writers {
		for k := range 7 {
			if g == 0 && k == 0 {
				continue
			}
			last := rounds - 1 - (rounds-1-k)%7
			p, err := s.Get(ctx, fmt.Sprintf("w%d", g), fmt.Sprintf("k%d", k))
			require.NoError(t, err)
			assert.JSONEq(t, fmt.Sprintf(`{"i":%d}`, last), string(p.Value))
		}
	}
	require.NoError(t, s.Check(ctx))
}

// TestBoltLog_PipelineRebuild: while a group's append is under way, the
// committer builds the writes that arrive into the next group, on top of
// it. When that append fails, its writes get the error, and the next
// group is built again without it: a SetIf that matched only the failed
// write fails, and the rest are made as if the failed group had never
// been.
func TestBoltLog_PipelineRebuild(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pipe.db")
	s, err := OpenBolt(path, WithWriteAheadLog(true))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Set(ctx, "a", "y", []byte(`"y"`))
	require.NoError(t, err)
	head, err := s.HeadRevision(ctx)
	require.NoError(t, err)

	inAppend, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.appendFault = func() error {
		failed := false
		once.Do(func() {
			close(inAppend)
			<-release
			failed = true
		})
		if failed {
			return errors.New("the disk said no")
		}
		return nil
	}
	// Another write in progress, so that the writes below queue for the
	// committer rather than lead.
	s.writing.Add(1)
	defer s.writing.Add(-1)

	first := make(chan error, 1)
	go func() {
		_, err := s.Set(ctx, "a", "x", []byte(`"first"`))
		first <- err
	}()
	<-inAppend
	setIf, set, del := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := s.SetIf(ctx, "a", "x", []byte(`"second"`), head+1) // the revision the first Set was to get
		setIf <- err
	}()
	go func() {
		_, err := s.Set(ctx, "a", "z", []byte(`"z"`))
		set <- err
	}()
	go func() { del <- s.Delete(ctx, "a", "y") }()
	require.Eventually(t, func() bool { return len(s.queue) == 0 && s.writing.Load() == 5 }, 10*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // the committer adds what it took to the next group
	close(release)

	require.ErrorContains(t, <-first, "the disk said no")
	require.ErrorIs(t, <-setIf, ErrRevisionMismatch, "the SetIf matched the failed write only")
	require.NoError(t, <-set)
	require.NoError(t, <-del)
	check := func(s *BoltStore) {
		keys, err := s.Keys(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, []string{"z"}, keys)
		now, err := s.HeadRevision(ctx)
		require.NoError(t, err)
		assert.Equal(t, head+2, now, "two changes made, and none for the failed write")
		require.NoError(t, s.Check(ctx))
	}
	check(s)
	require.NoError(t, s.Close())
	s2, err := OpenBolt(path, WithWriteAheadLog(true))
	require.NoError(t, err)
	defer s2.Close()
	check(s2)
}

// TestOvFilter: every key added tests present, and of keys never added, at
// 200,000 keys, few do (the filter's rate, about 3%, with room for chance).
func TestOvFilter(t *testing.T) {
	f := new(ovFilter)
	key := func(i int) []byte { return fmt.Appendf(nil, "\x05props\x00user-%07d\x00key-%02d", i/10, i%10) }
	const n = 200_000
	for i := range n {
		f.add(ovHash(key(i)))
	}
	for i := range n {
		require.True(t, f.mayHold(ovHash(key(i))), "an added key tests absent: %q", key(i))
	}
	falsely := 0
	for i := n; i < 2*n; i++ {
		if f.mayHold(ovHash(key(i))) {
			falsely++
		}
	}
	assert.Less(t, float64(falsely)/n, 0.06, "keys never added that test present: %d of %d", falsely, n)
	t.Logf("%.2f%% of absent keys test present", 100*float64(falsely)/n)
}
