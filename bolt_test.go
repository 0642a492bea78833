package userprops_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/userprops/userprops"
)

func openBolt(t *testing.T, path string, opts ...userprops.Option) *userprops.BoltStore {
	t.Helper()
	s, err := userprops.OpenBolt(path, opts...)
	require.NoError(t, err, "OpenBolt(%q)", path)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestBolt_PersistsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "props.db")
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011, time.UTC)
	s, err := userprops.OpenBolt(path, userprops.WithClock(func() time.Time { return at }))
	require.NoError(t, err)
	for _, v := range []string{`1`, `2`, ` {"three": [3]} `} {
		_, err := s.Set(ctx, "acc", "k", []byte(v))
		require.NoError(t, err)
	}
	_, err = s.Set(ctx, "acc", "gone", []byte(`0`))
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "acc", "gone"))
	_, err = s.Set(ctx, "other", "k", []byte(`"x"`))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openBolt(t, path)
	p, err := s.Get(ctx, "acc", "k")
	require.NoError(t, err)
	assert.Equal(t, ` {"three": [3]} `, string(p.Value))
	assert.Equal(t, uint64(3), p.Version)
	assert.True(t, at.Equal(p.UpdatedAt), "UpdatedAt = %v, want %v", p.UpdatedAt, at)
	ks, err := s.Keys(ctx, "acc")
	require.NoError(t, err)
	assert.Equal(t, []string{"k"}, ks)
	status, err := s.Set(ctx, "acc", "k", []byte(`4`))
	require.NoError(t, err)
	assert.Equal(t, userprops.Updated, status, "status of an update after reopening")
}

func TestBolt_FileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	openBolt(t, path)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestBolt_EmptyFileBecomesStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	s := openBolt(t, path)
	_, err := s.Set(context.Background(), "acc", "k", []byte(`1`))
	assert.NoError(t, err)
}

func TestBolt_LockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	first := openBolt(t, path)

	start := time.Now()
	_, err := userprops.OpenBolt(path, userprops.WithLockTimeout(100*time.Millisecond))
	elapsed := time.Since(start)
	require.ErrorIs(t, err, userprops.ErrLocked)
	assert.Contains(t, err.Error(), path)
	assert.GreaterOrEqual(t, elapsed, 100*time.Millisecond, "OpenBolt gave up before the timeout")
	assert.Less(t, elapsed, 2*time.Second, "OpenBolt waited far past the timeout")

	// The first handle still works, and once it is closed the file opens.
	_, err = first.Set(context.Background(), "acc", "k", []byte(`1`))
	require.NoError(t, err)
	require.NoError(t, first.Close())
	second := openBolt(t, path, userprops.WithLockTimeout(100*time.Millisecond))
	_, err = second.Get(context.Background(), "acc", "k")
	assert.NoError(t, err)
}

func TestBolt_LockReleasedWhileWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	first, err := userprops.OpenBolt(path)
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(50 * time.Millisecond)
		assert.NoError(t, first.Close())
	})
	second, err := userprops.OpenBolt(path, userprops.WithLockTimeout(5*time.Second))
	wg.Wait()
	require.NoError(t, err, "OpenBolt should get the file once the other handle closes it")
	require.NoError(t, second.Close())
}

func TestBolt_ForeignFile(t *testing.T) {
	otherBolt := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("settings"))
			if err != nil {
				return err
			}
			return b.Put([]byte("theme"), []byte("dark"))
		}))
		require.NoError(t, db.Close())
	}
	for _, c := range []struct {
		name  string
		write func(t *testing.T, path string)
		want  error
	}{
		{"text", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("hello, world\n"), 0o644))
		}, userprops.ErrNotStore},
		{"one zero page", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, make([]byte, 4096), 0o644))
		}, userprops.ErrNotStore},
		{"many zero pages", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, make([]byte, 64<<10), 0o644))
		}, userprops.ErrNotStore},
		{"random bytes", func(t *testing.T, path string) {
			b := make([]byte, 20000)
			for i := range b {
				b[i] = byte(i*7919 + i/13)
			}
			require.NoError(t, os.WriteFile(path, b, 0o644))
		}, userprops.ErrNotStore},
		{"bbolt header only", func(t *testing.T, path string) {
			// A real header, cut short: bbolt would map past the end. It
			// may be a damaged store or another program's; it is damaged.
			full := filepath.Join(filepath.Dir(path), "full.db")
			otherBolt(t, full)
			b, err := os.ReadFile(full)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, b[:4096], 0o644))
		}, userprops.ErrCorrupt},
		{"another program's bbolt file", otherBolt, userprops.ErrNotStore},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "foreign.db")
			c.write(t, path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			infoBefore, err := os.Stat(path)
			require.NoError(t, err)

			s, err := userprops.OpenBolt(path, userprops.WithLockTimeout(time.Second))
			if s != nil {
				s.Close()
			}
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), path)

			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(before, after), "OpenBolt changed a file it refused")
			infoAfter, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, infoBefore.Mode(), infoAfter.Mode(), "OpenBolt changed the mode of a file it refused")
		})
	}
}

func TestBolt_Directory(t *testing.T) {
	_, err := userprops.OpenBolt(t.TempDir())
	assert.Error(t, err, "OpenBolt of a directory")
}

func TestBolt_FormatVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	s, err := userprops.OpenBolt(path)
	require.NoError(t, err)
	_, err = s.Set(context.Background(), "acc", "k", []byte(`1`))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// The layout documented in bolt.go: bucket "meta", key "format",
	// uint32 big-endian.
	readFormat := func() uint32 {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		require.NoError(t, err)
		defer db.Close()
		var f uint32
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			f = binary.BigEndian.Uint32(tx.Bucket([]byte("meta")).Get([]byte("format")))
			return nil
		}))
		return f
	}
	assert.Equal(t, uint32(5), readFormat(), "format of a new store")

	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 6))
	}))
	require.NoError(t, db.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = userprops.OpenBolt(path)
	require.ErrorIs(t, err, userprops.ErrFormatVersion)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after), "OpenBolt changed a file of a newer format")
	assert.Equal(t, uint32(6), readFormat())
}

func TestBolt_Path(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	assert.Equal(t, path, openBolt(t, path).Path())
}
