package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/pgtest"
	"github.com/userprops/userprops/pgstore"
)

// watchN reads n changes from st's watch after after, or fails.
func watchN(t *testing.T, st userprops.Store, accountID string, after uint64, n int) []userprops.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []userprops.Change
	for c, err := range st.Watch(ctx, accountID, after) {
		require.NoError(t, err, "after %d changes", len(got))
		got = append(got, c)
		if len(got) == n {
			break
		}
	}
	return got
}

// TestPostgres_Watch_AcrossStores: a watcher on store A is woken by the
// writes made through store B, as two processes on one database, also after
// A's listening connection was killed.
func TestPostgres_Watch_AcrossStores(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	a, b := open(t, dsn, quiet), open(t, dsn, quiet)
	rev, err := b.SetIf(ctx, "acct", "k", []byte(`0`), 0)
	require.NoError(t, err)

	changes := make(chan userprops.Change)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for c, err := range a.Watch(wctx, "acct", rev) {
			if err != nil {
				done <- err
				return
			}
			changes <- c
		}
	}()
	next := func() userprops.Change {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("the watcher on A saw nothing of B's write")
			return userprops.Change{}
		}
	}
	// B's writes only: A's own writes wake A's watchers without the
	// database.
	rev, err = b.SetIf(ctx, "acct", "k", []byte(`1`), rev)
	require.NoError(t, err)
	assert.Equal(t, userprops.Change{AccountID: "acct", Key: "k", Revision: rev, Value: []byte(`1`)}, next())

	// Kill every listening connection: A listens again, and wakes its
	// watchers then, so that nothing committed meanwhile is missed.
	conn := connect(t, dsn)
	var killed int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&killed))
	require.Positive(t, killed)
	require.NoError(t, b.DeleteIf(ctx, "acct", "k", rev))
	c := next()
	assert.True(t, c.Deleted)
	assert.Greater(t, c.Revision, rev)
	_, err = b.Set(ctx, "acct", "k", []byte(`2`))
	require.NoError(t, err)
	assert.Equal(t, `2`, string(next().Value), "A's watcher is woken after the reconnection")
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// TestPostgres_Watch_NoGap runs many writers on two stores of one database
// while a watcher on one of them reads from a revision: it must see every
// acknowledged change exactly once, in order, and since every revision is a
// change, the revisions it sees have no gap. Revisions taken from a
// sequence would fail this: a writer that takes a revision and commits
// after a later one would be skipped.
func TestPostgres_Watch_NoGap(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	stores := []*pgstore.Store{open(t, dsn, quiet), open(t, dsn, quiet)}
	_, err := stores[1].Set(ctx, "start", "k", []byte(`0`))
	require.NoError(t, err)
	p, err := stores[1].Get(ctx, "start", "k")
	require.NoError(t, err)
	from := p.Revision

	const writers, each = 32, 15
	acked := make(chan uint64, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			st := stores[w%2]
			account, key := fmt.Sprintf("acct%d", w%5), fmt.Sprintf("k%d", w)
			for i := range each {
				var rev uint64
				var err error
				switch i % 3 {
				case 0, 1:
					rev, err = st.SetIf(ctx, account, key, fmt.Appendf(nil, "%d", i), revisionOf(t, st, account, key))
				default:
					err = st.Delete(ctx, account, key)
				}
				if !assert.NoError(t, err) {
					return
				}
				if rev != 0 {
					acked <- rev
				}
			}
		})
	}
	got := watchN(t, stores[0], "", from, writers*each)
	wg.Wait()
	close(acked)
	seen := map[uint64]bool{}
	for i, c := range got {
		require.Equal(t, from+uint64(i)+1, c.Revision, "change %d: in order, without a gap", i)
		seen[c.Revision] = true
	}
	n := 0
	for rev := range acked {
		assert.True(t, seen[rev], "acknowledged revision %d delivered", rev)
		n++
	}
	assert.Equal(t, writers*each*2/3, n)
	require.NoError(t, stores[0].Check(ctx))
}

func revisionOf(t *testing.T, st userprops.Store, accountID, key string) uint64 {
	t.Helper()
	p, err := st.Get(context.Background(), accountID, key)
	if err != nil {
		return 0
	}
	return p.Revision
}

// compactedOldest returns the oldest revision of the CompactedError a watch
// from 0 must end with.
func compactedOldest(t *testing.T, st userprops.Store) uint64 {
	t.Helper()
	var compacted *userprops.CompactedError
	for _, err := range st.Watch(context.Background(), "", 0) {
		require.ErrorAs(t, err, &compacted)
		break
	}
	require.NotNil(t, compacted, "the watch from 0 delivered a change")
	return compacted.Oldest
}

// TestPostgres_UpgradeSchema3 opens a database of schema version 3: its
// properties get revisions 1 to N in the order of account and key, and the
// history starts empty with N+1 its oldest revision.
func TestPostgres_UpgradeSchema3(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	_, err := conn.Exec(ctx, `CREATE TABLE userprops_schema (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	version   integer NOT NULL);
INSERT INTO userprops_schema (version) VALUES (3)`)
	require.NoError(t, err)
	for _, m := range pgstore.Migrations[:3] {
		_, err := conn.Exec(ctx, m)
		require.NoError(t, err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO userprops_properties VALUES
	('b', 'k', '1', 1, 0), ('a', 'z', '2', 4, 0), ('a', 'k', '3', 2, 0);
INSERT INTO userprops_accounts VALUES ('a', 2, 4), ('b', 1, 2)`)
	require.NoError(t, err)

	s := open(t, dsn, quiet)
	for _, want := range []struct {
		account, key string
		revision     uint64
	}{{"a", "k", 1}, {"a", "z", 2}, {"b", "k", 3}} {
		p, err := s.Get(ctx, want.account, want.key)
		require.NoError(t, err)
		assert.Equal(t, want.revision, p.Revision, "Get(%q, %q).Revision", want.account, want.key)
	}
	require.NoError(t, s.Check(ctx))
	assert.Equal(t, uint64(4), compactedOldest(t, s), "the history starts after the migrated properties")
	rev, err := s.SetIf(ctx, "a", "k", []byte(`4`), 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), rev)
	got := watchN(t, s, "", 3, 1)
	assert.Equal(t, []userprops.Change{{AccountID: "a", Key: "k", Revision: 4, Value: []byte(`4`)}}, got)
	var version int
	require.NoError(t, conn.QueryRow(ctx, `SELECT version FROM userprops_schema`).Scan(&version))
	assert.Equal(t, len(pgstore.Migrations), version)
}

// TestPostgres_HistoryAge: the history keeps no change older than the age
// it was given, by the writer's clock, but always the latest.
func TestPostgres_HistoryAge(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	s := open(t, dsn, quiet, userprops.WithClock(clock), userprops.WithHistory(100, time.Minute))
	var revs []uint64
	for i := range 3 {
		rev, err := s.SetIf(ctx, "a", fmt.Sprint(i), []byte(`1`), 0)
		require.NoError(t, err)
		revs = append(revs, rev)
	}
	assert.Len(t, watchN(t, s, "", 0, 3), 3, "nothing is old yet")
	advance(2 * time.Minute)
	rev, err := s.SetIf(ctx, "a", "3", []byte(`1`), 0)
	require.NoError(t, err)
	assert.Equal(t, rev, compactedOldest(t, s), "the changes older than a minute are trimmed")
	advance(2 * time.Minute)
	got := watchN(t, s, "", revs[2], 1)
	assert.Equal(t, rev, got[0].Revision, "the latest change is kept, however old")
	require.NoError(t, s.Check(ctx))
}

// TestPostgres_Check_Revisions: Check finds revisions and a history that
// disagree with the properties.
func TestPostgres_Check_Revisions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, damage, want string }{
		{"property above the sequence", `UPDATE userprops_properties SET revision = 1000 WHERE key = 'k1'`, "property above the latest revision given"},
		{"sequence behind", `SELECT setval('userprops_revisions', 1)`, "above the latest revision given"},
		{"change missing", `DELETE FROM userprops_history WHERE key = 'k2'`, "property whose change the history lacks"},
		{"value differs", `UPDATE userprops_history SET value = '9' WHERE key = 'k1'`, "property whose change the history lacks"},
		{"delete not applied", `INSERT INTO userprops_history SELECT revision + 1, account_id, key, true, NULL, 0
FROM userprops_history WHERE key = 'k2'; SELECT nextval('userprops_revisions')`, "latest change in the history is another"},
		{"shared revision", `UPDATE userprops_properties SET revision = (SELECT revision FROM userprops_properties WHERE key = 'k1') WHERE key = 'k2'`, "sharing its revision"},
		{"no trimmed mark", `DELETE FROM userprops_trimmed`, "has no row"},
		{"no sequence", `DROP SEQUENCE userprops_revisions`, "sequence (userprops_revisions) is missing"},
		{"sequence caching", `ALTER SEQUENCE userprops_revisions CACHE 20`, "caches 20 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.Schema(t)
			s := open(t, dsn, quiet)
			for _, k := range []string{"k1", "k2"} {
				_, err := s.Set(ctx, "a", k, []byte(`1`))
				require.NoError(t, err)
			}
			require.NoError(t, s.Check(ctx))
			_, err := connect(t, dsn).Exec(ctx, tc.damage)
			require.NoError(t, err)
			err = s.Check(ctx)
			require.ErrorIs(t, err, userprops.ErrCorrupt)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
