package pgstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/pgtest"
	"github.com/userprops/userprops/pgstore"
)

var (
	cityIndex = userprops.Index{Key: "location", Path: "office.city"}
	tagsIndex = userprops.Index{Key: "tags", Path: ""}
	quiet     = pgstore.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

type entry struct {
	Term, Account string
}

// checkEntries checks that every ready index of the database holds exactly
// the entries its properties call for, and returns the indexes it checked.
func checkEntries(t *testing.T, conn *pgx.Conn) []userprops.Index {
	t.Helper()
	ctx := context.Background()
	type row struct {
		id        int32
		key, path []byte
	}
	rows, err := conn.Query(ctx, `SELECT id, key, path FROM userprops_indexes WHERE state = 'ready' ORDER BY key, path`)
	require.NoError(t, err)
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.key, &x.path)
	})
	require.NoError(t, err)
	var checked []userprops.Index
	for _, x := range indexes {
		ix := userprops.Index{Key: string(x.key), Path: string(x.path)}
		checked = append(checked, ix)
		var want []entry
		rows, err := conn.Query(ctx, `SELECT account_id, value FROM userprops_properties WHERE key = $1`, x.key)
		require.NoError(t, err)
		var id, value []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &value}, func() error {
			for _, term := range ix.Terms(value) {
				want = append(want, entry{string(pgstore.EntryTerm(term)), string(id)})
			}
			return nil
		})
		require.NoError(t, err)
		var got []entry
		var term []byte
		rows, err = conn.Query(ctx, `SELECT term, account_id FROM userprops_index_entries WHERE index_id = $1`, x.id)
		require.NoError(t, err)
		_, err = pgx.ForEachRow(rows, []any{&term, &id}, func() error {
			got = append(got, entry{string(term), string(id)})
			return nil
		})
		require.NoError(t, err)
		sortEntries(want)
		sortEntries(got)
		assert.Equal(t, want, got, "the entries of %s", ix)
	}
	return checked
}

func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		if c := bytes.Compare([]byte(a.Term), []byte(b.Term)); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.Account), []byte(b.Account))
	})
}

func cityValue(city string) []byte {
	return fmt.Appendf(nil, `{"office":{"city":%q,"country":"AU"}}`, city)
}

func find(t *testing.T, st userprops.Store, q userprops.Query) []string {
	t.Helper()
	found, err := st.Find(context.Background(), q, userprops.Page{MaxResults: userprops.MaxPageSize})
	require.NoError(t, err, "Find(%s)", q)
	return found.AccountIDs
}

func TestPostgres_Index_KeptAcrossWritesAndRestarts(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), userprops.WithIndex(tagsIndex.Key, ""), quiet)
	list, err := s.Indexes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []userprops.Index{cityIndex, tagsIndex}, list)

	for i := range 30 {
		_, err := s.Set(ctx, fmt.Sprintf("a%02d", i), cityIndex.Key, cityValue([]string{"Sydney", "Oslo", "Lima"}[i%3]))
		require.NoError(t, err)
		_, err = s.Set(ctx, fmt.Sprintf("a%02d", i), tagsIndex.Key, fmt.Appendf(nil, `["t%d", %d, true, "t%d"]`, i%4, i%5, i%4))
		require.NoError(t, err)
	}
	checkEntries(t, conn)
	// Updates, to the same terms and to others, and deletes.
	for i := range 10 {
		_, err := s.Set(ctx, fmt.Sprintf("a%02d", i), cityIndex.Key, cityValue("Oslo"))
		require.NoError(t, err)
		_, err = s.Set(ctx, fmt.Sprintf("a%02d", i), tagsIndex.Key, []byte(`{"not":"indexed"}`))
		require.NoError(t, err)
	}
	for i := 10; i < 20; i++ {
		require.NoError(t, s.Delete(ctx, fmt.Sprintf("a%02d", i), cityIndex.Key))
	}
	assert.ElementsMatch(t, []userprops.Index{cityIndex, tagsIndex}, checkEntries(t, conn))
	oslo := find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Oslo"))
	assert.Equal(t, []string{"a00", "a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08", "a09", "a22", "a25", "a28"}, oslo)

	// Reopened without declaring the indexes: they are kept, maintained
	// and used.
	require.NoError(t, s.Close())
	s = open(t, dsn, quiet)
	list, err = s.Indexes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []userprops.Index{cityIndex, tagsIndex}, list)
	_, err = s.Set(ctx, "a29", cityIndex.Key, cityValue("Sydney"))
	require.NoError(t, err)
	_, err = s.Set(ctx, "new", cityIndex.Key, cityValue("Oslo"))
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "a00", cityIndex.Key))
	checkEntries(t, conn)
	assert.Equal(t, append(oslo[1:], "new"), find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Oslo")))
	assertIndexUsed(t, s, conn, cityIndex, true)
}

// assertIndexUsed checks whether Find answers from ix, by adding an entry
// that no value backs and looking it up, then removing it.
func assertIndexUsed(t *testing.T, st userprops.Store, conn *pgx.Conn, ix userprops.Index, want bool) {
	t.Helper()
	ctx := context.Background()
	term := pgstore.EntryTerm("sNowhere")
	_, err := conn.Exec(ctx, `INSERT INTO userprops_index_entries
SELECT id, $3, 'phantom' FROM userprops_indexes WHERE key = $1 AND path = $2`, []byte(ix.Key), []byte(ix.Path), term)
	require.NoError(t, err)
	defer conn.Exec(ctx, `DELETE FROM userprops_index_entries WHERE account_id = 'phantom'`)
	got := find(t, st, userprops.Where(ix.Key, ix.Path, "Nowhere"))
	if want {
		assert.Equal(t, []string{"phantom"}, got, "Find did not use %s", ix)
	} else {
		assert.Empty(t, got, "Find used %s", ix)
	}
}

// fill writes n accounts' location, one city in three Sydney, from a store
// that keeps no index.
func fill(t *testing.T, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	s := open(t, dsn, quiet)
	b := &pgx.Batch{}
	for i := range n {
		b.Queue(`INSERT INTO userprops_properties VALUES ($1, $2, $3, 1, 0, $4 + (SELECT last_value FROM userprops_revisions))`,
			fmt.Appendf(nil, "acct%05d", i), []byte(cityIndex.Key), cityValue([]string{"Sydney", "Oslo", "Lima"}[i%3]), i+1)
	}
	conn := connect(t, dsn)
	require.NoError(t, conn.SendBatch(ctx, b).Close())
	_, err := conn.Exec(ctx, `INSERT INTO userprops_accounts SELECT account_id, count(*), sum(length(key) + length(value))
FROM userprops_properties GROUP BY account_id ON CONFLICT DO NOTHING;
SELECT setval('userprops_revisions', max(revision)) FROM userprops_properties;
UPDATE userprops_trimmed SET trimmed = m.r FROM (SELECT max(revision) AS r FROM userprops_properties) m`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestPostgres_Index_BuiltAtOpen(t *testing.T) {
	dsn := pgtest.Schema(t)
	conn := connect(t, dsn)
	n := 2*pgstore.BuildBatchSize + 17
	fill(t, dsn, n)
	var logs bytes.Buffer
	s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path),
		pgstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Equal(t, []userprops.Index{cityIndex}, checkEntries(t, conn))
	assert.Contains(t, logs.String(), fmt.Sprintf("properties=%d done=true", n))
	assert.Len(t, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Oslo")), min(n/3+1, userprops.MaxPageSize))
	assertIndexUsed(t, s, conn, cityIndex, true)
}

// TestPostgres_Index_InterruptedBuild leaves the database as a process
// killed during a build does (the batches committed so far, the rest not):
// Find must not use the index, and the next Open declaring it finishes it.
func TestPostgres_Index_InterruptedBuild(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	n := 2*pgstore.BuildBatchSize + 5
	fill(t, dsn, n)
	s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), quiet)
	want := find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Lima"))
	require.NoError(t, s.Close())
	half := fmt.Sprintf("acct%05d", pgstore.BuildBatchSize)
	_, err := conn.Exec(ctx, `UPDATE userprops_indexes SET state = 'building', built_after = $1`, []byte(half))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `DELETE FROM userprops_index_entries WHERE account_id > $1`, []byte(half))
	require.NoError(t, err)

	// A process that does not declare the index neither uses nor builds
	// it, but keeps it.
	s = open(t, dsn, quiet)
	assert.Equal(t, want, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Lima")))
	assertIndexUsed(t, s, conn, cityIndex, false)
	_, err = s.Set(ctx, "acct00001", cityIndex.Key, cityValue("Lima"))
	require.NoError(t, err)
	_, err = s.Set(ctx, "acct99999", cityIndex.Key, cityValue("Lima"))
	require.NoError(t, err)
	want = find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Lima"))
	list, err := s.Indexes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []userprops.Index{cityIndex}, list, "an unfinished index is listed")
	require.NoError(t, s.Close())

	s = open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), quiet)
	assert.Equal(t, []userprops.Index{cityIndex}, checkEntries(t, conn))
	assert.Equal(t, want, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Lima")))
	assertIndexUsed(t, s, conn, cityIndex, true)
}

// TestPostgres_Index_AddedByAnother has one process add an index while
// another, opened before and never told, writes: every write of the other
// keeps the index, whichever side of the build it falls.
func TestPostgres_Index_AddedByAnother(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	fill(t, dsn, 3*pgstore.BuildBatchSize)
	writer := open(t, dsn, quiet)
	adders := []*pgstore.Store{open(t, dsn, quiet), open(t, dsn, quiet)}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("acct%05d", r.IntN(3*pgstore.BuildBatchSize+100))
				if i%5 == 4 {
					if err := writer.Delete(ctx, id, cityIndex.Key); err != nil {
						assert.ErrorIs(t, err, userprops.ErrNotFound)
					}
					continue
				}
				_, err := writer.Set(ctx, id, cityIndex.Key, cityValue(fmt.Sprintf("c%d", r.IntN(7))))
				assert.NoError(t, err)
			}
		})
	}
	var adds sync.WaitGroup
	for _, a := range adders {
		adds.Go(func() { assert.NoError(t, a.AddIndex(ctx, cityIndex)) })
	}
	adds.Wait()
	close(stop)
	wg.Wait()
	var rows int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM userprops_indexes`).Scan(&rows))
	assert.Equal(t, 1, rows)
	assert.Equal(t, []userprops.Index{cityIndex}, checkEntries(t, conn))
}

// TestPostgres_Index_ConcurrentOpen opens two stores at once on a database
// with data, both declaring the same new index.
func TestPostgres_Index_ConcurrentOpen(t *testing.T) {
	dsn := pgtest.Schema(t)
	conn := connect(t, dsn)
	fill(t, dsn, 2*pgstore.BuildBatchSize)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			s, err := pgstore.Open(context.Background(), dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), quiet)
			if assert.NoError(t, err) {
				s.Close()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []userprops.Index{cityIndex}, checkEntries(t, conn))
}

func TestPostgres_Index_Drop(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	fill(t, dsn, 100)
	s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), quiet)
	want := find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Sydney"))
	require.NoError(t, s.DropIndex(ctx, cityIndex))
	assert.ErrorIs(t, s.DropIndex(ctx, cityIndex), userprops.ErrNotFound)
	assert.ErrorIs(t, s.DropIndex(ctx, userprops.Index{Key: ""}), userprops.ErrInvalidQuery)
	list, err := s.Indexes(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	var entries int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM userprops_index_entries`).Scan(&entries))
	assert.Zero(t, entries)
	assert.Equal(t, want, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Sydney")))
	_, err = s.Set(ctx, "late", cityIndex.Key, cityValue("Sydney"))
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM userprops_index_entries`).Scan(&entries))
	assert.Zero(t, entries, "a write kept a dropped index")

	// A drop interrupted by a crash is finished by the next Open.
	require.NoError(t, s.AddIndex(ctx, cityIndex))
	assert.Equal(t, []userprops.Index{cityIndex}, checkEntries(t, conn))
	_, err = conn.Exec(ctx, `UPDATE userprops_indexes SET state = 'dropping'`)
	require.NoError(t, err)
	open(t, dsn, quiet)
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT (SELECT count(*) FROM userprops_index_entries) + (SELECT count(*) FROM userprops_indexes)`).Scan(&entries))
	assert.Zero(t, entries)
}

// TestPostgres_Index_Equivalence runs random queries on random data with
// and without indexes, against a memory store without any.
func TestPostgres_Index_Equivalence(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	indexes := []userprops.Index{{Key: "k", Path: "a"}, {Key: "k", Path: ""}, {Key: "j", Path: "b.c"}}
	var opts []userprops.Option
	for _, ix := range indexes {
		opts = append(opts, userprops.WithIndex(ix.Key, ix.Path))
	}
	indexed := open(t, dsn, append(opts, quiet)...)
	plain := open(t, pgtest.Schema(t), quiet)
	ref := userprops.NewMemory()
	r := rand.New(rand.NewPCG(1, 2))
	scalars := []string{`1`, `1.0`, `"1"`, `true`, `"true"`, `false`, `null`, `"x"`, `"X"`, `2e0`, `"\u0000"`,
		fmt.Sprintf("%q", bytes.Repeat([]byte("long"), 200))}
	scalar := func() string { return scalars[r.IntN(len(scalars))] }
	value := func() string {
		switch r.IntN(5) {
		case 0:
			return scalar()
		case 1:
			return fmt.Sprintf(`[%s, %s, [%s]]`, scalar(), scalar(), scalar())
		case 2:
			return fmt.Sprintf(`{"a": %s, "b": {"c": [%s, %s]}}`, scalar(), scalar(), scalar())
		case 3:
			return fmt.Sprintf(`{"a": [%s, {"a": %s}], "b": {"c": %s}}`, scalar(), scalar(), scalar())
		}
		return `{"a": {"a": 1}}`
	}
	for i := range 600 {
		id, key := fmt.Sprintf("u%03d", r.IntN(150)), []string{"k", "j"}[r.IntN(2)]
		if i%7 == 6 {
			for _, st := range []userprops.Store{indexed, plain, ref} {
				_ = st.Delete(ctx, id, key)
			}
			continue
		}
		v := []byte(value())
		for _, st := range []userprops.Store{indexed, plain, ref} {
			_, err := st.Set(ctx, id, key, v)
			require.NoError(t, err)
		}
	}
	checkEntries(t, conn)
	texts := []any{1, "1", "1.0", true, "true", false, "x", "X", "\x00", string(bytes.Repeat([]byte("long"), 200)), "null"}
	clause := func() userprops.Query {
		ix := indexes[r.IntN(len(indexes))]
		if r.IntN(4) == 0 {
			ix.Path = "z" // unindexed
		}
		return userprops.Where(ix.Key, ix.Path, texts[r.IntN(len(texts))])
	}
	for range 200 {
		q := clause()
		switch r.IntN(3) {
		case 1:
			q = userprops.And(q, clause())
		case 2:
			q = userprops.Or(q, userprops.And(clause(), clause()))
		}
		page := userprops.Page{StartAt: r.IntN(3), MaxResults: 1 + r.IntN(60)}
		want, err := ref.Find(ctx, q, page)
		require.NoError(t, err)
		for name, st := range map[string]userprops.Store{"indexed": indexed, "plain": plain} {
			got, err := st.Find(ctx, q, page)
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s: Find(%s, %+v)", name, q, page)
		}
	}
}
