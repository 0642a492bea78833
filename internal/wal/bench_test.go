package wal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/userprops/userprops/internal/wal"
)

// BenchmarkAppend measures Append of one record with one fdatasync per
// call, beside a raw baseline of the same bytes written by hand in the same
// run:
//
//	wal            Append into zero-filled segments made ahead (the default), with direct I/O
//	wal-cached     the same through the page cache (NoDirect)
//	wal-grow       Append with NoPrealloc: segments grow by appending
//	raw-zeroed     WriteAt + fdatasync (the log's own) into a plain file zero-filled and synced beforehand
//	raw-grow       Write + fdatasync at the end of a plain file that grows
//
// Besides ns/op and MB/s it reports the latency percentiles of the calls.
// Run with: go test -run '^$' -bench Append -benchtime 2000x ./internal/wal/
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{512, 8 << 10} {
		rec := make([]byte, size)
		for i := range rec {
			rec[i] = byte(i * 7)
		}
		// The raw cases write what a record takes on disk: 16 bytes of header.
		frameLen := 16 + (size+7)&^7
		b.Run(fmt.Sprintf("size=%d/wal", size), func(b *testing.B) {
			benchWAL(b, rec, wal.Options{})
		})
		b.Run(fmt.Sprintf("size=%d/wal-cached", size), func(b *testing.B) {
			benchWAL(b, rec, wal.Options{NoDirect: true})
		})
		b.Run(fmt.Sprintf("size=%d/wal-grow", size), func(b *testing.B) {
			benchWAL(b, rec, wal.Options{NoPrealloc: true})
		})
		b.Run(fmt.Sprintf("size=%d/raw-zeroed", size), func(b *testing.B) {
			benchRaw(b, frameLen, true)
		})
		b.Run(fmt.Sprintf("size=%d/raw-grow", size), func(b *testing.B) {
			benchRaw(b, frameLen, false)
		})
	}
}

func benchWAL(b *testing.B, rec []byte, opts wal.Options) {
	l, err := wal.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	time.Sleep(500 * time.Millisecond) // let the first spare segment be made and synced
	lat := make([]time.Duration, b.N)
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func benchRaw(b *testing.B, frameLen int, zeroed bool) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if zeroed {
		zeros := make([]byte, 1<<20)
		for off, n := int64(0), int64(b.N*frameLen); off < n; off += int64(len(zeros)) {
			if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), n-off)], off); err != nil {
				b.Fatal(err)
			}
		}
		if err := wal.Datasync(f); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, frameLen)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	lat := make([]time.Duration, b.N)
	b.SetBytes(int64(frameLen - 16))
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if zeroed {
			_, err = f.WriteAt(buf, int64(i*frameLen))
		} else {
			_, err = f.Write(buf)
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := wal.Datasync(f); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// reportLatency reports the 50th, 90th and 99th percentile of lat in µs.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.90), "p90-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
