package wal_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/userprops/userprops/internal/wal"
)

// FuzzOpen feeds arbitrary bytes to Open as the only segment of a log. Open
// must not panic; it either fails, or yields exactly the records the tests'
// own decoder finds at the start of the segment (all of which pass their
// checksum), and the log it leaves opens again with the same records and
// takes an Append.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	l, err := wal.Open(dir, wal.Options{SegmentSize: 1024})
	if err != nil {
		f.Fatal(err)
	}
	for i := uint64(1); i <= 3; i++ {
		if _, err := l.Append(content(i)[:10*i]); err != nil {
			f.Fatal(err)
		}
	}
	l.Close()
	img, err := os.ReadFile(filepath.Join(dir, "0000000000000001.wal"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(img)
	f.Add(img[:100])
	f.Add(img[:segHeader])
	f.Add(append(slices.Clone(img[:segHeader]), frame(1, []byte("x"))...))
	f.Add([]byte{})

	const name = "0000000000000001.wal"
	opts := wal.Options{SegmentSize: 1024}
	f.Fuzz(func(t *testing.T, seg []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := wal.Open(dir, opts)
		if err != nil {
			if !errors.Is(err, wal.ErrCorrupt) {
				t.Fatalf("Open: %v, want an error wrapping ErrCorrupt", err)
			}
			return
		}
		var want [][]byte
		if len(seg) >= segHeader && binary.LittleEndian.Uint64(seg[8:]) == 1 {
			for _, r := range decodeSegment(seg) {
				want = append(want, r.data)
			}
		}
		read := func(l *wal.Log) [][]byte {
			var got [][]byte
			if err := l.Read(0, func(_ uint64, data []byte) error {
				got = append(got, slices.Clone(data))
				return nil
			}); err != nil {
				t.Fatalf("Read: %v", err)
			}
			return got
		}
		if got := read(l); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("Open yields %d records, the decoder %d", len(got), len(want))
		}
		if err := l.Check(); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if _, err := l.Append([]byte("new")); err != nil {
			t.Fatalf("Append: %v", err)
		}
		l.Close()
		l, err = wal.Open(dir, opts)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer l.Close()
		if got := read(l); !slices.EqualFunc(got, append(want, []byte("new")), slices.Equal) {
			t.Fatalf("second Open yields %d records, want %d", len(got), len(want)+1)
		}
	})
}
