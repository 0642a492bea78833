package userprops

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The on-disk layout of a bolt store.
//
// A store is one bbolt file with two top-level buckets:
//
//	"meta"   "format" → format version, uint32 big-endian (currently 1)
//	"props"  property key → property record
//
// A property key is the account ID prefixed by its length, then the property
// key:
//
//	uvarint(len(accountID)) | accountID | key
//
// The length prefix makes the account part unambiguous whatever bytes the IDs
// contain, so a cursor seeking to uvarint(len(a)) | a visits exactly the
// properties of account a, in the byte order of their keys, and never one of
// "a:b" or "ab" (whose prefixes differ in the length byte).
//
// A property record is a 16-byte header followed by the value exactly as it was
// given to Set:
//
//	version   uint64 big-endian
//	updatedAt int64 big-endian, nanoseconds since the Unix epoch (UTC)
//	value     the JSON bytes
//
// A reader that finds a format version newer than boltFormat refuses the file
// (ErrFormatVersion); a later format may add buckets or record fields only
// behind a new version number.
var (
	boltMetaBucket  = []byte("meta")
	boltPropsBucket = []byte("props")
	boltFormatKey   = []byte("format")
)

// boltFormat is the format version this library writes and reads.
const boltFormat uint32 = 1

const recordHeaderLen = 16

// boltLockPoll is how often bbolt retries the file lock (bbolt's
// flockRetryTimeout).
const boltLockPoll = 50 * time.Millisecond

// Group commit limits: writers queue up to boltQueueLen requests; one
// transaction takes at most boltMaxBatch of them.
const (
	boltQueueLen = 4096
	boltMaxBatch = 1024
)

// BoltStore is a durable Store kept in one bbolt file (see OpenBolt).
//
// It is safe for concurrent use by multiple goroutines. Set and Delete return
// only after their change is committed and the file is synced to stable
// storage (fdatasync), so an acknowledged change survives a crash of the
// process or of the machine. Concurrent writers share commits: while one
// transaction is being synced, the writes that arrive queue up and go to disk
// together in the next one, so throughput grows with the number of writers
// while a lone writer pays exactly one commit. Reads run in parallel with each
// other and with the commit in progress, and copy what they return out of the
// file's memory map.
type BoltStore struct {
	core
	db   *bolt.DB
	path string

	// lifecycle is held shared by every writer from enqueue to answer, and
	// exclusively by Close, so that Close waits for writes in flight and no
	// write is queued after the committer stops.
	lifecycle sync.RWMutex
	queue     chan *boltWrite
	stop      chan struct{}
	stopped   chan struct{}
}

var _ Store = (*BoltStore)(nil)

// OpenBolt opens the store file at path, creating it with mode 0600 if it does
// not exist (or is empty). It accepts WithDirectory, WithClock and
// WithLockTimeout.
//
// A file can be open through one handle at a time. If another handle, in this
// process or another, holds it, OpenBolt waits up to the lock timeout and
// then returns an error wrapping ErrLocked. A file that is not a userprops
// store is refused with an error wrapping ErrNotStore, and one written by a
// newer version of this library with an error wrapping ErrFormatVersion; in
// both cases the file is left untouched.
func OpenBolt(path string, opts ...Option) (*BoltStore, error) {
	o := newOptions(opts)
	if err := checkBoltHeader(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		// bbolt polls the lock every boltLockPoll and gives up one poll
		// before its timeout; adding one makes it wait the full time.
		Timeout:      o.lockTimeout + boltLockPoll,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s: still held after %v", ErrLocked, path, o.lockTimeout)
	case errors.Is(err, berrors.ErrInvalid),
		errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: %s: %v", ErrNotStore, path, err)
	case err != nil:
		return nil, fmt.Errorf("userprops: opening %s: %w", path, err)
	}
	if err := initBoltFormat(db, path); err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &BoltStore{
		core:    core{opts: o},
		db:      db,
		path:    path,
		queue:   make(chan *boltWrite, boltQueueLen),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go s.commitLoop()
	return s, nil
}

// checkBoltHeader refuses an existing, non-empty file whose first page is not
// a bbolt meta page, before bbolt maps it: bbolt would otherwise guess a page
// size for it and could fault reading past the end of a short file. The page
// starts with a 16-byte page header; the meta that follows begins with the
// magic number and holds the page size at byte 24, in native (little-endian on
// every platform bbolt supports here) byte order.
func checkBoltHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("userprops: opening %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("userprops: opening %s: %w", path, err)
	}
	if info.Size() == 0 {
		return nil
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrNotStore, path)
	}
	const boltMagic = 0xED0CDAED
	var head [28]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return fmt.Errorf("%w: %s is too short to be a store", ErrNotStore, path)
	}
	magic := binary.LittleEndian.Uint32(head[16:20])
	pageSize := int64(binary.LittleEndian.Uint32(head[24:28]))
	if magic != boltMagic {
		return fmt.Errorf("%w: %s does not start with a bbolt header", ErrNotStore, path)
	}
	if pageSize < 512 || info.Size() < 2*pageSize {
		return fmt.Errorf("%w: %s is truncated or damaged (size %d, page size %d)",
			ErrNotStore, path, info.Size(), pageSize)
	}
	return nil
}

// initBoltFormat checks the format of a freshly opened file, and lays out an
// empty one. It writes only to a file with no buckets at all.
func initBoltFormat(db *bolt.DB, path string) error {
	var empty bool
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(boltMetaBucket)
		if meta == nil {
			first, _ := tx.Cursor().First()
			if empty = first == nil; !empty {
				return fmt.Errorf("%w: %s is a bbolt file of another program", ErrNotStore, path)
			}
			return nil
		}
		v := meta.Get(boltFormatKey)
		if len(v) != 4 || tx.Bucket(boltPropsBucket) == nil {
			return fmt.Errorf("%w: %s has no valid format record", ErrNotStore, path)
		}
		if f := binary.BigEndian.Uint32(v); f > boltFormat {
			return fmt.Errorf("%w: %s has format %d, this library reads up to %d",
				ErrFormatVersion, path, f, boltFormat)
		}
		return nil
	})
	if err != nil || !empty {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(boltMetaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(boltFormatKey, binary.BigEndian.AppendUint32(nil, boltFormat)); err != nil {
			return err
		}
		_, err = tx.CreateBucket(boltPropsBucket)
		return err
	})
	if err != nil {
		return fmt.Errorf("userprops: initialising %s: %w", path, err)
	}
	return nil
}

// stampRecord writes the header of the property record rec.
func stampRecord(rec []byte, version uint64, updatedAt int64) {
	binary.BigEndian.PutUint64(rec[0:8], version)
	binary.BigEndian.PutUint64(rec[8:16], uint64(updatedAt))
}

// Path returns the path of the store's file.
func (s *BoltStore) Path() string { return s.path }

// boltKey appends the composite key of (accountID, key) to dst; with key ""
// it is the prefix of every property of accountID.
func boltKey(dst []byte, accountID, key string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(accountID)))
	dst = append(dst, accountID...)
	return append(dst, key...)
}

// Get implements Store.
func (s *BoltStore) Get(ctx context.Context, accountID, key string) (Property, error) {
	if err := s.admit(ctx, opGet, accountID, key, nil); err != nil {
		return Property{}, err
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return Property{}, s.txError(err)
	}
	defer tx.Rollback()
	var kb [64]byte
	rec := tx.Bucket(boltPropsBucket).Get(boltKey(kb[:0], accountID, key))
	if rec == nil {
		return Property{}, notFound(accountID, key)
	}
	if len(rec) < recordHeaderLen {
		return Property{}, fmt.Errorf("userprops: %s: record of account %s, key %s is damaged",
			s.path, abbrev(accountID), abbrev(key))
	}
	return Property{
		AccountID: accountID,
		Key:       key,
		Value:     bytes.Clone(rec[recordHeaderLen:]), // out of the memory map
		Version:   binary.BigEndian.Uint64(rec[0:8]),
		UpdatedAt: time.Unix(0, int64(binary.BigEndian.Uint64(rec[8:16]))).UTC(),
	}, nil
}

// Keys implements Store.
func (s *BoltStore) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := s.admit(ctx, opKeys, accountID, "", nil); err != nil {
		return nil, err
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, s.txError(err)
	}
	defer tx.Rollback()
	var pb [64]byte
	prefix := boltKey(pb[:0], accountID, "")
	keys := []string{}
	c := tx.Bucket(boltPropsBucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, string(k[len(prefix):])) // string() copies out of the map
	}
	return keys, nil
}

// Set implements Store. It returns after the change is synced to disk.
func (s *BoltStore) Set(ctx context.Context, accountID, key string, value []byte) (Status, error) {
	if err := s.admit(ctx, opSet, accountID, key, value); err != nil {
		return 0, err
	}
	// The record is built here, by the caller's goroutine, so that the
	// committer only stamps its header; it is a copy, so the caller may
	// reuse value once Set returns.
	rec := make([]byte, recordHeaderLen+len(value))
	copy(rec[recordHeaderLen:], value)
	w := &boltWrite{key: boltKey(nil, accountID, key), record: rec, accountID: accountID, propKey: key}
	if err := s.write(ctx, w); err != nil {
		return 0, err
	}
	return w.status, w.err
}

// Delete implements Store. It returns after the change is synced to disk.
func (s *BoltStore) Delete(ctx context.Context, accountID, key string) error {
	if err := s.admit(ctx, opDelete, accountID, key, nil); err != nil {
		return err
	}
	w := &boltWrite{key: boltKey(nil, accountID, key), accountID: accountID, propKey: key}
	if err := s.write(ctx, w); err != nil {
		return err
	}
	return w.err
}

// Close implements Store. It waits for the writes in flight to be committed
// and for open reads to finish, then closes the file.
func (s *BoltStore) Close() error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.stopped
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("userprops: closing %s: %w", s.path, err)
	}
	return nil
}

// txError translates an error from beginning a bbolt transaction.
func (s *BoltStore) txError(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return fmt.Errorf("userprops: %s: %w", s.path, err)
}

// boltWrite is one Set or Delete waiting for the committer.
type boltWrite struct {
	key    []byte // composite key
	record []byte // Set: header (stamped by the committer) and value; Delete: nil

	accountID, propKey string // for error messages

	// state moves once from writePending to writeTaken (by the committer)
	// or to writeCancelled (by the caller whose context ended first).
	state atomic.Uint32
	done  chan struct{} // closed by the committer after status and err are set

	status Status
	err    error
}

const (
	writePending uint32 = iota
	writeTaken
	writeCancelled
)

// write hands w to the committer and waits for its answer. A caller whose
// context ends while w is still queued withdraws it and gets ctx.Err(); once
// the committer has taken w, the caller waits for the commit, which is bounded
// by one sync.
func (s *BoltStore) write(ctx context.Context, w *boltWrite) error {
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	w.done = make(chan struct{})
	select {
	case s.queue <- w:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		if w.state.CompareAndSwap(writePending, writeCancelled) {
			return ctx.Err()
		}
		<-w.done
		return nil
	}
}

// commitLoop is the committer: it takes every write queued since the last
// commit into one transaction, syncs it once, and answers each writer with
// its own result. There is no delay: a new commit starts as soon as the
// previous one is synced, so a lone writer pays one commit and no more.
func (s *BoltStore) commitLoop() {
	defer close(s.stopped)
	batch := make([]*boltWrite, 0, boltMaxBatch)
	for {
		select {
		case w := <-s.queue:
			batch = append(batch[:0], w)
		case <-s.stop:
			// Close holds the lifecycle lock: no writer is in flight
			// and the queue is empty.
			return
		}
	drain:
		for len(batch) < boltMaxBatch {
			select {
			case w := <-s.queue:
				batch = append(batch, w)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch) // drop references for the garbage collector
	}
}

// commit applies batch in one transaction, in queue order, and answers every
// write. A write that fails (a Delete of a missing property) fails alone; if
// the commit itself fails, every write of the batch fails with its error.
func (s *BoltStore) commit(batch []*boltWrite) {
	live := slices.DeleteFunc(batch, func(w *boltWrite) bool {
		return !w.state.CompareAndSwap(writePending, writeTaken)
	})
	if len(live) == 0 {
		return
	}
	now := s.opts.now().UnixNano()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltPropsBucket)
		for _, w := range live {
			w.status, w.err = w.apply(b, now)
		}
		return nil
	})
	for _, w := range live {
		if err != nil {
			w.status, w.err = 0, fmt.Errorf("userprops: %s: commit failed: %w", s.path, err)
		}
		close(w.done)
	}
}

// apply performs w in the transaction that b belongs to.
func (w *boltWrite) apply(b *bolt.Bucket, now int64) (Status, error) {
	old := b.Get(w.key)
	if w.record == nil { // Delete
		if old == nil {
			return 0, notFound(w.accountID, w.propKey)
		}
		return 0, b.Delete(w.key)
	}
	status, version := Created, uint64(1)
	if old != nil {
		status = Updated
		if len(old) >= recordHeaderLen {
			version = binary.BigEndian.Uint64(old[0:8]) + 1
		}
	}
	stampRecord(w.record, version, now)
	if err := b.Put(w.key, w.record); err != nil {
		return 0, err
	}
	return status, nil
}
