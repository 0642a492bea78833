package userprops

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	bolt "go.etcd.io/bbolt"
)

// The usage records of a bolt store (format 2, see the layout at the top of
// bolt.go): the account limits need each account's number of properties and
// bytes in the transaction of every write, and one record per account makes
// that a Get and a Put, whatever the account holds.

var boltUsageBucket = []byte("usage")

const usageRecordLen = 20

// accountPrefix returns the part of the composite key k that names its
// account, uvarint(len(accountID)) | accountID: the key of the account's
// usage record, and the prefix of all its property keys.
func accountPrefix(k []byte) ([]byte, bool) {
	_, key, ok := decodeKey(k)
	return k[:len(k)-len(key)], ok
}

// storedBytes returns what the property with composite key k, whose account
// prefix is prefix, and record rec counts against the byte limit: its key
// and its value (PropertyBytes).
func storedBytes(prefix, k, rec []byte) int64 {
	return int64(len(k)-len(prefix)) + int64(max(len(rec)-recordHeaderLen, 0))
}

// encodeUsage returns the usage record of the account whose prefix is
// prefix: properties and bytes, uint64 big-endian each, and the CRC-32C of
// the two and of prefix.
func encodeUsage(prefix []byte, u Usage) []byte {
	rec := make([]byte, usageRecordLen)
	binary.BigEndian.PutUint64(rec[0:8], uint64(u.Properties))
	binary.BigEndian.PutUint64(rec[8:16], uint64(u.Bytes))
	binary.BigEndian.PutUint32(rec[16:20], usageCRC(prefix, rec))
	return rec
}

func usageCRC(prefix, rec []byte) uint32 {
	return crc32.Update(crc32.Checksum(rec[0:16], castagnoli), castagnoli, prefix)
}

// decodeUsage checks and decodes the usage record rec of the account whose
// prefix is prefix.
func decodeUsage(prefix, rec []byte) (Usage, error) {
	if len(rec) != usageRecordLen {
		return Usage{}, fmt.Errorf("usage record of %d bytes, want %d", len(rec), usageRecordLen)
	}
	if got, want := usageCRC(prefix, rec), binary.BigEndian.Uint32(rec[16:20]); got != want {
		return Usage{}, fmt.Errorf("usage record checksum is %08x, want %08x", got, want)
	}
	return Usage{
		Properties: int(binary.BigEndian.Uint64(rec[0:8])),
		Bytes:      int64(binary.BigEndian.Uint64(rec[8:16])),
	}, nil
}

// readUsage returns the usage of the account whose prefix is prefix, zero if
// it has no record; a damaged record marks the store damaged.
func (s *BoltStore) readUsage(b kvBucket, prefix []byte) (Usage, error) {
	rec := b.Get(prefix)
	if rec == nil {
		return Usage{}, nil
	}
	u, err := decodeUsage(prefix, rec)
	if err != nil {
		return Usage{}, s.gate.MarkDamaged(fmt.Errorf("%w: %s: account %q: %v", ErrCorrupt, s.path, prefix, err))
	}
	return u, nil
}

// writeUsage records u as the usage of the account whose prefix is prefix;
// an account with no properties has no record.
func writeUsage(b kvWriter, prefix []byte, u Usage) error {
	if u.Properties <= 0 {
		return b.Delete(prefix)
	}
	// bbolt keeps the key and value until the commit: prefix must not be
	// a slice of a buffer that is reused, and the record is a new one.
	return b.Put(prefix, encodeUsage(prefix, u))
}

// eachAccount walks the properties of tx in order and calls fn with each
// account's prefix and its usage counted from its properties. Keys that do
// not decode are skipped (Check reports them). It checks ctx every 4096
// properties.
func eachAccount(ctx context.Context, tx *bolt.Tx, fn func(prefix []byte, u Usage) error) error {
	var prefix []byte
	var u Usage
	c := tx.Bucket(boltPropsBucket).Cursor()
	n := 0
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		p, ok := accountPrefix(k)
		if !ok {
			continue
		}
		if !bytes.Equal(p, prefix) {
			if prefix != nil {
				if err := fn(prefix, u); err != nil {
					return err
				}
			}
			prefix, u = p, Usage{}
		}
		u.Properties++
		u.Bytes += storedBytes(p, k, v)
	}
	if prefix == nil {
		return nil
	}
	return fn(prefix, u)
}

// countUsage writes the usage record of every account into the empty usage
// bucket of tx, counted from the properties: the migration from format 1.
func countUsage(tx *bolt.Tx) error {
	usage := tx.Bucket(boltUsageBucket)
	return eachAccount(context.Background(), tx, func(prefix []byte, u Usage) error {
		// bbolt keeps the key until the commit; prefix points into the map.
		return usage.Put(bytes.Clone(prefix), encodeUsage(prefix, u))
	})
}

// checkUsage compares every usage record of tx with the usage counted from
// the properties, and returns the differences (at most max). It reads every
// usage record, so that bbolt's own check, which runs on a goroutine of its
// own, reaches no page this goroutine has not read. Keys that do not decode
// are left to the record walk of Check.
func checkUsage(ctx context.Context, tx *bolt.Tx, max int) ([]string, error) {
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < max {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	uc := tx.Bucket(boltUsageBucket).Cursor()
	uk, uv := uc.First()
	// Each account, counted, is compared with the usage records in order:
	// those before it name accounts with no properties.
	err := eachAccount(ctx, tx, func(prefix []byte, u Usage) error {
		for ; uk != nil && bytes.Compare(uk, prefix) < 0; uk, uv = uc.Next() {
			report("usage record %q names an account with no properties", uk)
		}
		if uk == nil || !bytes.Equal(uk, prefix) {
			report("account %q (%d properties) has no usage record", prefix, u.Properties)
			return nil
		}
		if rec, err := decodeUsage(uk, uv); err != nil {
			report("account %q: %v", prefix, err)
		} else if rec != u {
			report("account %q: usage record says %d properties and %d bytes, the account holds %d and %d",
				prefix, rec.Properties, rec.Bytes, u.Properties, u.Bytes)
		}
		uk, uv = uc.Next()
		return nil
	})
	if err != nil {
		return nil, err
	}
	for ; uk != nil; uk, uv = uc.Next() {
		report("usage record %q names an account with no properties", uk)
	}
	return problems, nil
}
