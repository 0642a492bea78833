package wal_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/wal"
)

// content is the deterministic record the tests write as index i: 1 to 700
// bytes drawn from a generator seeded by i.
func content(i uint64) []byte {
	r := rand.New(rand.NewPCG(i, 0x5eed))
	b := make([]byte, 1+r.IntN(700))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// The tests' own reading of the format (format.go), independent of the
// package's code.

const segHeader, recHeader = 24, 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame encodes record index as the format says.
func frame(index uint64, data []byte) []byte {
	b := make([]byte, recHeader+(len(data)+7)&^7)
	binary.LittleEndian.PutUint32(b[0:], uint32(len(data)))
	var pre [12]byte
	binary.LittleEndian.PutUint64(pre[:8], index)
	binary.LittleEndian.PutUint32(pre[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Update(crc32.Checksum(pre[:], castagnoli), castagnoli, data))
	binary.LittleEndian.PutUint64(b[8:], index)
	copy(b[recHeader:], data)
	return b
}

// decoded is one record found by decodeSegment.
type decoded struct {
	index    uint64
	data     []byte
	off, end int
}

// decodeSegment returns the consecutive valid records at the start of a
// segment image, as the format defines them.
func decodeSegment(img []byte) []decoded {
	if len(img) < segHeader {
		return nil
	}
	next := binary.LittleEndian.Uint64(img[8:])
	var out []decoded
	for off := segHeader; len(img)-off >= recHeader; {
		n := int(binary.LittleEndian.Uint32(img[off:]))
		index := binary.LittleEndian.Uint64(img[off+8:])
		size := recHeader + (n+7)&^7
		if index != next || n > len(img)-off-recHeader || size > len(img)-off {
			break
		}
		data := img[off+recHeader : off+recHeader+n]
		if !slices.Equal(frame(index, data), img[off:off+size]) {
			break
		}
		out = append(out, decoded{index, data, off, off + size})
		off += size
		next++
	}
	return out
}

func open(t *testing.T, dir string, opts wal.Options) *wal.Log {
	t.Helper()
	l, err := wal.Open(dir, opts)
	require.NoError(t, err, "Open(%s)", dir)
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *wal.Log, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		got, err := l.Append(content(i))
		require.NoError(t, err, "Append(%d)", i)
		require.Equal(t, i, got, "Append index")
	}
}

// readAll returns the indexes Read(after) yields, checking each record's content.
func readAll(t *testing.T, l *wal.Log, after uint64) []uint64 {
	t.Helper()
	var got []uint64
	err := l.Read(after, func(index uint64, data []byte) error {
		if !slices.Equal(data, content(index)) {
			return fmt.Errorf("record %d: wrong content", index)
		}
		got = append(got, index)
		return nil
	})
	require.NoError(t, err, "Read(%d)", after)
	return got
}

func seq(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// segments returns the names of the segment files in dir, sorted.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	require.NoError(t, err)
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	slices.Sort(names)
	return names
}

func TestLog_AppendReadReopen(t *testing.T) {
	for _, noPrealloc := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoPrealloc=%v", noPrealloc), func(t *testing.T) {
			dir := t.TempDir()
			opts := wal.Options{SegmentSize: 2048, NoPrealloc: noPrealloc}
			l := open(t, dir, opts)
			assert.Equal(t, uint64(1), l.First(), "First of a new log")
			assert.Equal(t, uint64(0), l.Last(), "Last of a new log")
			appendN(t, l, 1, 40)
			assert.Equal(t, seq(1, 40), readAll(t, l, 0))
			assert.Equal(t, seq(31, 40), readAll(t, l, 30))
			assert.Empty(t, readAll(t, l, 40))
			require.NoError(t, l.Check())
			require.Greater(t, len(segments(t, dir)), 3, "40 records of up to 700 bytes in 2 KiB segments")
			require.NoError(t, l.Close())

			l = open(t, dir, opts)
			assert.Equal(t, uint64(1), l.First())
			assert.Equal(t, uint64(40), l.Last())
			assert.Equal(t, seq(1, 40), readAll(t, l, 0))
			appendN(t, l, 41, 50)
			require.NoError(t, l.Check())
			require.NoError(t, l.Close())
			l = open(t, dir, opts)
			assert.Equal(t, seq(1, 50), readAll(t, l, 0))
		})
	}
}

// A segment file is named after its first index so that names sort, and
// its header names that index.
func TestLog_SegmentNamesAndHeaders(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, wal.Options{SegmentSize: 2048})
	appendN(t, l, 1, 30)
	names := segments(t, dir)
	require.NotEmpty(t, names)
	prev := uint64(0)
	for _, name := range names {
		var first uint64
		_, err := fmt.Sscanf(name, "%016x.wal", &first)
		require.NoError(t, err, "segment name %q", name)
		require.Greater(t, first, prev, "segments in name order")
		prev = first
		img, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, "UPWAL\x00v1", string(img[:8]), "%s: magic", name)
		assert.Equal(t, first, binary.LittleEndian.Uint64(img[8:]), "%s: first index in header", name)
		if recs := decodeSegment(img); len(recs) > 0 {
			assert.Equal(t, first, recs[0].index, "%s: first record", name)
		}
	}
}

// A preallocated segment is zero-filled to its full size before use, and
// zeros never parse as a record.
func TestLog_PreallocatedZeros(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, wal.Options{SegmentSize: 8192})
	appendN(t, l, 1, 2)
	img, err := os.ReadFile(filepath.Join(dir, segments(t, dir)[0]))
	require.NoError(t, err)
	require.Len(t, img, 8192, "segment file size")
	recs := decodeSegment(img)
	require.Len(t, recs, 2)
	assert.Zero(t, strings.Trim(string(img[recs[1].end:]), "\x00"), "space after the last record is zeros")

	// A log whose only segment is a header and zeros opens empty.
	dir2 := t.TempDir()
	zero := make([]byte, 8192)
	copy(zero, img[:segHeader])
	require.NoError(t, os.WriteFile(filepath.Join(dir2, segments(t, dir)[0]), zero, 0o600))
	l2 := open(t, dir2, wal.Options{SegmentSize: 8192})
	assert.Empty(t, readAll(t, l2, 0))
	assert.Equal(t, uint64(0), l2.Last())
}

// The next segment is made in the background ahead of need, and the
// spare is removed on Close and on Open.
func TestLog_SpareSegmentAhead(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, wal.Options{SegmentSize: 4096})
	spare := func() []string {
		names, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
		require.NoError(t, err)
		return names
	}
	waitSpare := func() string {
		t.Helper()
		for range 500 {
			if names := spare(); len(names) == 1 {
				if fi, err := os.Stat(names[0]); err == nil && fi.Size() == 4096 {
					return names[0]
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no spare segment of 4096 bytes appeared: %v", spare())
		return ""
	}
	first := waitSpare()
	appendN(t, l, 1, 30) // several segments' worth
	require.Greater(t, len(segments(t, dir)), 2)
	second := waitSpare()
	assert.NotEqual(t, first, second, "a new spare is made after the first is used")
	require.NoError(t, l.Close())
	assert.Empty(t, spare(), "Close removes the spare")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "spare-9.tmp"), []byte("half made"), 0o600))
	l = open(t, dir, wal.Options{SegmentSize: 4096, NoPrealloc: true})
	assert.Empty(t, spare(), "Open removes leftover spares")
	assert.Equal(t, seq(1, 30), readAll(t, l, 0))
}

func TestLog_FirstIndex(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, wal.Options{FirstIndex: 100, SegmentSize: 4096})
	assert.Equal(t, uint64(100), l.First())
	assert.Equal(t, uint64(99), l.Last())
	appendN(t, l, 100, 102)
	require.NoError(t, l.Close())
	l = open(t, dir, wal.Options{FirstIndex: 7, SegmentSize: 4096})
	assert.Equal(t, seq(100, 102), readAll(t, l, 0), "FirstIndex is ignored for an existing log")
}

// A record bigger than a segment gets a segment of its own, rounded up to 4 KiB.
func TestLog_LargeRecord(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, wal.Options{SegmentSize: 4096})
	big := make([]byte, 10000)
	for i := range big {
		big[i] = byte(i)
	}
	appendN(t, l, 1, 1)
	i, err := l.Append(big)
	require.NoError(t, err)
	require.Equal(t, uint64(2), i)
	name := fmt.Sprintf("%016x.wal", 2)
	fi, err := os.Stat(filepath.Join(dir, name))
	require.NoError(t, err)
	assert.Equal(t, int64(12288), fi.Size(), "own segment: 24+16+10000 rounded up to 4 KiB")
	_, err = l.Append(content(3))
	require.NoError(t, err)
	require.NoError(t, l.Close())

	l = open(t, dir, wal.Options{SegmentSize: 4096})
	var got [][]byte
	require.NoError(t, l.Read(0, func(_ uint64, data []byte) error {
		got = append(got, slices.Clone(data))
		return nil
	}))
	require.Len(t, got, 3)
	assert.Equal(t, big, got[1])
	assert.Equal(t, content(3), got[2])
}

// An empty log after Release(n) reports Last() == n, also after reopening,
// so indexes are never reused.
func TestLog_Release(t *testing.T) {
	dir := t.TempDir()
	opts := wal.Options{SegmentSize: 2048}
	l := open(t, dir, opts)
	appendN(t, l, 1, 40)
	before := segments(t, dir)
	require.NoError(t, l.Release(20))
	assert.Equal(t, uint64(21), l.First())
	assert.Equal(t, uint64(40), l.Last())
	assert.Equal(t, seq(21, 40), readAll(t, l, 0), "released records are not read")
	after := segments(t, dir)
	assert.Less(t, len(after), len(before), "whole segments ≤ 20 removed")
	var firstHeld uint64
	_, err := fmt.Sscanf(after[0], "%016x.wal", &firstHeld)
	require.NoError(t, err)
	assert.LessOrEqual(t, firstHeld, uint64(21), "the segment holding 21 is kept")
	require.NoError(t, l.Check())

	require.Error(t, l.Release(41), "Release beyond Last")
	require.NoError(t, l.Release(3), "Release below First is a no-op")
	assert.Equal(t, uint64(21), l.First())

	require.NoError(t, l.Release(40))
	assert.Equal(t, uint64(41), l.First())
	assert.Equal(t, uint64(40), l.Last())
	assert.Len(t, segments(t, dir), 1, "only the active segment is left")
	assert.Empty(t, readAll(t, l, 0))
	require.NoError(t, l.Close())

	l = open(t, dir, opts)
	assert.Equal(t, uint64(40), l.Last(), "Last after reopening an all-released log")
	assert.LessOrEqual(t, l.First(), uint64(41))
	i, err := l.Append(content(41))
	require.NoError(t, err)
	assert.Equal(t, uint64(41), i)

	// Release everything across several segments: only the active one is
	// kept, and it carries Last over a reopen.
	for i := uint64(42); len(segments(t, dir)) < 3; i++ {
		_, err := l.Append(content(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.Release(l.Last()))
	last := l.Last()
	require.NoError(t, l.Close())
	l = open(t, dir, opts)
	assert.Equal(t, last, l.Last())
}

// Appends, releases and reads at the same time (run with -race).
func TestLog_Concurrent(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, wal.Options{SegmentSize: 4096})
	const n = 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := uint64(1); i <= n; i++ {
			if _, err := l.Append(content(i)); err != nil {
				t.Errorf("Append(%d): %v", i, err)
				return
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if last := l.Last(); last > 10 {
				if err := l.Release(last - 10); err != nil {
					t.Errorf("Release(%d): %v", last-10, err)
					return
				}
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				prev := uint64(0)
				err := l.Read(0, func(index uint64, data []byte) error {
					if !slices.Equal(data, content(index)) {
						return fmt.Errorf("record %d: wrong content", index)
					}
					// Records released during the Read may be skipped.
					if prev != 0 && index != prev+1 && index > l.First() {
						return fmt.Errorf("record %d after %d, First %d", index, prev, l.First())
					}
					prev = index
					return nil
				})
				if err != nil {
					t.Errorf("Read: %v", err)
					return
				}
				if err := l.Check(); err != nil {
					t.Errorf("Check: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(n), l.Last())
	assert.Equal(t, seq(l.First(), n), readAll(t, l, 0))
}

func TestLog_Closed(t *testing.T) {
	l, err := wal.Open(t.TempDir(), wal.Options{SegmentSize: 4096})
	require.NoError(t, err)
	appendN(t, l, 1, 1)
	require.NoError(t, l.Close())
	_, err = l.Append([]byte("x"))
	assert.ErrorIs(t, err, wal.ErrClosed, "Append")
	assert.ErrorIs(t, l.Read(0, func(uint64, []byte) error { return nil }), wal.ErrClosed, "Read")
	assert.ErrorIs(t, l.Release(1), wal.ErrClosed, "Release")
	assert.ErrorIs(t, l.Check(), wal.ErrClosed, "Check")
	assert.ErrorIs(t, l.Close(), wal.ErrClosed, "Close")
}

func TestLog_ReadStopsAtCallbackError(t *testing.T) {
	l := open(t, t.TempDir(), wal.Options{SegmentSize: 4096})
	appendN(t, l, 1, 5)
	stop := errors.New("stop")
	var got []uint64
	err := l.Read(0, func(index uint64, _ []byte) error {
		got = append(got, index)
		if index == 3 {
			return stop
		}
		return nil
	})
	assert.Equal(t, stop, err, "Read returns fn's error as is")
	assert.Equal(t, seq(1, 3), got)
}
