package wal_test

// Process-level tests: the test binary starts itself as a child (see
// TestMain) that uses a log, and the parent kills it or limits its file size.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/wal"
)

const (
	childModeEnv = "WAL_TEST_CHILD"
	childDirEnv  = "WAL_TEST_DIR"
)

// TestMain runs the tests, or, when a process-level test started the test
// binary as a child, that child's program.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		var err error
		switch dir := os.Getenv(childDirEnv); mode {
		case "crash":
			err = crashChild(dir)
		case "fsize":
			err = fsizeChild(dir)
		default:
			err = fmt.Errorf("unknown child mode %q", mode)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func childCommand(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	bin, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childDirEnv+"="+dir)
	return cmd
}

// --- kill -9 ---------------------------------------------------------------

var crashOpts = wal.Options{SegmentSize: 4096} // a new segment every few records

// crashChild appends and releases until it is killed. It prints "A i" after
// Append acknowledged record i, and "R n" before it calls Release(n).
func crashChild(dir string) error {
	l, err := wal.Open(dir, crashOpts)
	if err != nil {
		return err
	}
	for {
		i, err := l.Append(content(l.Last() + 1))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stdout, "A %d\n", i)
		if i%5 == 0 {
			n := i - uint64(rand.IntN(8))
			fmt.Fprintf(os.Stdout, "R %d\n", n)
			if err := l.Release(n); err != nil {
				return err
			}
		}
	}
}

// Rule 6: a child appending and releasing is killed at random moments; the
// log always opens, and every acknowledged record ≥ First is there with the
// right content, First never passing a release the child asked for.
func TestCrash_KillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	acked := map[uint64]bool{}
	var maxAcked, maxRelease uint64
	deadline := time.Now().Add(8 * time.Second)
	rounds := 0
	for ; rounds < 40 && time.Now().Before(deadline); rounds++ {
		cmd := childCommand(t, "crash", dir)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		lines := make(chan string, 1<<16)
		go func() {
			r := bufio.NewReader(out)
			for {
				line, err := r.ReadString('\n')
				if err != nil { // a partial last line is not an acknowledgement
					close(lines)
					return
				}
				lines <- line
			}
		}()
		first, ok := <-lines // the child is running
		time.Sleep(time.Duration(5+rand.IntN(150)) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		require.Error(t, cmd.Wait(), "round %d: the child ran until killed; stderr: %s", rounds, stderr.String())
		if !ok {
			t.Fatalf("round %d: the child printed nothing; stderr: %s", rounds, stderr.String())
		}
		all := []string{first}
		for line := range lines {
			all = append(all, line)
		}
		for _, line := range all {
			kind, num, _ := strings.Cut(strings.TrimSpace(line), " ")
			n, err := strconv.ParseUint(num, 10, 64)
			require.NoError(t, err, "child line %q", line)
			switch kind {
			case "A":
				acked[n] = true
				maxAcked = max(maxAcked, n)
			case "R":
				maxRelease = max(maxRelease, n)
			}
		}

		l, err := wal.Open(dir, crashOpts)
		require.NoError(t, err, "round %d: Open after kill -9", rounds)
		require.NoError(t, l.Check(), "round %d: Check", rounds)
		lo := l.First()
		require.LessOrEqual(t, lo-1, maxRelease, "round %d: First %d passes every release asked for", rounds, lo)
		require.GreaterOrEqual(t, l.Last(), maxAcked, "round %d: Last", rounds)
		held := map[uint64]bool{}
		require.NoError(t, l.Read(0, func(index uint64, data []byte) error {
			if !slices.Equal(data, content(index)) {
				return fmt.Errorf("record %d: wrong content", index)
			}
			held[index] = true
			return nil
		}), "round %d", rounds)
		for i := range acked {
			if i >= lo && !held[i] {
				t.Fatalf("round %d: acknowledged record %d (≥ First %d) is missing", rounds, i, lo)
			}
		}
		require.NoError(t, l.Close())
	}
	t.Logf("%d rounds, %d records acknowledged, last release %d", rounds, len(acked), maxRelease)
	assert.Greater(t, maxAcked, uint64(50), "the children got some work done")
}

// --- full disk -------------------------------------------------------------

// fsizeChild runs under a lowered RLIMIT_FSIZE, with SIGXFSZ ignored so
// that writes beyond the limit fail with EFBIG instead of killing it. It
// prints "A i" for each acknowledged record and "BIG i" for the big one.
func fsizeChild(dir string) error {
	signal.Ignore(syscall.SIGXFSZ)
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		return err
	}
	limit := func(n uint64) error {
		lim := orig
		lim.Cur = n
		return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
	}
	unlimit := func() error { return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig) }
	noSpares := func(pattern string) error {
		tmp, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil || len(tmp) > 0 {
			return fmt.Errorf("half-made segments left: %v %v", tmp, err)
		}
		return nil
	}
	appendOne := func(l *wal.Log) error {
		i, err := l.Append(content(l.Last() + 1))
		if err == nil {
			fmt.Printf("A %d\n", i)
		}
		return err
	}

	// 1. The spare segment, made in the background, cannot be made: the
	// active segment (16 KiB, from an earlier open) is below the 32 KiB
	// limit, new segments (64 KiB) are above it.
	l, err := wal.Open(dir, wal.Options{SegmentSize: 16 << 10})
	if err != nil {
		return err
	}
	for range 5 {
		if err := appendOne(l); err != nil {
			return err
		}
	}
	if err := l.Close(); err != nil {
		return err
	}
	if err := limit(32 << 10); err != nil {
		return err
	}
	if l, err = wal.Open(dir, wal.Options{SegmentSize: 64 << 10}); err != nil {
		return err
	}
	for n := 0; ; n++ {
		if n > 200 {
			return errors.New("the active segment never filled")
		}
		last := l.Last()
		err := appendOne(l)
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.EFBIG) {
			return fmt.Errorf("Append at the limit: %w, want EFBIG", err)
		}
		if l.Last() != last {
			return fmt.Errorf("Last %d after a failed Append, want %d", l.Last(), last)
		}
		break
	}
	if err := noSpares("*.tmp"); err != nil { // and none is being made
		return err
	}
	if err := appendOne(l); !errors.Is(err, syscall.EFBIG) {
		return fmt.Errorf("second Append at the limit: %v, want EFBIG", err)
	}
	if err := l.Check(); err != nil {
		return err
	}
	if err := unlimit(); err != nil {
		return err
	}
	for range 3 {
		if err := appendOne(l); err != nil {
			return fmt.Errorf("Append once the limit is lifted: %w", err)
		}
	}

	// 2. A record bigger than a segment needs a segment of its own, beyond
	// the limit; the active segment has room for small records below it.
	if err := limit(32 << 10); err != nil {
		return err
	}
	big := make([]byte, 80<<10) // more than a segment: it needs its own
	last := l.Last()
	if _, err := l.Append(big); !errors.Is(err, syscall.EFBIG) {
		return fmt.Errorf("Append of a big record at the limit: %v, want EFBIG", err)
	}
	if l.Last() != last {
		return fmt.Errorf("Last %d after a failed Append, want %d", l.Last(), last)
	}
	// The spare for the next ordinary segment may be in the making; the
	// big record's own segment must be gone.
	if err := noSpares("new-*.tmp"); err != nil {
		return err
	}
	if err := appendOne(l); err != nil {
		return fmt.Errorf("small Append beside a failed big one: %w", err)
	}
	if err := unlimit(); err != nil {
		return err
	}
	i, err := l.Append(big)
	if err != nil {
		return fmt.Errorf("big Append once the limit is lifted: %w", err)
	}
	fmt.Printf("BIG %d\n", i)
	if err := appendOne(l); err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	if err := fsizeShortWrite(filepath.Join(dir, "short"), limit, unlimit); err != nil {
		return err
	}
	if err := fsizeLimitInBlock(filepath.Join(dir, "block"), wal.Options{SegmentSize: 64 << 10}, limit, unlimit); err != nil {
		return err
	}
	return fsizeLimitInBlock(filepath.Join(dir, "block-cached"), wal.Options{SegmentSize: 64 << 10, NoDirect: true}, limit, unlimit)
}

// fsizeLimitInBlock: a direct write covers the whole blocks a record
// touches, past its end. (1) With the file size limit after the record,
// inside its last block, the record is written whole and Append succeeds
// (the write fails past the record, in zeros the file held already). (2)
// With the limit inside a record, Append fails with EFBIG, not ErrFailed,
// and the part written is zeroed: a record that then needs a segment of its
// own seals the segment, which must hold zeros after its last record, so
// the log reopens with every acknowledged record and no other. The same
// holds through the page cache, without direct I/O.
func fsizeLimitInBlock(dir string, opts wal.Options, limit func(uint64) error, unlimit func() error) error {
	l, err := wal.Open(dir, opts)
	if err != nil {
		return err
	}
	data := func(i uint64, n int) []byte { return bytes.Repeat([]byte{byte(i)}, n) }
	var want [][]byte
	add := func(b []byte) error {
		i, err := l.Append(b)
		if err == nil && i != uint64(len(want)+1) {
			err = fmt.Errorf("Append gave index %d, want %d", i, len(want)+1)
		}
		if err == nil {
			want = append(want, b)
		}
		return err
	}
	for i := uint64(1); i <= 8; i++ {
		if err := add(data(i, 600)); err != nil { // frames of 616 bytes: the 8th ends at 4952
			return err
		}
	}
	// (1) Record 9 is [4952, 5968), in the block [4096, 8192).
	if err := limit(6144); err != nil {
		return err
	}
	if err := add(data(9, 1000)); err != nil {
		return fmt.Errorf("Append with the limit after the record, in its block: %w", err)
	}
	// (2) Record 10 would be [5968, 6984).
	if err := limit(6656); err != nil {
		return err
	}
	if _, err := l.Append(data(10, 1000)); !errors.Is(err, syscall.EFBIG) || errors.Is(err, wal.ErrFailed) {
		return fmt.Errorf("Append with the limit inside the record (%+v): %v, want EFBIG and not ErrFailed", opts, err)
	}
	if err := unlimit(); err != nil {
		return err
	}
	if err := add(data(10, 80<<10)); err != nil { // a segment of its own
		return err
	}
	if err := add(data(11, 100)); err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	if l, err = wal.Open(dir, opts); err != nil {
		return fmt.Errorf("reopening after the failed record (%+v): %w", opts, err)
	}
	defer l.Close()
	if err := l.Check(); err != nil {
		return err
	}
	n := 0
	if err := l.Read(0, func(index uint64, b []byte) error {
		if n++; index != uint64(n) || index > uint64(len(want)) || !bytes.Equal(b, want[index-1]) {
			return fmt.Errorf("record %d after the limits: wrong", index)
		}
		return nil
	}); err != nil {
		return err
	}
	if n != len(want) {
		return fmt.Errorf("%d records after the limits, want %d", n, len(want))
	}
	return nil
}

// fsizeShortWrite: a record that crosses the file size limit inside its
// segment is written in part, then fails with EFBIG; Append zeroes only the
// part written (zeroing the rest would fail too and fail the log), so the
// log stays usable and the record never comes back.
func fsizeShortWrite(dir string, limit func(uint64) error, unlimit func() error) error {
	l, err := wal.Open(dir, wal.Options{SegmentSize: 64 << 10})
	if err != nil {
		return err
	}
	off := uint64(24)
	for i := uint64(1); i <= 3; i++ {
		if _, err := l.Append(content(i)); err != nil {
			return err
		}
		off += 16 + uint64(len(content(i))+7)&^7
	}
	if err := limit(off + 8); err != nil {
		return err
	}
	_, err = l.Append(content(4))
	if !errors.Is(err, syscall.EFBIG) || errors.Is(err, wal.ErrFailed) {
		return fmt.Errorf("Append across the limit: %v, want EFBIG and not ErrFailed", err)
	}
	if err := unlimit(); err != nil {
		return err
	}
	if i, err := l.Append(content(4)); err != nil || i != 4 {
		return fmt.Errorf("Append once the limit is lifted: %d, %v", i, err)
	}
	if err := l.Close(); err != nil {
		return err
	}
	if l, err = wal.Open(dir, wal.Options{SegmentSize: 64 << 10}); err != nil {
		return err
	}
	defer l.Close()
	n := uint64(0)
	if err := l.Read(0, func(index uint64, data []byte) error {
		if n++; index != n || !slices.Equal(data, content(index)) {
			return fmt.Errorf("record %d after a short write: wrong", index)
		}
		return nil
	}); err != nil {
		return err
	}
	if n != 4 {
		return fmt.Errorf("%d records after a short write, want 4", n)
	}
	return nil
}

// Rule 5: when a new segment cannot be made (EFBIG under RLIMIT_FSIZE, as
// with ENOSPC), Append returns the error and writes nothing, no half-made
// file is left, earlier records survive, and Append works again once the
// space is back. Also: a record cut short by the limit inside its segment
// (fsizeShortWrite).
func TestAppend_FullDisk(t *testing.T) {
	dir := t.TempDir()
	cmd := childCommand(t, "fsize", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "child: %s", stderr.String())

	want := map[uint64]int{} // index → size, -1 for content(index)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		kind, num, _ := strings.Cut(line, " ")
		n, err := strconv.ParseUint(num, 10, 64)
		require.NoError(t, err, "child line %q", line)
		want[n] = -1
		if kind == "BIG" {
			want[n] = 80 << 10
		}
	}
	l := open(t, dir, wal.Options{SegmentSize: 64 << 10})
	require.NoError(t, l.Check())
	require.Equal(t, uint64(len(want)), l.Last(), "every acknowledged record, and no other")
	require.NoError(t, l.Read(0, func(index uint64, data []byte) error {
		switch size, ok := want[index]; {
		case !ok:
			return fmt.Errorf("record %d was not acknowledged", index)
		case size == -1 && !slices.Equal(data, content(index)):
			return fmt.Errorf("record %d: wrong content", index)
		case size >= 0 && len(data) != size:
			return fmt.Errorf("record %d: %d bytes, want %d", index, len(data), size)
		}
		delete(want, index)
		return nil
	}))
	assert.Empty(t, want, "acknowledged records not read back")
}
