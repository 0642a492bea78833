package userprops

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Find implements Store. It answers from one read transaction, so it sees
// every write committed before it began and runs beside writers without
// holding them up. A record that fails its checksum returns an error
// wrapping ErrCorrupt.
func (s *BoltStore) Find(ctx context.Context, q Query, page Page) (found Found, err error) {
	page, err = s.gate.AdmitFind(ctx, q, page)
	if err != nil {
		return Found{}, err
	}
	err = s.view("find", func(tx *bolt.Tx) error {
		found, err = Evaluate(ctx, &boltView{s: s, props: tx.Bucket(boltPropsBucket)}, q, page)
		return err
	})
	return found, err
}

// boltView is the FindView of one read transaction.
type boltView struct {
	s     *BoltStore
	props *bolt.Bucket
	kbuf  []byte
}

func (v *boltView) Indexed(Index) bool { return false }

func (v *boltView) Lookup(context.Context, Index, string) ([]string, error) {
	return nil, fmt.Errorf("userprops: bolt store keeps no index")
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
