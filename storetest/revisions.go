package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

func (s suite) testRevisions(t *testing.T) {
	t.Run("Increase", s.testRevisionsIncrease)
	t.Run("SetIf", s.testSetIf)
	t.Run("DeleteIf", s.testDeleteIf)
	t.Run("Exclusive", s.testRevisionsExclusive)
	t.Run("Watch", s.testWatch)
	t.Run("WatchLive", s.testWatchLive)
	t.Run("WatchCompacted", s.testWatchCompacted)
	t.Run("WatchEnds", s.testWatchEnds)
	t.Run("WatchReopen", s.testWatchReopen)
	t.Run("HeadRevision", s.testHeadRevision)
}

// revisionOf returns the property's revision, 0 if it does not exist.
func revisionOf(t *testing.T, st userprops.Store, accountID, key string) uint64 {
	t.Helper()
	p, err := st.Get(context.Background(), accountID, key)
	if errors.Is(err, userprops.ErrNotFound) {
		return 0
	}
	require.NoError(t, err)
	return p.Revision
}

// testRevisionsIncrease: every change gets a revision above every earlier
// one, store-wide; a property re-created after a delete never gets an old
// revision back.
func (s suite) testRevisionsIncrease(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t)
	var last uint64
	step := func(what string, rev uint64) {
		t.Helper()
		assert.Greater(t, rev, last, "%s: revisions strictly increase", what)
		last = rev
	}
	set(t, st, "a", "k", `1`, userprops.Created)
	step("create", revisionOf(t, st, "a", "k"))
	first := last
	set(t, st, "b", "k", `1`, userprops.Created)
	step("another account", revisionOf(t, st, "b", "k"))
	set(t, st, "a", "k", `2`, userprops.Updated)
	step("update", revisionOf(t, st, "a", "k"))
	assert.Equal(t, uint64(2), get(t, st, "a", "k").Version, "Version keeps its meaning")
	require.NoError(t, st.Delete(ctx, "a", "k"))
	set(t, st, "a", "k", `1`, userprops.Created)
	p := get(t, st, "a", "k")
	step("re-create", p.Revision)
	assert.NotEqual(t, first, p.Revision, "no ABA: a re-created property has a new revision")
	assert.Equal(t, uint64(1), p.Version)
	rev, err := st.SetIf(ctx, "a", "k", []byte(`3`), p.Revision)
	require.NoError(t, err)
	step("SetIf", rev)
	assert.Equal(t, rev, revisionOf(t, st, "a", "k"), "SetIf returns the revision Get then reports")
	_, err = st.DeleteAccount(ctx, "b")
	require.NoError(t, err)
	set(t, st, "b", "k", `1`, userprops.Created)
	step("after DeleteAccount", revisionOf(t, st, "b", "k"))
	ks := scanRevisions(t, st)
	for _, p := range ks {
		assert.NotZero(t, p.Revision, "%s/%s from ForEach has its revision", p.AccountID, p.Key)
	}
}

// scanRevisions returns ForEach's properties, if the store scans.
func scanRevisions(t *testing.T, st userprops.Store) []userprops.Property {
	sc, ok := st.(userprops.Scanner)
	if !ok {
		return nil
	}
	return scanAll(t, sc)
}

func (s suite) testSetIf(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t, userprops.WithAccountLimits(2, 0))
	rev, err := st.SetIf(ctx, "a", "k", []byte(`1`), 0)
	require.NoError(t, err, "revision 0 creates a missing property")
	p := get(t, st, "a", "k")
	assert.Equal(t, rev, p.Revision)
	assert.Equal(t, uint64(1), p.Version)

	_, err = st.SetIf(ctx, "a", "k", []byte(`"overwritten"`), 0)
	assert.ErrorIs(t, err, userprops.ErrRevisionMismatch, "revision 0 on an existing property")
	_, err = st.SetIf(ctx, "a", "k", []byte(`"overwritten"`), rev+1000)
	assert.ErrorIs(t, err, userprops.ErrRevisionMismatch, "another revision")
	_, err = st.SetIf(ctx, "a", "missing", []byte(`1`), rev)
	assert.ErrorIs(t, err, userprops.ErrRevisionMismatch, "a missing property never matches a non-zero revision")
	assert.Equal(t, p, get(t, st, "a", "k"), "a mismatch changes nothing")
	assert.Equal(t, []string{"k"}, keys(t, st, "a"))

	rev2, err := st.SetIf(ctx, "a", "k", []byte(`2`), rev)
	require.NoError(t, err, "the current revision updates")
	assert.Greater(t, rev2, rev)
	p2 := get(t, st, "a", "k")
	assert.Equal(t, `2`, string(p2.Value))
	assert.Equal(t, uint64(2), p2.Version)
	_, err = st.SetIf(ctx, "a", "k", []byte(`3`), rev)
	assert.ErrorIs(t, err, userprops.ErrRevisionMismatch, "a stale revision")

	// The rules of Set come first, and the limits apply.
	_, err = st.SetIf(ctx, "a", "k", []byte(`{`), rev2)
	assert.ErrorIs(t, err, userprops.ErrInvalidJSON)
	_, err = st.SetIf(ctx, "", "k", []byte(`1`), 0)
	assert.ErrorIs(t, err, userprops.ErrAccountIDMissing)
	_, err = st.SetIf(ctx, "a", "k2", []byte(`1`), 0)
	require.NoError(t, err)
	_, err = st.SetIf(ctx, "a", "k3", []byte(`1`), 0)
	assert.ErrorIs(t, err, userprops.ErrAccountFull)

	// Permissions, as every write.
	_, err = userprops.ForActor(st, userprops.Actor{AccountID: "b"}).SetIf(ctx, "a", "k", []byte(`9`), rev2)
	assert.ErrorIs(t, err, userprops.ErrForbidden)
	_, err = userprops.ForActor(st, userprops.Actor{AccountID: "a"}).SetIf(ctx, "a", "k", []byte(`9`), rev2)
	assert.NoError(t, err)
}

func (s suite) testDeleteIf(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t)
	set(t, st, "a", "k", `1`, userprops.Created)
	rev := revisionOf(t, st, "a", "k")
	assert.ErrorIs(t, st.DeleteIf(ctx, "a", "k", rev+1000), userprops.ErrRevisionMismatch)
	assert.ErrorIs(t, st.DeleteIf(ctx, "a", "k", 0), userprops.ErrRevisionMismatch, "revision 0 never matches an existing property")
	assert.Equal(t, rev, revisionOf(t, st, "a", "k"), "a mismatch changes nothing")
	assert.ErrorIs(t, st.DeleteIf(ctx, "a", "missing", rev), userprops.ErrRevisionMismatch)
	assert.ErrorIs(t, st.DeleteIf(ctx, "a", "missing", 0), userprops.ErrNotFound)
	assert.ErrorIs(t, userprops.ForActor(st, userprops.Actor{AccountID: "b"}).DeleteIf(ctx, "a", "k", rev), userprops.ErrForbidden)
	require.NoError(t, st.DeleteIf(ctx, "a", "k", rev))
	assert.Zero(t, revisionOf(t, st, "a", "k"))
	assert.ErrorIs(t, st.DeleteIf(ctx, "a", "k", rev), userprops.ErrRevisionMismatch, "deleted: the revision is gone")
	set(t, st, "a", "k", `1`, userprops.Created)
	assert.ErrorIs(t, st.DeleteIf(ctx, "a", "k", rev), userprops.ErrRevisionMismatch, "no ABA after a re-create")
}

// testRevisionsExclusive: of 32 concurrent SetIfs or DeleteIfs on one
// revision, exactly one succeeds.
func (s suite) testRevisionsExclusive(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t)
	race := func(fn func(i int) error) (won int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				err := fn(i)
				if err != nil && !assert.ErrorIs(t, err, userprops.ErrRevisionMismatch) {
					return
				}
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return won
	}
	assert.Equal(t, 1, race(func(i int) error {
		_, err := st.SetIf(ctx, "a", "k", []byte(fmt.Sprint(i)), 0)
		return err
	}), "creates")
	rev := revisionOf(t, st, "a", "k")
	assert.Equal(t, 1, race(func(i int) error {
		_, err := st.SetIf(ctx, "a", "k", []byte(fmt.Sprint(i)), rev)
		return err
	}), "updates of one revision")
	rev = revisionOf(t, st, "a", "k")
	assert.Equal(t, 1, race(func(int) error { return st.DeleteIf(ctx, "a", "k", rev) }), "deletes")
}

// collect reads n changes (or an error) from a watch.
func collect(t *testing.T, ctx context.Context, st userprops.Store, accountID string, after uint64, n int) ([]userprops.Change, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var got []userprops.Change
	for c, err := range st.Watch(ctx, accountID, after) {
		if err != nil {
			return got, err
		}
		got = append(got, c)
		if len(got) == n {
			break
		}
	}
	return got, nil
}

// testWatch: the history replays every change after a revision, in order,
// each once, with its account, key, value or deletion.
func (s suite) testWatch(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t)
	set(t, st, "a", "k1", `1`, userprops.Created)
	start := revisionOf(t, st, "a", "k1")
	set(t, st, "b", "k1", `"b"`, userprops.Created)
	set(t, st, "a", "k1", `2`, userprops.Updated)
	require.NoError(t, st.Delete(ctx, "a", "k1"))
	set(t, st, "a", "k2", `{"x":[1,2]}`, userprops.Created)

	got, err := collect(t, ctx, st, "", start, 4)
	require.NoError(t, err)
	want := []userprops.Change{
		{AccountID: "b", Key: "k1", Value: []byte(`"b"`)},
		{AccountID: "a", Key: "k1", Value: []byte(`2`)},
		{AccountID: "a", Key: "k1", Deleted: true},
		{AccountID: "a", Key: "k2", Value: []byte(`{"x":[1,2]}`)},
	}
	require.Len(t, got, 4)
	for i := range got {
		assert.Greater(t, got[i].Revision, start, "change %d", i)
		if i > 0 {
			assert.Greater(t, got[i].Revision, got[i-1].Revision, "change %d is in revision order", i)
		}
		want[i].Revision = got[i].Revision
	}
	assert.Equal(t, want, got)
	assert.Equal(t, got[3].Revision, revisionOf(t, st, "a", "k2"))

	got, err = collect(t, ctx, st, "a", start, 3)
	require.NoError(t, err)
	assert.Equal(t, []userprops.Change{want[1], want[2], want[3]}, got, "one account's changes only")

	// One sequence, ranged twice: each range starts from its after.
	seq := st.Watch(ctx, "a", start)
	for range 2 {
		for c, err := range seq {
			require.NoError(t, err)
			assert.Equal(t, want[1], c, "a second range starts where the first did")
			break
		}
	}

	// A revision ahead of the store's latest is not this history's.
	_, err = collect(t, ctx, st, "a", want[3].Revision+1000, 1)
	assert.ErrorIs(t, err, userprops.ErrCompacted)
	got, err = collect(t, ctx, st, "a", 0, 1)
	require.NoError(t, err)
	assert.Equal(t, start, got[0].Revision, "from 0: the whole history")

	// Validation and permissions.
	_, err = collect(t, ctx, st, " ", 0, 1)
	assert.ErrorIs(t, err, userprops.ErrInvalidAccountID)
	_, err = collect(t, ctx, userprops.ForActor(st, userprops.Actor{AccountID: "a"}), "", 0, 1)
	assert.ErrorIs(t, err, userprops.ErrForbidden, "watching every account is for administrators")
	_, err = collect(t, ctx, userprops.ForActor(st, userprops.Actor{AccountID: "a"}), "b", 0, 1)
	assert.ErrorIs(t, err, userprops.ErrForbidden)
	_, err = collect(t, ctx, userprops.ForActor(st, userprops.Actor{}), "a", 0, 1)
	assert.ErrorIs(t, err, userprops.ErrUnauthorized)
	got, err = collect(t, ctx, userprops.ForActor(st, userprops.Actor{AccountID: "a"}), "a", start, 1)
	require.NoError(t, err)
	assert.Equal(t, want[1], got[0])
	got, err = collect(t, ctx, userprops.ForActor(st, userprops.Actor{AccountID: "x", Admin: true}), "", start, 1)
	require.NoError(t, err)
	assert.Equal(t, want[0], got[0])
}

// testWatchLive: a watcher started while writers write sees every
// acknowledged change exactly once, in order, with no gap between what the
// history held when it started and what came live; FromNow starts after
// the changes made before the call.
func (s suite) testWatchLive(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t)
	set(t, st, "w", "before", `0`, userprops.Created)
	from := revisionOf(t, st, "w", "before")

	const writers, each = 4, 25
	acked := make(chan uint64, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", w)
			var rev uint64
			for i := range each {
				var err error
				rev, err = st.SetIf(ctx, "w", key, []byte(fmt.Sprint(i)), rev)
				if !assert.NoError(t, err) {
					return
				}
				acked <- rev
			}
		})
	}
	// The watch starts while the writers write.
	got, err := collect(t, ctx, st, "w", from, writers*each)
	wg.Wait()
	close(acked)
	require.NoError(t, err)
	want := map[uint64]bool{}
	for rev := range acked {
		want[rev] = true
	}
	seen := map[uint64]bool{}
	for i, c := range got {
		if i > 0 {
			require.Greater(t, c.Revision, got[i-1].Revision, "in revision order")
		}
		assert.True(t, want[c.Revision], "change %d (revision %d) was acknowledged", i, c.Revision)
		assert.False(t, seen[c.Revision], "revision %d delivered twice", c.Revision)
		seen[c.Revision] = true
	}
	assert.Len(t, seen, len(want), "every acknowledged change delivered")

	// FromNow: only what comes after the call. Writes go on until the
	// watcher sees one; the first it sees is newer than every change made
	// before the call.
	before := revisionOf(t, st, "w", "k0")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next, stop := iterPull(st.Watch(wctx, "w", userprops.FromNow))
	defer stop()
	wg.Go(func() {
		for i := 0; wctx.Err() == nil; i++ {
			if _, err := st.Set(wctx, "w", "after", []byte(fmt.Sprint(i))); err != nil {
				return
			}
		}
	})
	c, err := next()
	require.NoError(t, err)
	assert.Equal(t, "after", c.Key)
	assert.Greater(t, c.Revision, before)
	cancel()
	wg.Wait()
}

// iterPull adapts a watch to calls.
func iterPull(seq func(func(userprops.Change, error) bool)) (next func() (userprops.Change, error), stop func()) {
	type item struct {
		c   userprops.Change
		err error
	}
	items := make(chan item)
	done := make(chan struct{})
	go func() {
		defer close(items)
		seq(func(c userprops.Change, err error) bool {
			select {
			case items <- item{c, err}:
				return true
			case <-done:
				return false
			}
		})
	}()
	return func() (userprops.Change, error) {
			it, ok := <-items
			if !ok {
				return userprops.Change{}, errors.New("the watch ended")
			}
			return it.c, it.err
		}, func() {
			close(done)
			for range items {
			}
		}
}

// testWatchCompacted: past the retention, Watch says what it kept.
func (s suite) testWatchCompacted(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t, userprops.WithHistory(10, 0))
	var revs []uint64
	for i := range 30 {
		rev, err := st.SetIf(ctx, "a", "k", []byte(fmt.Sprint(i)), revisionOf(t, st, "a", "k"))
		require.NoError(t, err)
		revs = append(revs, rev)
	}
	_, err := collect(t, ctx, st, "a", revs[0], 1)
	var compacted *userprops.CompactedError
	require.ErrorAs(t, err, &compacted)
	assert.ErrorIs(t, err, userprops.ErrCompacted)
	assert.Equal(t, revs[0], compacted.After)
	assert.Equal(t, revs[20], compacted.Oldest, "the last 10 changes are kept")
	assert.Equal(t, 410, userprops.HTTPStatus(err))

	got, err := collect(t, ctx, st, "a", revs[19], 10)
	require.NoError(t, err, "from just before the oldest kept")
	assert.Len(t, got, 10)
	assert.Equal(t, revs[20], got[0].Revision)
	assert.Equal(t, "29", string(got[9].Value))
}

// testWatchEnds: a watch ends with its context's error, with ErrClosed on
// Close, and a watcher that stops reading never holds up writers; a
// stopped watch leaves no goroutine behind.
func (s suite) testWatchEnds(t *testing.T) {
	ctx := context.Background()
	st := s.open(t)
	set(t, st, "a", "k", `1`, userprops.Created)
	// Counted with the store open and used: what it runs of its own (a
	// committer, a pool) is not the watches', and ends with Close at the
	// latest.
	goroutines := runtime.NumGoroutine()

	wctx, cancel := context.WithCancel(ctx)
	errs := make(chan error, 1)
	go func() {
		for _, err := range st.Watch(wctx, "a", 0) {
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	cancel()
	assert.ErrorIs(t, <-errs, context.Canceled)

	// A watcher that takes one change and then stops reading.
	stalled, stop := iterPull(st.Watch(ctx, "a", 0))
	_, err := stalled()
	require.NoError(t, err)
	for i := range 200 {
		_, err := st.Set(ctx, "a", "k", []byte(fmt.Sprint(i)))
		require.NoError(t, err, "writers go on while a watcher does not read")
	}
	stop()

	// A watch started before Close, or a moment after, ends with
	// ErrClosed.
	go func() {
		for _, err := range st.Watch(ctx, "a", userprops.FromNow) {
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	require.NoError(t, st.Close())
	assert.ErrorIs(t, <-errs, userprops.ErrClosed, "Close ends every watch")
	_, err = collect(t, ctx, st, "a", 0, 1)
	assert.ErrorIs(t, err, userprops.ErrClosed)

	// Everything the watches started has ended.
	for i := 0; runtime.NumGoroutine() > goroutines && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), goroutines, "goroutines left behind by watches")
}

// testWatchReopen: a durable store keeps its history and its revisions
// across a reopen: new revisions are above the old ones, and a watch from
// before the reopen delivers what came after.
func (s suite) testWatchReopen(t *testing.T) {
	if s.h.Reopen == nil {
		t.Skip("storetest: Harness.Reopen is nil: the backend does not claim durability")
	}
	ctx := context.Background()
	st := s.open(t)
	set(t, st, "a", "k", `1`, userprops.Created)
	first := revisionOf(t, st, "a", "k")
	set(t, st, "a", "k", `2`, userprops.Updated)
	require.NoError(t, st.Delete(ctx, "a", "k"))
	require.NoError(t, st.Close())
	st = s.h.Reopen(t, st)
	defer st.Close()
	set(t, st, "a", "k", `3`, userprops.Created)
	got, err := collect(t, ctx, st, "a", first, 3)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, "2", string(got[0].Value))
	assert.True(t, got[1].Deleted)
	assert.Equal(t, "3", string(got[2].Value))
	assert.Greater(t, got[2].Revision, got[1].Revision, "revisions go on increasing after a reopen")
}

// testHeadRevision: a store that tells its head (userprops.HeadRevisioner)
// tells the revision of its latest change, 0 before any; while writers
// write, every head is at least every revision acknowledged before it was
// asked, a read started after it sees every change up to it, and a Watch
// from it delivers exactly the changes after it, of the store or of one
// account. A ForActor view tells it to every authenticated actor. Skipped
// for a store that does not tell its head.
func (s suite) testHeadRevision(t *testing.T) {
	ctx := context.Background()
	st := s.fresh(t)
	hr, ok := st.(userprops.HeadRevisioner)
	if !ok {
		t.Skip("storetest: the store is not a userprops.HeadRevisioner")
	}
	h, err := hr.HeadRevision(ctx)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("storetest: the store does not tell its head revision: %v", err)
	}
	require.NoError(t, err)
	assert.Zero(t, h, "the head of a store with no change yet")
	head := func() uint64 {
		t.Helper()
		h, err := hr.HeadRevision(ctx)
		require.NoError(t, err)
		return h
	}

	rev, err := st.SetIf(ctx, "a", "k", []byte(`1`), 0)
	require.NoError(t, err)
	assert.Equal(t, rev, head(), "the head is the latest change's revision")
	require.NoError(t, st.Delete(ctx, "a", "k"))
	h = head()
	assert.Greater(t, h, rev, "a delete is a change")
	got, err := collect(t, ctx, st, "a", rev, 1)
	require.NoError(t, err)
	assert.Equal(t, userprops.Change{AccountID: "a", Key: "k", Revision: h, Deleted: true}, got[0], "the head is the delete's revision")

	rb, err := st.SetIf(ctx, "b", "k", []byte(`"b"`), 0)
	require.NoError(t, err)
	ra, err := st.SetIf(ctx, "a", "k2", []byte(`"a"`), 0)
	require.NoError(t, err)
	got, err = collect(t, ctx, st, "", h, 2)
	require.NoError(t, err)
	assert.Equal(t, []userprops.Change{
		{AccountID: "b", Key: "k", Revision: rb, Value: []byte(`"b"`)},
		{AccountID: "a", Key: "k2", Revision: ra, Value: []byte(`"a"`)},
	}, got, "a watch from the head: the changes after it")
	got, err = collect(t, ctx, st, "a", h, 1)
	require.NoError(t, err)
	assert.Equal(t, ra, got[0].Revision, "one account's, from the store's head")

	// A watch from the head, before any later change, delivers the next.
	h = head()
	wctx, cancel := context.WithCancel(ctx)
	next, stop := iterPull(st.Watch(wctx, "a", h))
	rev, err = st.SetIf(ctx, "a", "k2", []byte(`2`), ra)
	require.NoError(t, err)
	c, err := next()
	cancel()
	stop()
	require.NoError(t, err)
	assert.Equal(t, rev, c.Revision, "the first change after the head, none before")

	// While writers write.
	const writers, each, heads = 4, 40, 8
	var mu sync.Mutex
	var acked uint64 // the latest revision acknowledged
	from := head()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("w%d", w)
			var rev uint64
			for i := range each {
				var err error
				if rev, err = st.SetIf(ctx, "w", key, []byte(fmt.Sprint(i)), rev); !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				acked = max(acked, rev)
				mu.Unlock()
			}
		})
	}
	type taken struct {
		head uint64
		seen map[string]uint64 // each writer's key's revision, read after
	}
	var takes []taken
	written := make(chan struct{})
	go func() {
		wg.Wait()
		close(written)
	}()
	// Heads are taken until the writers are done, each kept if it differs
	// from the last kept.
takes:
	for len(takes) < heads {
		select {
		case <-written:
			break takes
		default:
		}
		mu.Lock()
		before := acked
		mu.Unlock()
		h := head()
		assert.GreaterOrEqual(t, h, before, "the head is at least every revision acknowledged before it was asked")
		if len(takes) > 0 && takes[len(takes)-1].head == h {
			continue
		}
		tk := taken{head: h, seen: map[string]uint64{}}
		for w := range writers {
			key := fmt.Sprintf("w%d", w)
			tk.seen[key] = revisionOf(t, st, "w", key)
		}
		takes = append(takes, tk)
	}
	<-written
	all, err := collect(t, ctx, st, "", from, writers*each)
	require.NoError(t, err)
	require.Len(t, all, writers*each)
	for _, tk := range takes {
		var after []userprops.Change
		latest := map[string]uint64{} // each key's latest change up to the head
		for _, c := range all {
			if c.Revision > tk.head {
				after = append(after, c)
			} else {
				latest[c.Key] = c.Revision
			}
		}
		for key, rev := range latest {
			assert.GreaterOrEqual(t, tk.seen[key], rev, "head %d: a Get after it sees %s's change %d", tk.head, key, rev)
		}
		if len(after) == 0 {
			continue
		}
		got, err := collect(t, ctx, st, "", tk.head, len(after))
		require.NoError(t, err)
		assert.Equal(t, after, got, "head %d: a watch from it delivers exactly the changes after it", tk.head)
	}

	// Through ForActor: every authenticated actor may ask.
	view, ok := userprops.ForActor(st, userprops.Actor{AccountID: "a"}).(userprops.HeadRevisioner)
	require.True(t, ok, "a ForActor view of a HeadRevisioner is one")
	h, err = view.HeadRevision(ctx)
	require.NoError(t, err)
	assert.Equal(t, head(), h)
	_, err = userprops.ForActor(st, userprops.Actor{}).(userprops.HeadRevisioner).HeadRevision(ctx)
	assert.ErrorIs(t, err, userprops.ErrUnauthorized)

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = hr.HeadRevision(done)
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, st.Close())
	_, err = hr.HeadRevision(ctx)
	assert.ErrorIs(t, err, userprops.ErrClosed)
}
