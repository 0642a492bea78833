package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// errInjected is the error of the writes TestPostgres_Watch_ManyWriters
// fails after they drew their revisions.
var errInjected = errors.New("injected failure")

// TestPostgres_Watch_ManyWriters runs 32 writers on two stores of one
// database, each write held open a random while after it drew its
// revision and one in eight then rolled back, while six watchers (three on
// each store) read the whole history from 0. Every watcher must see every
// acknowledged change exactly once, in strictly increasing revision order,
// and none that failed; so no revision is delivered before a lower one
// that commits later. Samples of HeadRevision taken meanwhile must each
// have seen every change at or below it that was acknowledged in the end.
// Replaying the feed gives the stores' final state.
func TestPostgres_Watch_ManyWriters(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stores := []*pgstore.Store{open(t, dsn, quiet), open(t, dsn, quiet)}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	defer pgstore.SetBeforeCommit(func(accountID, key string) error {
		mu.Lock()
		sleep, fail := time.Duration(rng.IntN(3000))*time.Microsecond, rng.IntN(8) == 0
		mu.Unlock()
		if accountID == "done" {
			return nil
		}
		time.Sleep(sleep)
		if fail {
			return errInjected
		}
		return nil
	})()

	type op struct {
		key     string
		value   string // "" for a delete
		deleted bool
	}
	const writers, each, watchers = 32, 20, 6
	feeds := make([][]userprops.Change, watchers)
	var watching sync.WaitGroup
	for w := range watchers {
		watching.Go(func() {
			for c, err := range stores[w%2].Watch(ctx, "", 0) {
				if !assert.NoError(t, err, "watcher %d", w) {
					return
				}
				feeds[w] = append(feeds[w], c)
				if c.AccountID == "done" {
					return
				}
			}
		})
	}

	// HeadRevision samples: a head, and the revisions the history then
	// held in the 200 below it.
	type sample struct {
		head uint64
		held map[uint64]bool
	}
	var samples []sample
	sampling, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Go(func() {
		conn := connect(t, dsn)
		for i := 0; sampling.Err() == nil; i++ {
			head, err := stores[i%2].HeadRevision(ctx)
			if !assert.NoError(t, err) {
				return
			}
			rows, err := conn.Query(ctx, `SELECT revision FROM userprops_history WHERE revision > $1 AND revision <= $2`,
				int64(head)-200, int64(head))
			if !assert.NoError(t, err) {
				return
			}
			revs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if !assert.NoError(t, err) {
				return
			}
			sm := sample{head: head, held: map[uint64]bool{}}
			for _, r := range revs {
				sm.held[uint64(r)] = true
			}
			samples = append(samples, sm)
			time.Sleep(time.Millisecond)
		}
	})

	acked := make([][]op, writers) // each writer's acknowledged changes, in order
	ackedRevs := map[uint64]bool{} // the revisions SetIf acknowledged
	var wg sync.WaitGroup
	failed := 0
	for w := range writers {
		wg.Go(func() {
			st := stores[w%2]
			account, key := fmt.Sprintf("acct%d", w%5), fmt.Sprintf("k%d", w)
			exists := false
			for i := range each {
				var err error
				if exists && i%3 == 2 {
					err = st.Delete(ctx, account, key)
					if err == nil {
						acked[w] = append(acked[w], op{key: account + "/" + key, deleted: true})
						exists = false
					}
				} else {
					value := fmt.Sprintf(`"%d-%d"`, w, i)
					var rev uint64
					rev, err = st.SetIf(ctx, account, key, []byte(value), revisionOf(t, st, account, key))
					if err == nil {
						acked[w] = append(acked[w], op{key: account + "/" + key, value: value})
						exists = true
						mu.Lock()
						ackedRevs[rev] = true
						mu.Unlock()
					}
				}
				if err != nil {
					if !assert.ErrorContains(t, err, errInjected.Error()) {
						return
					}
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	stopSampling()
	sampler.Wait()
	done, err := stores[0].SetIf(ctx, "done", "k", []byte(`1`), 0)
	require.NoError(t, err)
	watching.Wait()
	require.Positive(t, failed, "some writes failed after drawing their revisions")
	t.Logf("%d writes acknowledged, %d failed, %d head samples", func() (n int) {
		for _, a := range acked {
			n += len(a)
		}
		return n
	}(), failed, len(samples))

	// Every watcher: strictly increasing, the acknowledged changes of each
	// key exactly, in their order, and nothing else.
	for w, feed := range feeds {
		require.NotEmpty(t, feed, "watcher %d", w)
		require.Equal(t, done, feed[len(feed)-1].Revision, "watcher %d ends with the last change", w)
		perKey := map[string][]op{}
		for i, c := range feed[:len(feed)-1] {
			if i > 0 {
				require.Greater(t, c.Revision, feed[i-1].Revision, "watcher %d, change %d: strictly increasing", w, i)
			}
			o := op{key: c.AccountID + "/" + c.Key, deleted: c.Deleted, value: string(c.Value)}
			perKey[o.key] = append(perKey[o.key], o)
			if !c.Deleted {
				assert.True(t, ackedRevs[c.Revision], "watcher %d: revision %d was acknowledged", w, c.Revision)
			}
		}
		for i, a := range acked {
			if len(a) > 0 {
				assert.Equal(t, a, perKey[a[0].key], "watcher %d: the changes of writer %d", w, i)
			}
		}
		revs := func(f []userprops.Change) (r []uint64) {
			for _, c := range f {
				r = append(r, c.Revision)
			}
			return r
		}
		assert.Equal(t, revs(feeds[0]), revs(feed), "watcher %d delivers the revisions watcher 0 did", w)
	}

	// Every sample saw each change at or below its head.
	for _, sm := range samples {
		for _, c := range feeds[0] {
			if c.Revision <= sm.head && c.Revision+200 > sm.head {
				require.True(t, sm.held[c.Revision], "revision %d committed after HeadRevision reported %d", c.Revision, sm.head)
			}
		}
	}

	// The replay is the final state.
	state := map[string]userprops.Change{}
	for _, c := range feeds[0] {
		state[c.AccountID+"/"+c.Key] = c
	}
	for w := range writers {
		account, key := fmt.Sprintf("acct%d", w%5), fmt.Sprintf("k%d", w)
		c, ok := state[account+"/"+key]
		p, err := stores[1].Get(ctx, account, key)
		if !ok || c.Deleted {
			assert.ErrorIs(t, err, userprops.ErrNotFound, "%s/%s", account, key)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, string(c.Value), string(p.Value), "%s/%s", account, key)
		assert.Equal(t, c.Revision, p.Revision, "%s/%s", account, key)
	}
	require.NoError(t, stores[0].Check(ctx))
}

// TestPostgres_HeadRevision: 0 for a new store, the latest revision when
// no write is in flight, and held below a write in flight, which also holds
// back the later changes from watchers until it ends, whether it commits
// or rolls back.
func TestPostgres_HeadRevision(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	a, b := open(t, dsn, quiet), open(t, dsn, quiet)
	head, err := a.HeadRevision(ctx)
	require.NoError(t, err)
	assert.Zero(t, head, "a store with no change")
	rev, err := a.SetIf(ctx, "acct", "k", []byte(`1`), 0)
	require.NoError(t, err)
	for _, st := range []*pgstore.Store{a, b} {
		head, err := st.HeadRevision(ctx)
		require.NoError(t, err)
		assert.Equal(t, rev, head, "no write in flight: the latest revision")
	}
	rev2, err := b.SetIf(ctx, "acct", "k", []byte(`2`), rev)
	require.NoError(t, err)
	got := watchN(t, a, "", rev, 1)
	assert.Equal(t, rev2, got[0].Revision, "a Watch from the head delivers the changes after")

	drawn, release := make(chan struct{}), make(chan error)
	defer pgstore.SetBeforeCommit(func(accountID, key string) error {
		if accountID != "held" {
			return nil
		}
		drawn <- struct{}{}
		return <-release
	})()
	for _, outcome := range []struct {
		name string
		err  error
	}{{"rollback", errInjected}, {"commit", nil}} {
		t.Run(outcome.name, func(t *testing.T) {
			before, err := a.HeadRevision(ctx)
			require.NoError(t, err)
			heldDone := make(chan error, 1)
			go func() {
				_, err := a.Set(ctx, "held", "k", []byte(`"held"`))
				heldDone <- err
			}()
			<-drawn
			later, err := b.SetIf(ctx, "acct", "k", []byte(`"later"`), revisionOf(t, b, "acct", "k"))
			require.NoError(t, err)
			for _, st := range []*pgstore.Store{a, b} {
				head, err := st.HeadRevision(ctx)
				require.NoError(t, err)
				assert.Equal(t, before, head, "a write in flight holds the head below its revision")
			}
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			changes := make(chan userprops.Change, 4)
			go func() {
				for c, err := range a.Watch(wctx, "", before) {
					if err != nil {
						return
					}
					changes <- c
				}
			}()
			select {
			case c := <-changes:
				t.Fatalf("Watch delivered revision %d while the write before it was in flight", c.Revision)
			case <-time.After(300 * time.Millisecond):
			}
			release <- outcome.err
			if outcome.err != nil {
				require.ErrorContains(t, <-heldDone, errInjected.Error())
			} else {
				require.NoError(t, <-heldDone)
				c := <-changes
				assert.Equal(t, "held", c.AccountID, "the held write first")
				assert.Less(t, c.Revision, later)
			}
			select {
			case c := <-changes:
				assert.Equal(t, later, c.Revision, "then the later one")
			case <-time.After(10 * time.Second):
				t.Fatal("the later change was not delivered once the write before it ended")
			}
			head, err := b.HeadRevision(ctx)
			require.NoError(t, err)
			assert.Equal(t, later, head)
		})
	}
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

// schemaAt makes the schema of version n in conn's database, as that
// version of this package left it: its schema row and its first n
// migrations.
func schemaAt(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	ctx := context.Background()
	_, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE userprops_schema (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	version   integer NOT NULL);
INSERT INTO userprops_schema (version) VALUES (%d)`, n))
	require.NoError(t, err)
	for _, m := range pgstore.Migrations[:n] {
		_, err := conn.Exec(ctx, m)
		require.NoError(t, err)
	}
}

// TestPostgres_UpgradeSchema3 opens a database of schema version 3: its
// properties get revisions 1 to N in the order of account and key, and the
// history starts empty with N+1 its oldest revision.
func TestPostgres_UpgradeSchema3(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	schemaAt(t, conn, 3)
	_, err := conn.Exec(ctx, `INSERT INTO userprops_properties VALUES
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

// TestPostgres_UpgradeSchema4 opens a database of schema version 4, with
// its counter row: the sequence goes on after the counter, the history and
// the trimmed mark are kept, and the counter is gone, so that a process of
// version 4 cannot give revisions again.
func TestPostgres_UpgradeSchema4(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	schemaAt(t, conn, 4)
	// Revisions 1 to 7 given, 1 to 4 trimmed; a at 5 then deleted at 7,
	// b at 6.
	_, err := conn.Exec(ctx, `INSERT INTO userprops_properties VALUES ('b', 'k', '1', 1, 0, 6);
INSERT INTO userprops_accounts VALUES ('b', 1, 2);
INSERT INTO userprops_history VALUES (5, 'a', 'k', false, '2', 0), (6, 'b', 'k', false, '1', 0), (7, 'a', 'k', true, NULL, 0);
UPDATE userprops_revision SET revision = 7, trimmed = 4`)
	require.NoError(t, err)

	s := open(t, dsn, quiet)
	require.NoError(t, s.Check(ctx))
	var version int
	require.NoError(t, conn.QueryRow(ctx, `SELECT version FROM userprops_schema`).Scan(&version))
	assert.Equal(t, len(pgstore.Migrations), version)
	head, err := s.HeadRevision(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), head, "the head is the counter's")
	assert.Equal(t, uint64(5), compactedOldest(t, s), "the trimmed mark is kept")
	got := watchN(t, s, "", 4, 3)
	assert.Equal(t, []userprops.Change{
		{AccountID: "a", Key: "k", Revision: 5, Value: []byte(`2`)},
		{AccountID: "b", Key: "k", Revision: 6, Value: []byte(`1`)},
		{AccountID: "a", Key: "k", Revision: 7, Deleted: true},
	}, got)
	rev, err := s.SetIf(ctx, "b", "k", []byte(`3`), 6)
	require.NoError(t, err)
	assert.Equal(t, uint64(8), rev, "revisions go on after the counter")
	_, err = conn.Exec(ctx, `UPDATE userprops_revision SET revision = revision + 1`)
	assert.Error(t, err, "the counter of version 4 is gone")
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
