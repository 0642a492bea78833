package userprops_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// TestBolt_FailedOpenReleasesFile damages a good store in each way that
// OpenBolt refuses, then repairs it in place: the next OpenBolt must find
// the file neither mapped nor locked by the failed attempt.
func TestBolt_FailedOpenReleasesFile(t *testing.T) {
	c := buildCorpus(t)
	good, err := os.ReadFile(c.path)
	require.NoError(t, err)
	for _, d := range []struct {
		name   string
		damage func(b []byte) []byte
		want   error
	}{
		{"truncated to two pages", func(b []byte) []byte { return b[:8192] }, userprops.ErrCorrupt},
		{"truncated to one page", func(b []byte) []byte { return b[:4096] }, userprops.ErrCorrupt},
		{"truncated mid-file", func(b []byte) []byte { return b[:len(b)/2] }, userprops.ErrCorrupt},
		{"meta pages zeroed", func(b []byte) []byte {
			clear(b[:8192])
			return b
		}, userprops.ErrNotStore},
		{"freelist page garbled", func(b []byte) []byte {
			// The freelist page of the newest meta page claims 2^40
			// entries: bbolt's open reads past its map and faults.
			le := binary.LittleEndian
			meta := b[:4096]
			if le.Uint64(b[4096+64:]) > le.Uint64(b[64:]) {
				meta = b[4096:8192]
			}
			page := b[le.Uint64(meta[48:])*4096:]
			le.PutUint16(page[10:], 0xFFFF)
			le.PutUint64(page[16:], 1<<40)
			return b
		}, userprops.ErrCorrupt},
	} {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "props.db")
			require.NoError(t, os.WriteFile(path, d.damage(append([]byte(nil), good...)), 0o600))
			s, err := userprops.OpenBolt(path, userprops.WithLockTimeout(100*time.Millisecond))
			if err == nil {
				s.Close()
				t.Skip("this damage did not stop the open; nothing to release")
			}
			require.ErrorIs(t, err, d.want)

			// Repair in place (same inode), as an operator restoring
			// the bytes would.
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			require.NoError(t, err)
			_, err = f.Write(good)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			s, err = userprops.OpenBolt(path, userprops.WithLockTimeout(100*time.Millisecond))
			require.NoError(t, err, "OpenBolt after the repair")
			defer s.Close()
			_, err = s.Get(context.Background(), "acct-001", "key-001-01")
			assert.NoError(t, err)
		})
	}
}

// TestBolt_NotRegularFile: a FIFO, a device or a socket at the store path
// is refused at once, never opened in a way that blocks.
func TestBolt_NotRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "props.db")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, path := range []string{fifo, "/dev/null"} {
		done := make(chan error, 1)
		go func() {
			s, err := userprops.OpenBolt(path)
			if s != nil {
				s.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorIs(t, err, userprops.ErrNotStore, path)
			assert.Contains(t, err.Error(), "not a regular file")
		case <-time.After(10 * time.Second):
			// Unblock the open so the test process can end.
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Fatalf("OpenBolt(%s) blocked", path)
		}
	}
}

// TestBolt_Symlinks: a link to an existing store is followed; a dangling
// link is refused, and its target is not created.
func TestBolt_Symlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.db")
	s, err := userprops.OpenBolt(target)
	require.NoError(t, err)
	_, err = s.Set(context.Background(), "acc", "k", []byte(`1`))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	link := filepath.Join(dir, "link.db")
	require.NoError(t, os.Symlink(target, link))
	s = openBolt(t, link)
	_, err = s.Get(context.Background(), "acc", "k")
	assert.NoError(t, err, "a store reached through a link")

	dangling := filepath.Join(dir, "dangling.db")
	planted := filepath.Join(dir, "elsewhere", "planted.db")
	require.NoError(t, os.Mkdir(filepath.Dir(planted), 0o755))
	require.NoError(t, os.Symlink(planted, dangling))
	_, err = userprops.OpenBolt(dangling)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "symbolic link")
	_, err = os.Lstat(planted)
	assert.ErrorIs(t, err, os.ErrNotExist, "OpenBolt created the target of a dangling link")
}

// TestBolt_EmptyFileMode: an existing empty file becomes a store of mode
// 0600, whatever mode it had.
func TestBolt_EmptyFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props.db")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	require.NoError(t, os.Chmod(path, 0o644))
	openBolt(t, path)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

// TestBolt_RestoreVersions: Restore refuses versions that Set could never
// have produced (0, or past MaxVersion), so that no later Set wraps to 0.
func TestBolt_RestoreVersions(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, filepath.Join(t.TempDir(), "props.db"))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, v := range []uint64{0, userprops.MaxVersion + 1, math.MaxUint64} {
		err := s.Restore(ctx, []userprops.Property{{AccountID: "a", Key: "k", Value: []byte(`1`), Version: v, UpdatedAt: at}})
		assert.Error(t, err, "Restore of version %d", v)
		_, err = s.Get(ctx, "a", "k")
		assert.ErrorIs(t, err, userprops.ErrNotFound, "a refused Restore wrote nothing")
	}
	require.NoError(t, s.Restore(ctx, []userprops.Property{{AccountID: "a", Key: "k", Value: []byte(`1`), Version: userprops.MaxVersion, UpdatedAt: at}}))
	_, err := s.Set(ctx, "a", "k", []byte(`2`))
	assert.Error(t, err, "Set past MaxVersion")
	p, err := s.Get(ctx, "a", "k")
	require.NoError(t, err)
	assert.Equal(t, userprops.MaxVersion, p.Version, "a refused Set changed nothing")
	assert.Equal(t, `1`, string(p.Value))
}
