package userprops_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/userprops/userprops"
)

// TestBolt_ForEachOverlongLength: a key whose account length is written in
// more bytes than it needs (0x81 0x00 is 1) decodes, and a seek past its
// run would land on it again; ForEach reports it as damage instead of
// looping.
func TestBolt_ForEachOverlongLength(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "props.db")
	s, err := userprops.OpenBolt(path)
	require.NoError(t, err)
	_, err = s.Set(ctx, "a", "k", []byte(`1`))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("props"))
		v := b.Get([]byte("\x01ak"))
		require.NotNil(t, v)
		return b.Put([]byte("\x81\x00ak"), append([]byte(nil), v...))
	}))
	require.NoError(t, db.Close())

	s, err = userprops.OpenBolt(path)
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = s.ForEach(ctx, func(userprops.Property) error { return nil })
	assert.ErrorIs(t, err, userprops.ErrCorrupt)
}
