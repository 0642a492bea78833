package userprops

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// recordV3 returns the property record of formats 1 to 3 (no revision) of
// value under the composite key k.
func recordV3(k, value []byte, version uint64, updatedAt int64) []byte {
	rec := make([]byte, recordHeaderLenV3+len(value))
	copy(rec[recordHeaderLenV3:], value)
	binary.BigEndian.PutUint64(rec[0:8], version)
	binary.BigEndian.PutUint64(rec[8:16], uint64(updatedAt))
	crc := crc32.Checksum(value, castagnoli)
	crc = crc32.Update(crc32.Update(crc, castagnoli, rec[0:16]), castagnoli, k)
	binary.BigEndian.PutUint32(rec[16:20], crc)
	return rec
}

// downgradeToV3 takes the closed store file at path back to format 3: the
// records lose their revisions, the history and the revision record go.
func downgradeToV3(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		props := tx.Bucket(boltPropsBucket)
		type kv struct{ k, v []byte }
		var all []kv
		require.NoError(t, props.ForEach(func(k, v []byte) error {
			require.NoError(t, checkRecord(k, v))
			all = append(all, kv{bytes.Clone(k), recordV3(k, v[recordHeaderLen:], recordVersion(v), int64(binary.BigEndian.Uint64(v[8:16])))})
			return nil
		}))
		for _, e := range all {
			require.NoError(t, props.Put(e.k, e.v))
		}
		require.NoError(t, tx.DeleteBucket(boltHistoryBucket))
		meta := tx.Bucket(boltMetaBucket)
		require.NoError(t, meta.Delete(boltRevisionKey))
		return meta.Put(boltFormatKey, binary.BigEndian.AppendUint32(nil, 3))
	}))
}
