package userprops

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// quiet is the logger of tests that do not look at the log.
var quiet = WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// openIndexed opens a bolt store at path with opts, closed at the end of
// the test.
func openIndexed(t *testing.T, path string, opts ...Option) *BoltStore {
	t.Helper()
	s, err := OpenBolt(path, append([]Option{quiet}, opts...)...)
	require.NoError(t, err, "OpenBolt(%q)", path)
	t.Cleanup(func() { s.Close() })
	return s
}

// indexInfo is an index s keeps, and whether Find may use it.
type indexInfo struct {
	Index
	Ready bool
}

// indexInfos returns the indexes s keeps (Indexes), each with its state in
// the table of the last commit.
func indexInfos(t *testing.T, s *BoltStore) []indexInfo {
	t.Helper()
	ixs, err := s.Indexes()
	require.NoError(t, err)
	tab := s.indexes.Load()
	var infos []indexInfo
	for _, ix := range ixs {
		bi := tab.byIx[ix]
		infos = append(infos, indexInfo{ix, bi != nil && bi.ready})
	}
	return infos
}

// Random data and queries over a small vocabulary, so that queries match.
var (
	indexKeys  = []string{"loc", "tags", "flag"}
	indexPaths = []string{"", "city", "a.b", "list"}
	longA      = strings.Repeat("L", 300) + "a"
	longB      = strings.Repeat("L", 300) + "b"
	scalars    = []string{`"Sydney"`, `"Oslo"`, `"1"`, `1`, `1.0`, `2e0`, `-0`, `0`, `true`, `false`, `"true"`, `null`, `""`,
		`"` + longA + `"`, `"` + longB + `"`}
	literals = []any{"Sydney", "Oslo", "1", 1, 2, 0, true, false, "true", "", longA, longB, "nobody"}
)

func randomScalar(r *rand.Rand) string { return scalars[r.IntN(len(scalars))] }

func randomJSON(r *rand.Rand, depth int) string {
	switch n := r.IntN(6); {
	case n < 2 || depth > 2:
		return randomScalar(r)
	case n < 4:
		var parts []string
		for range r.IntN(4) {
			parts = append(parts, randomJSON(r, depth+1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		var parts []string
		for _, f := range []string{"city", "a", "b", "list"} {
			if r.IntN(2) == 0 {
				parts = append(parts, fmt.Sprintf("%q:%s", f, randomJSON(r, depth+1)))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
}

func randomClause(r *rand.Rand) Query {
	return Where(indexKeys[r.IntN(len(indexKeys))], indexPaths[r.IntN(len(indexPaths))], literals[r.IntN(len(literals))])
}

func randomQuery(r *rand.Rand) Query {
	switch r.IntN(4) {
	case 0:
		return And(randomClause(r), randomClause(r))
	case 1:
		return Or(randomClause(r), And(randomClause(r), randomClause(r)))
	}
	return randomClause(r)
}

// everyIndex declares an index on every key and path the random queries use.
func everyIndex() []Option {
	var opts []Option
	for _, k := range indexKeys {
		for _, p := range indexPaths {
			opts = append(opts, WithIndex(k, p))
		}
	}
	return opts
}

// randomWrites applies n random writes to every store, the same in each:
// Sets, Deletes and (for bolt stores) Restores.
func randomWrites(t *testing.T, r *rand.Rand, n int, stores ...Store) {
	t.Helper()
	ctx := context.Background()
	for range n {
		account := fmt.Sprintf("acct-%02d", r.IntN(40))
		key := indexKeys[r.IntN(len(indexKeys))]
		switch op := r.IntN(20); {
		case op < 1:
			for _, s := range stores {
				_, err := s.DeleteAccount(ctx, account)
				require.NoError(t, err)
			}
		case op < 4:
			for _, s := range stores {
				err := s.Delete(ctx, account, key)
				if err != nil {
					require.ErrorIs(t, err, ErrNotFound)
				}
			}
		case op < 6:
			p := Property{AccountID: account, Key: key, Value: []byte(randomJSON(r, 0)), Version: 7, UpdatedAt: time.Unix(1, 0)}
			for _, s := range stores {
				if b, ok := s.(*BoltStore); ok {
					require.NoError(t, b.Restore(ctx, []Property{p}))
				} else {
					_, err := s.Set(ctx, p.AccountID, p.Key, p.Value)
					require.NoError(t, err)
				}
			}
		default:
			value := []byte(randomJSON(r, 0))
			for _, s := range stores {
				_, err := s.Set(ctx, account, key, value)
				require.NoError(t, err)
			}
		}
	}
}

// requireSameFinds runs random queries on every store and requires the
// answers of the reference store.
func requireSameFinds(t *testing.T, r *rand.Rand, n int, ref Store, stores ...Store) {
	t.Helper()
	ctx := context.Background()
	for range n {
		q := randomQuery(r)
		page := Page{StartAt: r.IntN(3), MaxResults: 1 + r.IntN(30)}
		want, err := ref.Find(ctx, q, page)
		require.NoError(t, err, "reference Find(%s)", q)
		for _, s := range stores {
			got, err := s.Find(ctx, q, page)
			require.NoError(t, err, "Find(%s)", q)
			require.Equal(t, want, got, "Find(%s, %+v)", q, page)
		}
	}
}

func TestBolt_Index_SameAnswers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	ref := NewMemory() // no index: every clause reads values
	indexed := openIndexed(t, filepath.Join(dir, "indexed.db"), everyIndex()...)
	plain := openIndexed(t, filepath.Join(dir, "plain.db"))
	for round := range 5 {
		randomWrites(t, r, 300, ref, indexed, plain)
		requireSameFinds(t, r, 200, ref, indexed, plain)
		require.NoError(t, indexed.Check(context.Background()), "Check after round %d", round)
	}
	// The index answers: a view of the indexed store has them, complete.
	require.NoError(t, indexed.read("test", func(kv *kvRead) error {
		v := &boltView{s: indexed, kv: kv, txID: uint64(kv.tx.ID()), table: indexed.indexes.Load(), props: kv.props()}
		assert.True(t, v.Indexed(Index{"loc", "city"}))
		assert.False(t, v.Indexed(Index{"loc", "nowhere"}))
		return nil
	}))

	// Indexes stay in the file: a later open that declares none uses them.
	path := indexed.Path()
	require.NoError(t, indexed.Close())
	reopened := openIndexed(t, path)
	infos := indexInfos(t, reopened)
	assert.Len(t, infos, len(indexKeys)*len(indexPaths))
	for _, info := range infos {
		assert.True(t, info.Ready, "%s", info.Index)
	}
	randomWrites(t, r, 300, ref, reopened)
	requireSameFinds(t, r, 200, ref, reopened)
	require.NoError(t, reopened.Check(context.Background()))
}

func TestBolt_Index_LongStrings(t *testing.T) {
	ctx := context.Background()
	s := openIndexed(t, filepath.Join(t.TempDir(), "long.db"), WithIndex("k", ""))
	for i, v := range []string{longA, longB, longA[:255], longA[:256]} {
		_, err := s.Set(ctx, fmt.Sprintf("a%d", i), "k", fmt.Appendf(nil, "%q", v))
		require.NoError(t, err)
	}
	for i, v := range []string{longA, longB, longA[:255], longA[:256]} {
		got, err := s.Find(ctx, Where("k", "", v), Page{})
		require.NoError(t, err)
		assert.Equal(t, Found{AccountIDs: []string{fmt.Sprintf("a%d", i)}, Total: 1}, got, "Find of string %d", i)
	}
	require.NoError(t, s.Check(ctx))
}

func TestBolt_Index_AddAndDrop(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "props.db")
	s := openIndexed(t, path)
	for i := range 50 {
		_, err := s.Set(ctx, fmt.Sprintf("a%02d", i), "loc", fmt.Appendf(nil, `{"city":%q}`, []string{"Oslo", "Sydney"}[i%2]))
		require.NoError(t, err)
	}
	ix := Index{"loc", "city"}
	infos := indexInfos(t, s)
	assert.Empty(t, infos)
	require.NoError(t, s.AddIndex(ctx, ix))
	require.NoError(t, s.AddIndex(ctx, ix), "AddIndex of an index the file has")
	infos = indexInfos(t, s)
	assert.Equal(t, []indexInfo{{ix, true}}, infos)
	assert.ErrorIs(t, s.AddIndex(ctx, Index{"", "x"}), ErrInvalidQuery)
	got, err := s.Find(ctx, Where("loc", "city", "Oslo"), Page{MaxResults: 3})
	require.NoError(t, err)
	assert.Equal(t, Found{AccountIDs: []string{"a00", "a02", "a04"}, Total: 25}, got)
	require.NoError(t, s.Check(ctx))

	require.NoError(t, s.DropIndex(ctx, ix))
	assert.ErrorIs(t, s.DropIndex(ctx, ix), ErrNotFound, "DropIndex of an index the file lacks")
	infos = indexInfos(t, s)
	assert.Empty(t, infos)
	got2, err := s.Find(ctx, Where("loc", "city", "Oslo"), Page{MaxResults: 3})
	require.NoError(t, err)
	assert.Equal(t, got, got2, "Find without the index")
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())

	// Dropped for good; declared again, it is built again.
	s = openIndexed(t, path)
	infos = indexInfos(t, s)
	assert.Empty(t, infos)
	require.NoError(t, s.Close())
	s = openIndexed(t, path, WithIndex("loc", "city"))
	infos = indexInfos(t, s)
	assert.Equal(t, []indexInfo{{ix, true}}, infos)
	require.NoError(t, s.Check(ctx))
}

// TestBolt_Index_BuildDuringWrites adds an index in small batches while
// writers change the properties it covers: every write keeps the part built
// so far and the part not yet built, so the finished index is exact.
func TestBolt_Index_BuildDuringWrites(t *testing.T) {
	defer func(n int) { boltBuildBatch = n }(boltBuildBatch)
	boltBuildBatch = 7
	ctx := context.Background()
	s := openIndexed(t, filepath.Join(t.TempDir(), "props.db"))
	ref := NewMemory()
	r := rand.New(rand.NewPCG(3, 4))
	randomWrites(t, r, 400, s, ref)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				account := fmt.Sprintf("acct-%02d", r.IntN(40))
				var err error
				if i%5 == 4 {
					if err = s.Delete(ctx, account, "loc"); err == nil || assert.ErrorIs(t, err, ErrNotFound) {
						err = nil
					}
				} else {
					_, err = s.Set(ctx, account, "loc", []byte(randomJSON(r, 0)))
				}
				assert.NoError(t, err)
				// Find never uses the index half-built, and sees
				// every write it started after.
				found, err := s.Find(ctx, Where("loc", "city", "Oslo"), Page{MaxResults: MaxPageSize})
				assert.NoError(t, err)
				assert.NoError(t, checkFound(ctx, s, found, "loc", "city", "Oslo"))
			}
		})
	}
	for _, p := range indexPaths {
		require.NoError(t, s.AddIndex(ctx, Index{"loc", p}))
	}
	close(stop)
	wg.Wait()
	require.NoError(t, s.Check(ctx))
	// The reference store catches up by reading every value.
	require.NoError(t, s.ForEach(ctx, func(p Property) error {
		_, err := ref.Set(ctx, p.AccountID, p.Key, p.Value)
		return err
	}))
	for _, key := range indexKeys {
		for i := range 40 {
			account := fmt.Sprintf("acct-%02d", i)
			if _, err := s.Get(ctx, account, key); err != nil {
				require.ErrorIs(t, err, ErrNotFound)
				_ = ref.Delete(ctx, account, key)
			}
		}
	}
	requireSameFinds(t, r, 300, ref, s)
}

// checkFound checks found, an answer for Where(key, path, lit) with every
// match on the page, against the store's values.
func checkFound(ctx context.Context, s Store, found Found, key, path string, lit any) error {
	q := Where(key, path, lit)
	if found.Total != len(found.AccountIDs) {
		return fmt.Errorf("total %d, %d on the page", found.Total, len(found.AccountIDs))
	}
	for _, id := range found.AccountIDs {
		p, err := s.Get(ctx, id, key)
		if err != nil {
			return fmt.Errorf("found %s: %w", id, err)
		}
		if !q.n.lit.matches(selectValue(p.Value, q.n.gpath)) {
			return fmt.Errorf("found %s, whose value %s does not match", id, p.Value)
		}
	}
	return nil
}

// TestBolt_Index_Resume stops a build half-way, as a crash or a cancelled
// AddIndex does: the index is kept, not used, and finished by the next open.
func TestBolt_Index_Resume(t *testing.T) {
	defer func(n int) { boltBuildBatch = n }(boltBuildBatch)
	boltBuildBatch = 10
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "props.db")
	var log bytes.Buffer
	s, err := OpenBolt(path, WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	require.NoError(t, err)
	for i := range 100 {
		_, err := s.Set(ctx, fmt.Sprintf("a%03d", i), "loc", fmt.Appendf(nil, `{"city":"c%d"}`, i%10))
		require.NoError(t, err)
	}
	ix := Index{"loc", "city"}
	// Cancel AddIndex once its third batch is committed.
	cctx, cancel := context.WithCancel(ctx)
	batches := 0
	s.commitTrace = func(batch []*boltWrite) {
		for _, w := range batch {
			if w.kind == writeBuildIndex {
				if batches++; batches == 3 {
					cancel()
				}
			}
		}
	}
	require.ErrorIs(t, s.AddIndex(cctx, ix), context.Canceled)
	infos := indexInfos(t, s)
	assert.Equal(t, []indexInfo{{ix, false}}, infos, "an index half built")
	require.NoError(t, s.Check(ctx), "Check of a file with an index half built")
	// Kept by writes, not used by Find.
	_, err = s.Set(ctx, "a000", "loc", []byte(`{"city":"c5"}`))
	require.NoError(t, err)
	_, err = s.Set(ctx, "a099", "loc", []byte(`{"city":"c5"}`))
	require.NoError(t, err)
	found, err := s.Find(ctx, Where("loc", "city", "c5"), Page{MaxResults: 3})
	require.NoError(t, err)
	assert.Equal(t, Found{AccountIDs: []string{"a000", "a005", "a015"}, Total: 12}, found)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())

	s, err = OpenBolt(path, WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	require.NoError(t, err)
	defer s.Close()
	infos = indexInfos(t, s)
	assert.Equal(t, []indexInfo{{ix, true}}, infos, "an index whose build was resumed at open")
	found2, err := s.Find(ctx, Where("loc", "city", "c5"), Page{MaxResults: 3})
	require.NoError(t, err)
	assert.Equal(t, found, found2)
	require.NoError(t, s.Check(ctx))
	assert.Contains(t, log.String(), "resuming the build of an index")
	assert.Contains(t, log.String(), "built index")
}

// TestBolt_Index_UpgradeFormat2 opens a file of format 2 (no indexes) with
// an index declared: it is upgraded and the index built.
func TestBolt_Index_UpgradeFormat2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	s := openIndexed(t, path)
	_, err := s.Set(ctx, "a", "loc", []byte(`{"city":"Oslo"}`))
	require.NoError(t, err)
	_, err = s.Set(ctx, "b", "loc", []byte(`{"city":"Sydney"}`))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	// Back to format 2: no revisions, no indexes or terms bucket.
	downgradeToV3(t, path)
	editFile(t, path, func(tx *bolt.Tx) error {
		require.NoError(t, tx.DeleteBucket(boltIndexesBucket))
		require.NoError(t, tx.DeleteBucket(boltTermsBucket))
		return tx.Bucket(boltMetaBucket).Put(boltFormatKey, binary.BigEndian.AppendUint32(nil, 2))
	})

	s = openIndexed(t, path, WithIndex("loc", "city"))
	found, err := s.Find(ctx, Where("loc", "city", "Sydney"), Page{})
	require.NoError(t, err)
	assert.Equal(t, Found{AccountIDs: []string{"b"}, Total: 1}, found)
	infos := indexInfos(t, s)
	assert.Equal(t, []indexInfo{{Index{"loc", "city"}, true}}, infos)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())
	_, format := usageRecords(t, path)
	assert.Equal(t, boltFormat, format)
}

// TestBolt_CheckFindsWrongIndex changes index entries behind the store's
// back, each way: Check must notice every one.
func TestBolt_CheckFindsWrongIndex(t *testing.T) {
	ctx := context.Background()
	for name, damage := range map[string]func(entries *bolt.Bucket) error{
		"entry missing": func(e *bolt.Bucket) error { return e.Delete(entryKey("sOslo", []byte("a"))) },
		"entry of another term": func(e *bolt.Bucket) error {
			return e.Put(entryKey("sBergen", []byte("a")), nil)
		},
		"entry of an account without the property": func(e *bolt.Bucket) error {
			return e.Put(entryKey("sOslo", []byte("nobody")), nil)
		},
		"entry that does not decode": func(e *bolt.Bucket) error { return e.Put([]byte{0xff}, nil) },
		"count record wrong": func(e *bolt.Bucket) error {
			return e.Put(termPrefix(nil, "sOslo"), binary.BigEndian.AppendUint64(nil, 3))
		},
		"count record missing": func(e *bolt.Bucket) error { return e.Delete(termPrefix(nil, "sOslo")) },
		"count record of a term without entries": func(e *bolt.Bucket) error {
			return e.Put(termPrefix(nil, "sBergen"), binary.BigEndian.AppendUint64(nil, 1))
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "props.db")
			s := openIndexed(t, path, WithIndex("loc", "city"))
			_, err := s.Set(ctx, "a", "loc", []byte(`{"city":"Oslo"}`))
			require.NoError(t, err)
			_, err = s.Set(ctx, "b", "loc", []byte(`{"city":"Oslo"}`))
			require.NoError(t, err)
			id := s.indexes.Load().byIx[Index{"loc", "city"}].id
			require.NoError(t, s.Close())
			db, err := bolt.Open(path, 0o600, nil)
			require.NoError(t, err)
			require.NoError(t, db.Update(func(tx *bolt.Tx) error {
				return damage(tx.Bucket(boltTermsBucket).Bucket(id))
			}))
			require.NoError(t, db.Close())
			s = openIndexed(t, path)
			err = s.Check(ctx)
			require.ErrorIs(t, err, ErrCorrupt)
			t.Log(err)
		})
	}
}

// TestBolt_Index_DropDuringBuild drops an index while AddIndex builds it:
// the build ends with ErrNotFound, and nothing of the index is left.
func TestBolt_Index_DropDuringBuild(t *testing.T) {
	defer func(n int) { boltBuildBatch = n }(boltBuildBatch)
	boltBuildBatch = 5
	ctx := context.Background()
	s := openIndexed(t, filepath.Join(t.TempDir(), "props.db"))
	for i := range 100 {
		_, err := s.Set(ctx, fmt.Sprintf("a%03d", i), "loc", fmt.Appendf(nil, `{"city":"c%d"}`, i%10))
		require.NoError(t, err)
	}
	ix := Index{"loc", "city"}
	batches := 0
	dropped := make(chan error, 1)
	s.commitTrace = func(batch []*boltWrite) {
		for _, w := range batch {
			if w.kind == writeBuildIndex {
				if batches++; batches == 3 {
					go func() { dropped <- s.DropIndex(ctx, ix) }()
				}
			}
		}
	}
	require.ErrorIs(t, s.AddIndex(ctx, ix), ErrNotFound)
	require.NoError(t, <-dropped)
	infos := indexInfos(t, s)
	assert.Empty(t, infos)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.view("test", func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(boltTermsBucket).Cursor().First()
		assert.Nil(t, k, "an entries bucket is left")
		return nil
	}))
	require.NoError(t, s.AddIndex(ctx, ix), "adding it again")
	require.NoError(t, s.Check(ctx))
}
