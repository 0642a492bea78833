package userprops

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// writeFormat1 writes a store file of format 1, which had no usage records,
// holding props (account → key → value).
func writeFormat1(t *testing.T, path string, props map[string]map[string]string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(boltMetaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(boltFormatKey, binary.BigEndian.AppendUint32(nil, 1)); err != nil {
			return err
		}
		b, err := tx.CreateBucket(boltPropsBucket)
		if err != nil {
			return err
		}
		for account, kv := range props {
			for key, value := range kv {
				k := boltKey(nil, account, key)
				if err := b.Put(k, recordV3(k, []byte(value), 1, time.Now().UnixNano())); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// usageRecords returns the usage records of the store file at path, by
// account ID.
func usageRecords(t *testing.T, path string) (map[string]Usage, uint32) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	got := map[string]Usage{}
	var format uint32
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		format = binary.BigEndian.Uint32(tx.Bucket(boltMetaBucket).Get(boltFormatKey))
		b := tx.Bucket(boltUsageBucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			account, _, ok := decodeKey(k)
			require.True(t, ok, "usage key %q", k)
			u, err := decodeUsage(k, v)
			require.NoError(t, err, "usage record of %q", k)
			got[string(account)] = u
			return nil
		})
	}))
	return got, format
}

func TestBolt_UpgradeFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	writeFormat1(t, path, map[string]map[string]string{
		"full":   {"k1": `1`, "k2": `"two"`, "k3": `[3]`},
		"small":  {"settings": `{"theme":"dark"}`},
		"full:":  {"k": strings.Repeat(" ", 50) + `1`},
		"a\x00b": {"é": `"é"`},
	})
	s, err := OpenBolt(path, WithAccountLimits(3, 100))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.Check(ctx), "Check of the upgraded file")
	_, err = s.Set(ctx, "full", "k4", []byte(`4`))
	assert.ErrorIs(t, err, ErrAccountFull, "a create on an account that had 3 properties before the upgrade")
	_, err = s.Set(ctx, "full:", "k", []byte(strings.Repeat(" ", 99)+`1`))
	assert.ErrorIs(t, err, ErrAccountFull, "an update to 100 bytes and one")
	status, err := s.Set(ctx, "small", "k2", []byte(`2`))
	require.NoError(t, err)
	assert.Equal(t, Created, status)
	p, err := s.Get(ctx, "full", "k2")
	require.NoError(t, err)
	assert.Equal(t, `"two"`, string(p.Value))
	require.NoError(t, s.Close())

	got, format := usageRecords(t, path)
	assert.Equal(t, boltFormat, format, "format after the upgrade")
	assert.Equal(t, map[string]Usage{
		"full":   {Properties: 3, Bytes: 2 + 1 + 2 + 5 + 2 + 3},
		"small":  {Properties: 2, Bytes: 8 + 16 + 2 + 1},
		"full:":  {Properties: 1, Bytes: 1 + 51},
		"a\x00b": {Properties: 1, Bytes: 2 + 4},
	}, got)

	// An upgraded file opens again as it is.
	s, err = OpenBolt(path)
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())
}

func TestBolt_UsageRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	ctx := context.Background()
	set := func(account, key, value string) {
		t.Helper()
		_, err := s.Set(ctx, account, key, []byte(value))
		require.NoError(t, err)
	}
	set("a", "k1", `1`)
	set("a", "k2", `22`)
	set("a", "k1", `111`)
	set("b", "k", `1`)
	require.NoError(t, s.Delete(ctx, "b", "k"))
	set("c", "k", `1`)
	require.NoError(t, s.Restore(ctx, []Property{
		{AccountID: "c", Key: "k", Value: []byte(`12345`), Version: 7, UpdatedAt: time.Unix(1, 0)},
		{AccountID: "d", Key: "k", Value: []byte(`1`), Version: 1, UpdatedAt: time.Unix(1, 0)},
	}))
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())
	got, _ := usageRecords(t, path)
	assert.Equal(t, map[string]Usage{
		"a": {Properties: 2, Bytes: 2 + 3 + 2 + 2},
		"c": {Properties: 1, Bytes: 1 + 5},
		"d": {Properties: 1, Bytes: 1 + 1},
	}, got, "usage records (none for b, which has no properties)")
}

// TestBolt_CheckFindsWrongUsage changes usage records behind the store's
// back: Check must report each difference, and a damaged record must stop
// writes to the store.
func TestBolt_CheckFindsWrongUsage(t *testing.T) {
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "props.db")
		s, err := OpenBolt(path)
		require.NoError(t, err)
		for _, account := range []string{"a", "b"} {
			_, err := s.Set(context.Background(), account, "k", []byte(`1`))
			require.NoError(t, err)
		}
		require.NoError(t, s.Close())
		return path
	}
	edit := func(t *testing.T, path string, fn func(b *bolt.Bucket) error) {
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(boltUsageBucket)) }))
		require.NoError(t, db.Close())
	}
	a, c := boltKey(nil, "a", ""), boltKey(nil, "c", "")
	for _, tc := range []struct {
		name, want string
		edit       func(b *bolt.Bucket) error
	}{
		{"Wrong", `usage record says 5 properties and 2 bytes, the account holds 1 and 2`,
			func(b *bolt.Bucket) error { return b.Put(a, encodeUsage(a, Usage{Properties: 5, Bytes: 2})) }},
		{"Missing", `account "\x01a" (1 properties) has no usage record`,
			func(b *bolt.Bucket) error { return b.Delete(a) }},
		{"Extra", `usage record "\x01c" names an account with no properties`,
			func(b *bolt.Bucket) error { return b.Put(c, encodeUsage(c, Usage{Properties: 1, Bytes: 2})) }},
		{"Damaged", `usage record checksum`,
			func(b *bolt.Bucket) error {
				rec := encodeUsage(a, Usage{Properties: 1, Bytes: 2})
				rec[15] ^= 1
				return b.Put(a, rec)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := build(t)
			edit(t, path, tc.edit)
			s, err := OpenBolt(path)
			require.NoError(t, err)
			defer s.Close()
			err = s.Check(context.Background())
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("DamagedStopsWrites", func(t *testing.T) {
		path := build(t)
		edit(t, path, func(b *bolt.Bucket) error {
			rec := encodeUsage(a, Usage{Properties: 1, Bytes: 2})
			rec[0] ^= 1
			return b.Put(a, rec)
		})
		s, err := OpenBolt(path)
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Set(context.Background(), "a", "k2", []byte(`1`))
		require.ErrorIs(t, err, ErrCorrupt)
		_, err = s.Set(context.Background(), "b", "k2", []byte(`1`))
		assert.ErrorIs(t, err, ErrCorrupt, "a write after the damage was seen")
		_, err = s.Get(context.Background(), "a", "k2")
		assert.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("LostBucket", func(t *testing.T) {
		path := build(t)
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(boltUsageBucket) }))
		require.NoError(t, db.Close())
		_, err = OpenBolt(path)
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "usage bucket")
	})
}
