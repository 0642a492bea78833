package userprops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fsizeChild fills a store until the file may not grow (RLIMIT_FSIZE), and
// checks what a full disk must not break: the failed write fails with a
// clear error and leaves nothing, earlier data stays readable, the store is
// not taken for damaged, and writes work again once the limit is lifted.
func fsizeChild(path string) error {
	signal.Ignore(syscall.SIGXFSZ) // so that writes past the limit fail with EFBIG
	ctx := context.Background()
	s, err := OpenBolt(path, crashOptions()...)
	if err != nil {
		return err
	}
	defer s.Close()
	big := append(append([]byte(`"`), bytes.Repeat([]byte("x"), 30000)...), '"')
	var written []string
	for i := range 20 {
		key := fmt.Sprintf("base-%02d", i)
		if _, err := s.Set(ctx, "acct", key, []byte(`"base"`)); err != nil {
			return err
		}
		written = append(written, key)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return err
	}
	limited := old
	limited.Cur = uint64(info.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		return err
	}

	var failed string
	var setErr error
	for i := range 1000 {
		key := fmt.Sprintf("big-%03d", i)
		if _, setErr = s.Set(ctx, "acct", key, big); setErr != nil {
			failed = key
			break
		}
		written = append(written, key)
	}
	if setErr == nil {
		return errors.New("the file grew past its size limit")
	}
	fmt.Printf("Set failed: %v\n", setErr)
	if errors.Is(setErr, ErrCorrupt) {
		return fmt.Errorf("a full disk was taken for damage: %v", setErr)
	}
	for _, key := range written {
		if _, err := s.Get(ctx, "acct", key); err != nil {
			return fmt.Errorf("after the failed write, %s: %v", key, err)
		}
	}
	if _, err := s.Get(ctx, "acct", failed); !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("the failed write %s left something: %v", failed, err)
	}

	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return err
	}
	if status, err := s.Set(ctx, "acct", failed, big); err != nil || status != Created {
		return fmt.Errorf("once space returned, Set(%s) = %v, %v", failed, status, err)
	}
	for i := range 5 {
		if _, err := s.Set(ctx, "acct", fmt.Sprintf("after-%d", i), big); err != nil {
			return fmt.Errorf("once space returned: %v", err)
		}
	}
	if err := s.Check(ctx); err != nil {
		return err
	}
	fmt.Printf("%d writes before the limit, 6 after it was lifted\n", len(written))
	return nil
}

func TestBolt_FileSizeLimit(t *testing.T) { bothLogs(t, testFileSizeLimit) }

func testFileSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	cmd := startChild(t, os.Args[0], "fsize", path, "")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "Set failed: ")
	assert.Contains(t, string(out), "file too large", "the error says what happened")
	assert.Contains(t, string(out), path, "the error names the file")
	t.Logf("%s", out)

	s, err := OpenBolt(path, crashOptions()...)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(context.Background()))
	ks, err := s.Keys(context.Background(), "acct")
	require.NoError(t, err)
	assert.Contains(t, ks, "after-4")
}

// readOnlyChild opens a store it may not write: a read-only file, or a new
// file in a read-only directory.
func readOnlyChild(path, what string) error {
	_, err := OpenBolt(path)
	if err == nil {
		return fmt.Errorf("OpenBolt of a %s succeeded", what)
	}
	fmt.Println(err)
	return nil
}

// TestBolt_ReadOnly opens stores that may not be written. Permission bits
// do not bind root, so as root the child runs as nobody.
func TestBolt_ReadOnly(t *testing.T) {
	dir, err := os.MkdirTemp("", "userprops-readonly-")
	require.NoError(t, err)
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(dir)
	})
	require.NoError(t, os.Chmod(dir, 0o755))
	binary := filepath.Join(dir, "child.test")
	copyFile(t, os.Args[0], binary, 0o755)

	file := filepath.Join(dir, "readonly.db")
	s, err := OpenBolt(file)
	require.NoError(t, err)
	_, err = s.Set(context.Background(), "acct", "k", []byte(`1`))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, os.Chmod(file, 0o444))
	roDir := filepath.Join(dir, "readonly-dir")
	require.NoError(t, os.Mkdir(roDir, 0o555))
	before, err := os.ReadFile(file)
	require.NoError(t, err)

	for _, c := range []struct{ what, path string }{
		{"read-only file", file},
		{"file in a read-only directory", filepath.Join(roDir, "new.db")},
	} {
		cmd := startChild(t, binary, "readonly", c.path, c.what)
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", c.what, out)
		assert.Contains(t, string(out), "permission denied", c.what)
		assert.Contains(t, string(out), c.path, "%s: the error names the file", c.what)
		t.Logf("%s: %s", c.what, out)
	}
	after, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after), "the read-only file changed")
	assert.NoFileExists(t, filepath.Join(roDir, "new.db"))
}

// copyFile copies the file at src to a new file dst of the given mode.
func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}
