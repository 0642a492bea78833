package wal_test

import (
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/wal"
)

// sized is the deterministic record the direct-I/O tests write as index i:
// 1 byte to 12 KiB, so that records start and end anywhere in a 4 KiB
// block and some span several blocks.
func sized(i uint64) []byte {
	r := rand.New(rand.NewPCG(i, 0xd1ec7))
	n := 1 + r.IntN(600)
	if r.IntN(8) == 0 {
		n = 1 + r.IntN(12<<10)
	}
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// A direct write rewrites the start of its first block, where earlier
// records lie. Records of every size and alignment, across segments,
// reopens (which take the block's start from the file) and failed appends
// (whose cut goes through the page cache), all read back as acknowledged,
// and every segment decodes by the format alone with zeros after its last
// record.
func TestLog_DirectWrites(t *testing.T) {
	dir := t.TempDir()
	opts := wal.Options{SegmentSize: 64 << 10}
	l, err := wal.Open(dir, opts)
	require.NoError(t, err)
	if !wal.Direct(l) {
		l.Close()
		t.Skipf("the file system of %s takes no direct I/O", dir)
	}
	var acked [][]byte // by index - 1
	fail := func(op string) func(string) error {
		return func(o string) error {
			if o == op {
				return errInjected
			}
			return nil
		}
	}
	for n := 1; n <= 600; n++ {
		switch {
		case n%50 == 0:
			require.NoError(t, l.Close())
			l, err = wal.Open(dir, opts)
			require.NoError(t, err)
			require.True(t, wal.Direct(l), "direct I/O after a reopen")
		case n%37 == 0 || n%41 == 0:
			op := "sync"
			if n%41 == 0 {
				op = "direct"
			}
			wal.SetFault(l, fail(op))
			_, err := l.Append(sized(uint64(1000 + n)))
			require.ErrorIs(t, err, errInjected, "Append with a failing %s", op)
			wal.SetFault(l, nil)
		}
		rec := sized(uint64(len(acked) + 1))
		i, err := l.Append(rec)
		require.NoError(t, err, "Append(%d)", len(acked)+1)
		require.Equal(t, uint64(len(acked)+1), i)
		acked = append(acked, rec)
	}
	require.NoError(t, l.Check())
	require.NoError(t, l.Close())

	l = open(t, dir, opts)
	var got uint64
	require.NoError(t, l.Read(0, func(index uint64, data []byte) error {
		got++
		require.Equal(t, got, index)
		require.True(t, slices.Equal(acked[index-1], data), "record %d", index)
		return nil
	}))
	require.Equal(t, uint64(len(acked)), got)

	// By the format alone: each segment holds a run of valid records, then
	// zeros to its end.
	var decodedCount int
	for _, name := range segments(t, dir) {
		img, err := os.ReadFile(dir + "/" + name)
		require.NoError(t, err)
		recs := decodeSegment(img)
		require.NotEmpty(t, recs, name)
		for _, r := range recs {
			require.True(t, slices.Equal(acked[r.index-1], r.data), "%s: record %d", name, r.index)
		}
		decodedCount += len(recs)
		end := recs[len(recs)-1].end
		assert.Equal(t, -1, slices.IndexFunc(img[end:], func(b byte) bool { return b != 0 }), "%s: bytes after its last record", name)
	}
	assert.Equal(t, len(acked), decodedCount, "records in the segments")
}

// A direct write refused as unaligned (EINVAL: a file system that takes no
// direct writes of this alignment, or a file size limit that cut it short)
// goes through the page cache instead; the next record is written directly
// again.
func TestLog_DirectRefused(t *testing.T) {
	dir := t.TempDir()
	opts := wal.Options{SegmentSize: 8 << 10}
	l := open(t, dir, opts)
	if !wal.Direct(l) {
		t.Skipf("the file system of %s takes no direct I/O", dir)
	}
	appendN(t, l, 1, 3)
	var ops []string
	wal.SetFault(l, func(op string) error {
		ops = append(ops, op)
		if op == "direct" && len(ops) < 10 {
			return syscall.EINVAL
		}
		return nil
	})
	appendN(t, l, 4, 40)
	assert.Equal(t, []string{"write", "direct", "sync", "write", "direct", "sync"}, ops[:6], "each refused record is synced all the same")
	assert.True(t, wal.Direct(l), "direct I/O after a refusal")
	require.GreaterOrEqual(t, len(segments(t, dir)), 2, "40 records of up to 700 bytes in 8 KiB segments")
	require.NoError(t, l.Check())
	require.NoError(t, l.Close())
	l = open(t, dir, opts)
	assert.Equal(t, seq(1, 40), readAll(t, l, 0))
}
