package wal

import (
	"fmt"
	"os"
	"path/filepath"
)

// zeros is the source of the zero-fill.
var zeros = make([]byte, 256<<10)

// spare is a zero-filled, synced file waiting to become a segment.
type spare struct {
	f    *os.File
	path string
	size int64
	err  error
}

// makeSpare creates path and fills it with size zero bytes, written (not
// fallocated: unwritten extents would make the first fdatasync of each block
// pay a metadata change), then fdatasyncs it. On failure it removes the
// half-made file and returns the error.
func makeSpare(path string, size int64) spare {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return spare{err: err}
	}
	for off := int64(0); off < size && err == nil; {
		n := min(int64(len(zeros)), size-off)
		_, err = f.WriteAt(zeros[:n], off)
		off += n
	}
	if err == nil {
		if err = datasync(f); err != nil {
			err = fmt.Errorf("fdatasync %s: %w", path, err)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return spare{err: err}
	}
	return spare{f: f, path: path, size: size}
}

// pipeline makes the next spare segment in the background while the current
// one fills, like etcd's filePipeline, so that an Append that crosses into a
// new segment rarely waits for the zero-fill. It is used under Log.writeMu.
type pipeline struct {
	dir     string
	size    int64
	n       int
	pending chan spare // the spare being made, if any
}

// start begins making the next spare in the background.
func (p *pipeline) start() {
	p.n++
	path, size := filepath.Join(p.dir, fmt.Sprintf("spare-%d%s", p.n, tmpSuffix)), p.size
	ch := make(chan spare, 1)
	p.pending = ch
	go func() { ch <- makeSpare(path, size) }()
}

// take returns a spare of p.size bytes and starts making the next one. If
// the background attempt failed (a full disk, say), it tries once more now,
// since space may have come back; if that fails too, it returns the error,
// no file is left behind and no new attempt starts until the next take.
func (p *pipeline) take() (spare, error) {
	if p.pending != nil {
		s := <-p.pending
		p.pending = nil
		if s.err == nil {
			p.start()
			return s, nil
		}
	}
	p.n++
	s := makeSpare(filepath.Join(p.dir, fmt.Sprintf("spare-%d%s", p.n, tmpSuffix)), p.size)
	if s.err != nil {
		return spare{}, s.err
	}
	p.start()
	return s, nil
}

// stop waits for a spare in the making and removes it.
func (p *pipeline) stop() {
	if p.pending == nil {
		return
	}
	s := <-p.pending
	p.pending = nil
	if s.err == nil {
		s.f.Close()
		os.Remove(s.path)
	}
}
