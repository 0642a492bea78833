package userprops

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// The log's mark of its file: how far the log knows its file to hold it.
//
// The file records the last log record it holds (boltLogKey), and on open
// the records after it are replayed. That is right after a crash, whose
// file is behind its log; it is wrong for a file put in the store's place
// beside the log of the file it replaced, say a backup restored without
// removing path.wal: its records would be replayed into the backup,
// rolling it forward to the state the backup was meant to undo, or, once
// the log had been released past the backup, the gap made the store
// unopenable as damaged. So each time the applier has synced the file up to
// a record, the log's directory gets the mark of that record, synced, before
// the log is released. A file that holds less than its log's mark is not
// the file the log belongs to, and OpenBolt refuses it with a message that
// says so (ErrCorrupt: the pair is not a store). The mark is only ever
// behind the file it belongs to, so a crash never trips it.
//
// What it cannot tell: a copy of the file as it was at the last apply
// (Backup applies first, so a backup is one) restored beside a log whose
// later records were never applied (the store stopped within walFlushAge
// of the copy, by a crash or a failed flush) is the file that log belongs
// to, as far as either records, and is rolled forward. Backup's advice
// stands: remove path.wal with the file it replaces.
//
// The mark file is 16 bytes: the record index, uint64 big-endian, its
// CRC-32C, and four zero bytes. One that is missing (a log made by an
// earlier version) or damaged is taken as 0, with a warning: the check is
// then off until the next apply writes it again; no write depends on it.
const walMarkName = "file-holds"

// walMark is the open mark file of a log's directory.
type walMark struct {
	f *os.File
}

// readWALMark returns the mark in the log directory dir, 0 if it has none
// or a damaged one (warned).
func (s *BoltStore) readWALMark(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, walMarkName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err == nil && len(b) == 16 && binary.BigEndian.Uint32(b[8:]) == crc32.Checksum(b[:8], castagnoli) {
		return binary.BigEndian.Uint64(b)
	}
	s.log.Warn("userprops: the write-ahead log's mark of its file is unreadable; the next apply writes it again",
		"path", filepath.Join(dir, walMarkName), "err", err, "bytes", len(b))
	return 0
}

// checkWALMark returns an error if the file, holding the log up to held,
// holds less than the log in dir knows it to.
func (s *BoltStore) checkWALMark(dir string, held uint64) error {
	mark := s.readWALMark(dir)
	if held >= mark {
		return nil
	}
	return fmt.Errorf("%w: %s holds its write-ahead log up to record %d, but the log (%s) had it hold up to %d: "+
		"the file is older than the file the log belongs to (a backup or another file put in its place?). "+
		"Remove %s to open the file as it is, or put back the file that goes with the log",
		ErrCorrupt, s.path, held, dir, mark, dir)
}

// openWALMark opens (creating) the mark file in dir and writes held into it.
func (s *BoltStore) openWALMark(dir string, held uint64) *walMark {
	f, err := os.OpenFile(filepath.Join(dir, walMarkName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		s.log.Warn("userprops: opening the write-ahead log's mark of its file failed; a file put in the store's place goes unnoticed",
			"path", dir, "err", err)
		return &walMark{}
	}
	if err := f.Truncate(16); err != nil { // a damaged, longer mark is made readable again
		s.log.Warn("userprops: truncating the write-ahead log's mark of its file failed", "path", f.Name(), "err", err)
	}
	m := &walMark{f: f}
	s.markWAL(m, held)
	return m
}

// markWAL records in m that the file holds the log up to held, and syncs
// it. It must be called only once the file holding held is synced. A
// failure is warned: the mark stays behind, which is safe.
func (s *BoltStore) markWAL(m *walMark, held uint64) {
	if m.f == nil {
		return
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], held)
	binary.BigEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	_, err := m.f.WriteAt(b[:], 0)
	if err == nil {
		err = m.f.Sync()
	}
	if err != nil {
		s.log.Warn("userprops: writing the write-ahead log's mark of its file failed", "path", m.f.Name(), "err", err)
	}
}

// close closes m's file.
func (m *walMark) close() {
	if m.f != nil {
		m.f.Close()
	}
}
