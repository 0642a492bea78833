package userprops

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/userprops/userprops/internal/wal"
	bolt "go.etcd.io/bbolt"
)

// The write-ahead log of a bolt store (WithWriteAheadLog).
//
// With the log, the committer makes a batch of writes exactly as without
// it, but against the file seen through the overlay, and into a group: a
// sorted tree of the bucket entries the batch sets and deletes. It appends
// the group to the log as one record, and once the log has synced it, adds
// the group to the overlay's active layer, publishes it to readers and
// answers the writers. So an acknowledged write is on disk in the log and
// readable at once, and a batch costs one sequential append and one
// fdatasync instead of a bbolt commit (some dozens of random pages and two
// syncs). Two refinements: a write that is the only one in progress
// commits itself, in its caller's goroutine, when the committer is idle
// (lead); and while a group's append is under way, the committer makes
// the writes that arrive into the next group, on top of the layer the
// group in flight leaves (pipeline). Every step that touches the log's
// state holds commitMu.
//
// Behind the log, the applier writes the overlay into the file: when the
// active layer holds walFlushBytes, or its oldest entry is walFlushAge old,
// the committer freezes it (a new active layer starts), and the applier
// writes every entry of the frozen layer in one bbolt transaction, with the
// index of the last log record it holds (the "log" record of "meta"), and
// syncs it. Then the committer drops the frozen layer, marks that index in
// the log's directory (bolt_logmark.go: a file older than the mark is not
// the log's own) and releases the log up to it. The log records are the
// entries themselves, not the writes: applying one twice leaves what
// applying it once does, so a crash between the file's commit and the
// log's release replays nothing wrongly (and the index in the file skips
// what it holds).
//
// Readers see the file through the overlay: the active layer as last
// published, then the frozen one, then the file. With nothing pending they
// read the file alone. A read pairs its bbolt transaction with the overlay
// of one generation (overlay.gen counts freezes and drops), so that it
// never sees the file newer than a layer it also reads.
//
// On open, the records the file does not hold are applied to it before the
// store answers. The administrative writes (indexes, Restore) are not
// logged: the committer first writes everything pending into the file
// (flush), then commits them as without the log.

// WithWriteAheadLog makes OpenBolt keep a write-ahead log beside the file,
// in the directory path + ".wal" (the default), or not (on false). With the
// log, a write is acknowledged once its group's record is appended to the
// log and synced, and written into the file later; without it, once the file
// itself is committed and synced. The durability is the same; the log makes
// a synced write several times cheaper, and holds what is not yet in the
// file in memory (up to 64 MiB). Opening a file whose log holds records
// writes them into the file first, with the log on or off. It is a bolt
// option: other stores ignore it.
func WithWriteAheadLog(on bool) Option {
	return BackendOption(boltSetting(func(c *boltConfig) { c.wal = on }))
}

// The applier's cadence: the active layer is written into the file once
// it holds walFlushBytes of entries or its oldest is walFlushAge old; the
// committer waits for the applier when the overlay holds four times
// walFlushBytes. The log's segments are walSegmentBytes each.
const (
	walFlushBytes   = 16 << 20
	walFlushAge     = 5 * time.Second
	walSegmentBytes = 16 << 20
)

// walFlush is when the committer freezes the active layer for the
// applier: once it holds bytes of entries, or its oldest is age old. Only
// tests change it (withLogFlush), to make the applier run all the time.
type walFlush struct {
	bytes int
	age   time.Duration
}

// withLogFlush sets the applier's cadence, for tests.
func withLogFlush(bytes int, age time.Duration) Option {
	return BackendOption(boltSetting(func(c *boltConfig) { c.walFlush = walFlush{bytes, age} }))
}

// boltLogKey names the "log" record of "meta": the index of the last log
// record the file holds, uint64 big-endian.
var boltLogKey = []byte("log")

// overlay is what readers see of the changes acknowledged but not yet in
// the file: its layers, newest first (none when nothing is pending), and
// its generation.
type overlay struct {
	layers []ovLayer
	gen    uint64
}

// walState is the committing side of the log, touched only under
// commitMu; its applied channel is read by the committer's goroutine
// alone.
type walState struct {
	log     *wal.Log
	mark    *walMark
	flushAt walFlush
	active  *ovTree // the changes logged since the last freeze; never changed once published
	frozen  *ovTree // the layer the applier is writing, or failed to
	// activeKeys and frozenKeys filter the keys of active (every
	// version of it since the freeze) and of frozen.
	activeKeys, frozenKeys *ovFilter
	since                  time.Time
	pending                int // bytes of entries in active and frozen
	// frozenBytes is the part of pending in frozen.
	frozenBytes int
	logged      uint64 // the index of the last record appended
	upTo        uint64 // the index the frozen layer reaches
	gen         uint64
	// applying is set while the applier writes frozen; retryAt is when
	// to try again after it failed.
	applying bool
	retryAt  time.Time
	jobs     chan applyJob
	applied  chan error
}

// full reports whether the overlay holds so much that writers must wait
// for the applier: four times the flush size, while a layer is being
// applied or waits for its retry.
func (w *walState) full() bool {
	return w.pending >= 4*w.flushAt.bytes && (w.applying || w.frozen != nil)
}

type applyJob struct {
	tree *ovTree
	upTo uint64
}

// read runs fn in a read transaction, contained (see contain), seeing the
// file through the overlay.
func (s *BoltStore) read(what string, fn func(*kvRead) error) error {
	return s.contain(what, func() error {
		for {
			ov := s.ov.Load()
			tx, err := s.db.Begin(false)
			if err != nil {
				return s.txError(err)
			}
			r := &kvRead{tx: tx}
			if ov != nil && len(ov.layers) > 0 {
				if s.ov.Load().gen != ov.gen {
					// A freeze or a drop came between: the file may
					// be newer than these layers.
					tx.Rollback()
					continue
				}
				r.layers = ov.layers
			}
			defer tx.Rollback() // runs before contain's recovery, releasing bbolt's locks
			return fn(r)
		}
	})
}

// publish shows the active and frozen layers to readers.
func (s *BoltStore) publish() {
	w := s.walState
	s.ov.Store(&overlay{layers: w.layers(w.active), gen: w.gen})
}

// layers returns the layers to read through above the file: active (the
// active layer, or a version of it to come), then the frozen layer.
func (w *walState) layers(active *ovTree) []ovLayer {
	var layers []ovLayer
	if active.Len() > 0 {
		layers = append(layers, ovLayer{active, w.activeKeys}) // never changed once shown
	}
	if w.frozen != nil {
		layers = append(layers, ovLayer{w.frozen, w.frozenKeys})
	}
	return layers
}

// commitLogged makes the writes of live, none of them administrative, as
// one group, appends it to the log, and answers every write.
func (s *BoltStore) commitLogged(live []*boltWrite) {
	g := s.openGroup(s.walState.active)
	g.add(live)
	s.commitGroup(g)
}

// commitGroup seals g, appends it (inline if small) and waits for the
// append, answering g's writes.
func (s *BoltStore) commitGroup(g *logGroup) {
	if s.sealGroup(g) {
		s.appendGroup(g, g.tree.Len() <= walInlineEntries)
		s.settleGroup(g)
	}
}

// pipeline is commitLogged for the committer, whose batch first holds
// writes the log holds only: while a group's append is under way, the
// writes that arrive are made into the next group, on top of it, so that
// building one group overlaps the sync of the one before. A group is
// answered only once its append is done; if it fails, the group built on
// top of it is built again without it. pipeline returns when a group's
// append is done and no write came meanwhile; when a group fails or writes
// nothing; when the overlay is full (for commitLoop to wait for the
// applier); after committing (with commit) a batch that holds other
// writes; and, after its group, when a long read is in progress (the next
// group's read transaction could then wait behind the read, and with it
// the answers to a group already synced).
func (s *BoltStore) pipeline(first []*boltWrite) {
	w := s.walState
	g := s.openGroup(w.active)
	g.add(first)
	for {
		if s.longReads.Load() > 0 {
			s.commitGroup(g)
			return
		}
		if !s.sealGroup(g) {
			return
		}
		s.appendGroup(g, false)
		next := s.openGroup(g.next)
		var rest []*boltWrite // writes of other classes, for commit
	build:
		for rest == nil && len(next.live) < boltMaxBatch {
			select {
			case <-g.done:
				break build
			case wr := <-s.queue:
				batch := s.drain([]*boltWrite{wr}, boltMaxBatch-len(next.live))
				i := slices.IndexFunc(batch, func(w *boltWrite) bool { return w.class() != classLogged })
				if i >= 0 {
					batch, rest = batch[:i], batch[i:]
				}
				next.add(s.take(batch))
			}
		}
		if s.settleGroup(g) {
			// Between two groups: the applier's result, if it came, and
			// a freeze, if one is due. next reads the same as before:
			// what a freeze moves, or a drop writes into the file.
			select {
			case err := <-w.applied:
				_ = s.applied(err)
			default:
			}
			s.maybeFreeze(time.Now())
		} else {
			// next read a group the log does not hold.
			next.discard()
			live := next.live
			next = s.openGroup(w.active)
			next.add(live)
		}
		if len(next.live) == 0 || rest != nil || w.full() {
			// The last group of the pipeline (if it has writes): then
			// the other writes, or the wait for the applier (commitLoop).
			s.commitGroup(next)
			if rest != nil {
				s.commit(rest)
			}
			return
		}
		g = next
	}
}

// logGroup is a group of writes on its way to the log: its writes, its
// entries (tree) and the batch they are made in, with its read
// transaction; err, if the batch failed; once its append is under way, the
// active layer with the group added and the bytes that adds; and once
// done is closed, the append's index and error.
type logGroup struct {
	live      []*boltWrite
	tree      *ovTree
	b         *batchTx
	tx        *bolt.Tx
	err       error
	next      *ovTree
	added     int
	done      chan struct{}
	idx       uint64
	appendErr error
}

// openGroup starts a group whose writes read the file through base (the
// active layer, or the one the group before leaves) and the frozen layer.
func (s *BoltStore) openGroup(base *ovTree) *logGroup {
	w := s.walState
	g := &logGroup{tree: newOvTree()}
	g.err = s.contain("commit", func() error {
		tx, err := s.db.Begin(false)
		if err != nil {
			return s.txError(err)
		}
		g.tx = tx
		r := &kvRead{tx: tx, layers: append([]ovLayer{{tree: g.tree}}, w.layers(base)...)}
		g.b, err = s.newBatch(r, g.tree)
		return err
	})
	return g
}

// add makes the writes of live in g, after those made already, stamped
// with the time of now (not of the group's start: a write that arrives
// while the group before syncs is no older than its call).
func (g *logGroup) add(live []*boltWrite) {
	g.live = append(g.live, live...)
	if g.err != nil || len(live) == 0 {
		return
	}
	g.b.now = g.b.s.gate.Now().UnixNano()
	g.err = g.b.s.contain("commit", func() error { return g.b.applyWrites(live) })
}

// discard ends g's read transaction.
func (g *logGroup) discard() {
	if g.tx != nil {
		g.tx.Rollback()
		g.tx = nil
	}
}

// sealGroup completes g's batch (its counts and revisions) and ends its
// read transaction. If the batch failed, or g wrote nothing, it answers
// g's writes and reports false: there is nothing to append.
func (s *BoltStore) sealGroup(g *logGroup) bool {
	if g.err == nil && len(g.live) > 0 {
		if s.commitTrace != nil {
			s.commitTrace(g.live)
		}
		g.err = s.contain("commit", g.b.finish)
	}
	g.discard()
	if g.err != nil || g.tree.Len() == 0 {
		answer(g.live, g.err)
		return false
	}
	return true
}

// appendGroup appends g's record to the log. The append runs in a
// goroutine of its own, and while it runs, the next active layer is built
// (g.next); inline, for a small group, the two are made one after the
// other in this goroutine, which costs less than the handoff.
func (s *BoltStore) appendGroup(g *logGroup, inline bool) {
	w := s.walState
	rec := encodeGroup(g.tree)
	g.done = make(chan struct{})
	appendRec := func() (uint64, error) {
		if s.appendFault != nil {
			if err := s.appendFault(); err != nil {
				return 0, err
			}
		}
		return w.log.Append(rec)
	}
	if inline {
		g.idx, g.appendErr = appendRec()
		close(g.done)
		if g.appendErr == nil {
			g.next, g.added = w.nextActive(g.tree)
		}
		return
	}
	go func() {
		g.idx, g.appendErr = appendRec()
		close(g.done)
	}()
	// The new goroutine is queued on this one's P, to run when this one
	// blocks unless an idle P takes it first, and the work below and the
	// build of the next group put that off: at 32 writers the append began
	// 86 µs after the go statement on average. Yielding lets it start at
	// once (3 µs); the log was busy 60 % of the time before, 75-80 % after.
	runtime.Gosched()
	g.next, g.added = w.nextActive(g.tree)
}

// settleGroup waits for g's append: on success it makes g.next the active
// layer, publishes it and wakes the watchers; either way it answers g's
// writes. It reports whether the append succeeded.
func (s *BoltStore) settleGroup(g *logGroup) bool {
	<-g.done
	w := s.walState
	if g.appendErr != nil {
		answer(g.live, s.logError(g.appendErr))
		return false
	}
	w.logged = g.idx
	if w.active.Len() == 0 {
		w.since = time.Now()
	}
	w.active, w.pending = g.next, w.pending+g.added
	s.publish()
	if g.b.rev != g.b.start {
		s.signal.Notify()
	}
	answer(g.live, nil)
	return true
}

// walInlineEntries is the largest group whose entries commitLogged adds to
// the active layer after the log's sync rather than during it.
const walInlineEntries = 64

// nextActive returns the next version of the active layer, the entries of
// group added to a lazy copy of it (the published layer is never changed,
// readers hold it), and how many bytes that adds to the overlay.
func (w *walState) nextActive(group *ovTree) (next *ovTree, added int) {
	next = w.active.Clone()
	group.Ascend(func(e *ovEntry) bool {
		w.activeKeys.add(ovHash(e.key))
		if old, ok := next.ReplaceOrInsert(e); ok {
			added -= len(old.key) + len(old.val)
		}
		added += len(e.key) + len(e.val)
		return true
	})
	return next, added
}

// logError is the error of a failed append: a log that could not undo a
// failed append is damage (the store must be reopened, which reads what
// the log really holds); any other failure fails the group's writes alone.
func (s *BoltStore) logError(err error) error {
	if errors.Is(err, wal.ErrFailed) {
		return s.gate.MarkDamaged(fmt.Errorf("%w: %s: the write-ahead log: %v", ErrCorrupt, s.path, err))
	}
	return fmt.Errorf("userprops: %s: writing the write-ahead log: %w", s.path, err)
}

// answer sets err, if not nil, as the result of every write of live, and
// wakes each writer.
func answer(live []*boltWrite, err error) {
	for _, w := range live {
		if err != nil {
			w.status, w.err = 0, err
		}
		close(w.done)
	}
}

// maybeFreeze hands the active layer to the applier if it is due and the
// applier is free, or hands it the frozen layer again once a failed apply
// may be retried.
func (s *BoltStore) maybeFreeze(now time.Time) {
	w := s.walState
	switch {
	case w.applying:
	case w.frozen != nil:
		if now.After(w.retryAt) {
			w.applying = true
			w.jobs <- applyJob{w.frozen, w.upTo}
		}
	case w.active.Len() > 0 && (w.pending >= w.flushAt.bytes || now.Sub(w.since) >= w.flushAt.age):
		s.freeze()
		w.applying = true
		w.jobs <- applyJob{w.frozen, w.upTo}
	}
}

// freeze makes the active layer the frozen one, to be written into the
// file, and starts a new active layer.
func (s *BoltStore) freeze() {
	w := s.walState
	// Nothing else is frozen: every pending byte is in the layer.
	w.frozen, w.active, w.upTo, w.frozenBytes = w.active, newOvTree(), w.logged, w.pending
	w.frozenKeys, w.activeKeys = w.activeKeys, new(ovFilter)
	w.gen++
	s.publish()
}

// applied takes the applier's result: on success the frozen layer is in
// the file, and goes, and the log is released up to it; on failure the
// layer stays, readers go on seeing it, and it is retried a second later.
func (s *BoltStore) applied(err error) error {
	w := s.walState
	w.applying = false
	if err != nil {
		w.retryAt = time.Now().Add(time.Second)
		s.log.Error("userprops: writing the write-ahead log into the file failed; it stays in the log and is retried",
			"path", s.path, "err", err)
		return err
	}
	w.pending -= w.frozenBytes
	w.frozen, w.frozenBytes, w.frozenKeys = nil, 0, nil
	w.gen++
	s.publish()
	if err := w.log.Release(w.upTo); err != nil {
		s.log.Warn("userprops: releasing the write-ahead log failed; it is released at the next flush",
			"path", s.path, "err", err)
	}
	return nil
}

// applyLoop is the applier: it writes each frozen layer it is given into
// the file, until jobs is closed.
func (s *BoltStore) applyLoop() {
	w := s.walState
	for job := range w.jobs {
		w.applied <- s.applyTree(job.tree, job.upTo)
	}
}

// applyTree writes every entry of t into the file in one transaction, with
// upTo as the last log record the file holds, and returns once it is synced.
// It logs at Debug level what the transaction wrote and how long it took:
// the pages written per entry are what bounds how many writes a second the
// file can take behind the log.
func (s *BoltStore) applyTree(t *ovTree, upTo uint64) error {
	start := time.Now()
	var stats bolt.TxStats
	err := s.update("apply", func(tx *bolt.Tx) error {
		s.db.AllocSize = growthStep(tx.Size())
		a := applier{tx: tx}
		t.Ascend(func(e *ovEntry) bool {
			a.err = a.apply(e)
			return a.err == nil
		})
		if a.err != nil {
			return s.gate.MarkDamaged(fmt.Errorf("%w: %s: applying the write-ahead log: %v", ErrCorrupt, s.path, a.err))
		}
		tx.OnCommit(func() { stats = tx.Stats() })
		return tx.Bucket(boltMetaBucket).Put(boltLogKey, binary.BigEndian.AppendUint64(nil, upTo))
	})
	if err == nil && s.walState != nil {
		// The file is synced: the log may say so (before the committer
		// releases it). In the applier's goroutine, this sync holds up no
		// writer. A replay at open runs before walState exists; openLog
		// writes the mark once it is done.
		s.markWAL(s.walState.mark, upTo)
	}
	if err == nil {
		s.log.Debug("userprops: wrote the write-ahead log into the file", "path", s.path, "up_to", upTo,
			"entries", t.Len(), "pages_written", stats.GetWrite(), "write_time", stats.GetWriteTime(), "took", time.Since(start))
	}
	return err
}

// flush writes everything pending into the file, in the committer's
// goroutine: it waits for the applier, retries what it failed, and applies
// the active layer.
func (s *BoltStore) flush() error {
	w := s.walState
	if w.applying {
		if err := s.applied(<-w.applied); err != nil {
			return err
		}
	}
	if w.frozen != nil {
		if err := s.applied(s.applyTree(w.frozen, w.upTo)); err != nil {
			return err
		}
	}
	if w.active.Len() == 0 {
		return nil
	}
	s.freeze()
	return s.applied(s.applyTree(w.frozen, w.upTo))
}

// applier writes entries into the buckets of tx, keeping the bucket of the
// last.
type applier struct {
	tx     *bolt.Tx
	tag    []byte
	bucket *bolt.Bucket
	err    error
}

func (a *applier) apply(e *ovEntry) error {
	if a.tag == nil || !bytes.HasPrefix(e.key, a.tag) {
		tag, err := entryTag(e.key)
		if err != nil {
			return err
		}
		b, err := resolveTag(a.tx, tag)
		if err != nil {
			return err
		}
		if bytes.Equal(tag, tagHistory) {
			b.FillPercent = 1 // the history grows at its end only
		}
		a.tag, a.bucket = tag, b
	}
	k := e.key[len(a.tag):]
	if e.del {
		return a.bucket.Delete(k)
	}
	return a.bucket.Put(k, e.val)
}

// entryTag returns the bucket tag that the key of an overlay or log entry
// starts with (see bucketTag).
func entryTag(key []byte) ([]byte, error) {
	i := 0
	for i < len(key) && key[i] != 0 {
		i += 1 + int(key[i])
	}
	if i >= len(key) {
		return nil, fmt.Errorf("entry key %q names no bucket", key)
	}
	return key[:i+1], nil
}

// A log record is a group's entries in key order, each:
//
//	uvarint(len(key)) | key (bucket tag and key in the bucket)
//	flags  1 byte: 1 a delete, 0 a put
//	uvarint(len(value)) | value (none for a delete)
//
// The log frames and checksums each record.

func encodeGroup(t *ovTree) []byte {
	n := 0
	t.Ascend(func(e *ovEntry) bool {
		n += len(e.key) + len(e.val) + 2*binary.MaxVarintLen32 + 1
		return true
	})
	rec := make([]byte, 0, n)
	t.Ascend(func(e *ovEntry) bool {
		rec = binary.AppendUvarint(rec, uint64(len(e.key)))
		rec = append(rec, e.key...)
		if e.del {
			rec = append(rec, 1)
			return true
		}
		rec = append(rec, 0)
		rec = binary.AppendUvarint(rec, uint64(len(e.val)))
		rec = append(rec, e.val...)
		return true
	})
	return rec
}

// decodeGroup calls fn with each entry of the log record rec; the entries'
// slices point into rec.
func decodeGroup(rec []byte, fn func(*ovEntry) error) error {
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(rec)
		if w <= 0 || n > uint64(len(rec)-w) {
			return nil, false
		}
		f := rec[w : w+int(n)]
		rec = rec[w+int(n):]
		return f, true
	}
	for len(rec) > 0 {
		k, ok := field()
		if !ok || len(rec) == 0 || rec[0] > 1 {
			return errors.New("malformed entry")
		}
		e := &ovEntry{key: k, del: rec[0] == 1}
		rec = rec[1:]
		if !e.del {
			if e.val, ok = field(); !ok {
				return errors.New("malformed entry value")
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// openLog opens the write-ahead log beside the file, with the log on, or
// when the directory is there (a store that had the log on), and writes
// into the file every record it does not hold, in one transaction. With
// the log off, it is then closed, empty.
func (s *BoltStore) openLog(cfg boltConfig) error {
	dir := s.path + ".wal"
	if !cfg.wal {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	var held uint64
	err := s.view("open", func(tx *bolt.Tx) (err error) {
		held, err = s.logHeld(tx)
		return err
	})
	if err != nil {
		return err
	}
	l, err := s.openWAL(dir, cfg, held)
	if err != nil {
		return err
	}
	if l.Last() < held {
		// The file holds more than the log ever did: a log left beside
		// a file that replaced the one it belonged to. It has nothing
		// the file lacks; a new one starts after the file's index.
		s.log.Warn("userprops: the write-ahead log is behind its file; starting a new one",
			"path", dir, "log_last", l.Last(), "file_holds", held)
		if err := errors.Join(l.Close(), os.RemoveAll(dir)); err != nil {
			return fmt.Errorf("userprops: replacing the write-ahead log %s: %w", dir, err)
		}
		if l, err = s.openWAL(dir, cfg, held); err != nil {
			return err
		}
	}
	if err := s.checkWALMark(dir, held); err != nil {
		return errors.Join(s.gate.MarkDamaged(err), l.Close())
	}
	held, err = s.replay(l, held)
	if err == nil {
		if err := l.Release(held); err != nil {
			// The file holds every record: what stays is skipped by index.
			s.log.Warn("userprops: releasing the replayed write-ahead log failed", "path", dir, "err", err)
		}
	}
	if err != nil {
		return errors.Join(err, l.Close())
	}
	mark := s.openWALMark(dir, held)
	if !cfg.wal {
		mark.close()
		return l.Close()
	}
	s.walState = &walState{log: l, mark: mark, flushAt: cfg.walFlush, active: newOvTree(), activeKeys: new(ovFilter), logged: l.Last(), jobs: make(chan applyJob, 1), applied: make(chan error, 1)}
	s.ov.Store(&overlay{})
	go s.applyLoop()
	return nil
}

// openWAL opens the log in dir. A log lost or removed starts again after
// held, what the file holds, so that its indexes are never the file's
// again.
func (s *BoltStore) openWAL(dir string, cfg boltConfig, held uint64) (*wal.Log, error) {
	l, err := wal.Open(dir, wal.Options{SegmentSize: cfg.walSegment, FirstIndex: held + 1})
	switch {
	case errors.Is(err, wal.ErrCorrupt):
		return nil, s.gate.MarkDamaged(fmt.Errorf("%w: %s: %v", ErrCorrupt, dir, err))
	case err != nil:
		return nil, fmt.Errorf("userprops: opening the write-ahead log %s: %w", dir, err)
	}
	return l, nil
}

// logHeld returns the index of the last log record the file of tx holds
// (its "log" record; 0 without one).
func (s *BoltStore) logHeld(tx *bolt.Tx) (uint64, error) {
	v := tx.Bucket(boltMetaBucket).Get(boltLogKey)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, s.gate.MarkDamaged(fmt.Errorf("%w: %s: log record of %d bytes", ErrCorrupt, s.path, len(v)))
}

// replay writes the records of l after held, the last the file holds, into
// the file, in one transaction, and returns the index of the last record
// the file then holds.
func (s *BoltStore) replay(l *wal.Log, held uint64) (uint64, error) {
	if l.Last() <= held {
		return held, nil
	}
	if l.First() > held+1 {
		return 0, s.gate.MarkDamaged(fmt.Errorf("%w: %s: the file holds the write-ahead log up to record %d, the log starts at %d",
			ErrCorrupt, s.path, held, l.First()))
	}
	start := time.Now()
	// The records' entries go into one tree first, as the committer's
	// groups go into the active layer: a later entry of a key replaces an
	// earlier one, and the file takes them in key order, which bbolt
	// writes far faster than the order they came in.
	t := newOvTree()
	last := held
	err := l.Read(held, func(idx uint64, rec []byte) error {
		// The entries point into rec, which Read reuses.
		err := decodeGroup(bytes.Clone(rec), func(e *ovEntry) error {
			_, err := entryTag(e.key)
			t.ReplaceOrInsert(e)
			return err
		})
		if err != nil {
			return s.gate.MarkDamaged(fmt.Errorf("%w: %s: write-ahead log record %d: %v", ErrCorrupt, s.path, idx, err))
		}
		last = idx
		return nil
	})
	if err == nil {
		err = s.applyTree(t, last)
	}
	if err != nil {
		return 0, err
	}
	s.log.Info("userprops: replayed the write-ahead log", "path", s.path, "records", last-held, "took", time.Since(start))
	return last, nil
}

// appliedChan is the channel of the applier's results; nil without the
// log.
func (s *BoltStore) appliedChan() <-chan error {
	if s.walState == nil {
		return nil
	}
	return s.walState.applied
}

// closeLog, as the committer stops, writes everything pending into the
// file, stops the applier and closes the log. What it fails to write stays
// in the log, for the next open to replay.
func (s *BoltStore) closeLog() {
	w := s.walState
	if w == nil {
		return
	}
	if err := s.flush(); err != nil {
		s.log.Error("userprops: writing the write-ahead log into the file at close failed; the next open replays it",
			"path", s.path, "err", err)
	}
	close(w.jobs)
	w.mark.close()
	if err := w.log.Close(); err != nil {
		s.log.Error("userprops: closing the write-ahead log failed", "path", s.path, "err", err)
	}
}

// checkLog verifies the write-ahead log against the file of tx, and
// returns the problems: every segment and record passes the log's own
// check, the log holds every record after the last the file holds (none is
// missing between them), and each of those records decodes into entries
// of buckets the file has.
//
// first is the log's first record as of before tx began.
func (s *BoltStore) checkLog(tx *bolt.Tx, first uint64) []string {
	w := s.walState
	if w == nil {
		return nil
	}
	held, err := s.logHeld(tx)
	if err != nil {
		return []string{err.Error()}
	}
	if err := w.log.Check(); err != nil {
		return []string{fmt.Sprintf("write-ahead log: %v", err)}
	}
	if first > held+1 {
		return []string{fmt.Sprintf("the file holds the write-ahead log up to record %d, the log starts at %d", held, first)}
	}
	err = w.log.Read(held, func(idx uint64, rec []byte) error {
		return decodeGroup(rec, func(e *ovEntry) error {
			tag, err := entryTag(e.key)
			if err == nil {
				_, err = resolveTag(tx, tag)
			}
			if err != nil {
				return fmt.Errorf("record %d: %v", idx, err)
			}
			return nil
		})
	})
	if err != nil {
		return []string{fmt.Sprintf("write-ahead log: %v", err)}
	}
	return nil
}
