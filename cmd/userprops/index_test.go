package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// fakeIndexes is an indexKeeper in memory, standing in for a store file.
type fakeIndexes struct {
	kept   []userprops.Index
	closed int
}

func (f *fakeIndexes) Indexes() ([]userprops.Index, error) { return slices.Clone(f.kept), nil }

func (f *fakeIndexes) AddIndex(_ context.Context, ix userprops.Index) error {
	if !slices.Contains(f.kept, ix) {
		f.kept = append(f.kept, ix)
	}
	return nil
}

func (f *fakeIndexes) DropIndex(_ context.Context, ix userprops.Index) error {
	i := slices.Index(f.kept, ix)
	if i < 0 {
		return fmt.Errorf("%w: no index %s", userprops.ErrInvalidQuery, ix)
	}
	f.kept = slices.Delete(f.kept, i, i+1)
	return nil
}

func (f *fakeIndexes) Close() error { f.closed++; return nil }

func TestIndexCommand(t *testing.T) {
	files := map[string]*fakeIndexes{"props.db": {}}
	opened := 0
	cmd := indexCommand(func(path string) (indexKeeper, error) {
		opened++
		if f, ok := files[path]; ok {
			return f, nil
		}
		return nil, errors.New("no store at " + path)
	})
	runIndex := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := cmd(context.Background(), args, &stdout, &stderr)
		return stdout.String(), err
	}

	out, err := runIndex("list", "--db", "props.db")
	require.NoError(t, err)
	assert.Equal(t, `{"indexes":[]}`+"\n", out)
	out, err = runIndex("add", "--db", "props.db", "[location].office.city")
	require.NoError(t, err)
	assert.Equal(t, `{"index":"[location].office.city","status":"added"}`+"\n", out)
	_, err = runIndex("add", "--db", "props.db", "[a b]")
	require.NoError(t, err)
	out, err = runIndex("list", "--db", "props.db")
	require.NoError(t, err)
	assert.Equal(t, `{"indexes":["[location].office.city","[a b]"]}`+"\n", out)
	out, err = runIndex("drop", "--db", "props.db", "[location].office.city")
	require.NoError(t, err)
	assert.Equal(t, `{"index":"[location].office.city","status":"dropped"}`+"\n", out)
	assert.Equal(t, []userprops.Index{{Key: "a b"}}, files["props.db"].kept)
	assert.Equal(t, opened, files["props.db"].closed, "every file opened was closed")

	_, err = runIndex("drop", "--db", "props.db", "[nope]")
	assert.ErrorIs(t, err, userprops.ErrInvalidQuery, "the store's error comes through")
	_, err = runIndex("list", "--db", "other.db")
	assert.ErrorContains(t, err, "no store at other.db")

	before := opened
	for _, args := range [][]string{
		nil,
		{"rebuild", "--db", "props.db"},
		{"add", "--db", "props.db"},
		{"add", "--db", "props.db", "[a]", "[b]"},
		{"list", "--db", "props.db", "[a]"},
		{"add", "--db", "props.db", "location.office"},
		{"drop", "--db", "props.db", "[unclosed"},
		{"list", "--postgres", "postgres://x"},
	} {
		_, err := runIndex(args...)
		assert.Equal(t, 2, exitCode(err), "index %s: %v", strings.Join(args, " "), err)
	}
	assert.Equal(t, before, opened, "misuse opened a file")
	_, err = runIndex("-h")
	assert.ErrorIs(t, err, errHelp)
}
