package userprops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The indexes of a bolt store (format 3, see the layout at the top of
// bolt.go). Every write that changes a property moves its index entries in
// the same transaction, through the committer (batchTx.reindex); building an
// index is a sequence of committer writes too (writeBuildIndex), each one
// batch of properties and the point the next one starts from, so that a
// build killed half-way resumes where its last commit ended.

var (
	boltIndexesBucket = []byte("indexes")
	boltTermsBucket   = []byte("terms")
)

// The states of an index record.
const (
	indexBuilding byte = 1 // entries exist for the properties before the record's resume key
	indexReady    byte = 2 // entries exist for every property: Find may use it
)

// maxStoredTerm bounds the bytes of a term in an entry key: a term of
// maxStoredTerm bytes or more is stored as its first maxStoredTerm-32 bytes
// and its SHA-256, and the accounts found under such a stored term are
// checked against their values (see boltView.Lookup), so that a long string
// neither overflows bbolt's key limit nor makes one account match another's
// string.
const maxStoredTerm = 256

// boltBuildBatch is how many property records one build transaction reads
// (BoltStore.buildBatch takes it at open). Tests lower it, to stop builds
// half-way.
var boltBuildBatch = 100_000

// boltIndex is one index of the file, as the committer and Find know it.
// Values are never modified once published in an indexTable.
type boltIndex struct {
	Index
	id    []byte // 8-byte big-endian: the record's key, its entries bucket's name
	ready bool
	// readyTx is the transaction whose commit completed the build (0 if
	// the file says it was complete when opened): a read transaction of
	// an earlier ID sees it incomplete.
	readyTx uint64
}

// indexTable is the set of indexes of the file as of the last commit. It is
// replaced, never modified, once published (BoltStore.indexes): the
// committer builds the next one while it applies a batch, and publishes it
// when the batch has committed.
type indexTable struct {
	all   []*boltIndex // by id
	byIx  map[Index]*boltIndex
	byKey map[string][]*boltIndex // by property key, for writes
}

func newIndexTable(all []*boltIndex) *indexTable {
	t := &indexTable{all: all, byIx: map[Index]*boltIndex{}, byKey: map[string][]*boltIndex{}}
	for _, bi := range all {
		t.byIx[bi.Index] = bi
		t.byKey[bi.Key] = append(t.byKey[bi.Key], bi)
	}
	return t
}

// with returns the table with bi in place of the index of the same id, or
// added.
func (t *indexTable) with(bi *boltIndex) *indexTable {
	all := slices.Clone(t.all)
	i, found := slices.BinarySearchFunc(all, bi.id, func(have *boltIndex, id []byte) int { return bytes.Compare(have.id, id) })
	if found {
		all[i] = bi
	} else {
		all = slices.Insert(all, i, bi)
	}
	return newIndexTable(all)
}

// without returns the table without the index of id.
func (t *indexTable) without(id []byte) *indexTable {
	return newIndexTable(slices.DeleteFunc(slices.Clone(t.all), func(bi *boltIndex) bool { return bytes.Equal(bi.id, id) }))
}

// encodeIndexRecord returns the record of the index id:
//
//	state   1 byte: 1 building, 2 ready
//	key     uvarint(len) | the property key
//	path    uvarint(len) | the path
//	resume  building: the composite property key the build goes on from
//	        ("" for the first), to the end of the record less 4 bytes
//	crc     uint32 big-endian, CRC-32C of id and of all the above
func encodeIndexRecord(id []byte, ix Index, state byte, resume []byte) []byte {
	rec := []byte{state}
	rec = binary.AppendUvarint(rec, uint64(len(ix.Key)))
	rec = append(rec, ix.Key...)
	rec = binary.AppendUvarint(rec, uint64(len(ix.Path)))
	rec = append(rec, ix.Path...)
	rec = append(rec, resume...)
	return binary.BigEndian.AppendUint32(rec, indexRecordCRC(id, rec))
}

func indexRecordCRC(id, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(id, castagnoli), castagnoli, body)
}

// decodeIndexRecord checks and decodes the record rec of index id. resume
// points into rec.
func decodeIndexRecord(id, rec []byte) (ix Index, state byte, resume []byte, err error) {
	if len(id) != 8 {
		return Index{}, 0, nil, fmt.Errorf("index id %x is not 8 bytes", id)
	}
	if len(rec) < 7 {
		return Index{}, 0, nil, fmt.Errorf("index record of %d bytes is too short", len(rec))
	}
	body := rec[:len(rec)-4]
	if got, want := indexRecordCRC(id, body), binary.BigEndian.Uint32(rec[len(body):]); got != want {
		return Index{}, 0, nil, fmt.Errorf("index record checksum is %08x, want %08x", got, want)
	}
	state, p := body[0], body[1:]
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w) {
			return nil, false
		}
		f := p[w : w+int(n)]
		p = p[w+int(n):]
		return f, true
	}
	key, ok1 := field()
	path, ok2 := field()
	if !ok1 || !ok2 || (state != indexBuilding && state != indexReady) || (state == indexReady && len(p) > 0) {
		return Index{}, 0, nil, fmt.Errorf("index record %x does not decode", rec)
	}
	ix = Index{string(key), string(path)}
	if err := ix.Err(); err != nil {
		return Index{}, 0, nil, fmt.Errorf("index record names an invalid index: %v", err)
	}
	return ix, state, p, nil
}

// storedTerm returns term as an entry key holds it (see maxStoredTerm), and
// whether it is shortened.
func storedTerm(term string) (string, bool) {
	if len(term) < maxStoredTerm {
		return term, false
	}
	sum := sha256.Sum256([]byte(term))
	return term[:maxStoredTerm-len(sum)] + string(sum[:]), true
}

// storedTerms returns the stored terms of value for ix, deduplicated.
func storedTerms(ix Index, value []byte) []string {
	terms := ix.Terms(value)
	for i, t := range terms {
		terms[i], _ = storedTerm(t)
	}
	return terms // distinct terms stay distinct: shortened ones keep their hash
}

// termPrefix appends the prefix of every entry of stored term t to dst:
// uvarint(len(t)) | t.
func termPrefix(dst []byte, t string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(t))), t...)
}

// entryKey returns the key of the entry (stored term t, accountID): the
// term's prefix, then the account ID, so that the accounts of one term are
// one range of keys, in ascending byte order.
func entryKey(t string, accountID []byte) []byte {
	k := make([]byte, 0, binary.MaxVarintLen32+len(t)+len(accountID))
	return append(termPrefix(k, t), accountID...)
}

// decodeEntry splits a key of an entries bucket into its stored term and
// account ID; a term's count record (see termCount) has no account ID.
func decodeEntry(k []byte) (term, accountID []byte, ok bool) {
	term, accountID, ok = decodeKey(k) // the same shape: uvarint(len) | a | b
	return term, accountID, ok && len(term) > 0
}

// A term's count record is the term's prefix alone, uvarint(len(t)) | t,
// just before its entries, with the number of its entries as its value,
// uint64 big-endian; a term with no entries has none. Find reads a whole
// term's total from it, and its first page from the entries after it.

// termCount decodes the value of a count record.
func termCount(v []byte) (uint64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint64(v)
	return n, n > 0
}

// hasKey reports whether b holds key k. (Entries have empty values, and
// Get does not tell an empty value from none.)
func hasKey(b kvBucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return bytes.Equal(got, k)
}

// countEntries adds delta to the count record of stored term t in e.
func (b *batchTx) countEntries(e kvWriter, t string, delta int64) error {
	k := termPrefix(nil, t)
	var n uint64
	if v := e.Get(k); v != nil {
		var ok bool
		if n, ok = termCount(v); !ok {
			return b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: count record %q of %d bytes", ErrCorrupt, b.s.path, k, len(v)))
		}
	}
	switch after := int64(n) + delta; {
	case after < 0:
		return b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: term %q counts %d entries, fewer than it has", ErrCorrupt, b.s.path, t, n))
	case after == int64(n):
		return nil
	case after == 0:
		return e.Delete(k)
	default:
		return e.Put(k, binary.BigEndian.AppendUint64(nil, uint64(after)))
	}
}

// setEntry adds (add) or removes the entry (t, account) of ix, and counts
// it, unless the index already has it or already lacks it: a write reaches
// properties a build has not, and a build properties a write has indexed.
func (ix *batchIndex) setEntry(t string, account []byte, add bool) error {
	k := entryKey(t, account)
	if hasKey(ix.entries, k) == add {
		return nil
	}
	var err error
	if add {
		err = ix.entries.Put(k, nil)
	} else {
		err = ix.entries.Delete(k)
	}
	if err == nil {
		ix.count(t, map[bool]int64{true: 1, false: -1}[add])
	}
	return err
}

// batchIndex is an index as a batch writes it: its entries bucket, and the
// changes to the counts of its terms, written once at the end of the batch
// (flushCounts), however many writes of the batch change them.
type batchIndex struct {
	*boltIndex
	entries kvWriter
	counts  map[string]int64
}

func (ix *batchIndex) count(t string, delta int64) {
	if ix.counts == nil {
		ix.counts = map[string]int64{}
	}
	ix.counts[t] += delta
}

// loadIndexes reads the index records of tx into a table; every index's
// entries bucket must be there.
func (s *BoltStore) loadIndexes(tx *bolt.Tx) (*indexTable, error) {
	var all []*boltIndex
	terms := tx.Bucket(boltTermsBucket)
	err := tx.Bucket(boltIndexesBucket).ForEach(func(id, rec []byte) error {
		ix, state, _, err := decodeIndexRecord(id, rec)
		if err == nil && terms.Bucket(id) == nil {
			err = fmt.Errorf("index %s has no entries bucket", ix)
		}
		if err != nil {
			return s.gate.MarkDamaged(fmt.Errorf("%w: %s: index %x: %v", ErrCorrupt, s.path, id, err))
		}
		all = append(all, &boltIndex{Index: ix, id: bytes.Clone(id), ready: state == indexReady})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newIndexTable(all), nil
}

// reindex moves the entries of the property with composite key k, in every
// index on its key, from the terms of its record old to those of rec (either
// nil: no property).
func (b *batchTx) reindex(k, old, rec []byte) error {
	account, key, _ := decodeKey(k)
	ixs := b.tab.byKey[string(key)]
	if len(ixs) == 0 {
		return nil
	}
	if old != nil {
		// A damaged old record would leave entries no one could find.
		if err := checkRecord(k, old); err != nil {
			return b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q: %v", ErrCorrupt, b.s.path, k, err))
		}
	}
	for _, bi := range ixs {
		var before, after []string
		if old != nil {
			before = storedTerms(bi.Index, old[recordHeaderLen:])
		}
		if rec != nil {
			after = storedTerms(bi.Index, rec[recordHeaderLen:])
		}
		ix, err := b.index(bi)
		if err != nil {
			return err
		}
		for _, t := range before {
			if !slices.Contains(after, t) {
				if err := ix.setEntry(t, account, false); err != nil {
					return err
				}
			}
		}
		for _, t := range after {
			if !slices.Contains(before, t) {
				if err := ix.setEntry(t, account, true); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// index returns bi as the batch writes it.
func (b *batchTx) index(bi *boltIndex) (*batchIndex, error) {
	if ix := b.open[string(bi.id)]; ix != nil {
		return ix, nil
	}
	e := b.r.writer(termsTag(bi.id), b.tx.Bucket(boltTermsBucket).Bucket(bi.id), b.group)
	if e == nil {
		return nil, b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: index %s has lost its entries bucket", ErrCorrupt, b.s.path, bi.Index))
	}
	if b.open == nil {
		b.open = map[string]*batchIndex{}
	}
	ix := &batchIndex{boltIndex: bi, entries: e}
	b.open[string(bi.id)] = ix
	return ix, nil
}

// flushCounts writes the count changes of the batch's writes.
func (b *batchTx) flushCounts() error {
	for _, ix := range b.open {
		for t, delta := range ix.counts {
			if err := b.countEntries(ix.entries, t, delta); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildProgress is what one build transaction did.
type buildProgress struct {
	read, indexed int  // property records read, and those of the index's key
	total         int  // property records in the file (first batch only)
	done          bool // the index is ready
}

// applyIndexWrite performs an index operation of the committer (writeAddIndex,
// writeBuildIndex, writeDropIndex) in b; the results are as for apply.
func (w *boltWrite) applyIndexWrite(b *batchTx) (answer, err error) {
	indexes := b.tx.Bucket(boltIndexesBucket)
	switch w.kind {
	case writeAddIndex:
		if bi := b.tab.byIx[w.index]; bi != nil {
			w.indexID, w.progress.done = bi.id, bi.ready
			return nil, nil
		}
		// Ids are never reused; one in use (left by damage or a copy
		// whose sequence was lost) is skipped, so that adding an index
		// cannot fail the writes committed with it.
		terms := b.tx.Bucket(boltTermsBucket)
		var id []byte
		for id == nil || terms.Bucket(id) != nil || indexes.Get(id) != nil {
			seq, err := indexes.NextSequence()
			if err != nil {
				return nil, err
			}
			id = binary.BigEndian.AppendUint64(nil, seq)
		}
		if _, err := terms.CreateBucket(id); err != nil {
			return nil, err
		}
		if err := indexes.Put(id, encodeIndexRecord(id, w.index, indexBuilding, nil)); err != nil {
			return nil, err
		}
		b.tab = b.tab.with(&boltIndex{Index: w.index, id: id})
		w.indexID = id
		return nil, nil
	case writeDropIndex:
		bi := b.tab.byIx[w.index]
		if bi == nil {
			return noIndex(b.s.path, w.index), nil
		}
		if err := indexes.Delete(bi.id); err != nil {
			return nil, err
		}
		if err := b.tx.Bucket(boltTermsBucket).DeleteBucket(bi.id); err != nil {
			return nil, err
		}
		delete(b.open, string(bi.id))
		b.tab = b.tab.without(bi.id)
		return nil, nil
	}
	return b.buildBatch(w)
}

func noIndex(path string, ix Index) error {
	return fmt.Errorf("%w: %s keeps no index %s", ErrNotFound, path, ix)
}

// buildBatch indexes the next s.buildBatch property records of the index
// w.indexID from its resume key, and records where the next batch starts, or
// that the index is ready.
func (b *batchTx) buildBatch(w *boltWrite) (answer, err error) {
	indexes := b.tx.Bucket(boltIndexesBucket)
	rec := indexes.Get(w.indexID)
	bi := b.tab.byIx[w.index]
	if rec == nil || bi == nil || !bytes.Equal(bi.id, w.indexID) {
		return fmt.Errorf("%w: %s: index %s was dropped while it was being built", ErrNotFound, b.s.path, w.index), nil
	}
	ix, state, resume, err := decodeIndexRecord(w.indexID, rec)
	if err != nil {
		return nil, b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: index %s: %v", ErrCorrupt, b.s.path, w.index, err))
	}
	if state == indexReady {
		w.progress.done = true
		return nil, nil
	}
	bix, err := b.index(bi)
	if err != nil {
		return nil, err
	}
	entries := bix.entries
	props := b.tx.Bucket(boltPropsBucket)
	if len(resume) == 0 {
		w.progress.total = props.Stats().KeyN
	}
	c := props.Cursor()
	var k, v []byte
	if len(resume) == 0 {
		k, v = c.First()
	} else {
		k, v = c.Seek(resume)
	}
	type entry struct {
		term string
		key  []byte
	}
	var adds []entry
	for ; k != nil && w.progress.read < b.s.buildBatch; k, v = c.Next() {
		w.progress.read++
		account, key, ok := decodeKey(k)
		if !ok {
			return nil, b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q does not decode", ErrCorrupt, b.s.path, k))
		}
		if string(key) != ix.Key {
			continue
		}
		if err := checkRecord(k, v); err != nil {
			return nil, b.s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q: %v", ErrCorrupt, b.s.path, k, err))
		}
		w.progress.indexed++
		for _, t := range storedTerms(ix, v[recordHeaderLen:]) {
			adds = append(adds, entry{t, entryKey(t, account)})
		}
	}
	// In key order, bbolt fills its pages one after another, and the
	// entries of each term come together, to be counted at once. Entries
	// a write made already are neither put nor counted again.
	slices.SortFunc(adds, func(x, y entry) int { return bytes.Compare(x.key, y.key) })
	ec := entries.Cursor()
	for _, e := range adds {
		if got, _ := ec.Seek(e.key); !bytes.Equal(got, e.key) {
			if err := entries.Put(e.key, nil); err != nil {
				return nil, err
			}
			bix.count(e.term, 1)
		}
	}
	if k != nil {
		return nil, indexes.Put(w.indexID, encodeIndexRecord(w.indexID, ix, indexBuilding, k))
	}
	if err := indexes.Put(w.indexID, encodeIndexRecord(w.indexID, ix, indexReady, nil)); err != nil {
		return nil, err
	}
	b.tab = b.tab.with(&boltIndex{Index: ix, id: bi.id, ready: true, readyTx: uint64(b.tx.ID())})
	w.progress.done = true
	return nil, nil
}

// Indexes returns the indexes the file keeps, in the order they were
// added, whether they were declared with WithIndex, added with AddIndex or
// found in the file: those Find uses and any still being built (by an
// AddIndex in progress, or one cancelled, which the next OpenBolt
// finishes). It returns ErrClosed after Close.
func (s *BoltStore) Indexes() ([]Index, error) {
	if err := s.gate.Ready(context.Background()); err != nil {
		return nil, err
	}
	var ixs []Index
	err := s.view("indexes", func(tx *bolt.Tx) error {
		t, err := s.loadIndexes(tx)
		if err == nil {
			for _, bi := range t.all {
				ixs = append(ixs, bi.Index)
			}
		}
		return err
	})
	return ixs, err
}

// AddIndex adds ix to the indexes the file keeps, for good, as if the store
// had been opened WithIndex(ix.Key, ix.Path): from the next commit on every
// write keeps it, and AddIndex builds it from the properties already
// stored, in batches of one transaction each (100,000 properties read),
// while other calls go on: writes wait for the batch in progress, some
// tenths of a second. Find uses it once it is complete. AddIndex returns nil once ix is ready (at
// once if it already was), logs its progress (WithLogger), and returns an
// error wrapping ErrInvalidQuery if ix is invalid.
//
// If ctx ends or the process stops during the build, the index stays
// recorded as being built: every write keeps it, Find does not use it, and
// the next AddIndex of it, or the next OpenBolt, goes on from the last batch
// committed. A DropIndex during the build ends it with an error wrapping
// ErrNotFound.
func (s *BoltStore) AddIndex(ctx context.Context, ix Index) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	if err := ix.Err(); err != nil {
		return err
	}
	w := &boltWrite{kind: writeAddIndex, index: ix}
	if err := s.write(ctx, w); err != nil {
		return err
	}
	if w.err != nil || w.progress.done {
		return w.err
	}
	return s.build(ctx, ix, w.indexID)
}

// DropIndex removes ix and its entries from the file, in one transaction:
// Find answers the clauses on it by reading values again, and writes no
// longer keep it. An index declared WithIndex is built again at the next
// OpenBolt that declares it. It returns an error wrapping ErrNotFound if the
// file keeps no index ix.
func (s *BoltStore) DropIndex(ctx context.Context, ix Index) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	w := &boltWrite{kind: writeDropIndex, index: ix}
	if err := s.write(ctx, w); err != nil {
		return err
	}
	return w.err
}

// build runs the build of index ix (id) to its end, one committer write per
// batch, logging progress at most once a second and when it ends.
func (s *BoltStore) build(ctx context.Context, ix Index, id []byte) error {
	start, last := time.Now(), time.Now()
	read, indexed, total := 0, 0, 0
	s.log.Info("userprops: building index", "file", s.path, "index", ix.String())
	for {
		w := &boltWrite{kind: writeBuildIndex, index: ix, indexID: id}
		if err := s.write(ctx, w); err != nil {
			return err
		}
		if w.err != nil {
			return w.err
		}
		read, indexed = read+w.progress.read, indexed+w.progress.indexed
		if w.progress.total > 0 {
			total = w.progress.total
		}
		if w.progress.done {
			elapsed := time.Since(start)
			s.log.Info("userprops: built index", "file", s.path, "index", ix.String(),
				"read", read, "indexed", indexed, "elapsed", elapsed.Round(time.Millisecond),
				"read_per_second", int(float64(read)/max(elapsed.Seconds(), 1e-9)))
			return nil
		}
		if time.Since(last) >= time.Second {
			last = time.Now()
			attrs := []any{"file", s.path, "index", ix.String(), "read", read, "indexed", indexed}
			if total > 0 {
				attrs = append(attrs, "of", total, "percent", min(100, read*100/total))
			}
			s.log.Info("userprops: building index", attrs...)
		}
	}
}

// openIndexes finishes, at open, the builds a crash or a cancelled AddIndex
// left half done, then adds and builds the declared indexes the file lacks.
func (s *BoltStore) openIndexes() error {
	ctx := context.Background()
	for _, bi := range s.indexes.Load().all {
		if !bi.ready {
			s.log.Info("userprops: resuming the build of an index", "file", s.path, "index", bi.String())
			if err := s.build(ctx, bi.Index, bi.id); err != nil {
				return fmt.Errorf("userprops: %s: building index %s: %w", s.path, bi.Index, err)
			}
		}
	}
	for _, ix := range s.gate.Indexes() {
		if err := s.AddIndex(ctx, ix); err != nil {
			return fmt.Errorf("userprops: %s: building index %s: %w", s.path, ix, err)
		}
	}
	return nil
}

// WithLogger sets where OpenBolt and AddIndex log the progress of index
// builds; the default is slog.Default(). It is a bolt option: other stores
// ignore it.
func WithLogger(l *slog.Logger) Option {
	return BackendOption(boltSetting(func(c *boltConfig) {
		if l != nil {
			c.log = l
		}
	}))
}

// checkIndexes verifies the indexes of tx against the properties, both
// ways, and returns the problems (at most max): every record decodes and has
// its entries bucket, and every entries bucket its record; every entry
// names a property of the index's key whose value has that term, and each
// term's count record counts its entries; every property of an index's key
// has the entries of all its terms (for an index being built, the
// properties before its resume key). It reads every entry,
// so that bbolt's own check reaches no page this goroutine has not read.
func (s *BoltStore) checkIndexes(ctx context.Context, tx *bolt.Tx, max int) ([]string, error) {
	var problems []string
	report := func(format string, args ...any) bool {
		if len(problems) < max {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
		return len(problems) < max
	}
	indexes, terms := tx.Bucket(boltIndexesBucket), tx.Bucket(boltTermsBucket)
	if indexes == nil || terms == nil {
		report("the indexes or terms bucket is missing")
		return problems, nil
	}
	type checked struct {
		Index
		entries *bolt.Bucket
		resume  []byte // building: properties from here on may lack entries
		ready   bool
	}
	var all []checked
	byKey := map[string][]int{}
	err := indexes.ForEach(func(id, rec []byte) error {
		ix, state, resume, err := decodeIndexRecord(id, rec)
		if err != nil {
			report("index %x: %v", id, err)
			return nil
		}
		e := terms.Bucket(id)
		if e == nil {
			report("index %s has no entries bucket", ix)
			return nil
		}
		byKey[ix.Key] = append(byKey[ix.Key], len(all))
		all = append(all, checked{ix, e, resume, state == indexReady})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = terms.ForEachBucket(func(id []byte) error {
		if indexes.Get(id) == nil {
			report("entries bucket %x belongs to no index", id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	props := tx.Bucket(boltPropsBucket)
	n := 0
	tick := func() error {
		if n++; n%4096 == 0 {
			return ctx.Err()
		}
		return nil
	}
	// Entries → properties, and each term's count record → its entries.
	var kb []byte
	for _, ix := range all {
		var term []byte // of the run of entries being counted
		var have, want uint64
		var counted bool
		endTerm := func() {
			if term != nil && (!counted || have != want) {
				report("index %s: term %q has %d entries, its count record says %d (present: %v)", ix.Index, term, have, want, counted)
			}
		}
		c := ix.entries.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := tick(); err != nil {
				return nil, err
			}
			t, account, ok := decodeEntry(k)
			if !ok {
				report("index %s: entry %q does not decode", ix.Index, k)
				continue
			}
			if !bytes.Equal(t, term) {
				endTerm()
				term, have, want, counted = bytes.Clone(t), 0, 0, false
			}
			if len(account) == 0 {
				if want, counted = termCount(v); !counted {
					report("index %s: count record %q holds %x", ix.Index, k, v)
				}
				continue
			}
			have++
			kb = boltKey(kb[:0], string(account), ix.Key)
			rec := props.Get(kb)
			if rec == nil {
				report("index %s: entry %q names account %q, which has no property %s", ix.Index, k, account, abbrev(ix.Key))
				continue
			}
			if checkRecord(kb, rec) != nil {
				continue // the record walk reports it
			}
			if !slices.Contains(storedTerms(ix.Index, rec[recordHeaderLen:]), string(t)) {
				report("index %s: entry %q: account %q's value has no such term", ix.Index, k, account)
			}
		}
		endTerm()
	}
	if len(all) == 0 {
		return problems, nil
	}
	// Properties → entries.
	c := props.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := tick(); err != nil {
			return nil, err
		}
		account, key, ok := decodeKey(k)
		if !ok || checkRecord(k, v) != nil {
			continue // the record walk reports it
		}
		for _, i := range byKey[string(key)] {
			ix := all[i]
			if !ix.ready && (len(ix.resume) == 0 || bytes.Compare(k, ix.resume) >= 0) {
				continue // not built yet
			}
			for _, t := range storedTerms(ix.Index, v[recordHeaderLen:]) {
				if !hasKey(rawBucket{ix.entries}, entryKey(t, account)) {
					report("index %s: account %q has no entry for term %q", ix.Index, account, t)
				}
			}
		}
	}
	return problems, nil
}
