package userprops

import (
	"bytes"
	"context"
	"fmt"
	"slices"
)

// Find implements Store. It answers from one read transaction, so it sees
// every write committed before it began and runs beside writers without
// holding them up. It answers a clause from an index when the file keeps a
// complete one on the clause's key and path (WithIndex, AddIndex), a query
// of one such clause from a count and one page of entries (TermPager), and
// otherwise by reading the values of the clause's key. A record that fails
// its checksum returns an error wrapping ErrCorrupt.
func (s *BoltStore) Find(ctx context.Context, q Query, page Page) (found Found, err error) {
	page, err = s.gate.AdmitFind(ctx, q, page)
	if err != nil {
		return Found{}, err
	}
	err = s.read("find", func(kv *kvRead) error {
		// The table is loaded after the transaction began: an index it
		// shows complete since a later transaction is not used.
		v := &boltView{s: s, kv: kv, txID: uint64(kv.tx.ID()), table: s.indexes.Load(), props: kv.props()}
		found, err = Evaluate(ctx, v, q, page)
		return err
	})
	return found, err
}

// boltView is the FindView of one read transaction.
type boltView struct {
	s     *BoltStore
	kv    *kvRead
	txID  uint64
	table *indexTable
	props kvBucket
	kbuf  []byte
	// resolved caches the entries buckets of the indexes asked about; nil
	// for one the view cannot use.
	resolved []resolvedIndex
}

type resolvedIndex struct {
	ix      Index
	entries kvBucket
}

// entries returns the entries bucket of ix if this transaction sees ix
// complete, and nil otherwise.
func (v *boltView) entries(ix Index) kvBucket {
	for _, r := range v.resolved {
		if r.ix == ix {
			return r.entries
		}
	}
	var e kvBucket
	if bi := v.table.byIx[ix]; bi != nil && bi.ready && bi.readyTx <= v.txID {
		// A DropIndex committed before this transaction began, and
		// published after it loaded the table, leaves no bucket.
		e = v.kv.terms(bi.id)
	}
	v.resolved = append(v.resolved, resolvedIndex{ix, e})
	return e
}

func (v *boltView) Indexed(ix Index) bool { return v.entries(ix) != nil }

var _ TermPager = (*boltView)(nil)

// TermPage implements TermPager from the term's count record, which sorts
// just before its entries, and the entries after it. A term shortened in
// the index (see maxStoredTerm) cannot be paged: its entries may hold
// accounts of other long terms.
func (v *boltView) TermPage(_ context.Context, ix Index, term string, start, n int) ([]string, int, bool, error) {
	e := v.entries(ix)
	stored, shortened := storedTerm(term)
	if e == nil || shortened {
		return nil, 0, false, nil
	}
	prefix := termPrefix(nil, stored)
	count, ok := termCount(e.Get(prefix))
	if !ok || n == 0 || start >= int(count) {
		return nil, int(count), true, nil
	}
	var ids []string
	c := e.Cursor()
	k, _ := c.Seek(prefix) // the count record
	for skip := start; skip >= 0 && k != nil; skip-- {
		k, _ = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(ids) < n; k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids, int(count), true, nil
}

// Lookup walks the entries of term: the accounts come in ascending byte
// order. The accounts of a shortened term (see maxStoredTerm) are checked
// against their values.
func (v *boltView) Lookup(ctx context.Context, ix Index, term string) ([]string, error) {
	e := v.entries(ix)
	if e == nil {
		return nil, fmt.Errorf("userprops: %s: index %s is not complete in this transaction", v.s.path, ix)
	}
	stored, shortened := storedTerm(term)
	prefix := termPrefix(nil, stored)
	var ids []string
	c := e.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix) {
			continue // the term's count record
		}
		if len(ids)%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ids = append(ids, string(k[len(prefix):]))
	}
	if !shortened {
		return ids, nil
	}
	var err error
	ids = slices.DeleteFunc(ids, func(id string) bool {
		value, ok, verr := v.Value(ctx, id, ix.Key)
		if verr != nil {
			err = verr
		}
		return !ok || !slices.Contains(ix.Terms(value), term)
	})
	return ids, err
}

// Scan reads every property record and passes on those of key: the records
// are ordered by account, not by key.
func (v *boltView) Scan(ctx context.Context, key string, fn func(accountID string, value []byte) bool) error {
	c := v.props.Cursor()
	n := 0
	for k, rec := c.First(); k != nil; k, rec = c.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		account, pk, ok := decodeKey(k)
		if !ok {
			return v.s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q does not decode", ErrCorrupt, v.s.path, k))
		}
		if string(pk) != key {
			continue
		}
		if err := checkRecord(k, rec); err != nil {
			return v.s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q: %v", ErrCorrupt, v.s.path, k, err))
		}
		if !fn(string(account), rec[recordHeaderLen:]) {
			return nil
		}
	}
	return nil
}

func (v *boltView) Value(_ context.Context, accountID, key string) ([]byte, bool, error) {
	v.kbuf = boltKey(v.kbuf[:0], accountID, key)
	rec := v.props.Get(v.kbuf)
	if rec == nil {
		return nil, false, nil
	}
	if err := checkRecord(v.kbuf, rec); err != nil {
		return nil, false, v.s.gate.MarkDamaged(fmt.Errorf("%w: %s: key %q: %v", ErrCorrupt, v.s.path, bytes.Clone(v.kbuf), err))
	}
	return rec[recordHeaderLen:], true, nil
}
