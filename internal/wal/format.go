package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// On-disk format.
//
// A log is a directory of segment files named %016x.wal after the index of
// their first record, so that they sort by name. Spare segments being made
// are named *.tmp; Open removes them.
//
// A segment starts with a 24-byte header:
//
//	[0:8]   magic "UPWAL\x00v1"
//	[8:16]  index of the segment's first record, little endian
//	[16:20] CRC-32C (Castagnoli) of bytes [0:16]
//	[20:24] zero
//
// Records follow from offset 24, each 8-byte aligned:
//
//	[0:4]   length of data, little endian
//	[4:8]   CRC-32C of index (8 bytes LE) || length (4 bytes LE) || data
//	[8:16]  index, little endian
//	[16:16+length] data
//	then zero padding to a multiple of 8
//
// Indexes start at 1 and the records of a segment have consecutive indexes,
// and a segment's first index follows the last record of the segment before it.
// The rest of a segment after its last record is zeros (it was zero-filled
// before use). Zeros never parse as a record: index 0 is never valid and the
// CRC-32C of twelve zero bytes is not zero.

const (
	segHeaderSize = 24
	recHeaderSize = 16
	segSuffix     = ".wal"
	tmpSuffix     = ".tmp"

	// MaxRecord is the largest record Append accepts, in bytes.
	MaxRecord = 1 << 30
)

var (
	segMagic = [8]byte{'U', 'P', 'W', 'A', 'L', 0, 'v', '1'}
	castagn  = crc32.MakeTable(crc32.Castagnoli)
)

// segName is the file name of the segment whose first record is first.
func segName(first uint64) string { return fmt.Sprintf("%016x%s", first, segSuffix) }

// parseSegName returns the first index a segment file name carries.
func parseSegName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil || segName(n) != name {
		return 0, false
	}
	return n, true
}

// encodeSegHeader returns the header of a segment starting at first.
func encodeSegHeader(first uint64) []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic[:])
	binary.LittleEndian.PutUint64(h[8:], first)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], castagn))
	return h
}

// checkSegHeader reports whether data starts with a valid header for first.
func checkSegHeader(data []byte, first uint64) error {
	if len(data) < segHeaderSize {
		return fmt.Errorf("segment header: %d bytes, want %d", len(data), segHeaderSize)
	}
	if [8]byte(data[:8]) != segMagic {
		return fmt.Errorf("segment header: bad magic %q", data[:8])
	}
	if got, want := binary.LittleEndian.Uint32(data[16:]), crc32.Checksum(data[:16], castagn); got != want {
		return fmt.Errorf("segment header: checksum %08x, want %08x", got, want)
	}
	if got := binary.LittleEndian.Uint64(data[8:]); got != first {
		return fmt.Errorf("segment header: first index %d, want %d (its name)", got, first)
	}
	if binary.LittleEndian.Uint32(data[20:]) != 0 {
		return fmt.Errorf("segment header: reserved bytes not zero")
	}
	return nil
}

// frameSize is the space a record of n data bytes takes.
func frameSize(n int) int64 { return recHeaderSize + int64(pad8(n)) }

func pad8(n int) int { return (n + 7) &^ 7 }

// recordCRC is the checksum of a record.
func recordCRC(index uint64, data []byte) uint32 {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], index)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(data)))
	return crc32.Update(crc32.Checksum(b[:], castagn), castagn, data)
}

// appendFrame appends the frame of record index to buf.
func appendFrame(buf []byte, index uint64, data []byte) []byte {
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[4:], recordCRC(index, data))
	binary.LittleEndian.PutUint64(h[8:], index)
	buf = append(buf, h[:]...)
	buf = append(buf, data...)
	for range pad8(len(data)) - len(data) {
		buf = append(buf, 0)
	}
	return buf
}

// recordAt parses the record at off in a segment image. It returns the
// record's index, data and frame size, or ok false if no whole valid record
// (length in bounds, checksum, zero padding) starts there.
func recordAt(img []byte, off int) (index uint64, data []byte, size int, ok bool) {
	if off < 0 || len(img)-off < recHeaderSize {
		return 0, nil, 0, false
	}
	h := img[off : off+recHeaderSize]
	n := int(binary.LittleEndian.Uint32(h[0:]))
	index = binary.LittleEndian.Uint64(h[8:])
	if index == 0 || n > MaxRecord || n > len(img)-off-recHeaderSize {
		return 0, nil, 0, false
	}
	size = recHeaderSize + pad8(n)
	if size > len(img)-off {
		return 0, nil, 0, false
	}
	data = img[off+recHeaderSize : off+recHeaderSize+n]
	if binary.LittleEndian.Uint32(h[4:]) != recordCRC(index, data) {
		return 0, nil, 0, false
	}
	for _, b := range img[off+recHeaderSize+n : off+size] {
		if b != 0 {
			return 0, nil, 0, false
		}
	}
	return index, data, size, true
}

// scanSegment reads the records of a segment image whose header is valid:
// it returns how many consecutive valid records, numbered from first, follow
// the header, and the offset just after the last of them.
func scanSegment(img []byte, first uint64) (count uint64, end int) {
	end = segHeaderSize
	for {
		index, _, size, ok := recordAt(img, end)
		if !ok || index != first+count {
			return count, end
		}
		count++
		end += size
	}
}

// laterRecord reports whether a valid record with an index ≥ min starts at
// an 8-aligned offset after off: the sign that a bad record at off is
// damage in the middle of the log, not a torn tail.
func laterRecord(img []byte, off int, min uint64) (int, bool) {
	for p := off + 8; len(img)-p >= recHeaderSize; p += 8 {
		if binary.LittleEndian.Uint64(img[p+8:]) < min {
			continue
		}
		if _, _, _, ok := recordAt(img, p); ok {
			return p, true
		}
	}
	return 0, false
}

// lastNonZero returns the offset after the last non-zero byte of b, or 0.
func lastNonZero(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i + 1
		}
	}
	return 0
}
