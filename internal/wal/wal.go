// Package wal is a write-ahead log of opaque records in segment files, for
// the bolt store to put in front of bbolt: the committer appends one record
// per group of writes and acknowledges the writers once Append returns, an
// applier later writes the records into bbolt and releases them.
//
// Records are numbered from 1 (or Options.FirstIndex) without gaps and an
// index is never reused for a different acknowledged record. Append returns
// after the record is on stable storage (one fdatasync per call). Open checks
// every record; a record torn by a crash at the end of the log is cut away,
// any other damage is reported as ErrCorrupt. The on-disk format is described
// in format.go.
//
// One process at a time may open a directory; the caller provides the lock
// (the bolt store holds the bbolt file's lock).
package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

var (
	// ErrCorrupt is returned by Open, Read and Check when the log holds a
	// damaged record or header, other than a torn tail, or when a segment
	// is missing or out of sequence.
	ErrCorrupt = errors.New("wal: corrupt")

	// ErrFailed is returned by Append after a write or sync of a record
	// failed and the log could not be cut back durably to where that record
	// began: what is on disk is then unknown, and the log takes no more
	// records until it is closed and opened again.
	ErrFailed = errors.New("wal: failed")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("wal: closed")
)

// DefaultSegmentSize is the size of a segment file when Options.SegmentSize is 0.
const DefaultSegmentSize = 4 << 20

// minSegmentSize keeps a segment big enough for its header and a small record.
const minSegmentSize = 256

// Options configure Open. The zero value is the default.
type Options struct {
	// SegmentSize is the size in bytes of a segment file, DefaultSegmentSize
	// if 0, and at least 256. A record that does not fit in an empty segment
	// gets a segment of its own, its size rounded up to 4 KiB.
	SegmentSize int64

	// NoPrealloc makes segments grow by appending instead of being
	// zero-filled ahead of use. Every fdatasync then also persists a new file
	// size: on ext4 here that made the median Append about 50% slower
	// (BenchmarkAppend). It exists to measure that; do not use it in
	// production.
	NoPrealloc bool

	// NoDirect makes records go through the page cache, as with
	// NoPrealloc, instead of being written with direct I/O (see
	// writeDirect). It exists to measure the difference (BenchmarkAppend,
	// wal-cached); do not use it in production.
	NoDirect bool

	// FirstIndex is the index of the first record of a log created by Open
	// in a directory that holds none, 1 if 0. It lets a caller that lost the
	// log directory start above the last index it has applied, so that
	// indexes are not reused. It is ignored when the log exists.
	FirstIndex uint64
}

// segment is one segment file of the log.
type segment struct {
	first uint64 // index of its first record
	path  string
}

// A Log is a write-ahead log in a directory.
//
// All methods are safe for concurrent use. Appends are serialized (the log
// is meant for one committer); Release, Read, Check, First and Last may run
// at the same time as an Append and as each other, so an applier can release
// while the committer appends. Close waits for an Append in progress.
type Log struct {
	dir  string
	opts Options

	// writeMu serializes Append and Close and guards the active segment.
	writeMu sync.Mutex
	f       *os.File // the active segment, open for writing
	off     int64    // where the next record goes in f
	cap     int64    // bytes f may hold
	buf     []byte   // frame being written
	// direct is the active segment opened again for direct I/O (see
	// writeDirect), nil where the system or the file system lacks it;
	// tail holds the bytes of f's block at off before off, and dbuf is
	// the aligned buffer a direct write is made from.
	direct *os.File
	tail   [directBlock]byte
	dbuf   []byte
	pipe   *pipeline
	failed error                 // why the log takes no more records
	fault  func(op string) error // for tests: see export_test.go

	// relMu serializes Release.
	relMu sync.Mutex

	// mu guards the fields below; it is held only briefly.
	mu     sync.Mutex
	segs   []segment // oldest first; the last is the active one
	first  uint64    // first record held: above every released index
	last   uint64    // last record appended; first-1 if there are none
	closed bool
}

// Open opens the log in directory dir, creating the directory (mode 0700)
// and a first segment (mode 0600) if there is none. It reads every segment
// and checks every record. A torn tail, that is a record in the last segment
// that fails its length or checksum with no valid record of a higher index
// after it in that segment, is cut away: the rest of the segment is zeroed
// (truncated with NoPrealloc) and synced before Open returns, so that new
// records never land behind garbage. Any other bad record, bad header, or
// segment missing from the sequence makes Open return an error wrapping
// ErrCorrupt.
//
// Records released before a crash may be held again after Open (Release
// removes whole segments only); the caller skips them by index.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize == 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentSize < minSegmentSize {
		return nil, fmt.Errorf("wal: segment size %d is below %d", opts.SegmentSize, minSegmentSize)
	}
	if opts.FirstIndex == 0 {
		opts.FirstIndex = 1
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	l := &Log{dir: dir, opts: opts}
	if err := l.load(); err != nil {
		return nil, err
	}
	if !opts.NoPrealloc {
		l.pipe = &pipeline{dir: dir, size: opts.SegmentSize}
		l.pipe.start()
	}
	return l, nil
}

// load lists the segments, checks them, cuts a torn tail and opens the
// last segment for writing (creating a first one in an empty log).
func (l *Log) load() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	removed := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return fmt.Errorf("wal: removing spare segment: %w", err)
			}
			removed = true
			continue
		}
		if first, ok := parseSegName(name); ok && e.Type().IsRegular() {
			l.segs = append(l.segs, segment{first: first, path: filepath.Join(l.dir, name)})
		}
	}
	if removed {
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	slices.SortFunc(l.segs, func(a, b segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	if len(l.segs) == 0 {
		l.first, l.last = l.opts.FirstIndex, l.opts.FirstIndex-1
		return l.newSegment(l.opts.SegmentSize)
	}

	next := l.segs[0].first // first index the next segment must start with
	for i, s := range l.segs {
		if s.first != next {
			return fmt.Errorf("%w: segment %s starts at index %d, want %d (a segment is missing or out of sequence)",
				ErrCorrupt, filepath.Base(s.path), s.first, next)
		}
		img, err := os.ReadFile(s.path)
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		if err := checkSegHeader(img, s.first); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(s.path), err)
		}
		count, end := scanSegment(img, s.first)
		next = s.first + count
		tail := lastNonZero(img[end:])
		if i < len(l.segs)-1 {
			if tail != 0 {
				return fmt.Errorf("%w: %s: bad record %d at offset %d", ErrCorrupt, filepath.Base(s.path), next, end)
			}
			continue
		}
		if tail != 0 {
			if at, ok := laterRecord(img, end, next); ok {
				return fmt.Errorf("%w: %s: bad record %d at offset %d, followed by a valid record at offset %d",
					ErrCorrupt, filepath.Base(s.path), next, end, at)
			}
		}
		if err := l.openActive(s.path, img, int64(end), int64(tail)); err != nil {
			return err
		}
	}
	l.first, l.last = l.segs[0].first, next-1
	return nil
}

// openActive opens the last segment for writing at end, after cutting the
// torn tail of tail bytes that follows end, if any.
func (l *Log) openActive(path string, img []byte, end, tail int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if tail != 0 {
		if err := l.cut(f, end, tail); err != nil {
			f.Close()
			return fmt.Errorf("wal: cutting the torn tail of %s at offset %d: %w", filepath.Base(path), end, err)
		}
	}
	l.f, l.off = f, end
	l.cap = int64(len(img))
	if l.opts.NoPrealloc {
		l.cap = max(l.cap, l.opts.SegmentSize)
	} else {
		l.openDirect(path, img[end&^(directBlock-1):end])
	}
	return nil
}

// cut durably removes the n bytes after off in f: it zeroes them (truncates
// the file with NoPrealloc) and fdatasyncs.
func (l *Log) cut(f *os.File, off, n int64) error {
	if err := l.faultAt("cutwrite"); err != nil {
		return err
	}
	if l.opts.NoPrealloc {
		if err := f.Truncate(off); err != nil {
			return err
		}
	} else {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			if _, err := f.WriteAt(zeros[:k], off); err != nil {
				return err
			}
			off, n = off+k, n-k
		}
	}
	if err := l.faultAt("cutsync"); err != nil {
		return err
	}
	if err := datasync(f); err != nil {
		return fmt.Errorf("fdatasync: %w", err)
	}
	return nil
}

// newSegment makes a new active segment of size bytes starting at index
// l.last+1: a spare from the pipeline, or one made now, zero-filled and
// synced; then it writes the header, syncs, renames the file into place and
// syncs the directory. On failure nothing is left of the new segment and the
// old one stays active, except if the removal of the renamed file cannot be
// synced: then the log is failed.
func (l *Log) newSegment(size int64) error {
	first := l.last + 1
	path := filepath.Join(l.dir, segName(first))
	var s spare
	switch {
	case l.opts.NoPrealloc:
		tmp := filepath.Join(l.dir, "grow"+tmpSuffix)
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("wal: new segment: %w", err)
		}
		s = spare{f: f, path: tmp, size: max(size, l.opts.SegmentSize)}
	case size == l.opts.SegmentSize && l.pipe != nil:
		var err error
		if s, err = l.pipe.take(); err != nil {
			return fmt.Errorf("wal: new segment: %w", err)
		}
	default:
		n := 0
		if l.pipe != nil {
			l.pipe.n++
			n = l.pipe.n
		}
		if s = makeSpare(filepath.Join(l.dir, fmt.Sprintf("new-%d%s", n, tmpSuffix)), size); s.err != nil {
			return fmt.Errorf("wal: new segment: %w", s.err)
		}
	}
	discard := func() {
		s.f.Close()
		os.Remove(s.path)
	}
	if _, err := s.f.WriteAt(encodeSegHeader(first), 0); err != nil {
		discard()
		return fmt.Errorf("wal: new segment: %w", err)
	}
	if err := l.faultAt("segsync"); err != nil {
		discard()
		return fmt.Errorf("wal: new segment: fdatasync: %w", err)
	}
	if err := datasync(s.f); err != nil {
		discard()
		return fmt.Errorf("wal: new segment: fdatasync: %w", err)
	}
	if err := os.Rename(s.path, path); err != nil {
		discard()
		return fmt.Errorf("wal: new segment: %w", err)
	}
	err := l.faultAt("dirsync")
	if err == nil {
		err = syncDir(l.dir)
	}
	if err != nil {
		s.f.Close()
		if rerr := os.Remove(path); rerr != nil || syncDir(l.dir) != nil {
			l.failed = fmt.Errorf("new segment %s may or may not exist: %w", segName(first), err)
		}
		return fmt.Errorf("wal: new segment: %w", err)
	}
	// Reopen under the new name, which errors then carry.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		f = s.f
	} else {
		s.f.Close()
	}
	l.closeActive()
	l.f, l.off, l.cap = f, segHeaderSize, s.size
	if !l.opts.NoPrealloc {
		l.openDirect(path, encodeSegHeader(first))
	}
	l.mu.Lock()
	l.segs = append(l.segs, segment{first: first, path: path})
	l.mu.Unlock()
	return nil
}

// syncDir fsyncs directory dir, making the creation, renaming and removal of
// its entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: syncing directory %s: %w", dir, err)
	}
	return nil
}

func (l *Log) faultAt(op string) error {
	if l.fault == nil {
		return nil
	}
	return l.fault(op)
}

// First returns the index of the first record the log holds. The log is
// empty when First() == Last()+1: a new log has First 1 (Options.FirstIndex)
// and Last 0, and after Release(Last()) the log is empty with Last unchanged,
// so an index is never given twice. After Open, First may be lower than the
// last released index + 1, because Release removes whole segments only.
func (l *Log) First() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// Last returns the index of the last record appended (First()-1 if the log
// is empty). The next Append gets Last()+1.
func (l *Log) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Append writes data as record Last()+1, fdatasyncs the segment and returns
// the record's index: when Append returns nil the record is on stable
// storage. It makes one fdatasync per call; a call that fills the active
// segment moves to a new one, normally made ahead in the background. Append
// does not keep data.
//
// If the new segment cannot be made (a full disk, the file size limit),
// Append returns the error and writes nothing; a later Append tries again.
// If the write or the sync of the record fails, Append returns the error and
// cuts the segment back to where the record began, durably, so that a
// reopened log does not hold a record reported as failed; a failed sync is
// never retried. If that cut cannot be made durable either, the log is
// failed: this and every later Append returns an error wrapping ErrFailed
// until the log is closed and opened again.
func (l *Log) Append(data []byte) (uint64, error) {
	if len(data) > MaxRecord {
		return 0, fmt.Errorf("wal: record of %d bytes is over the limit of %d", len(data), MaxRecord)
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.f == nil {
		return 0, ErrClosed
	}
	if l.failed != nil {
		return 0, fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	size := frameSize(len(data))
	if l.off+size > l.cap {
		segSize := l.opts.SegmentSize
		if segHeaderSize+size > segSize {
			segSize = (segHeaderSize + size + 4095) &^ 4095
		}
		if err := l.newSegment(segSize); err != nil {
			if l.failed != nil {
				return 0, fmt.Errorf("%w: %w", ErrFailed, err)
			}
			return 0, err
		}
	}
	index := l.last + 1
	l.buf = appendFrame(l.buf[:0], index, data)
	if written, err := l.write(l.buf); err != nil {
		// Zero what the write may have changed (not beyond: under a file
		// size limit, the bytes past it could not be written, nor zeroed).
		if written == 0 {
			return 0, fmt.Errorf("wal: record %d: %w", index, err)
		}
		if cerr := l.cut(l.f, l.off, int64(written)); cerr != nil {
			l.failed = fmt.Errorf("record %d: %w; cutting it back: %w", index, err, cerr)
			return 0, fmt.Errorf("%w: %w", ErrFailed, l.failed)
		}
		return 0, fmt.Errorf("wal: record %d: %w", index, err)
	}
	l.off += size
	l.mu.Lock()
	l.last = index
	l.mu.Unlock()
	if len(l.buf) > 1<<20 {
		l.buf = nil
	}
	return index, nil
}

// write writes frame at l.off and fdatasyncs it. It returns how many bytes
// of the frame may have reached the file.
func (l *Log) write(frame []byte) (int, error) {
	if err := l.faultAt("write"); err != nil {
		n, _ := l.f.WriteAt(frame[:len(frame)/2], l.off) // a short write, then the error
		return n, err
	}
	f, n, err := l.writeDirect(frame)
	if f == nil {
		f = l.f
		n, err = writeAt(l.f, frame, l.off)
	}
	if err != nil {
		return n, err
	}
	if err := l.faultAt("sync"); err != nil {
		return len(frame), err
	}
	if err := datasync(f); err != nil {
		return len(frame), fmt.Errorf("fdatasync %s: %w", f.Name(), err)
	}
	l.keepTail(frame)
	return len(frame), nil
}

// directBlock is the size and alignment of a direct write: the largest
// logical block of a common disk, so that it suits every smaller one too.
const directBlock = 4096

// openDirect opens the active segment at path a second time, for direct
// I/O, with tail as the bytes of its block at l.off before l.off. Where the
// system or the file system refuses, l.direct stays nil and records are
// written through the page cache.
func (l *Log) openDirect(path string, tail []byte) {
	if !l.opts.NoDirect {
		l.direct = openDirectFile(path)
	}
	copy(l.tail[:], tail)
}

// closeActive closes the active segment's files.
func (l *Log) closeActive() error {
	var err error
	if l.direct != nil {
		err = l.direct.Close()
		l.direct = nil
	}
	if l.f != nil {
		err = errors.Join(l.f.Close(), err)
	}
	return err
}

// writeDirect writes frame at l.off through l.direct, bypassing the page
// cache: it writes the whole blocks that frame touches, the bytes before
// l.off in the first (l.tail, what is there already: rewriting them leaves
// the records there intact whatever part of the write reaches the disk)
// and zeros after the frame in the last (what a segment holds after its
// last record). The fdatasync that follows then has no dirty pages to
// write back, only the disk's cache to flush: on ext4 here that made an
// Append of 512 bytes 7% faster than through the cache, of 8 KiB 1-4%
// (BenchmarkAppend, wal against wal-cached, 6 alternating runs).
//
// It returns the file to sync and how many bytes of the frame may have
// reached the file, or a nil file if the frame must be written through the
// cache instead: without direct I/O, for a frame over directMax (which
// would need as big an aligned copy), when the last block would reach past
// the segment's size, or when the write was refused as unaligned (EINVAL:
// a file system that takes no direct writes of this alignment, or a file
// size limit that cut the write to an unaligned length).
func (l *Log) writeDirect(frame []byte) (*os.File, int, error) {
	if l.direct == nil || len(frame) > directMax {
		return nil, 0, nil
	}
	start := l.off &^ (directBlock - 1)
	end := (l.off + int64(len(frame)) + directBlock - 1) &^ (directBlock - 1)
	if end > l.cap {
		return nil, 0, nil
	}
	size := int(end - start)
	if cap(l.dbuf) < size {
		l.dbuf = alignedBuffer(max(size, 64<<10))
	}
	buf := l.dbuf[:size]
	head := copy(buf, l.tail[:l.off-start])
	clear(buf[head+copy(buf[head:], frame):])
	n, err := 0, l.faultAt("direct")
	if err == nil {
		n, err = writeAt(l.direct, buf, start)
	}
	if cap(l.dbuf) > 1<<20 {
		l.dbuf = nil
	}
	switch {
	case err == nil || n >= head+len(frame):
		// A write that failed past the frame (a file size limit inside
		// the zeros after it) wrote the whole record: those zeros were
		// there already.
		return l.direct, len(frame), nil
	case n == 0 && errors.Is(err, syscall.EINVAL):
		return nil, 0, nil
	case errors.Is(err, syscall.EFBIG):
		// The file size limit is checked before any I/O: the n bytes
		// written are all there is.
		return l.direct, max(0, n-head), err
	}
	// Any block of the failed call may have reached the disk.
	return l.direct, len(frame), err
}

// directMax is the largest frame written with direct I/O.
const directMax = 4 << 20

// keepTail keeps in l.tail the bytes of the block at the end of frame,
// written at l.off, that come before that end.
func (l *Log) keepTail(frame []byte) {
	end := l.off + int64(len(frame))
	start := end &^ (directBlock - 1)
	if start >= l.off {
		copy(l.tail[:], frame[start-l.off:])
	} else {
		copy(l.tail[l.off-start:], frame)
	}
}

// alignedBuffer returns n bytes whose start is aligned to directBlock.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directBlock)
	skip := int(-uintptr(unsafe.Pointer(&b[0])) & (directBlock - 1))
	return b[skip : skip+n : skip+n]
}

// Release drops the records up to and including upTo: First() becomes
// upTo+1 and Read no longer returns them. It removes, oldest first, the
// segment files whose records are all ≤ upTo, syncing the directory after
// each, so that a crash leaves an unbroken sequence; it never removes the
// active segment. Records ≤ upTo that remain in a segment still in use come
// back after a crash or reopen; the caller skips them by index.
//
// Release of an index below First() is a no-op; above Last() it is an error.
func (l *Log) Release(upTo uint64) error {
	l.relMu.Lock()
	defer l.relMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if upTo > l.last {
		last := l.last
		l.mu.Unlock()
		return fmt.Errorf("wal: release up to %d, beyond the last record %d", upTo, last)
	}
	l.first = max(l.first, upTo+1)
	var drop []segment
	for len(l.segs) > 1 && l.segs[1].first-1 <= upTo {
		drop = append(drop, l.segs[0])
		l.segs = l.segs[1:]
	}
	l.mu.Unlock()
	for i, s := range drop {
		err := os.Remove(s.path)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err == nil {
			err = syncDir(l.dir)
		}
		if err != nil {
			// Put back the segments not (surely) removed, so that a later
			// Release removes them, in order.
			l.mu.Lock()
			l.segs = append(slices.Clone(drop[i:]), l.segs...)
			l.mu.Unlock()
			return fmt.Errorf("wal: release: %w", err)
		}
	}
	return nil
}

// snapshot returns the segments holding records First().. and First, Last.
func (l *Log) snapshot() ([]segment, uint64, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, 0, 0, ErrClosed
	}
	return slices.Clone(l.segs), l.first, l.last, nil
}

// Read calls fn for each record with index > after, up to the Last() of
// when Read began, in index order; it starts at First() if after < First()-1
// (those records were released: a caller that expects them should compare
// its index with First()). data is valid only during the call to fn, and fn
// must not modify it. Read checks every record it returns and returns an
// error wrapping ErrCorrupt at a bad one; it stops at and returns the first
// error from fn. Records released while Read runs may be skipped. Read holds
// no lock while fn runs, so fn may call any method.
func (l *Log) Read(after uint64, fn func(index uint64, data []byte) error) error {
	segs, first, last, err := l.snapshot()
	if err != nil {
		return err
	}
	from := max(after+1, first)
	var buf []byte
	for i, s := range segs {
		end := last // last index to read in s
		if i+1 < len(segs) {
			end = min(end, segs[i+1].first-1)
		}
		if end < from || end < s.first {
			continue
		}
		if buf, err = readSegment(s, from, end, buf, fn); err != nil {
			if errors.Is(err, fs.ErrNotExist) && l.released(s) {
				continue
			}
			return err
		}
	}
	return nil
}

// released reports whether segment s has been dropped by Release.
func (l *Log) released(s segment) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.segs) == 0 || l.segs[0].first > s.first
}

// readSegment calls fn for the records from..end of segment s, which must
// hold them all, reading them into buf.
func readSegment(s segment, from, end uint64, buf []byte, fn func(uint64, []byte) error) ([]byte, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return buf, fmt.Errorf("wal: read: %w", err)
	}
	defer f.Close()
	name := filepath.Base(s.path)
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, name, fmt.Sprintf(format, args...))
	}
	r := &offsetReader{r: f}
	hdr := make([]byte, segHeaderSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return buf, corrupt("reading header: %v", err)
	}
	if err := checkSegHeader(hdr, s.first); err != nil {
		return buf, corrupt("%v", err)
	}
	for index := s.first; index <= end; index++ {
		off := r.off
		if cap(buf) < recHeaderSize {
			buf = make([]byte, 64<<10)
		}
		buf = buf[:recHeaderSize]
		if _, err := io.ReadFull(r, buf); err != nil {
			return buf, corrupt("record %d at offset %d: %v", index, off, err)
		}
		n := int(le32(buf))
		if n > MaxRecord {
			return buf, corrupt("record %d at offset %d: length %d", index, off, n)
		}
		size := recHeaderSize + pad8(n)
		buf = slices.Grow(buf, size-len(buf))[:size]
		if _, err := io.ReadFull(r, buf[recHeaderSize:]); err != nil {
			return buf, corrupt("record %d at offset %d: %v", index, off, err)
		}
		got, data, _, ok := recordAt(buf, 0)
		if !ok || got != index {
			return buf, corrupt("bad record %d at offset %d", index, off)
		}
		if index < from {
			continue
		}
		if err := fn(index, data); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// offsetReader reads a file sequentially through a buffer, keeping count of
// the offset it has reached.
type offsetReader struct {
	r    io.Reader
	buf  [64 << 10]byte
	i, n int
	off  int64
}

func (r *offsetReader) Read(p []byte) (int, error) {
	if r.i == r.n {
		if len(p) >= len(r.buf) {
			n, err := r.r.Read(p)
			r.off += int64(n)
			return n, err
		}
		n, err := r.r.Read(r.buf[:])
		if n == 0 {
			return 0, err
		}
		r.i, r.n = 0, n
	}
	n := copy(p, r.buf[r.i:r.n])
	r.i += n
	r.off += int64(n)
	return n, nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Check reads every segment the log holds and verifies its header, every
// record, the sequence of indexes across segments, and that the space after
// the last record of each full segment is zeros. The active segment is
// checked up to the Last() of when Check began. Problems are returned as an
// error wrapping ErrCorrupt. Check may run during Appends and Releases.
func (l *Log) Check() error {
	segs, _, last, err := l.snapshot()
	if err != nil {
		return err
	}
	for i, s := range segs {
		name := filepath.Base(s.path)
		img, err := os.ReadFile(s.path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && l.released(s) {
				continue
			}
			return fmt.Errorf("wal: check: %w", err)
		}
		if err := checkSegHeader(img, s.first); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
		}
		count, end := scanSegment(img, s.first)
		if i+1 < len(segs) {
			if want := segs[i+1].first - s.first; count != want {
				return fmt.Errorf("%w: %s: bad record %d at offset %d", ErrCorrupt, name, s.first+count, end)
			}
			if lastNonZero(img[end:]) != 0 {
				return fmt.Errorf("%w: %s: bytes after the last record at offset %d", ErrCorrupt, name, end)
			}
		} else if s.first+count <= last {
			return fmt.Errorf("%w: %s: bad record %d at offset %d", ErrCorrupt, name, s.first+count, end)
		}
	}
	return nil
}

// Close stops the background preparation of segments, removes the spare
// and closes the active segment. It waits for an Append in progress. Every
// method called afterwards returns ErrClosed. Records already appended are
// durable whether or not Close is called.
func (l *Log) Close() error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	if l.pipe != nil {
		l.pipe.stop()
	}
	err := l.closeActive()
	l.f = nil
	if err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}
