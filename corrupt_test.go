package userprops_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// corpus is the content of a store file made for damaging.
type corpus struct {
	path  string
	props map[[2]string]string // (account, key) → value
}

// buildCorpus writes a store with enough properties for branch, leaf and
// overflow pages, each value unique so that it can be found in the file.
// It writes without the write-ahead log, so that each write is one commit
// of the file, as the tests of damaged meta pages count on.
func buildCorpus(t *testing.T) corpus {
	t.Helper()
	c := corpus{path: filepath.Join(t.TempDir(), "good.db"), props: map[[2]string]string{}}
	s, err := userprops.OpenBolt(c.path, userprops.WithWriteAheadLog(false))
	require.NoError(t, err)
	ctx := context.Background()
	for a := range 40 {
		account := fmt.Sprintf("acct-%03d", a)
		for k := range 12 {
			key := fmt.Sprintf("key-%03d-%02d", a, k)
			value := fmt.Sprintf(`{"owner":%q,"n":%d,"pad":%q}`, key, a*100+k, strings.Repeat("p", (a*k*37)%300))
			if k == 0 && a%10 == 0 {
				value = fmt.Sprintf(`{"big":%q,"owner":%q}`, strings.Repeat("B", 9000), key) // overflow pages
			}
			_, err := s.Set(ctx, account, key, []byte(value))
			require.NoError(t, err)
			c.props[[2]string{account, key}] = value
		}
	}
	require.NoError(t, s.Close())
	return c
}

// damaged copies the corpus file, lets damage change the bytes, and writes
// the copy.
func (c corpus) damaged(t *testing.T, damage func(b []byte)) string {
	t.Helper()
	b, err := os.ReadFile(c.path)
	require.NoError(t, err)
	damage(b)
	path := filepath.Join(t.TempDir(), "damaged.db")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// flipAt flips one byte of every occurrence of marker in the file, at
// offset within it: a value is in its property record and in the change
// history.
func flipAt(t *testing.T, marker string, offset int) func(b []byte) {
	return func(b []byte) {
		n := 0
		for i, from := 0, 0; ; from = i + 1 {
			if i = bytes.Index(b[from:], []byte(marker)); i < 0 {
				break
			}
			i += from
			b[i+offset] ^= 0x20
			n++
		}
		require.Positive(t, n, "marker %q not in the file", marker)
	}
}

// requireDamaged requires every kind of call to fail with ErrCorrupt.
func requireDamaged(t *testing.T, s *userprops.BoltStore) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Get(ctx, "acct-000", "key-000-01")
	assert.ErrorIs(t, err, userprops.ErrCorrupt, "Get")
	_, err = s.Keys(ctx, "acct-001")
	assert.ErrorIs(t, err, userprops.ErrCorrupt, "Keys")
	_, err = s.Set(ctx, "acct-001", "new", []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrCorrupt, "Set")
	assert.ErrorIs(t, s.Delete(ctx, "acct-001", "key-001-01"), userprops.ErrCorrupt, "Delete")
	assert.ErrorIs(t, s.Check(ctx), userprops.ErrCorrupt, "Check")
	_, err = s.Backup(ctx, &bytes.Buffer{})
	assert.ErrorIs(t, err, userprops.ErrCorrupt, "Backup")
	assert.Equal(t, 500, userprops.HTTPStatus(err))
}

func TestBolt_CorruptValue(t *testing.T) {
	c := buildCorpus(t)
	path := c.damaged(t, flipAt(t, `"owner":"key-007-03"`, 12))
	s := openBolt(t, path)
	ctx := context.Background()
	// Other properties still read until the damage is seen.
	p, err := s.Get(ctx, "acct-007", "key-007-04")
	require.NoError(t, err)
	assert.Equal(t, c.props[[2]string{"acct-007", "key-007-04"}], string(p.Value))

	_, err = s.Get(ctx, "acct-007", "key-007-03")
	require.ErrorIs(t, err, userprops.ErrCorrupt)
	assert.Contains(t, err.Error(), "key-007-03")
	requireDamaged(t, s)
}

func TestBolt_CorruptKey(t *testing.T) {
	c := buildCorpus(t)
	// "key-012-05" → "kEy-012-05": the record stays in its account's range.
	path := c.damaged(t, flipAt(t, "key-012-05", 1))
	s := openBolt(t, path)
	_, err := s.Keys(context.Background(), "acct-012")
	require.ErrorIs(t, err, userprops.ErrCorrupt)
	requireDamaged(t, s)
}

func TestBolt_CheckFindsDamage(t *testing.T) {
	c := buildCorpus(t)
	require.NoError(t, openBolt(t, c.path).Check(context.Background()), "Check of an undamaged store")

	path := c.damaged(t, flipAt(t, `"owner":"key-033-09"`, 15))
	s := openBolt(t, path)
	err := s.Check(context.Background())
	require.ErrorIs(t, err, userprops.ErrCorrupt)
	assert.Contains(t, err.Error(), "checksum")
	requireDamaged(t, s)
}

func TestBolt_CorruptMetaPages(t *testing.T) {
	c := buildCorpus(t)
	// One meta page damaged: bbolt uses the other one, which describes the
	// file as of the commit before the last one (they alternate), so at
	// most the last commit is lost and the file is consistent.
	for _, meta := range []int{0, 1} {
		path := c.damaged(t, func(b []byte) { b[meta*4096+40] ^= 0xff })
		s := openBolt(t, path)
		require.NoError(t, s.Check(context.Background()), "meta page %d damaged", meta)
		p, err := s.Get(context.Background(), "acct-039", "key-039-10")
		require.NoError(t, err, "meta page %d damaged", meta)
		assert.Equal(t, c.props[[2]string{"acct-039", "key-039-10"}], string(p.Value))
	}

	// Both damaged: refused at open.
	path := c.damaged(t, func(b []byte) { b[40] ^= 0xff; b[4096+40] ^= 0xff })
	_, err := userprops.OpenBolt(path)
	require.ErrorIs(t, err, userprops.ErrCorrupt)
}

// TestBolt_CorruptPages flips random bytes in every page of a real store, one
// page per copy, and uses the copy: nothing may panic or fault, and every
// answer is either the right one or an error wrapping ErrCorrupt (or, where
// a key itself was hit, not found, in a file where some call reports the
// damage).
func TestBolt_CorruptPages(t *testing.T) {
	c := buildCorpus(t)
	// A compacted copy: a file written one commit at a time is largely
	// pages that later commits freed (and, since format 4, more of them:
	// the change history grows with every commit), whose damage nothing
	// reads and so nothing needs to see; in the copy every page is in use.
	s, err := userprops.OpenBolt(c.path)
	require.NoError(t, err)
	compact := filepath.Join(t.TempDir(), "compact.db")
	require.NoError(t, s.CompactTo(context.Background(), compact))
	require.NoError(t, s.Close())
	c.path = compact
	info, err := os.Stat(c.path)
	require.NoError(t, err)
	pages := int(info.Size() / 4096)
	ctx := context.Background()
	detected := 0
	for page := 2; page < pages; page++ {
		r := rand.New(rand.NewPCG(uint64(page), 7))
		path := c.damaged(t, func(b []byte) {
			for range 8 {
				b[page*4096+r.IntN(4096)] ^= byte(1 + r.IntN(255))
			}
		})
		s, err := userprops.OpenBolt(path)
		if err != nil {
			assert.ErrorIs(t, err, userprops.ErrCorrupt, "page %d: OpenBolt", page)
			detected++
			continue
		}
		seen, missing := false, 0
		for ref, value := range c.props {
			p, err := s.Get(ctx, ref[0], ref[1])
			switch {
			case err == nil:
				assert.Equal(t, value, string(p.Value), "page %d: Get(%q, %q) returned a wrong value", page, ref[0], ref[1])
			case errors.Is(err, userprops.ErrCorrupt):
				seen = true
			default:
				assert.ErrorIs(t, err, userprops.ErrNotFound, "page %d: Get(%q, %q)", page, ref[0], ref[1])
				missing++
			}
		}
		for a := range 40 {
			account := fmt.Sprintf("acct-%03d", a)
			keys, err := s.Keys(ctx, account)
			if err != nil {
				assert.ErrorIs(t, err, userprops.ErrCorrupt, "page %d: Keys(%q)", page, account)
				seen = true
				continue
			}
			for _, k := range keys {
				assert.Contains(t, c.props, [2]string{account, k}, "page %d: Keys(%q) listed %q", page, account, k)
			}
		}
		if err := s.Check(ctx); err != nil {
			assert.ErrorIs(t, err, userprops.ErrCorrupt, "page %d: Check", page)
			seen = true
		}
		if seen {
			detected++
		} else {
			assert.Zero(t, missing, "page %d: properties went missing and nothing reported damage", page)
		}
		assert.NoError(t, s.Close(), "page %d: Close", page)
	}
	t.Logf("%d of %d damaged pages detected (in the rest every Get was right and Check passed: the bytes hit were free pages or unused space)", detected, pages-2)
	assert.Greater(t, detected, (pages-2)/2, "most damage must be detected")
}
