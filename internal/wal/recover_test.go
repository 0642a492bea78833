package wal_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/wal"
)

// writeLog makes a log of records 1..n in dir and returns the image of its
// last segment and that segment's name.
func writeLog(t *testing.T, dir string, opts wal.Options, n uint64) ([]byte, string) {
	t.Helper()
	l, err := wal.Open(dir, opts)
	require.NoError(t, err)
	appendN(t, l, 1, n)
	require.NoError(t, l.Close())
	names := segments(t, dir)
	name := names[len(names)-1]
	img, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return img, name
}

// Note 1: write A; append half of B by hand; reopen; write C; reopen
// again: A and C are there and B is not. The reopen zeroes (or truncates)
// the torn half before it returns.
func TestOpen_TornTail_AppendAfterReopen(t *testing.T) {
	for _, noPrealloc := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoPrealloc=%v", noPrealloc), func(t *testing.T) {
			dir := t.TempDir()
			opts := wal.Options{SegmentSize: 8192, NoPrealloc: noPrealloc}
			a, b, c := []byte("record A"), []byte(strings.Repeat("B", 300)), []byte("C")
			l := open(t, dir, opts)
			_, err := l.Append(a)
			require.NoError(t, err)
			require.NoError(t, l.Close())

			path := filepath.Join(dir, segments(t, dir)[0])
			img, err := os.ReadFile(path)
			require.NoError(t, err)
			end := decodeSegment(img)[0].end
			half := frame(2, b)[:150]
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(half, int64(end))
			require.NoError(t, err)
			require.NoError(t, f.Close())

			l = open(t, dir, opts)
			assert.Equal(t, uint64(1), l.Last(), "Last after the torn B")
			img, err = os.ReadFile(path)
			require.NoError(t, err)
			assert.Zero(t, strings.Trim(string(img[end:]), "\x00"), "Open cut the torn B away")
			i, err := l.Append(c)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), i, "C takes B's index: B was never acknowledged")
			require.NoError(t, l.Close())

			l = open(t, dir, opts)
			var got []string
			require.NoError(t, l.Read(0, func(_ uint64, data []byte) error {
				got = append(got, string(data))
				return nil
			}))
			assert.Equal(t, []string{string(a), string(c)}, got)
			require.NoError(t, l.Check())
		})
	}
}

// Cutting the last segment at every byte offset inside its last three
// records, by truncation or by zeroing the rest, leaves a log that opens and
// holds exactly the whole records before the cut, never a partial one; new
// records go after them.
func TestOpen_TornTail_EveryOffset(t *testing.T) {
	opts := wal.Options{SegmentSize: 4096}
	records := [][]byte{content(1), content(2), []byte("tiny"), []byte(strings.Repeat("m", 61)), []byte(strings.Repeat("L", 203))}
	dir := t.TempDir()
	l := open(t, dir, opts)
	for _, r := range records {
		_, err := l.Append(r)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	name := segments(t, dir)[0]
	img, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	recs := decodeSegment(img)
	require.Len(t, recs, len(records), "all records in one segment")
	from, to := recs[len(recs)-3].off, recs[len(recs)-1].end

	read := func(l *wal.Log) [][]byte {
		t.Helper()
		var got [][]byte
		require.NoError(t, l.Read(0, func(_ uint64, data []byte) error {
			got = append(got, slices.Clone(data))
			return nil
		}))
		return got
	}
	for _, mode := range []string{"truncate", "zero"} {
		t.Run(mode, func(t *testing.T) {
			for k := from; k <= to; k++ {
				cut := slices.Clone(img)
				if mode == "truncate" {
					cut = cut[:k]
				} else {
					clear(cut[k:to])
				}
				// The records before the cut are those it leaves whole
				// (zeroing a record's zero padding leaves it whole).
				want := 0
				for want < len(recs) && recs[want].end <= len(cut) &&
					slices.Equal(cut[recs[want].off:recs[want].end], img[recs[want].off:recs[want].end]) {
					want++
				}
				dir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), cut, 0o600))
				l, err := wal.Open(dir, opts)
				require.NoError(t, err, "Open after a cut at %d", k)
				require.Equal(t, records[:want], read(l), "records after a cut at %d", k)
				require.NoError(t, l.Check(), "Check after a cut at %d", k)
				_, err = l.Append([]byte("after"))
				require.NoError(t, err, "Append after a cut at %d", k)
				require.NoError(t, l.Close())
				l, err = wal.Open(dir, opts)
				require.NoError(t, err, "second Open after a cut at %d", k)
				require.Equal(t, append(slices.Clone(records[:want]), []byte("after")), read(l),
					"records after a cut at %d and an Append", k)
				require.NoError(t, l.Close())
			}
		})
	}
}

// A damaged record that is not the torn tail (a valid record follows it,
// or it is in an earlier segment) is ErrCorrupt, never skipped. A flipped
// byte in the last record of the log is a torn tail and is cut.
func TestOpen_FlippedByte(t *testing.T) {
	opts := wal.Options{SegmentSize: 1 << 14}
	img, name := writeLog(t, t.TempDir(), opts, 5)
	recs := decodeSegment(img)
	require.Len(t, recs, 5)
	try := func(t *testing.T, img []byte) (*wal.Log, error) {
		t.Helper()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), img, 0o600))
		l, err := wal.Open(dir, opts)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
		return l, err
	}
	t.Run("earlier record", func(t *testing.T) {
		for off := recs[1].off; off < recs[1].end; off++ {
			bad := slices.Clone(img)
			bad[off] ^= 0x10
			_, err := try(t, bad)
			require.ErrorIs(t, err, wal.ErrCorrupt, "Open with byte %d of record 2 flipped", off)
		}
	})
	t.Run("segment header", func(t *testing.T) {
		for off := range segHeader {
			bad := slices.Clone(img)
			bad[off] ^= 0x01
			_, err := try(t, bad)
			require.ErrorIs(t, err, wal.ErrCorrupt, "Open with byte %d of the header flipped", off)
		}
	})
	t.Run("last record", func(t *testing.T) {
		bad := slices.Clone(img)
		bad[recs[4].off+recHeader] ^= 0x01
		l, err := try(t, bad)
		require.NoError(t, err)
		assert.Equal(t, seq(1, 4), readAll(t, l, 0))
	})
	t.Run("earlier segment", func(t *testing.T) {
		dir := t.TempDir()
		opts := wal.Options{SegmentSize: 2048}
		writeLog(t, dir, opts, 20)
		names := segments(t, dir)
		require.Greater(t, len(names), 2)
		path := filepath.Join(dir, names[0])
		seg, err := os.ReadFile(path)
		require.NoError(t, err)
		recs := decodeSegment(seg)
		last := recs[len(recs)-1] // the last record of a full segment
		seg[last.off+recHeader] ^= 0x01
		require.NoError(t, os.WriteFile(path, seg, 0o600))
		_, err = wal.Open(dir, opts)
		require.ErrorIs(t, err, wal.ErrCorrupt, "Open with the last record of segment 1 damaged")

		// Check, on an open log, finds the same damage.
		seg[last.off+recHeader] ^= 0x01
		require.NoError(t, os.WriteFile(path, seg, 0o600))
		l := open(t, dir, opts)
		require.NoError(t, l.Check())
		seg[last.off+recHeader] ^= 0x01
		require.NoError(t, os.WriteFile(path, seg, 0o600))
		require.ErrorIs(t, l.Check(), wal.ErrCorrupt, "Check")
		require.ErrorIs(t, l.Read(0, func(uint64, []byte) error { return nil }), wal.ErrCorrupt, "Read")
	})
}

// A segment missing from the middle, or one whose first index does not
// follow the one before, is ErrCorrupt; a missing oldest segment is a
// release.
func TestOpen_SegmentSequence(t *testing.T) {
	opts := wal.Options{SegmentSize: 2048}
	setup := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		writeLog(t, dir, opts, 30)
		names := segments(t, dir)
		require.Greater(t, len(names), 3)
		return dir, names
	}
	t.Run("missing middle", func(t *testing.T) {
		dir, names := setup(t)
		require.NoError(t, os.Remove(filepath.Join(dir, names[1])))
		_, err := wal.Open(dir, opts)
		require.ErrorIs(t, err, wal.ErrCorrupt)
	})
	t.Run("missing last", func(t *testing.T) {
		dir, names := setup(t)
		require.NoError(t, os.Remove(filepath.Join(dir, names[len(names)-1])))
		// Indistinguishable from a log that ends there, except that the
		// segment's records are gone: Open accepts it (this is what a
		// lost file looks like; bbolt's index would show it).
		l := open(t, dir, opts)
		assert.Less(t, l.Last(), uint64(30))
	})
	t.Run("renamed", func(t *testing.T) {
		dir, names := setup(t)
		var first uint64
		_, err := fmt.Sscanf(names[2], "%016x.wal", &first)
		require.NoError(t, err)
		require.NoError(t, os.Rename(filepath.Join(dir, names[2]), filepath.Join(dir, fmt.Sprintf("%016x.wal", first+1))))
		_, err = wal.Open(dir, opts)
		require.ErrorIs(t, err, wal.ErrCorrupt)
	})
	t.Run("missing oldest", func(t *testing.T) {
		dir, names := setup(t)
		require.NoError(t, os.Remove(filepath.Join(dir, names[0])))
		l := open(t, dir, opts)
		assert.Greater(t, l.First(), uint64(1))
		assert.Equal(t, seq(l.First(), 30), readAll(t, l, 0))
	})
}

var errInjected = errors.New("injected I/O error")

// Note 4: a failed write or sync of a record is never retried; Append cuts
// the record away durably, so that a reopen does not bring back a record
// reported as failed; if the cut fails, the log is failed until reopened.
func TestAppend_FailedWriteOrSync(t *testing.T) {
	for _, noPrealloc := range []bool{false, true} {
		for _, op := range []string{"write", "sync"} {
			t.Run(fmt.Sprintf("%s/NoPrealloc=%v", op, noPrealloc), func(t *testing.T) {
				dir := t.TempDir()
				opts := wal.Options{SegmentSize: 8192, NoPrealloc: noPrealloc}
				l := open(t, dir, opts)
				appendN(t, l, 1, 1)
				var ops []string
				wal.SetFault(l, func(o string) error {
					ops = append(ops, o)
					if o == op {
						return errInjected
					}
					return nil
				})
				_, err := l.Append(content(2))
				require.ErrorIs(t, err, errInjected)
				assert.NotErrorIs(t, err, wal.ErrFailed, "the cut succeeded")
				want := []string{"write", "sync", "cutwrite", "cutsync"}
				if wal.Direct(l) {
					want = []string{"write", "direct", "sync", "cutwrite", "cutsync"}
				}
				if op == "write" {
					want = []string{"write", "cutwrite", "cutsync"}
				}
				assert.Equal(t, want, ops, "file operations: the failed one is not retried")
				assert.Equal(t, uint64(1), l.Last())
				wal.SetFault(l, nil)
				require.NoError(t, l.Close())

				l = open(t, dir, opts)
				assert.Equal(t, seq(1, 1), readAll(t, l, 0), "the failed record is not resurrected")
				appendN(t, l, 2, 3)
				require.NoError(t, l.Close())
				l = open(t, dir, opts)
				assert.Equal(t, seq(1, 3), readAll(t, l, 0))
			})
		}
	}
}

func TestAppend_FailedCutFailsLog(t *testing.T) {
	dir := t.TempDir()
	opts := wal.Options{SegmentSize: 8192}
	l := open(t, dir, opts)
	appendN(t, l, 1, 1)
	wal.SetFault(l, func(op string) error {
		if op == "sync" || op == "cutsync" {
			return errInjected
		}
		return nil
	})
	_, err := l.Append(content(2))
	require.ErrorIs(t, err, wal.ErrFailed)
	require.ErrorIs(t, err, errInjected)
	wal.SetFault(l, nil)
	for range 2 {
		_, err = l.Append(content(2))
		require.ErrorIs(t, err, wal.ErrFailed, "Append on a failed log, the fault gone")
	}
	assert.Equal(t, uint64(1), l.Last())
	require.NoError(t, l.Close())

	l = open(t, dir, opts)
	got := readAll(t, l, 0)
	require.GreaterOrEqual(t, len(got), 1, "A survives")
	assert.Equal(t, uint64(1), got[0])
	next := l.Last() + 1
	i, err := l.Append(content(next))
	require.NoError(t, err, "Append after reopening")
	assert.Equal(t, next, i)
}

// Rule 2: a new segment is synced, renamed into place and the directory
// synced before a record goes into it; the record's write and sync follow.
func TestAppend_NewSegmentSyncedBeforeUse(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, wal.Options{SegmentSize: 2048})
	var ops []string
	wal.SetFault(l, func(op string) error {
		ops = append(ops, op)
		return nil
	})
	for i := uint64(1); len(segments(t, dir)) < 2; i++ {
		_, err := l.Append(content(i))
		require.NoError(t, err)
	}
	n := len(ops)
	require.GreaterOrEqual(t, n, 6)
	assert.Equal(t, []string{"sync", "segsync", "dirsync", "write", "sync"}, ops[n-5:],
		"file operations around the move to a new segment")
}

// A new segment that cannot be made durable is removed, nothing is
// written, and a later Append succeeds.
func TestAppend_NewSegmentFails(t *testing.T) {
	for _, op := range []string{"segsync", "dirsync"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			opts := wal.Options{SegmentSize: 2048}
			l := open(t, dir, opts)
			fail := false
			wal.SetFault(l, func(o string) error {
				if o == op {
					fail = true
					return errInjected
				}
				return nil
			})
			i := uint64(1)
			for ; ; i++ {
				_, err := l.Append(content(i))
				if fail {
					require.ErrorIs(t, err, errInjected)
					assert.NotErrorIs(t, err, wal.ErrFailed)
					break
				}
				require.NoError(t, err)
			}
			assert.Equal(t, i-1, l.Last(), "nothing written")
			assert.Len(t, segments(t, dir), 1, "the new segment is gone")
			tmp, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
			require.NoError(t, err)
			for _, name := range tmp {
				assert.Contains(t, filepath.Base(name), "spare-", "only the pipeline's next spare may be there")
			}
			wal.SetFault(l, nil)
			appendN(t, l, i, i+2)
			require.NoError(t, l.Close())
			l = open(t, dir, opts)
			assert.Equal(t, seq(1, i+2), readAll(t, l, 0))
		})
	}
}
