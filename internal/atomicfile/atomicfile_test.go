package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/atomicfile"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	write := func(s string) func(io.Writer) (int64, error) {
		return func(w io.Writer) (int64, error) {
			n, err := io.WriteString(w, s)
			return int64(n), err
		}
	}
	n, err := atomicfile.Write(path, write("first"))
	require.NoError(t, err)
	assert.Equal(t, int64(5), n)
	_, err = atomicfile.Write(path, write("second"))
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// A failed write leaves the file as it was, and no temporary file.
	_, err = atomicfile.Write(path, func(w io.Writer) (int64, error) {
		io.WriteString(w, "half")
		return 4, errors.New("disk gone")
	})
	assert.EqualError(t, err, "disk gone")
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "temporary files left: %v", entries)
}
