package userprops

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
	editFile(t, path, func(tx *bolt.Tx) error {
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
	})
}

// editFile changes the closed store file at path with plain bbolt, in one
// transaction: fn.
func editFile(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	require.NoError(t, db.Close())
}

// watchAll reads what a watch from after delivers until it has caught up
// with the store (a short quiet time), or its error.
func watchAll(t *testing.T, s *BoltStore, accountID string, after uint64) ([]Change, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var got []Change
	for c, err := range s.Watch(ctx, accountID, after) {
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return got, nil
			}
			return got, err
		}
		got = append(got, c)
	}
	return got, nil
}

func TestBolt_UpgradeFormat3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	s := openIndexed(t, path)
	for _, ref := range [][2]string{{"b", "k2"}, {"a", "k1"}, {"b", "k1"}, {"aa", "k"}} {
		_, err := s.Set(ctx, ref[0], ref[1], []byte(`"`+ref[0]+ref[1]+`"`))
		require.NoError(t, err)
	}
	_, err := s.Set(ctx, "a", "k1", []byte(`2`))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	downgradeToV3(t, path)

	s = openIndexed(t, path)
	require.NoError(t, s.Check(ctx), "Check of the upgraded file")
	var refs []string
	var revs []uint64
	require.NoError(t, s.view("test", func(tx *bolt.Tx) error {
		// Key order in the file: by the length of the account ID first.
		return tx.Bucket(boltPropsBucket).ForEach(func(k, v []byte) error {
			a, key, _ := decodeKey(k)
			refs, revs = append(refs, string(a)+"/"+string(key)), append(revs, recordRevision(v))
			return nil
		})
	}))
	assert.Equal(t, []string{"a/k1", "b/k1", "b/k2", "aa/k"}, refs)
	assert.Equal(t, []uint64{1, 2, 3, 4}, revs, "revisions 1 to N in key order")
	p, err := s.Get(ctx, "a", "k1")
	require.NoError(t, err)
	assert.Equal(t, Property{AccountID: "a", Key: "k1", Value: []byte(`2`), Version: 2, Revision: 1, UpdatedAt: p.UpdatedAt}, p)

	// The history starts empty, after the properties.
	_, err = watchAll(t, s, "", 0)
	var compacted *CompactedError
	require.ErrorAs(t, err, &compacted)
	assert.Equal(t, uint64(5), compacted.Oldest)
	got, err := watchAll(t, s, "", 4)
	require.NoError(t, err)
	assert.Empty(t, got)
	rev, err := s.SetIf(ctx, "a", "k1", []byte(`3`), 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), rev, "the next revision follows the upgrade's")
	got, err = watchAll(t, s, "", 4)
	require.NoError(t, err)
	assert.Equal(t, []Change{{AccountID: "a", Key: "k1", Revision: 5, Value: []byte(`3`)}}, got)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())
	_, format := usageRecords(t, path)
	assert.Equal(t, boltFormat, format)
}

// TestBolt_UpgradeFormat3_Damaged: a record that fails its checksum stops
// the upgrade, which leaves the file as it was, in format 3.
func TestBolt_UpgradeFormat3_Damaged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	s := openIndexed(t, path)
	for i := range 50 {
		_, err := s.Set(ctx, "a", fmt.Sprintf("k%02d", i), []byte(`1`))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	downgradeToV3(t, path)
	editFile(t, path, func(tx *bolt.Tx) error {
		k := boltKey(nil, "a", "k40")
		rec := bytes.Clone(tx.Bucket(boltPropsBucket).Get(k))
		rec[len(rec)-1] = '2' // the checksum no longer matches
		return tx.Bucket(boltPropsBucket).Put(k, rec)
	})
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = OpenBolt(path, quiet)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "k40")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	_, format := usageRecords(t, path)
	assert.Equal(t, uint32(3), format, "the file keeps its format")
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(boltHistoryBucket), "no history bucket")
		return tx.Bucket(boltPropsBucket).ForEach(func(k, v []byte) error {
			if !bytes.HasSuffix(k, []byte("k40")) {
				assert.NoError(t, checkRecordV3(k, v), "record %q in the old layout", k)
			}
			return nil
		})
	}))
	assert.Equal(t, len(before), len(after))
}

// TestBolt_HistoryRetention: the history keeps the latest changes by
// number and by age, and Watch reports what it no longer holds.
func TestBolt_HistoryRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := openIndexed(t, filepath.Join(t.TempDir(), "h.db"), WithHistory(5, time.Hour), WithClock(clock))
	for i := range 8 {
		_, err := s.Set(ctx, "a", "k", []byte(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	_, err := watchAll(t, s, "", 2)
	var compacted *CompactedError
	require.ErrorAs(t, err, &compacted)
	assert.Equal(t, uint64(4), compacted.Oldest, "by number: the last 5 of 8")
	got, err := watchAll(t, s, "a", 3)
	require.NoError(t, err)
	assert.Len(t, got, 5)

	advance(30 * time.Minute)
	_, err = s.Set(ctx, "b", "k", []byte(`1`)) // revision 9
	require.NoError(t, err)
	advance(31 * time.Minute)
	_, err = s.Set(ctx, "b", "k", []byte(`2`)) // revision 10: 4 to 8 are older than an hour
	require.NoError(t, err)
	got, err = watchAll(t, s, "", 8)
	require.NoError(t, err)
	assert.Len(t, got, 2)
	_, err = watchAll(t, s, "", 7)
	require.ErrorAs(t, err, &compacted)
	assert.Equal(t, uint64(9), compacted.Oldest, "by age")

	advance(2 * time.Hour)
	require.NoError(t, s.Delete(ctx, "b", "k")) // revision 11; the newest change is always kept
	_, err = watchAll(t, s, "", 9)
	require.ErrorAs(t, err, &compacted)
	assert.Equal(t, uint64(11), compacted.Oldest)
	got, err = watchAll(t, s, "", 10)
	require.NoError(t, err)
	assert.Equal(t, []Change{{AccountID: "b", Key: "k", Revision: 11, Deleted: true}}, got)
	require.NoError(t, s.Check(ctx))
}

// TestBolt_CheckFindsWrongHistory changes the history or the revisions
// behind the store's back: Check must notice each.
func TestBolt_CheckFindsWrongHistory(t *testing.T) {
	ctx := context.Background()
	for name, damage := range map[string]func(tx *bolt.Tx) error{
		"change missing": func(tx *bolt.Tx) error { return tx.Bucket(boltHistoryBucket).Delete(revisionKey(2)) },
		"change of another value": func(tx *bolt.Tx) error {
			k := boltKey(nil, "a", "k2")
			return tx.Bucket(boltHistoryBucket).Put(revisionKey(4), encodeChange(4, k, []byte(`9`), crc32.Checksum([]byte(`9`), castagnoli), false, 0))
		},
		"delete of a property that is there": func(tx *bolt.Tx) error {
			k := boltKey(nil, "a", "k2")
			return tx.Bucket(boltHistoryBucket).Put(revisionKey(4), encodeChange(4, k, nil, 0, true, 0))
		},
		"set of a property that is gone": func(tx *bolt.Tx) error {
			k := boltKey(nil, "a", "k1")
			return tx.Bucket(boltHistoryBucket).Put(revisionKey(3), encodeChange(3, k, []byte(`1`), crc32.Checksum([]byte(`1`), castagnoli), false, 0))
		},
		"change record damaged": func(tx *bolt.Tx) error {
			rec := bytes.Clone(tx.Bucket(boltHistoryBucket).Get(revisionKey(1)))
			rec[len(rec)-1] ^= 1
			return tx.Bucket(boltHistoryBucket).Put(revisionKey(1), rec)
		},
		"head behind a property": func(tx *bolt.Tx) error {
			return tx.Bucket(boltMetaBucket).Put(boltRevisionKey, encodeRevisions(revisions{head: 3, trimmed: 0}))
		},
		"revision record damaged": func(tx *bolt.Tx) error {
			rec := bytes.Clone(tx.Bucket(boltMetaBucket).Get(boltRevisionKey))
			rec[0] ^= 1
			return tx.Bucket(boltMetaBucket).Put(boltRevisionKey, rec)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "h.db")
			s := openIndexed(t, path)
			_, err := s.Set(ctx, "a", "k1", []byte(`1`)) // 1
			require.NoError(t, err)
			_, err = s.Set(ctx, "a", "k2", []byte(`1`)) // 2
			require.NoError(t, err)
			require.NoError(t, s.Delete(ctx, "a", "k1")) // 3
			_, err = s.Set(ctx, "a", "k2", []byte(`2`))  // 4
			require.NoError(t, err)
			require.NoError(t, s.Check(ctx))
			require.NoError(t, s.Close())
			editFile(t, path, damage)
			s, err = OpenBolt(path, quiet)
			require.NoError(t, err)
			defer s.Close()
			err = s.Check(ctx)
			assert.ErrorIs(t, err, ErrCorrupt)
			t.Log(err)
		})
	}
}
