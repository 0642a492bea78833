package userprops

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The committer of a bolt store: the one ordered path by which every change
// reaches the file. Writers queue a boltWrite each; one goroutine takes all
// that are queued into one transaction, syncs it once, and answers each
// writer with its own result.

// Group commit limits: writers queue up to boltQueueLen requests; one
// transaction takes at most boltMaxBatch of them.
const (
	boltQueueLen = 4096
	boltMaxBatch = 1024
)

// writeKind is what a boltWrite does.
type writeKind uint8

const (
	// writeSet stores one property, stamping its version, time and
	// revision; with cond, only if it is at revision want (SetIf).
	writeSet writeKind = iota + 1
	// writeDelete removes one property, or answers ErrNotFound; with
	// cond, only if it is at revision want (DeleteIf).
	writeDelete
	// writeRestore stores properties exactly as given (Restore).
	writeRestore
	// writeAddIndex records a new index, to be built (AddIndex).
	writeAddIndex
	// writeBuildIndex indexes one batch of properties (AddIndex).
	writeBuildIndex
	// writeDropIndex removes an index and its entries (DropIndex).
	writeDropIndex
	// writeDeleteAccount removes every property of one account
	// (DeleteAccount).
	writeDeleteAccount
	// writeFlush writes everything the write-ahead log holds into the
	// file (Backup, CompactTo); without the log it does nothing.
	writeFlush
)

// boltWrite is one change waiting for the committer.
type boltWrite struct {
	kind writeKind

	// writeSet and writeDelete: the composite key, and for writeSet the
	// record, its header stamped by the committer, and the CRC-32C of its
	// value, computed by the writer.
	key      []byte
	record   []byte
	valueCRC uint32

	accountID, propKey string // for error messages

	// writeSet and writeDelete: with cond, the write is made only if the
	// property is at revision want (CheckRevision, against the state the
	// writes before it in the batch leave). revision is the revision the
	// write gave (writeSet).
	cond     bool
	want     uint64
	revision uint64

	// writeRestore: composite keys and complete records, in order.
	restore []boltEntry

	// writeDeleteAccount: key is the account prefix; deleted is how many
	// properties the write removed.
	deleted int

	// The index writes: the index, and its id (set by writeAddIndex, for
	// writeBuildIndex); what a writeBuildIndex did, or for writeAddIndex
	// whether the index was ready already.
	index    Index
	indexID  []byte
	progress buildProgress

	// state moves once from writePending to writeTaken (by the committer)
	// or to writeCancelled (by the caller whose context ended first).
	state atomic.Uint32
	done  chan struct{} // closed by the committer after status and err are set

	status Status
	err    error
}

// boltEntry is one property of a writeRestore: its composite key, its
// record (the value in place, the header for the committer to stamp), the
// CRC-32C of the value, and the version and time to stamp.
type boltEntry struct {
	key, record []byte
	valueCRC    uint32
	version     uint64
	updatedAt   int64
}

const (
	writePending uint32 = iota
	writeTaken
	writeCancelled
)

// outcomeWait bounds how long a writer whose context has ended waits for a
// commit that has already taken its write. A commit normally ends within one
// sync; it waits longer only when bbolt must replace its memory map and a
// long read holds the old one (see WithMmapSize).
const outcomeWait = 500 * time.Millisecond

// write makes w and waits for its answer. Usually it hands w to the
// committer: a caller whose context ends while w is still queued withdraws
// it and gets ctx.Err(), and the write is not made; once the committer has
// taken w, the caller waits for the commit, and if its context has ended,
// at most outcomeWait more; past that it gets ErrOutcomeUnknown, and the
// commit goes on without it.
//
// With the log, a Set, Delete or DeleteAccount that is the only write in
// progress, and finds nothing being committed, is made in the caller's
// goroutine instead (lead), which spares a lone writer two goroutine
// handoffs a write. (With other writes in progress, it queues, so that it
// joins their group rather than commit alone ahead of it.) Its
// context is then not consulted again: it returns when the log has synced
// the write or failed, however long the disk takes. At most one caller at a
// time is in that position; the writers queued behind it are answered as
// above. A write does not lead while a long read runs (ForEach, Backup,
// Check, CompactTo): a write the file's growth holds up behind such a read
// then answers at its context's end, as above, and a ForEach whose
// callback writes cannot wait on itself.
func (s *BoltStore) write(ctx context.Context, w *boltWrite) error {
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if err := s.gate.Ready(ctx); err != nil { // Close or damage may have come since admit
		return err
	}
	w.done = make(chan struct{})
	if s.walState != nil {
		alone := s.writing.Add(1) == 1
		defer s.writing.Add(-1)
		if alone && s.lead(w) {
			return nil
		}
	}
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
	}
	t := time.NewTimer(outcomeWait)
	defer t.Stop()
	select {
	case <-w.done:
		return nil
	case <-t.C:
		return fmt.Errorf("%w: %s: the write was being committed when its context ended (%v), and the commit had not ended %v later",
			ErrOutcomeUnknown, s.path, context.Cause(ctx), outcomeWait)
	}
}

// lead makes w, a write of the caller's own, in the caller's goroutine
// (with the log), if the log holds writes of its kind, nothing is queued, no commit is in
// progress, no long read (longReads) is, and the overlay has room; it
// reports whether it did. The committer still takes every write that
// queues meanwhile, in groups.
func (s *BoltStore) lead(w *boltWrite) bool {
	if w.class() != classLogged || len(s.queue) > 0 || s.longReads.Load() > 0 || !s.commitMu.TryLock() {
		return false
	}
	defer s.commitMu.Unlock()
	if s.walState.full() {
		return false // the committer waits for the applier
	}
	s.commit([]*boltWrite{w})
	s.maybeFreeze(time.Now())
	return true
}

// commitLoop is the committer: it takes every write queued since the last
// commit into one transaction, syncs it once, and answers each writer with
// its own result. There is no delay: a new commit starts as soon as the
// previous one is synced, so a lone writer pays one commit and no more.
// With the log, the writes that arrive while a group syncs are made into
// the next group meanwhile (pipeline).
//
// It alone receives the applier's results (applied): it holds commitMu
// while it acts, and reads the channel only in its own goroutine.
func (s *BoltStore) commitLoop() {
	defer close(s.stopped)
	batch := make([]*boltWrite, 0, boltMaxBatch)
	var tick <-chan time.Time // with the log: when to look for a layer to flush
	if s.walState != nil {
		t := time.NewTicker(max(s.walState.flushAt.age/4, time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case w := <-s.queue:
			batch = append(batch[:0], w)
		case err := <-s.appliedChan():
			s.commitMu.Lock()
			_ = s.applied(err)
			s.maybeFreeze(time.Now())
			s.commitMu.Unlock()
			continue
		case now := <-tick:
			s.commitMu.Lock()
			s.maybeFreeze(now)
			s.commitMu.Unlock()
			continue
		case <-s.stop:
			// Close holds the lifecycle lock: no writer is in flight
			// and the queue is empty.
			s.commitMu.Lock()
			s.closeLog()
			s.commitMu.Unlock()
			return
		}
		s.commitMu.Lock()
		s.waitRoom()
		batch = s.drain(batch, boltMaxBatch)
		if s.walState != nil && !slices.ContainsFunc(batch, func(w *boltWrite) bool { return w.class() != classLogged }) {
			s.pipeline(s.take(batch))
		} else {
			s.commit(batch)
		}
		if s.walState != nil {
			s.maybeFreeze(time.Now())
		}
		s.commitMu.Unlock()
		clear(batch) // drop references for the garbage collector
	}
}

// waitRoom, with the log, waits while the overlay is full: for the file,
// and while it fails, for its retries. Only the committer calls it.
func (s *BoltStore) waitRoom() {
	w := s.walState
	if w == nil {
		return
	}
	for w.full() {
		if w.applying {
			_ = s.applied(<-w.applied)
			continue
		}
		time.Sleep(time.Until(w.retryAt))
		s.maybeFreeze(time.Now())
	}
}

// drain adds to batch the writes queued, up to n in all.
func (s *BoltStore) drain(batch []*boltWrite, n int) []*boltWrite {
	for len(batch) < n {
		select {
		case w := <-s.queue:
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

// take returns the writes of batch that are still to be made, marking them
// taken; those whose callers withdrew are dropped.
func (s *BoltStore) take(batch []*boltWrite) []*boltWrite {
	return slices.DeleteFunc(batch, func(w *boltWrite) bool {
		return !w.state.CompareAndSwap(writePending, writeTaken)
	})
}

// commit makes the writes of batch, in queue order, and answers every
// write. A write that fails on its own (a Delete of a missing property)
// fails alone; if bbolt or the log fails, every write of the transaction
// or group fails with its error (wrapping ErrCorrupt if bbolt met damage).
// Without the log the batch is one transaction; with it, each run of
// writes the log holds is one group (commitLogged), and each run of
// administrative writes one transaction after a flush.
func (s *BoltStore) commit(batch []*boltWrite) {
	live := s.take(batch)
	if len(live) == 0 {
		return
	}
	if s.commitTrace != nil && s.walState == nil {
		s.commitTrace(live)
	}
	if s.walState == nil {
		// Without the log, the batch is one commit: a writeFlush has
		// nothing to do.
		live = slices.DeleteFunc(live, func(w *boltWrite) bool {
			if w.kind == writeFlush {
				close(w.done)
				return true
			}
			return false
		})
		if len(live) > 0 {
			s.commitTx(live)
		}
		return
	}
	for len(live) > 0 {
		class := live[0].class()
		n := 1
		for n < len(live) && live[n].class() == class {
			n++
		}
		run := live[:n]
		live = live[n:]
		if s.commitTrace != nil && class != classLogged {
			s.commitTrace(run) // commitLogged calls it for its group
		}
		switch {
		case class == classFlush:
			answer(run, s.flush())
		case class == classLogged:
			s.commitLogged(run)
		default:
			if err := s.flush(); err != nil {
				answer(run, err)
			} else {
				s.commitTx(run)
			}
		}
	}
}

// The classes of writes, as the committer makes them with the log.
const (
	// classLogged are the writes of Set, SetIf, Delete, DeleteIf and
	// DeleteAccount, which the log holds.
	classLogged = iota
	// classAdmin are those that change indexes or restore properties:
	// with the log, the committer writes everything pending into the
	// file first, and then commits them to the file directly.
	classAdmin
	// classFlush is writeFlush.
	classFlush
)

func (w *boltWrite) class() int {
	switch w.kind {
	case writeSet, writeDelete, writeDeleteAccount:
		return classLogged
	case writeFlush:
		return classFlush
	}
	return classAdmin
}

// commitTx makes the writes of live in one bbolt transaction and answers
// every write.
func (s *BoltStore) commitTx(live []*boltWrite) {
	var b *batchTx
	err := s.update("commit", func(tx *bolt.Tx) error {
		s.db.AllocSize = growthStep(tx.Size())
		var err error
		if b, err = s.newBatch(&kvRead{tx: tx}, nil); err != nil {
			return err
		}
		// The history grows at its end only: full pages, as for keys
		// that arrive in order.
		b.history.(rawBucket).FillPercent = 1
		return b.applyAll(live)
	})
	if err == nil && b.tab != s.indexes.Load() {
		// Only now that the batch is committed: a Find that loads the
		// table in a transaction begun before the commit finds the
		// indexes it completed, with readyTx later than its own.
		s.indexes.Store(b.tab)
	}
	if err == nil && b.rev != b.start {
		s.signal.Notify() // the changes are committed and readable
	}
	answer(live, err)
}

// newBatch returns the batch of r: the transaction of a commit, with group
// nil, or with the log, the read the group is made in.
func (s *BoltStore) newBatch(r *kvRead, group *ovTree) (*batchTx, error) {
	tx := r.tx
	b := &batchTx{s: s, r: r, tx: tx, group: group, now: s.gate.Now().UnixNano(), tab: s.indexes.Load(),
		meta:    r.writer(tagMeta, tx.Bucket(boltMetaBucket), group),
		props:   r.writer(tagProps, tx.Bucket(boltPropsBucket), group),
		usage:   r.writer(tagUsage, tx.Bucket(boltUsageBucket), group),
		history: r.writer(tagHistory, tx.Bucket(boltHistoryBucket), group),
	}
	var err error
	if b.rev, err = s.readRevisions(b.meta); err != nil {
		return nil, err
	}
	b.start = b.rev
	return b, nil
}

// applyAll applies every write of live in b, then the count changes and
// the revision record. A non-nil error must roll b back.
func (b *batchTx) applyAll(live []*boltWrite) error {
	if err := b.applyWrites(live); err != nil {
		return err
	}
	return b.finish()
}

// applyWrites applies every write of live in b, after those applied
// already.
func (b *batchTx) applyWrites(live []*boltWrite) error {
	for _, w := range live {
		var err error
		if w.status, w.err, err = w.apply(b); err != nil {
			return err
		}
	}
	return nil
}

// finish writes the count changes and the revision record of the writes
// applied in b.
func (b *batchTx) finish() error {
	if err := b.flushCounts(); err != nil {
		return err
	}
	return b.flushRevisions()
}

// growthStep is how much a commit that must grow the file adds beyond what
// it needs, for a file of size bytes: as much as the file holds, from 32 KiB
// to 16 MiB. bbolt's own rule is to grow to its map size while that is below
// 16 MiB; with the large map a store reserves (WithMmapSize) that would make
// every file 16 MiB at its first growth. Growing by the file's own size keeps
// files as small as they were, at one extra sync per doubling.
func growthStep(size int64) int {
	return int(min(max(size, 32<<10), 16<<20))
}

// batchTx is the transaction a batch is applied in: its buckets, the time
// that stamps its records, the store (for its Gate and messages), the
// indexes as the writes of the batch so far leave them, and the revisions
// as the transaction began and as its writes so far leave them.
//
// Without the log, tx is the transaction and the buckets are bbolt's; with
// it, tx is a read transaction, the buckets write into group, and the
// writes of the batch are all of kinds the log holds (classLogged).
type batchTx struct {
	s                           *BoltStore
	r                           *kvRead
	tx                          *bolt.Tx
	group                       *ovTree
	meta, props, usage, history kvWriter
	now                         int64
	tab                         *indexTable
	open                        map[string]*batchIndex // the indexes written, by id
	start, rev                  revisions
}

// apply performs w in the transaction b. It returns w's own answer, and a
// non-nil err if bbolt failed or met damage, which must roll back the
// transaction.
//
// Every write keeps the usage record of its account (bolt_usage.go) and the
// entries of the indexes on its key (bolt_index.go) in the same transaction:
// the usage a write reads includes the writes before it in the batch, so
// that the account limits count the writes of one account one after
// another. A Set the limits refuse answers ErrAccountFull and writes
// nothing; a Restore is exempt from the limits, but counted.
func (w *boltWrite) apply(b *batchTx) (status Status, answer, err error) {
	switch w.kind {
	case writeDelete:
		old := b.props.Get(w.key)
		if w.cond && (old != nil || w.want != 0) {
			if answer, err := w.checkRevision(b, old); answer != nil || err != nil {
				return 0, answer, err
			}
		}
		if old == nil {
			return 0, NotFound(w.accountID, w.propKey), nil
		}
		return 0, nil, b.remove(w.key, old)
	case writeAddIndex, writeBuildIndex, writeDropIndex:
		answer, err := w.applyIndexWrite(b)
		return 0, answer, err
	case writeDeleteAccount:
		return 0, nil, w.applyDeleteAccount(b)
	case writeRestore:
		for _, e := range w.restore {
			old := b.props.Get(e.key)
			prefix, _, after, err := b.usageAfter(e.key, old, e.record)
			if err != nil {
				return 0, nil, err
			}
			if err := b.put(e.key, old, e.record, e.valueCRC, e.version, e.updatedAt); err != nil {
				return 0, nil, err
			}
			if err := writeUsage(b.usage, prefix, after); err != nil {
				return 0, nil, err
			}
		}
		return 0, nil, nil
	}
	old := b.props.Get(w.key)
	if w.cond {
		if answer, err := w.checkRevision(b, old); answer != nil || err != nil {
			return 0, answer, err
		}
	}
	status, version := Created, uint64(1)
	if old != nil {
		status = Updated
		if len(old) >= recordHeaderLen {
			version = recordVersion(old) + 1
		}
		if version > MaxVersion || version == 0 {
			return 0, fmt.Errorf("userprops: account %s, key %s: the property is at the largest version, %d; delete it to start again at 1",
				abbrev(w.accountID), abbrev(w.propKey), MaxVersion), nil
		}
	}
	prefix, before, after, err := b.usageAfter(w.key, old, w.record)
	if err != nil {
		return 0, nil, err
	}
	if err := b.s.gate.CheckUsage(w.accountID, before, after); err != nil {
		return 0, err, nil
	}
	if err := b.put(w.key, old, w.record, w.valueCRC, version, b.now); err != nil {
		return 0, nil, err
	}
	w.revision = recordRevision(w.record)
	return status, nil, writeUsage(b.usage, prefix, after)
}

// checkRevision checks the condition of a SetIf or DeleteIf against the
// property's record old (nil: none): its answer is the mismatch, or
// ErrCorrupt if old fails its checksum (its revision cannot be trusted).
func (w *boltWrite) checkRevision(b *batchTx, old []byte) (answer, err error) {
	var current uint64
	if old != nil {
		if err := checkRecord(w.key, old); err != nil {
			return b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: account %s, key %s: %v",
				ErrCorrupt, b.s.path, abbrev(w.accountID), abbrev(w.propKey), err)), nil
		}
		current = recordRevision(old)
	}
	return CheckRevision(w.accountID, w.propKey, current, w.want), nil
}

// put writes rec, the record of the property with composite key k, whose
// record was old (nil: none): it gives the change its revision, stamps the
// header, moves the index entries and records the change. The caller keeps
// the usage record.
func (b *batchTx) put(k, old, rec []byte, valueCRC uint32, version uint64, updatedAt int64) error {
	rev, err := b.change(k, rec[recordHeaderLen:], valueCRC, false)
	if err != nil {
		return err
	}
	stampRecord(k, rec, valueCRC, version, updatedAt, rev)
	if err := b.reindex(k, old, rec); err != nil {
		return err
	}
	return b.props.Put(k, rec)
}

// remove deletes the property with composite key k, whose record is old:
// its index entries and its usage go with it, and the change is recorded.
func (b *batchTx) remove(k, old []byte) error {
	prefix, _, after, err := b.usageAfter(k, old, nil)
	if err != nil {
		return err
	}
	if err := b.reindex(k, old, nil); err != nil {
		return err
	}
	if err := b.props.Delete(k); err != nil {
		return err
	}
	if _, err := b.change(k, nil, 0, true); err != nil {
		return err
	}
	return writeUsage(b.usage, prefix, after)
}

// applyDeleteAccount removes every property of the account whose prefix is
// w.key, their index entries and the account's usage record. The keys are
// copied out first and then deleted: a bbolt cursor may skip a key after
// deleting beneath it. They are at most as many as the account holds.
func (w *boltWrite) applyDeleteAccount(b *batchTx) error {
	var keys [][]byte
	c := b.props.Cursor()
	for k, _ := c.Seek(w.key); k != nil && bytes.HasPrefix(k, w.key); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.remove(k, b.props.Get(k)); err != nil {
			return err
		}
	}
	w.deleted = len(keys)
	if len(keys) == 0 {
		return nil
	}
	// Zero whatever the record said: the account holds nothing now.
	return writeUsage(b.usage, w.key, Usage{})
}

// usageAfter returns the account prefix of the composite key key, and the
// account's usage before and after the property's record old (nil: there is
// none) is replaced by rec (nil: the property is deleted).
func (b *batchTx) usageAfter(key, old, rec []byte) (prefix []byte, before, after Usage, err error) {
	prefix, _ = accountPrefix(key)
	if before, err = b.s.readUsage(b.usage, prefix); err != nil {
		return nil, Usage{}, Usage{}, err
	}
	size := func(rec []byte) int64 {
		if rec == nil {
			return NoProperty
		}
		return storedBytes(prefix, key, rec)
	}
	return prefix, before, before.Change(size(old), size(rec)), nil
}
