package userprops

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"iter"

	bolt "go.etcd.io/bbolt"
)

// The revisions and change history of a bolt store (format 4, see the
// layout at the top of bolt.go). The committer gives every change its
// revision and writes it to the history in the commit that makes it
// (batchTx.change), trims the history there (batchTx.flushRevisions), and
// wakes the watchers once the commit is synced; Watch reads the history
// through WatchHistory.

var (
	boltHistoryBucket = []byte("history")
	boltRevisionKey   = []byte("revision")
)

const (
	revisionRecordLen = 20
	changeHeaderLen   = 13 // deleted, at, checksum
)

// revisions is what the revision record holds: the latest revision given,
// and the latest trimmed from the history.
type revisions struct{ head, trimmed uint64 }

func encodeRevisions(r revisions) []byte {
	rec := make([]byte, revisionRecordLen)
	binary.BigEndian.PutUint64(rec[0:8], r.head)
	binary.BigEndian.PutUint64(rec[8:16], r.trimmed)
	binary.BigEndian.PutUint32(rec[16:20], crc32.Checksum(rec[0:16], castagnoli))
	return rec
}

func decodeRevisions(rec []byte) (revisions, error) {
	if len(rec) != revisionRecordLen {
		return revisions{}, fmt.Errorf("revision record of %d bytes, want %d", len(rec), revisionRecordLen)
	}
	if got, want := crc32.Checksum(rec[0:16], castagnoli), binary.BigEndian.Uint32(rec[16:20]); got != want {
		return revisions{}, fmt.Errorf("revision record checksum is %08x, want %08x", got, want)
	}
	r := revisions{binary.BigEndian.Uint64(rec[0:8]), binary.BigEndian.Uint64(rec[8:16])}
	if r.trimmed > r.head {
		return revisions{}, fmt.Errorf("revision record trims %d, past its head %d", r.trimmed, r.head)
	}
	return r, nil
}

// readRevisions returns the revision record in meta; a missing or damaged one
// marks the store damaged.
func (s *BoltStore) readRevisions(meta kvBucket) (revisions, error) {
	r, err := decodeRevisions(meta.Get(boltRevisionKey))
	if err != nil {
		return revisions{}, s.gate.MarkDamaged(fmt.Errorf("%w: %s: %v", ErrCorrupt, s.path, err))
	}
	return r, nil
}

// revisionKey returns the history key of revision rev.
func revisionKey(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) }

// encodeChange returns the history record of the change rev of the property
// with composite key k: its value (nil for a delete), whose CRC-32C is
// valueCRC, and the commit time at.
func encodeChange(rev uint64, k, value []byte, valueCRC uint32, deleted bool, at int64) []byte {
	rec := make([]byte, changeHeaderLen, changeHeaderLen+binary.MaxVarintLen64+len(k)+len(value))
	if deleted {
		rec[0] = 1
	}
	binary.BigEndian.PutUint64(rec[1:9], uint64(at))
	rec = binary.AppendUvarint(rec, uint64(len(k)))
	rec = append(rec, k...)
	valueAt := len(rec)
	rec = append(rec, value...)
	binary.BigEndian.PutUint32(rec[9:13], changeCRC(valueCRC, rev, rec, valueAt))
	return rec
}

// changeCRC is the checksum of the history record rec of revision rev,
// whose value starts at valueAt: value first, as for property records, so
// that the value's checksum that the writer computed serves.
func changeCRC(valueCRC uint32, rev uint64, rec []byte, valueAt int) uint32 {
	var rk [8]byte
	binary.BigEndian.PutUint64(rk[:], rev)
	crc := crc32.Update(valueCRC, castagnoli, rk[:])
	crc = crc32.Update(crc, castagnoli, rec[0:9])
	return crc32.Update(crc, castagnoli, rec[changeHeaderLen:valueAt])
}

// storedChange is a history record, decoded; its slices point into the
// record.
type storedChange struct {
	rev         uint64
	deleted     bool
	at          int64
	key         []byte // composite
	account, pk []byte
	value       []byte
	valueCRC    uint32
}

// decodeChange checks and decodes the history record rec under the key k.
func decodeChange(k, rec []byte) (storedChange, error) {
	if len(k) != 8 {
		return storedChange{}, fmt.Errorf("history key %x is not a revision", k)
	}
	c := storedChange{rev: binary.BigEndian.Uint64(k)}
	if len(rec) < changeHeaderLen+1 || rec[0] > 1 {
		return c, fmt.Errorf("revision %d: malformed change record", c.rev)
	}
	n, w := binary.Uvarint(rec[changeHeaderLen:])
	body := rec[changeHeaderLen:]
	if w <= 0 || n > uint64(len(body)-w) {
		return c, fmt.Errorf("revision %d: change record's key does not decode", c.rev)
	}
	c.key, c.value = body[w:w+int(n)], body[w+int(n):]
	c.valueCRC = crc32.Checksum(c.value, castagnoli)
	if got, want := changeCRC(c.valueCRC, c.rev, rec, changeHeaderLen+w+int(n)), binary.BigEndian.Uint32(rec[9:13]); got != want {
		return c, fmt.Errorf("revision %d: change record checksum is %08x, want %08x", c.rev, got, want)
	}
	var ok bool
	if c.account, c.pk, ok = decodeKey(c.key); !ok {
		return c, fmt.Errorf("revision %d: change record's property key %q does not decode", c.rev, c.key)
	}
	c.deleted, c.at = rec[0] == 1, int64(binary.BigEndian.Uint64(rec[1:9]))
	if c.deleted && len(c.value) > 0 {
		return c, fmt.Errorf("revision %d: a delete with a value", c.rev)
	}
	return c, nil
}

// change gives the next revision to a change of the property with composite
// key k, which sets value (whose CRC-32C is valueCRC) or deletes it, writes
// the change to the history, and returns the revision. Every write that
// sets or deletes a property calls it, in commit order: it is the one place
// revisions are given.
func (b *batchTx) change(k, value []byte, valueCRC uint32, deleted bool) (uint64, error) {
	b.rev.head++
	rev := b.rev.head
	if err := b.history.Put(revisionKey(rev), encodeChange(rev, k, value, valueCRC, deleted, b.now)); err != nil {
		return 0, err
	}
	return rev, nil
}

// flushRevisions, at the end of a batch that made changes, trims the
// history to the retention, oldest first, and writes the revision record.
// The history then holds exactly the revisions trimmed+1 to head.
func (b *batchTx) flushRevisions() error {
	if b.rev == b.start {
		return nil
	}
	maxChanges, maxAge := b.s.gate.History()
	for b.rev.head-b.rev.trimmed > uint64(maxChanges) {
		b.rev.trimmed++
		if err := b.history.Delete(revisionKey(b.rev.trimmed)); err != nil {
			return err
		}
	}
	if maxAge > 0 {
		// The history holds exactly trimmed+1 to head: a seek there, not
		// a walk from the first key (through the write-ahead log's
		// overlay that would pass every trimmed entry still pending).
		c := b.history.Cursor()
		for k, v := c.Seek(revisionKey(b.rev.trimmed + 1)); k != nil && b.rev.head-b.rev.trimmed > 1; k, v = c.Seek(revisionKey(b.rev.trimmed + 1)) {
			if len(v) < changeHeaderLen || b.now-int64(binary.BigEndian.Uint64(v[1:9])) <= int64(maxAge) {
				break
			}
			b.rev.trimmed = binary.BigEndian.Uint64(k)
			if err := b.history.Delete(revisionKey(b.rev.trimmed)); err != nil {
				return err
			}
		}
	}
	return b.meta.Put(boltRevisionKey, encodeRevisions(b.rev))
}

// boltHistory is the ChangeSource of a bolt store.
type boltHistory struct{ s *BoltStore }

// ReadChanges implements ChangeSource, in one read transaction. It walks
// the history from after on, and for one account skips the others' changes
// as it goes; a damaged change record is ErrCorrupt.
func (h boltHistory) ReadChanges(ctx context.Context, accountID string, after uint64, limit int) (changes []Change, through, oldest, head uint64, err error) {
	s := h.s
	var prefix []byte
	if accountID != "" {
		prefix = boltKey(nil, accountID, "")
	}
	err = s.read("watch", func(kv *kvRead) error {
		r, err := s.readRevisions(kv.meta())
		if err != nil {
			return err
		}
		oldest, head = r.trimmed+1, r.head
		through = max(after, r.trimmed)
		if through >= head {
			through = max(after, head)
			return nil
		}
		c := kv.history().Cursor()
		n := 0
		for k, v := c.Seek(revisionKey(through + 1)); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			sc, err := decodeChange(k, v)
			if err != nil {
				return s.gate.MarkDamaged(fmt.Errorf("%w: %s: history: %v", ErrCorrupt, s.path, err))
			}
			through = sc.rev
			// The prefix holds the account ID's length: it names one account.
			if prefix != nil && !bytes.HasPrefix(sc.key, prefix) {
				continue
			}
			ch := Change{AccountID: string(sc.account), Key: string(sc.pk), Revision: sc.rev, Deleted: sc.deleted}
			if !sc.deleted {
				ch.Value = bytes.Clone(sc.value)
			}
			if changes = append(changes, ch); len(changes) == limit {
				return nil
			}
		}
		through = max(through, head)
		return nil
	})
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return changes, through, oldest, head, nil
}

// Watch implements Store, from the history in the file (WithHistory sets
// how much it keeps; the default is DefaultHistoryChanges): each read of it
// is one read transaction, and a watcher holds none while it waits.
func (s *BoltStore) Watch(ctx context.Context, accountID string, after uint64) iter.Seq2[Change, error] {
	if err := s.gate.AdmitWatch(ctx, accountID); err != nil {
		return func(yield func(Change, error) bool) { yield(Change{}, err) }
	}
	return WatchHistory(ctx, s.gate, boltHistory{s}, &s.signal, accountID, after)
}

// --- the upgrade from formats 1 to 3 ----------------------------------------

const recordHeaderLenV3 = 20

// checkRecordV3 verifies a property record of formats 1 to 3: version,
// updatedAt, checksum (of value | version | updatedAt | key), value.
func checkRecordV3(key, rec []byte) error {
	if len(rec) < recordHeaderLenV3 {
		return fmt.Errorf("record of %d bytes is shorter than its header", len(rec))
	}
	crc := crc32.Checksum(rec[recordHeaderLenV3:], castagnoli)
	crc = crc32.Update(crc32.Update(crc, castagnoli, rec[0:16]), castagnoli, key)
	if want := binary.BigEndian.Uint32(rec[16:20]); crc != want {
		return fmt.Errorf("record checksum is %08x, want %08x", crc, want)
	}
	return nil
}

// giveRevisions rewrites every property record of tx, a file of formats 1
// to 3, in the current layout, with revisions 1 to N in key order, and
// returns N. A record that fails its old checksum stops the upgrade: a new
// checksum must not vouch for damage.
func giveRevisions(tx *bolt.Tx) (uint64, error) {
	props := tx.Bucket(boltPropsBucket)
	c := props.Cursor()
	var rev uint64
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := checkRecordV3(k, v); err != nil {
			return 0, fmt.Errorf("%w: key %q: %v", ErrCorrupt, k, err)
		}
		key := bytes.Clone(k)
		rec, valueCRC := newRecord(v[recordHeaderLenV3:])
		rev++
		stampRecord(key, rec, valueCRC, binary.BigEndian.Uint64(v[0:8]), int64(binary.BigEndian.Uint64(v[8:16])), rev)
		if err := props.Put(key, rec); err != nil {
			return 0, err
		}
		// A cursor must be placed again after its bucket changes.
		c.Seek(key)
	}
	return rev, nil
}

// --- Check --------------------------------------------------------------------

// checkHistory verifies the revision record and the history of tx against
// the properties, and returns the problems (at most max): every change
// record decodes and passes its checksum, the history holds exactly the
// revisions trimmed+1 to head, every property has a revision from 1 to head,
// and the latest change the history holds of each property is the
// property's state: its revision and value, or its absence after a delete.
// It holds the latest change of each property the history names in memory:
// at most as many as the history keeps.
func (s *BoltStore) checkHistory(ctx context.Context, tx *bolt.Tx, max int) ([]string, error) {
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < max {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	r, err := decodeRevisions(tx.Bucket(boltMetaBucket).Get(boltRevisionKey))
	if err != nil {
		report("%v", err)
		return problems, nil
	}
	type latest struct {
		rev      uint64
		deleted  bool
		valueCRC uint32
		size     int
		seen     bool
	}
	last := map[string]*latest{}
	want := r.trimmed + 1
	c := tx.Bucket(boltHistoryBucket).Cursor()
	n := 0
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		sc, err := decodeChange(k, v)
		if err != nil {
			report("history: %v", err)
			if len(k) == 8 {
				want = binary.BigEndian.Uint64(k) + 1
			}
			continue
		}
		if sc.rev != want {
			report("history: revision %d follows %d (it holds %d to %d)", sc.rev, want-1, r.trimmed+1, r.head)
		}
		want = sc.rev + 1
		last[string(sc.key)] = &latest{rev: sc.rev, deleted: sc.deleted, valueCRC: sc.valueCRC, size: len(sc.value)}
	}
	if want != r.head+1 {
		report("history ends at revision %d, the head is %d", want-1, r.head)
	}
	pc := tx.Bucket(boltPropsBucket).Cursor()
	for k, v := pc.First(); k != nil; k, v = pc.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if len(v) < recordHeaderLen {
			continue // the record walk of Check reports it
		}
		rev := recordRevision(v)
		if rev == 0 || rev > r.head {
			report("key %q: revision %d, outside 1 to the head %d", k, rev, r.head)
		}
		l := last[string(k)]
		switch {
		case l == nil && rev > r.trimmed:
			report("key %q: revision %d is not in the history", k, rev)
		case l == nil:
		case l.deleted:
			report("key %q: the history deletes it at revision %d, it is at %d", k, l.rev, rev)
		case l.rev != rev:
			report("key %q: the history's latest change is revision %d, the property is at %d", k, l.rev, rev)
		case l.size != len(v)-recordHeaderLen || l.valueCRC != crc32.Checksum(v[recordHeaderLen:], castagnoli):
			report("key %q: the value of revision %d differs from the history's", k, rev)
		}
		if l != nil {
			l.seen = true
		}
	}
	for k, l := range last {
		if !l.deleted && !l.seen {
			report("key %q: the history sets it at revision %d, the property is missing", k, l.rev)
		}
	}
	return problems, nil
}
