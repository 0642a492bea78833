package userprops

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
)

var _ Scanner = (*BoltStore)(nil)

// ForEach implements Scanner, in one read transaction: a consistent
// snapshot, while other calls go on. Every record's checksum is verified
// (ErrCorrupt). fn may call the store, writes included; as with Backup, a
// write that makes the file outgrow its memory map waits for ForEach to end,
// so give such writes a deadline (they then return ErrOutcomeUnknown rather
// than wait).
//
// The file orders properties by the length of the account ID first (see the
// layout at the top of bolt.go), so ForEach merges one cursor per length
// present, at most one per possible length (4·MaxAccountIDLength): its
// memory does not grow with the store.
func (s *BoltStore) ForEach(ctx context.Context, fn func(Property) error) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	defer s.longRead()()
	return s.read("export", func(kv *kvRead) error {
		m, err := s.newLengthMerge(ctx, kv.props())
		if err != nil {
			return err
		}
		for n := 0; m.Len() > 0; n++ {
			if n%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			h := m.runs[0]
			if err := checkRecord(h.k, h.v); err != nil {
				return s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q: %v", ErrCorrupt, s.path, h.k, err))
			}
			if err := fn(decodeRecord(string(h.account), string(h.key), h.v)); err != nil {
				return err
			}
			if err := m.advance(); err != nil {
				return err
			}
		}
		return nil
	})
}

// lengthRun is a cursor over the properties of the accounts whose IDs have
// one length, at its current record.
type lengthRun struct {
	s            *BoltStore
	c            kvCursor
	prefixLen    int // bytes of the uvarint length prefix
	idLen        int
	k, v         []byte
	account, key []byte
}

// load decodes the record at the cursor, given as a cursor move returns it;
// it reports false when the cursor has left the run's length.
func (r *lengthRun) load(k, v []byte) (bool, error) {
	if k == nil {
		return false, nil
	}
	n, w := binary.Uvarint(k)
	if w != r.prefixLen || n != uint64(r.idLen) {
		return false, nil
	}
	account, key, ok := decodeKey(k)
	if !ok {
		return false, r.s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q does not decode", ErrCorrupt, r.s.path, k))
	}
	r.k, r.v, r.account, r.key = k, v, account, key
	return true, nil
}

// lengthMerge is a heap of runs ordered by their current (account, key).
type lengthMerge struct{ runs []*lengthRun }

func (m *lengthMerge) Len() int { return len(m.runs) }
func (m *lengthMerge) Less(i, j int) bool {
	a, b := m.runs[i], m.runs[j]
	if c := bytes.Compare(a.account, b.account); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.key, b.key) < 0
}
func (m *lengthMerge) Swap(i, j int) { m.runs[i], m.runs[j] = m.runs[j], m.runs[i] }
func (m *lengthMerge) Push(x any)    { m.runs = append(m.runs, x.(*lengthRun)) }
func (m *lengthMerge) Pop() any {
	r := m.runs[len(m.runs)-1]
	m.runs = m.runs[:len(m.runs)-1]
	return r
}

// newLengthMerge opens a run for every account ID length that b holds.
func (s *BoltStore) newLengthMerge(ctx context.Context, b kvBucket) (*lengthMerge, error) {
	m := &lengthMerge{}
	var prefix [binary.MaxVarintLen64]byte
	probe := b.Cursor()
	for k, _ := probe.First(); k != nil; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, w := binary.Uvarint(k)
		// A length written in more bytes than it needs decodes, but the
		// seek past its run below would land on it again: such a key is
		// damage, as is one that does not decode.
		if w <= 0 || w != len(binary.AppendUvarint(prefix[:0], n)) {
			return nil, s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q does not decode", ErrCorrupt, s.path, k))
		}
		r := &lengthRun{s: s, c: b.Cursor(), prefixLen: w, idLen: int(n)}
		p := binary.AppendUvarint(prefix[:0], n)
		ok, err := r.load(r.c.Seek(p))
		if err != nil {
			return nil, err
		}
		if ok {
			m.runs = append(m.runs, r)
		}
		// The next length present: seek past every key that starts with
		// this prefix. A uvarint is self-delimiting and its last byte is
		// below 0x80, so the prefix with its last byte one higher is the
		// first key past them. (Byte order is not numeric order for
		// lengths of two-byte uvarints, so n+1 would skip some.)
		p[len(p)-1]++
		k, _ = probe.Seek(p)
	}
	heap.Init(m)
	return m, nil
}

// advance moves the smallest run to its next record, dropping it when it
// has none.
func (m *lengthMerge) advance() error {
	r := m.runs[0]
	ok, err := r.load(r.c.Next())
	if err != nil {
		return err
	}
	if ok {
		heap.Fix(m, 0)
	} else {
		heap.Pop(m)
	}
	return nil
}
