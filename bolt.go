package userprops

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The on-disk layout of a bolt store.
//
// A store is one bbolt file with five top-level buckets:
//
//	"meta"     "format" → format version, uint32 big-endian (currently 5)
//	           "revision" → revision record (since format 4)
//	           "log" → the index of the last write-ahead log record the
//	           file holds, uint64 big-endian (since format 5; see below)
//	"props"    property key → property record
//	"usage"    account prefix → usage record (since format 2)
//	"indexes"  index id → index record (since format 3)
//	"terms"    index id → a bucket of that index's entries (since format 3)
//	"history"  revision → change record (since format 4)
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
// A property record is a 28-byte header followed by the value exactly as it was
// given to Set:
//
//	version   uint64 big-endian
//	updatedAt int64 big-endian, nanoseconds since the Unix epoch (UTC)
//	revision  uint64 big-endian, the revision of the property's last change
//	          (since format 4; see below)
//	checksum  uint32 big-endian, CRC-32C of value | version | updatedAt |
//	          revision | property key
//	value     the JSON bytes
//
// (Formats 1 to 3 had a 20-byte header, without the revision.)
//
// bbolt checksums only its meta pages; the record checksum is what lets a
// read tell a damaged value, or a value filed under a damaged key, from a
// good one (ErrCorrupt).
//
// A usage record holds what one account counts against its limits
// (WithAccountLimits), so that a write checks them without reading the
// account's properties. Its key is the account prefix, uvarint(len(accountID))
// | accountID, the bytes every property key of the account starts with; an
// account with no properties has no record. The record is 20 bytes:
//
//	properties uint64 big-endian, the number of the account's properties
//	bytes      uint64 big-endian, the sum of their key and value lengths
//	checksum   uint32 big-endian, CRC-32C of properties | bytes | account prefix
//
// Every write updates its account's record in its own transaction, so the
// records always agree with the properties; Check verifies that they do.
//
// An index (WithIndex, AddIndex) has an id, 8 bytes big-endian from the
// "indexes" bucket's sequence, never reused. Its record, under that id in
// "indexes", is:
//
//	state     1 byte: 1 being built, 2 ready
//	key       uvarint(len) | the property key
//	path      uvarint(len) | the path (dot-separated field names)
//	resume    while being built: the property key the build goes on from
//	          (empty: from the first), up to the checksum
//	checksum  uint32 big-endian, CRC-32C of id | everything above
//
// Its entries are the keys of the bucket of the same id in "terms", each with
// an empty value: one per term of each value of the index's key
// (Index.Terms), for that value's account:
//
//	uvarint(len(term)) | term | accountID
//
// so the accounts indexed under one term are one range of keys, in
// ascending byte order of account ID: a lookup is one cursor seek and a walk.
// A term of 256 bytes or more is stored as its first 224 bytes and its
// SHA-256 (see maxStoredTerm). Every write moves its property's entries in
// the transaction that writes the property, in every index on its key,
// whatever the state; a build adds the entries of one batch of properties
// per transaction, with the resume key of the next, so that the entries of
// the properties before the resume key are always complete, and the index
// is marked ready in the transaction of the last batch. Find uses only
// ready indexes; Check verifies the entries against the properties both
// ways.
//
// Every change (a property set or deleted, by any write) gets a revision:
// the committer counts them in the "revision" record of "meta", 20 bytes:
//
//	head      uint64 big-endian, the latest revision given (0: none yet)
//	trimmed   uint64 big-endian, the latest revision trimmed from the history
//	checksum  uint32 big-endian, CRC-32C of head | trimmed
//
// and writes each change, in the commit that makes it, under its revision
// (8 bytes big-endian) in "history":
//
//	deleted   1 byte: 1 for a delete, 0 for a set
//	at        int64 big-endian, the commit's time, nanoseconds since the epoch
//	checksum  uint32 big-endian, CRC-32C of value | revision | deleted | at |
//	          property key
//	key       uvarint(len) | the property key (composite, as in "props")
//	value     the JSON bytes set; none for a delete
//
// The same commit trims the history to the retention (WithHistory), oldest
// first, so the history holds exactly the revisions trimmed+1 to head; Check
// verifies that, and that the latest change of every property it holds
// agrees with the property.
//
// A file of format 5 may have a write-ahead log beside it, in the directory
// of its path with ".wal" added (bolt_log.go): records of acknowledged
// writes that the file may not hold yet. OpenBolt writes those after the
// index in "log" into the file before it answers, whether or not it keeps
// the log on. Format 5 adds nothing else; it exists so that a library that
// knows no log refuses such a file rather than ignore writes it holds.
//
// A reader that finds a format version newer than boltFormat refuses the file
// (ErrFormatVersion); a later format may add buckets or record fields only
// behind a new version number. OpenBolt upgrades older files in place, in
// one transaction: format 1 had no "usage" bucket, and the upgrade counts
// every account's usage from its properties; formats 1 and 2 had no
// indexes, and the upgrade adds the empty "indexes" and "terms" buckets;
// formats 1 to 3 had no revisions, and the upgrade gives the properties
// revisions 1 to N in key order, each record its new header, and starts the
// history empty, with N trimmed (so it holds the changes from N+1 on). A
// library that knows an older format refuses the file from then on, so
// that no write can reach it that does not keep its usage records and
// indexes.
var (
	boltMetaBucket  = []byte("meta")
	boltPropsBucket = []byte("props")
	boltFormatKey   = []byte("format")
)

// boltFormat is the format version this library writes and reads; it
// upgrades files of formats 1 (no usage records), 2 (no indexes), 3 (no
// revisions) and 4 (no write-ahead log) on open.
const boltFormat uint32 = 5

// recordHeaderLen is the length of a property record's header.
const recordHeaderLen = 28

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// boltLockPoll is how often bbolt retries the file lock (bbolt's
// flockRetryTimeout).
const boltLockPoll = 50 * time.Millisecond

// BoltStore is a durable Store kept in one bbolt file (see OpenBolt).
//
// It is safe for concurrent use by multiple goroutines. Set and Delete return
// only after their change is on stable storage (fdatasync), so an
// acknowledged change survives a crash of the process or of the machine: by
// default in the write-ahead log beside the file (WithWriteAheadLog, and
// bolt_log.go for how), from which it is written into the file, normally
// within a second, or with the log off, in the file itself. Concurrent writers share
// syncs: while one group is being synced, the writes that arrive queue up and
// go to disk together in the next one, so throughput grows with the number of
// writers while a lone writer pays exactly one sync. Reads see every
// acknowledged change at once, run in parallel with each other and with the
// writes in progress, and copy what they return out of the file's memory map.
//
// The file keeps its indexes (WithIndex, AddIndex; listed by Indexes,
// removed by DropIndex): every write moves its property's index entries in
// the commit that writes the property, so an index never lags, and Find
// answers the clauses on an indexed key and path from one range of entries.
// An index costs each write of its key the reading of two values and, when
// the indexed value changes, two more places in the file to write.
//
// The file keeps the revisions and the change history too: the committer
// gives every change its revision in commit order, and writes the change to
// the history in the same commit, trimmed there to the retention
// (WithHistory), so that the history survives a restart and a crash exactly
// as the properties do. SetIf and DeleteIf check their revision in the
// committer, against the writes queued before them. Watch reads the history
// in read transactions of its own and holds none while it waits; a commit
// that made changes wakes it. The history costs each change its value
// written a second time (see the benchmarks for what that costs a Set).
type BoltStore struct {
	gate *Gate
	db   *bolt.DB
	path string
	log  *slog.Logger

	// indexes are the file's indexes as of the last commit; the committer
	// replaces the table after each commit that changes them.
	indexes    atomic.Pointer[indexTable]
	buildBatch int // property records per build transaction (boltBuildBatch)

	// lifecycle is held shared by every writer from enqueue to answer, and
	// exclusively by Close, so that Close waits for writes in flight and no
	// write is queued after the committer stops.
	lifecycle sync.RWMutex
	queue     chan *boltWrite
	stop      chan struct{}
	stopped   chan struct{}

	// signal wakes the watchers after each commit that made changes, and
	// for good in Close.
	signal Signal

	// freelist is held shared by every write transaction and exclusively
	// by bbolt's consistency check (Check), which reads bbolt's free list
	// without bbolt's own locks.
	freelist sync.RWMutex

	// commitMu is held by whoever commits: the committer, or with the
	// log a writer that commits its own write because nothing else is
	// being committed (lead). walState is touched only under it.
	commitMu sync.Mutex
	// writing counts the writes in progress, from write to their answer
	// (with the log: who may lead).
	writing atomic.Int32
	// longReads counts the reads in progress that may hold a transaction
	// open for long, or run the caller's code inside it: ForEach, Backup,
	// Check, CompactTo (longRead). While one runs, a write never waits for
	// a new read transaction in its caller's goroutine (lead), nor answers
	// after one (pipeline): bbolt makes new transactions wait behind a
	// replacement of its map, which waits for the long read to end.
	longReads atomic.Int32

	// walState is the committing side of the write-ahead log, nil
	// without it; ov is what readers see of it (bolt_log.go).
	walState *walState
	ov       atomic.Pointer[overlay]

	// commitTrace, when set, is called by the committer with each batch
	// (with the log, each group) just before it is committed. Only tests
	// set it, right after OpenBolt (to prove that no write is acknowledged
	// before the sync of its commit).
	commitTrace func(batch []*boltWrite)
	// appendFault, when set, is called before each append to the log; an
	// error it returns fails the append, which then writes nothing. Only
	// tests set it.
	appendFault func() error
}

var _ Store = (*BoltStore)(nil)

// OpenBolt opens the store file at path, creating it with mode 0600 if it does
// not exist (or is empty). It accepts the options every store
// does (WithDirectory, WithClock, WithAccountLimits, WithIndex, WithHistory)
// and the bolt
// options (WithLockTimeout, WithMmapSize, WithLogger). A file of an older
// format is upgraded (see the layout above).
//
// The file records its indexes and keeps them until DropIndex: each
// WithIndex the file lacks is added and built before OpenBolt returns, from
// the properties as they are, in batches of one transaction each, with its
// progress in the log (WithLogger); a build that a crash or a cancelled
// AddIndex left half done is finished first, from its last batch. Indexes
// the file has but opts do not declare are kept and used all the same
// (Indexes lists them).
//
// A file can be open through one handle at a time. If another handle, in this
// process or another, holds it, OpenBolt waits up to the lock timeout and
// then returns an error wrapping ErrLocked. A file that is not a userprops
// store is refused with an error wrapping ErrNotStore, and one written by a
// newer version of this library with an error wrapping ErrFormatVersion; in
// both cases the file is left untouched.
func OpenBolt(path string, opts ...Option) (*BoltStore, error) {
	cfg := newBoltConfig(opts)
	exists, err := checkBoltPath(path)
	if err != nil {
		return nil, err
	}
	db, err := openBoltDB(path, exists, cfg)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s: still held after %v", ErrLocked, path, cfg.lockTimeout)
	case errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %v", ErrNotStore, path, err)
	case err != nil:
		return nil, fmt.Errorf("userprops: opening %s: %w", path, err)
	}
	db.AllocSize = growthStep(0) // the committer adjusts it to the file's size (see growthStep)
	s := &BoltStore{
		gate:       NewGate(opts...),
		db:         db,
		path:       path,
		log:        cfg.log,
		buildBatch: boltBuildBatch,
		queue:      make(chan *boltWrite, boltQueueLen),
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	if err := s.initFormat(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.openLog(cfg); err != nil {
		_ = db.Close()
		return nil, err
	}
	go s.commitLoop()
	if err := s.openIndexes(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// DefaultLockTimeout is how long OpenBolt waits for a file that another handle
// holds before it gives up with ErrLocked, unless WithLockTimeout says
// otherwise.
const DefaultLockTimeout = 3 * time.Second

// DefaultMmapSize is the size of the memory map OpenBolt reserves for a
// store file unless WithMmapSize says otherwise: 1 GiB on 64-bit platforms,
// 256 MiB on 32-bit ones. See WithMmapSize.
const DefaultMmapSize = 1 << (28 + 2*(strconv.IntSize/64))

// boltConfig holds the settings of OpenBolt that only a bolt store reads.
type boltConfig struct {
	lockTimeout time.Duration
	mmapSize    int
	log         *slog.Logger
	wal         bool  // WithWriteAheadLog
	walSegment  int64 // bytes per log segment
	walFlush    walFlush
}

// boltSetting is a bolt-only Option's setting (see BackendOption).
type boltSetting func(*boltConfig)

func newBoltConfig(opts []Option) boltConfig {
	c := boltConfig{lockTimeout: DefaultLockTimeout, mmapSize: DefaultMmapSize, log: slog.Default(), wal: true, walSegment: walSegmentBytes,
		walFlush: walFlush{bytes: walFlushBytes, age: walFlushAge}}
	for _, set := range BackendSettings[boltSetting](opts) {
		set(&c)
	}
	return c
}

// WithLockTimeout sets how long OpenBolt waits for a store file that another
// handle holds before it returns an error wrapping ErrLocked. It must be
// positive; the default is DefaultLockTimeout. It is a bolt option: other
// stores ignore it.
func WithLockTimeout(d time.Duration) Option {
	return BackendOption(boltSetting(func(c *boltConfig) {
		if d > 0 {
			c.lockTimeout = d
		}
	}))
}

// WithMmapSize sets how many bytes of address space OpenBolt reserves for
// the store file's memory map; the default is DefaultMmapSize.
//
// bbolt reads the file through one memory map, and must replace it when a
// commit grows the file past it. Replacing it waits for every read in
// progress (a Get, a Keys, and the whole of a ForEach, Backup or Check), and
// while it waits every other call waits too. Within the reserved size that
// never happens: reads and writes go on side by side, a Backup to a slow
// writer included. Past it, the map is replaced at each doubling (each 1 GiB
// step past 1 GiB), and a long read at that moment holds up the store until
// it ends; a write whose context ends meanwhile returns ErrOutcomeUnknown.
// Reserve more than the file will ever hold to rule that out.
//
// The reservation costs address space, not memory: pages of the file are
// read in, and count in the process's resident size, only as they are used,
// and nothing is reserved on disk. It is a bolt option: other stores ignore
// it. n below the file's size has no effect.
func WithMmapSize(n int) Option {
	return BackendOption(boltSetting(func(c *boltConfig) {
		if n >= 0 {
			c.mmapSize = n
		}
	}))
}

// openBoltDB opens the bbolt file at path, which checkBoltPath has
// inspected: exists says whether it was there. bbolt reads the meta and
// freelist pages while it opens, and panics or faults on some damage; that
// is contained here and reported as ErrCorrupt, after unmapping and closing
// the file, which releases its lock.
//
// The file bbolt opens is checked again through its descriptor, so that a
// path swapped after checkBoltPath cannot make it block on a FIFO or write
// elsewhere: a path that did not exist is created exclusively (O_EXCL, which
// follows no link), and what is opened must be a regular file. A new or
// empty file gets mode 0600, whatever the umask or its old mode.
func openBoltDB(path string, exists bool, cfg boltConfig) (db *bolt.DB, err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				releaseMapping(file)
				file.Close()
			}
			db, err = nil, fmt.Errorf("%w: %s: bbolt failed to open it: %v", ErrCorrupt, path, r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{
		// bbolt polls the lock every boltLockPoll and gives up one poll
		// before its timeout; adding one makes it wait the full time.
		Timeout:         cfg.lockTimeout + boltLockPoll,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: cfg.mmapSize,
		OpenFile: func(name string, flag int, _ os.FileMode) (*os.File, error) {
			if exists {
				flag &^= os.O_CREATE
			} else {
				flag |= os.O_EXCL
			}
			f, err := os.OpenFile(name, flag|syscall.O_NONBLOCK, 0o600)
			if err != nil {
				return nil, err
			}
			if err := ownFile(f); err != nil {
				f.Close()
				return nil, err
			}
			file = f
			return f, nil
		},
	})
}

// ownFile checks that f, just opened as a store, is a regular file, and
// gives it mode 0600 if it is empty (a new store).
func ownFile(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file (%v)", ErrNotStore, f.Name(), info.Mode().Type())
	}
	if info.Size() == 0 && info.Mode().Perm() != 0o600 {
		return f.Chmod(0o600)
	}
	return nil
}

// checkBoltPath inspects what is at path before anything opens it, and
// reports whether a file exists there. It refuses, leaving them untouched:
// a dangling symbolic link (OpenBolt would create the link's target, which
// may be anywhere), anything but a regular file (a FIFO would block the
// open), and an existing, non-empty file that does not start like a bbolt
// file or is shorter than its meta page says (bbolt would map it and fault
// reading past its end). A link to an existing file is followed.
//
// A meta page starts with a 16-byte page header; the meta that follows holds,
// in native (little-endian on every platform bbolt supports here) byte order,
// the magic number at byte 16, the page size at 24, the freelist's page at
// 48, the page count (high water mark) at 56, the transaction ID at 64 and an FNV-64a checksum of
// bytes 16 to 72 at 72. The first meta page is at offset 0, the second one
// page later; bbolt opens the file with the valid one of the higher
// transaction ID, so that is the one whose page count must fit in the file.
func checkBoltPath(path string) (exists bool, err error) {
	if info, err := os.Lstat(path); err == nil && info.Mode()&os.ModeSymlink != 0 {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			target, _ := os.Readlink(path)
			return false, fmt.Errorf("%w: %s is a symbolic link to %s, which does not exist; "+
				"a store is never created through a link (create it at the link's target, or remove the link)",
				ErrNotStore, path, target)
		}
	}
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("userprops: opening %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return true, fmt.Errorf("%w: %s is not a regular file (%v)", ErrNotStore, path, info.Mode().Type())
	}
	// O_NONBLOCK: should the path become a FIFO after the Stat, the open
	// must not wait for a writer; ownFile then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return true, fmt.Errorf("userprops: opening %s: %w", path, err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return true, fmt.Errorf("userprops: opening %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return true, fmt.Errorf("%w: %s is not a regular file (%v)", ErrNotStore, path, info.Mode().Type())
	}
	if info.Size() == 0 {
		return true, nil
	}
	return true, checkBoltMeta(f, path, info.Size())
}

// boltMeta is what checkBoltMeta reads of a meta page.
type boltMeta struct {
	magicOK         bool
	valid           bool // the checksum holds
	pageSize, pages int64
	freelist, txid  uint64
}

// checkBoltMeta checks the meta pages of the non-empty file f of size bytes
// (see checkBoltPath).
func checkBoltMeta(f *os.File, path string, size int64) error {
	const boltMagic = 0xED0CDAED
	read := func(off int64) (m boltMeta) {
		var head [80]byte
		if _, err := f.ReadAt(head[:], off); err != nil {
			return m
		}
		le := binary.LittleEndian
		sum := fnv.New64a()
		sum.Write(head[16:72])
		return boltMeta{
			magicOK:  le.Uint32(head[16:20]) == boltMagic,
			valid:    le.Uint32(head[16:20]) == boltMagic && le.Uint64(head[72:80]) == sum.Sum64(),
			pageSize: int64(le.Uint32(head[24:28])),
			freelist: le.Uint64(head[48:56]),
			pages:    int64(le.Uint64(head[56:64])),
			txid:     le.Uint64(head[64:72]),
		}
	}
	first := read(0)
	pageSize := first.pageSize
	if !first.magicOK {
		// The first meta page may be damaged; bbolt finds the second one
		// at the default page size.
		pageSize = 4096
	}
	second := read(pageSize)
	if !first.magicOK && !second.magicOK {
		return fmt.Errorf("%w: %s does not start with a bbolt header", ErrNotStore, path)
	}
	if pageSize < 512 || pageSize > 1<<24 || size < 2*pageSize {
		return fmt.Errorf("%w: %s is truncated (size %d, page size %d)", ErrCorrupt, path, size, pageSize)
	}
	used := first
	if !used.valid || second.valid && second.txid > used.txid {
		used = second
	}
	if !used.valid {
		return nil // bbolt refuses it with ErrChecksum
	}
	if used.pages < 2 || used.pages > size/pageSize {
		return fmt.Errorf("%w: %s is truncated: its meta page counts %d pages of %d bytes, the file holds %d bytes",
			ErrCorrupt, path, used.pages, pageSize, size)
	}
	if err := checkBoltFreelist(f, used, pageSize); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return nil
}

// checkBoltFreelist checks the freelist page that the meta m names before
// bbolt reads it while it opens the file: bbolt trusts its entry count, and
// a damaged one makes it allocate that many entries (terabytes: the process
// dies, beyond any recovery) or read past its map. The page must be a
// freelist page, lie within the file's page count with its overflow, hold
// the entries it counts, and every entry must name a page below that count.
// Its layout: page ID (8 bytes), flags (2; 0x10 for a freelist), count (2;
// 0xFFFF means the count is the first entry), overflow pages (4), then the
// page IDs, 8 bytes each.
func checkBoltFreelist(f *os.File, m boltMeta, pageSize int64) error {
	if m.freelist == math.MaxUint64 { // bbolt's "no freelist" (NoFreelistSync)
		return nil
	}
	if m.freelist < 2 || m.freelist >= uint64(m.pages) {
		return fmt.Errorf("freelist page %d is outside the %d pages", m.freelist, m.pages)
	}
	var head [24]byte
	if _, err := f.ReadAt(head[:], int64(m.freelist)*pageSize); err != nil {
		return fmt.Errorf("reading freelist page %d: %v", m.freelist, err)
	}
	le := binary.LittleEndian
	flags, count, overflow := le.Uint16(head[8:10]), uint64(le.Uint16(head[10:12])), uint64(le.Uint32(head[12:16]))
	if flags != 0x10 {
		return fmt.Errorf("page %d is not a freelist page (flags %#x)", m.freelist, flags)
	}
	if m.freelist+overflow >= uint64(m.pages) {
		return fmt.Errorf("freelist page %d runs %d pages past the %d pages", m.freelist, overflow, m.pages)
	}
	first := int64(16)
	if count == 0xFFFF {
		count, first = le.Uint64(head[16:24]), 24
	}
	span := int64(overflow+1) * pageSize
	if count > uint64(span-first)/8 {
		return fmt.Errorf("freelist page %d counts %d entries, its %d bytes hold at most %d", m.freelist, count, span, (span-first)/8)
	}
	ids := make([]byte, count*8)
	if _, err := f.ReadAt(ids, int64(m.freelist)*pageSize+first); err != nil {
		return fmt.Errorf("reading freelist page %d: %v", m.freelist, err)
	}
	for i := 0; i < len(ids); i += 8 {
		if id := le.Uint64(ids[i:]); id < 2 || id >= uint64(m.pages) {
			return fmt.Errorf("freelist page %d lists page %d, outside the %d pages", m.freelist, id, m.pages)
		}
	}
	return nil
}

// initFormat checks the format of a freshly opened file, lays out an empty
// one, upgrades one of an older format, and loads its indexes. It writes
// only to a file with no buckets at all, or of an older format.
func (s *BoltStore) initFormat() error {
	var empty bool
	var format uint32
	err := s.view("open", func(tx *bolt.Tx) error {
		meta, props := tx.Bucket(boltMetaBucket), tx.Bucket(boltPropsBucket)
		if meta == nil && props == nil {
			first, _ := tx.Cursor().First()
			if empty = first == nil; !empty {
				return fmt.Errorf("%w: %s is a bbolt file of another program", ErrNotStore, s.path)
			}
			return nil
		}
		// One of the two buckets is there: a store, damaged if anything
		// is missing.
		var v []byte
		if meta != nil {
			v = meta.Get(boltFormatKey)
		}
		if props == nil || len(v) != 4 {
			return s.gate.MarkDamaged(fmt.Errorf("%w: %s has lost its format record or its properties bucket", ErrCorrupt, s.path))
		}
		format = binary.BigEndian.Uint32(v)
		if format > boltFormat {
			return fmt.Errorf("%w: %s has format %d, this library reads up to %d",
				ErrFormatVersion, s.path, format, boltFormat)
		}
		for _, need := range boltFormatBuckets {
			if format >= need.since && tx.Bucket(need.name) == nil {
				return s.gate.MarkDamaged(fmt.Errorf("%w: %s has lost its %s bucket", ErrCorrupt, s.path, need.name))
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case empty:
		if err = s.update("initialise", createLayout); err != nil {
			return fmt.Errorf("userprops: initialising %s: %w", s.path, err)
		}
	case format < boltFormat:
		err := s.update("upgrade", func(tx *bolt.Tx) error {
			return upgradeFormat(tx, tx.Bucket(boltMetaBucket), format)
		})
		if err != nil {
			return fmt.Errorf("userprops: upgrading %s from format %d to %d: %w", s.path, format, boltFormat, err)
		}
	}
	return s.view("open", func(tx *bolt.Tx) error {
		t, err := s.loadIndexes(tx)
		s.indexes.Store(t)
		return err
	})
}

// boltFormatBuckets are the buckets a store of each format has besides
// "meta" and "props", with the format that brought them.
var boltFormatBuckets = []struct {
	name  []byte
	since uint32
}{
	{boltUsageBucket, 2},
	{boltIndexesBucket, 3},
	{boltTermsBucket, 3},
	{boltHistoryBucket, 4},
}

// createLayout lays out the empty file of tx in the current format.
func createLayout(tx *bolt.Tx) error {
	meta, err := tx.CreateBucket(boltMetaBucket)
	if err != nil {
		return err
	}
	if _, err = tx.CreateBucket(boltPropsBucket); err != nil {
		return err
	}
	return upgradeFormat(tx, meta, 0)
}

// upgradeFormat takes the file of tx, of format from (0: a new file, with
// its "meta" and empty "props" buckets), to the current format: it adds the
// buckets of later formats; for a file of formats 1 to 3 it gives every
// property its revision, in the new record layout (giveRevisions), and
// starts the history after them; for a file of format 1, it counts the
// usage of every account from its properties.
func upgradeFormat(tx *bolt.Tx, meta *bolt.Bucket, from uint32) error {
	for _, need := range boltFormatBuckets {
		if from < need.since {
			if _, err := tx.CreateBucket(need.name); err != nil {
				return err
			}
		}
	}
	if from < 4 {
		var n uint64
		if from > 0 {
			var err error
			if n, err = giveRevisions(tx); err != nil {
				return err
			}
		}
		if err := meta.Put(boltRevisionKey, encodeRevisions(revisions{head: n, trimmed: n})); err != nil {
			return err
		}
	}
	if from == 1 { // after giveRevisions: the usage is counted from records of the current layout
		if err := countUsage(tx); err != nil {
			return err
		}
	}
	return meta.Put(boltFormatKey, binary.BigEndian.AppendUint32(nil, boltFormat))
}

// contain runs fn, which calls into bbolt, so that damage cannot take the
// program down: bbolt trusts its pages, and some damage makes it index out of
// range or read outside its memory map. Panics are recovered and memory
// faults turned into panics (debug.SetPanicOnFault, for this goroutine while
// fn runs); either records the damage, and the call returns an error
// wrapping ErrCorrupt. bbolt rolls back its transactions when they panic.
func (s *BoltStore) contain(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = s.gate.MarkDamaged(fmt.Errorf("%w: %s: bbolt failed during %s: %v", ErrCorrupt, s.path, what, r))
		}
	}()
	return fn()
}

// view runs fn in a read transaction, contained (see contain).
func (s *BoltStore) view(what string, fn func(*bolt.Tx) error) error {
	return s.contain(what, func() error {
		tx, err := s.db.Begin(false)
		if err != nil {
			return s.txError(err)
		}
		defer tx.Rollback() // runs before contain's recovery, releasing bbolt's locks
		return fn(tx)
	})
}

// update runs fn in a write transaction and commits it, contained (see
// contain). It returns once the commit is synced.
func (s *BoltStore) update(what string, fn func(*bolt.Tx) error) error {
	return s.contain(what, func() error {
		s.freelist.RLock()
		defer s.freelist.RUnlock()
		if err := s.db.Update(fn); err != nil {
			return s.txError(err)
		}
		return nil
	})
}

// newRecord returns a record holding a copy of value, its header still to be
// stamped, and the checksum of value for stampRecord.
func newRecord(value []byte) (rec []byte, valueCRC uint32) {
	rec = make([]byte, recordHeaderLen+len(value))
	copy(rec[recordHeaderLen:], value)
	return rec, crc32.Checksum(value, castagnoli)
}

// stampRecord completes the header of the property record rec filed under
// key: version, time, revision and checksum. valueCRC is the CRC-32C of the
// value.
func stampRecord(key, rec []byte, valueCRC uint32, version uint64, updatedAt int64, revision uint64) {
	binary.BigEndian.PutUint64(rec[0:8], version)
	binary.BigEndian.PutUint64(rec[8:16], uint64(updatedAt))
	binary.BigEndian.PutUint64(rec[16:24], revision)
	binary.BigEndian.PutUint32(rec[24:28], finishCRC(valueCRC, key, rec))
}

// finishCRC extends the checksum of a record's value over its version, time
// and revision and its key. The value comes first so that writers can
// checksum it before the committer knows the version.
func finishCRC(valueCRC uint32, key, rec []byte) uint32 {
	return crc32.Update(crc32.Update(valueCRC, castagnoli, rec[0:24]), castagnoli, key)
}

// recordVersion and recordRevision read the header of a record that is at
// least recordHeaderLen long.
func recordVersion(rec []byte) uint64  { return binary.BigEndian.Uint64(rec[0:8]) }
func recordRevision(rec []byte) uint64 { return binary.BigEndian.Uint64(rec[16:24]) }

// checkRecord verifies the layout and checksum of the record rec filed under
// key.
func checkRecord(key, rec []byte) error {
	if len(rec) < recordHeaderLen {
		return fmt.Errorf("record of %d bytes is shorter than its header", len(rec))
	}
	want := binary.BigEndian.Uint32(rec[24:28])
	if got := finishCRC(crc32.Checksum(rec[recordHeaderLen:], castagnoli), key, rec); got != want {
		return fmt.Errorf("record checksum is %08x, want %08x", got, want)
	}
	return nil
}

// decodeKey splits a composite key into account ID and property key.
func decodeKey(k []byte) (accountID, key []byte, ok bool) {
	n, w := binary.Uvarint(k)
	if w <= 0 || n > uint64(len(k)-w) {
		return nil, nil, false
	}
	return k[w : w+int(n)], k[w+int(n):], true
}

// decodeRecord returns the property held in rec, a record that passed
// checkRecord, copying the value out of the memory map.
func decodeRecord(accountID, key string, rec []byte) Property {
	return Property{
		AccountID: accountID,
		Key:       key,
		Value:     bytes.Clone(rec[recordHeaderLen:]),
		Version:   recordVersion(rec),
		Revision:  recordRevision(rec),
		UpdatedAt: time.Unix(0, int64(binary.BigEndian.Uint64(rec[8:16]))).UTC(),
	}
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

// Get implements Store. It returns an error wrapping ErrCorrupt if the
// record fails its checksum.
func (s *BoltStore) Get(ctx context.Context, accountID, key string) (p Property, err error) {
	if err := s.gate.AdmitGet(ctx, accountID, key); err != nil {
		return Property{}, err
	}
	var kb [64]byte
	k := boltKey(kb[:0], accountID, key)
	err = s.read("get", func(kv *kvRead) error {
		rec := kv.props().Get(k)
		if rec == nil {
			return NotFound(accountID, key)
		}
		if err := checkRecord(k, rec); err != nil {
			return s.gate.MarkDamaged(fmt.Errorf("%w: %s: account %s, key %s: %v", ErrCorrupt, s.path, abbrev(accountID), abbrev(key), err))
		}
		p = decodeRecord(accountID, key, rec)
		return nil
	})
	return p, err
}

// Keys implements Store. It verifies the checksum of every record it lists
// and returns an error wrapping ErrCorrupt if one fails.
func (s *BoltStore) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := s.gate.AdmitKeys(ctx, accountID); err != nil {
		return nil, err
	}
	var pb [64]byte
	prefix := boltKey(pb[:0], accountID, "")
	// The keys are gathered in one buffer and cut from one string made of
	// it: two allocations, however many keys, and nothing points into the
	// memory map.
	var kb [512]byte
	buf, ends := kb[:0], make([]int, 0, 16)
	err := s.read("keys", func(kv *kvRead) error {
		c := kv.props().Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			// The checksum covers the key: a damaged key is an error,
			// never a wrong name in the list.
			if err := checkRecord(k, v); err != nil {
				return s.gate.MarkDamaged(fmt.Errorf("%w: %s: account %s, key %q: %v", ErrCorrupt, s.path, abbrev(accountID), k[len(prefix):], err))
			}
			buf = append(buf, k[len(prefix):]...)
			ends = append(ends, len(buf))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	all, start := string(buf), 0
	keys := make([]string, len(ends))
	for i, end := range ends {
		keys[i], start = all[start:end], end
	}
	return keys, nil
}

// Set implements Store. It returns after the change is synced to disk.
func (s *BoltStore) Set(ctx context.Context, accountID, key string, value []byte) (Status, error) {
	if err := s.gate.AdmitSet(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	w := newSetWrite(accountID, key, value)
	if err := s.write(ctx, w); err != nil {
		return 0, err
	}
	return w.status, w.err
}

// SetIf implements Store. The committer checks the revision in the
// transaction that writes the property, after the writes queued before it,
// so that of concurrent SetIfs on one revision exactly one succeeds. It
// returns after the change is synced to disk.
func (s *BoltStore) SetIf(ctx context.Context, accountID, key string, value []byte, revision uint64) (uint64, error) {
	if err := s.gate.AdmitSetIf(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	w := newSetWrite(accountID, key, value)
	w.cond, w.want = true, revision
	if err := s.write(ctx, w); err != nil {
		return 0, err
	}
	if w.err != nil {
		return 0, w.err
	}
	return w.revision, nil
}

// newSetWrite returns the write of a Set of value. The record is built by
// the caller's goroutine, so that the committer only stamps its header; it
// is a copy, so the caller may reuse value once the write returns.
func newSetWrite(accountID, key string, value []byte) *boltWrite {
	rec, valueCRC := newRecord(value)
	return &boltWrite{kind: writeSet, key: boltKey(nil, accountID, key), record: rec, valueCRC: valueCRC, accountID: accountID, propKey: key}
}

// Delete implements Store. It returns after the change is synced to disk.
func (s *BoltStore) Delete(ctx context.Context, accountID, key string) error {
	if err := s.gate.AdmitDelete(ctx, accountID, key); err != nil {
		return err
	}
	return s.delete(ctx, &boltWrite{kind: writeDelete, key: boltKey(nil, accountID, key), accountID: accountID, propKey: key})
}

// DeleteIf implements Store, checking the revision in the committer as
// SetIf does. It returns after the change is synced to disk.
func (s *BoltStore) DeleteIf(ctx context.Context, accountID, key string, revision uint64) error {
	if err := s.gate.AdmitDeleteIf(ctx, accountID, key); err != nil {
		return err
	}
	return s.delete(ctx, &boltWrite{kind: writeDelete, key: boltKey(nil, accountID, key), accountID: accountID, propKey: key,
		cond: true, want: revision})
}

// delete makes the delete w and returns its answer.
func (s *BoltStore) delete(ctx context.Context, w *boltWrite) error {
	if err := s.write(ctx, w); err != nil {
		return err
	}
	return w.err
}

// DeleteAccount implements Store: every property of the account, its index
// entries and its usage record go in one commit, which DeleteAccount waits
// for until it is synced to disk, as Delete does.
func (s *BoltStore) DeleteAccount(ctx context.Context, accountID string) (int, error) {
	if err := s.gate.AdmitDeleteAccount(ctx, accountID); err != nil {
		return 0, err
	}
	w := &boltWrite{kind: writeDeleteAccount, key: boltKey(nil, accountID, ""), accountID: accountID}
	if err := s.write(ctx, w); err != nil {
		return 0, err
	}
	return w.deleted, w.err
}

// Close implements Store. It waits for the writes in flight to be committed
// and for open reads to finish, writes what the write-ahead log holds into
// the file (what it cannot write stays in the log, for the next OpenBolt),
// then closes the log and the file.
func (s *BoltStore) Close() error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if !s.gate.MarkClosed() {
		return nil
	}
	close(s.stop)
	<-s.stopped
	s.signal.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("userprops: closing %s: %w", s.path, err)
	}
	return nil
}

// longRead counts a long read in progress (longReads) until the function
// it returns is called.
func (s *BoltStore) longRead() func() {
	s.longReads.Add(1)
	return func() { s.longReads.Add(-1) }
}

// txError translates an error from a bbolt transaction: ErrClosed for a
// closed file, otherwise the error with the file's path.
func (s *BoltStore) txError(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return fmt.Errorf("userprops: %s: %w", s.path, err)
}
