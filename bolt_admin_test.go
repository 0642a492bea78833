package userprops_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func all(t *testing.T, s *userprops.BoltStore) []userprops.Property {
	t.Helper()
	var out []userprops.Property
	require.NoError(t, s.ForEach(context.Background(), func(p userprops.Property) error {
		out = append(out, p)
		return nil
	}))
	return out
}

func TestBolt_ForEachAndRestore(t *testing.T) {
	ctx := context.Background()
	src := openBolt(t, filepath.Join(t.TempDir(), "src.db"))
	for _, c := range []struct{ account, key, value string }{
		{"bb", "x", `1`}, {"a", "z", " {\n \"pretty\": true\n}\n"}, {"a", "y", `"s"`}, {"a\x00", "k", `null`},
	} {
		_, err := src.Set(ctx, c.account, c.key, []byte(c.value))
		require.NoError(t, err)
	}
	_, err := src.Set(ctx, "a", "y", []byte(`"s2"`))
	require.NoError(t, err)
	props := all(t, src)
	var refs []string
	for _, p := range props {
		refs = append(refs, p.AccountID+"/"+p.Key)
	}
	assert.Equal(t, []string{"a/y", "a/z", "a\x00/k", "bb/x"}, refs, "grouped by account (by ID length, then bytes), keys in order")

	dst := openBolt(t, filepath.Join(t.TempDir(), "dst.db"))
	require.NoError(t, dst.Restore(ctx, props))
	restored := all(t, dst)
	for i := range restored {
		assert.Greater(t, restored[i].Revision, uint64(0), "%s/%s: every property restored is a change, with a revision", restored[i].AccountID, restored[i].Key)
		restored[i].Revision = props[i].Revision
	}
	assert.Equal(t, props, restored, "restored byte for byte, with versions and times")
	p, err := dst.Get(ctx, "a", "y")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), p.Version)
	status, err := dst.Set(ctx, "a", "y", []byte(`3`))
	require.NoError(t, err)
	assert.Equal(t, userprops.Updated, status)

	// A bad property anywhere: nothing is written.
	bad := []userprops.Property{
		{AccountID: "n", Key: "ok", Value: []byte(`1`), Version: 1},
		{AccountID: "n", Key: "bad", Value: []byte(`{`), Version: 1},
	}
	err = dst.Restore(ctx, bad)
	assert.ErrorIs(t, err, userprops.ErrInvalidJSON)
	assert.Contains(t, err.Error(), "property 2")
	err = dst.Restore(ctx, []userprops.Property{{AccountID: "n", Key: "v0", Value: []byte(`1`)}})
	assert.ErrorContains(t, err, "version 0")
	ks, err := dst.Keys(ctx, "n")
	require.NoError(t, err)
	assert.Empty(t, ks)

	// Stopping early returns fn's error.
	stop := assert.AnError
	n := 0
	assert.ErrorIs(t, src.ForEach(ctx, func(userprops.Property) error { n++; return stop }), stop)
	assert.Equal(t, 1, n)
}

func TestBolt_BackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openBolt(t, filepath.Join(dir, "live.db"))
	for i := range 200 {
		_, err := s.Set(ctx, "acc", keyN(i), []byte(`"before"`))
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, err := s.Set(ctx, "acc", keyN(i%400), []byte(`"during"`))
			assert.NoError(t, err)
		}
	})
	var buf bytes.Buffer
	time.Sleep(5 * time.Millisecond)
	n, err := s.Backup(ctx, &buf)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)

	path := filepath.Join(dir, "copy.db")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	copied := openBolt(t, path)
	require.NoError(t, copied.Check(ctx), "the backup is consistent")
	ks, err := copied.Keys(ctx, "acc")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(ks), 200, "the backup holds what was written before it began")
}

func TestBolt_CompactTo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// The history keeps one change, so that the values deleted are free
	// pages; without the write-ahead log, every write reaches the file
	// (with it, values set and deleted within one flush never do).
	s := openBolt(t, filepath.Join(dir, "big.db"), userprops.WithHistory(1, 0), userprops.WithWriteAheadLog(false))
	big := bytes.Repeat([]byte("x"), 30000)
	for i := range 100 {
		_, err := s.Set(ctx, "acc", keyN(i), append(append([]byte(`"`), big...), '"'))
		require.NoError(t, err)
	}
	for i := range 95 {
		require.NoError(t, s.Delete(ctx, "acc", keyN(i)))
	}
	dst := filepath.Join(dir, "small.db")
	require.NoError(t, s.CompactTo(ctx, dst))
	before, err := os.Stat(s.Path())
	require.NoError(t, err)
	after, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Less(t, after.Size(), before.Size()/4, "compacted %d → %d bytes", before.Size(), after.Size())
	assert.Equal(t, os.FileMode(0o600), after.Mode().Perm())
	c := openBolt(t, dst)
	assert.Equal(t, all(t, s), all(t, c))

	assert.ErrorContains(t, s.CompactTo(ctx, dst), "exists", "compacting over an existing file")
}

func keyN(i int) string { return fmt.Sprintf("key-%03d", i) }
