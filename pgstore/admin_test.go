package pgstore_test

import (
	"context"
	"fmt"
	"strings"
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

// usageRow returns the usage row of accountID, and whether there is one.
func usageRow(t *testing.T, conn *pgx.Conn, accountID string) (userprops.Usage, bool) {
	t.Helper()
	var u userprops.Usage
	err := conn.QueryRow(context.Background(), `SELECT properties, bytes FROM userprops_accounts WHERE account_id = $1`,
		[]byte(accountID)).Scan(&u.Properties, &u.Bytes)
	if err == pgx.ErrNoRows {
		return u, false
	}
	require.NoError(t, err)
	return u, true
}

// entriesOf returns the number of index entries of accountID.
func entriesOf(t *testing.T, conn *pgx.Conn, accountID string) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM userprops_index_entries WHERE account_id = $1`, []byte(accountID)).Scan(&n))
	return n
}

func TestPostgres_DeleteAccount(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), userprops.WithIndex(tagsIndex.Key, ""), quiet)
	for _, id := range []string{"gone", "kept"} {
		_, err := s.Set(ctx, id, cityIndex.Key, cityValue("Oslo"))
		require.NoError(t, err)
		_, err = s.Set(ctx, id, tagsIndex.Key, []byte(`["a","b"]`))
		require.NoError(t, err)
		_, err = s.Set(ctx, id, "plain", []byte(`1`))
		require.NoError(t, err)
	}
	require.Equal(t, 3, entriesOf(t, conn, "gone"), "entries: one city, two tags")

	n, err := s.DeleteAccount(ctx, "gone")
	require.NoError(t, err)
	assert.Equal(t, 3, n, "DeleteAccount(gone)")
	keys, err := s.Keys(ctx, "gone")
	require.NoError(t, err)
	assert.Empty(t, keys)
	assert.Zero(t, entriesOf(t, conn, "gone"), "entries left")
	_, ok := usageRow(t, conn, "gone")
	assert.False(t, ok, "usage row left")
	keys, err = s.Keys(ctx, "kept")
	require.NoError(t, err)
	assert.Equal(t, []string{cityIndex.Key, "plain", tagsIndex.Key}, keys, "the other account")
	assert.Equal(t, []string{"kept"}, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Oslo")))
	checkEntries(t, conn)
	require.NoError(t, s.Check(ctx))

	n, err = s.DeleteAccount(ctx, "gone")
	assert.NoError(t, err)
	assert.Zero(t, n, "DeleteAccount of an account with none")
	n, err = s.DeleteAccount(ctx, "never")
	assert.NoError(t, err)
	assert.Zero(t, n)
	status, err := s.Set(ctx, "gone", "plain", []byte(`2`))
	require.NoError(t, err)
	assert.Equal(t, userprops.Created, status, "Set after the erasure")
	u, ok := usageRow(t, conn, "gone")
	assert.True(t, ok)
	assert.Equal(t, userprops.Usage{Properties: 1, Bytes: 6}, u)

	_, err = s.DeleteAccount(ctx, "")
	assert.ErrorIs(t, err, userprops.ErrAccountIDMissing)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.DeleteAccount(canceled, "kept")
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, s.Close())
	_, err = s.DeleteAccount(ctx, "kept")
	assert.ErrorIs(t, err, userprops.ErrClosed)
}

func TestPostgres_DeleteAccount_Directory(t *testing.T) {
	dsn := pgtest.Schema(t)
	s := open(t, dsn, userprops.WithDirectory(userprops.DirectoryFunc(func(_ context.Context, id string) (bool, error) {
		return id == "known", nil
	})))
	_, err := s.DeleteAccount(context.Background(), "stranger")
	assert.ErrorIs(t, err, userprops.ErrUserNotFound)
	n, err := s.DeleteAccount(context.Background(), "known")
	assert.NoError(t, err)
	assert.Zero(t, n)
}

// TestPostgres_DeleteAccount_WhileWriting erases an account while other
// goroutines, through two stores, keep setting and deleting its properties:
// each write lands wholly before or after an erasure, so the usage row and
// the entries agree with the properties at the end.
func TestPostgres_DeleteAccount_WhileWriting(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	a := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), quiet)
	b := open(t, dsn, quiet)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 6 {
		wg.Go(func() {
			st := []*pgstore.Store{a, b}[w%2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := []string{cityIndex.Key, "k1", "k2"}[i%3]
				if i%5 == 4 {
					st.Delete(ctx, "acct", key)
					continue
				}
				_, err := st.Set(ctx, "acct", key, cityValue(fmt.Sprint("c", i%4)))
				assert.NoError(t, err)
			}
		})
	}
	total := 0
	for range 30 {
		n, err := []*pgstore.Store{a, b}[total%2].DeleteAccount(ctx, "acct")
		require.NoError(t, err)
		total += n
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	assert.Positive(t, total, "properties erased")
	require.NoError(t, a.Check(ctx))
	checkEntries(t, conn)
}

func TestPostgres_Restore(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	conn := connect(t, dsn)
	s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), userprops.WithAccountLimits(2, 0), quiet)
	_, err := s.Set(ctx, "a", cityIndex.Key, cityValue("Oslo"))
	require.NoError(t, err)
	_, err = s.Set(ctx, "a", "old", []byte(`"kept"`))
	require.NoError(t, err)

	at := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	props := []userprops.Property{
		{AccountID: "a", Key: cityIndex.Key, Value: cityValue("Lima"), Version: 7, UpdatedAt: at},
		{AccountID: "a", Key: "new", Value: []byte(" [1, 2] "), Version: 3, UpdatedAt: at},
		{AccountID: "b", Key: cityIndex.Key, Value: cityValue("Oslo"), Version: 1, UpdatedAt: at},
		{AccountID: "b", Key: cityIndex.Key, Value: cityValue("Sydney"), Version: 2, UpdatedAt: at}, // the last wins
		{AccountID: "a", Key: "third", Value: []byte(`{}`), Version: 1, UpdatedAt: at},
	}
	require.NoError(t, s.Restore(ctx, props))
	for _, want := range []userprops.Property{props[0], props[1], props[3], props[4]} {
		got, err := s.Get(ctx, want.AccountID, want.Key)
		require.NoError(t, err)
		assert.Equal(t, want, got, "Get(%q, %q)", want.AccountID, want.Key)
	}
	got, err := s.Get(ctx, "a", "old")
	require.NoError(t, err)
	assert.Equal(t, `"kept"`, string(got.Value), "a property Restore was not given")
	assert.Empty(t, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Oslo")), "the values replaced")
	assert.Equal(t, []string{"a"}, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Lima")))
	assert.Equal(t, []string{"b"}, find(t, s, userprops.Where(cityIndex.Key, cityIndex.Path, "Sydney")))
	checkEntries(t, conn)

	// Above the limit of 2: restored all the same, counted, and a Set
	// that adds is refused.
	u, _ := usageRow(t, conn, "a")
	assert.Equal(t, 4, u.Properties, "usage of a")
	_, err = s.Set(ctx, "a", "fifth", []byte(`1`))
	assert.ErrorIs(t, err, userprops.ErrAccountFull)
	require.NoError(t, s.Check(ctx))

	// Again: the same state.
	require.NoError(t, s.Restore(ctx, props))
	require.NoError(t, s.Check(ctx))
	checkEntries(t, conn)

	// One bad property: nothing written.
	for _, bad := range []userprops.Property{
		{AccountID: "a", Key: "k", Value: []byte(`{`), Version: 1},
		{AccountID: "a", Key: "k", Value: []byte(`1`), Version: 0},
		{AccountID: "", Key: "k", Value: []byte(`1`), Version: 1},
	} {
		err := s.Restore(ctx, []userprops.Property{{AccountID: "c", Key: "k", Value: []byte(`1`), Version: 1}, bad})
		assert.ErrorContains(t, err, "property 2 (account", "Restore(%+v)", bad)
		_, err = s.Get(ctx, "c", "k")
		assert.ErrorIs(t, err, userprops.ErrNotFound, "written despite %+v", bad)
	}
	assert.NoError(t, s.Restore(ctx, nil))
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Restore(ctx, props), userprops.ErrClosed)
}

// TestPostgres_Check corrupts the tables of a good store, one way per
// subtest, and checks that Check names the damage.
func TestPostgres_Check(t *testing.T) {
	pgtest.Require(t)
	long := `"` + strings.Repeat("x", 600) + `"` // a term stored hashed
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"Intact", ``, ``},
		{"InvalidValue", `UPDATE userprops_properties SET value = '{' WHERE account_id = 'a' AND key = 'plain'`,
			`account "a", key "plain": userprops: property value is not valid JSON`},
		{"InvalidKey", `UPDATE userprops_properties SET key = '' WHERE account_id = 'a' AND key = 'plain'`,
			`key "": userprops: property key is required`},
		{"UsageWrong", `UPDATE userprops_accounts SET bytes = bytes + 1 WHERE account_id = 'a'`,
			`account "a": its usage row counts 3 properties of`},
		{"UsageMissing", `DELETE FROM userprops_accounts WHERE account_id = 'b'`,
			`account "b" has 2 properties of`},
		{"UsageExtra", `INSERT INTO userprops_accounts VALUES ('ghost', 1, 10)`,
			`account "ghost": its usage row counts 1 properties of 10 bytes, it has 0 of 0`},
		{"EntryMissing", `DELETE FROM userprops_index_entries WHERE account_id = 'b' AND term = '` + "s" + `Oslo'`,
			`index [location].office.city: account "b" lacks the entry for term "sOslo"`},
		{"EntryExtra", `INSERT INTO userprops_index_entries SELECT id, 'sRome', 'b' FROM userprops_indexes`,
			`account "b" has an entry for term "sRome", which its value does not give`},
		{"EntryOfNoProperty", `INSERT INTO userprops_index_entries SELECT id, 'sOslo', 'nobody' FROM userprops_indexes`,
			`account "nobody" has an entry for term "sOslo"`},
		{"LongEntryMissing", `DELETE FROM userprops_index_entries WHERE account_id = 'long'`,
			`account "long" lacks the entry for term "sxxxx`},
		{"EntryOfNoIndex", `INSERT INTO userprops_index_entries VALUES (999, 'x', 'a')`,
			`entries of index 999, which the database does not record`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.Schema(t)
			ctx := context.Background()
			s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), quiet)
			for _, p := range []struct{ id, key, value string }{
				{"a", cityIndex.Key, string(cityValue("Lima"))}, {"a", "plain", `1`}, {"a", "other", `[]`},
				{"b", cityIndex.Key, string(cityValue("Oslo"))}, {"b", "plain", `2`},
				{"long", cityIndex.Key, `{"office":{"city":` + long + `}}`},
				{"empty", "plain", `3`},
			} {
				_, err := s.Set(ctx, p.id, p.key, []byte(p.value))
				require.NoError(t, err)
			}
			require.NoError(t, s.Delete(ctx, "empty", "plain")) // leaves a usage row of zeros
			if tc.sql == "" {
				assert.NoError(t, s.Check(ctx))
				return
			}
			_, err := connect(t, dsn).Exec(ctx, tc.sql)
			require.NoError(t, err)
			err = s.Check(ctx)
			assert.ErrorIs(t, err, userprops.ErrCorrupt)
			assert.ErrorContains(t, err, tc.want)
			_, err = s.Get(ctx, "a", cityIndex.Key)
			assert.NoError(t, err, "Check marked the store damaged")
		})
	}
}

// TestPostgres_Check_Many checks a store larger than one fetch of Check's
// cursors, intact and then with one entry gone in the middle.
func TestPostgres_Check_Many(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	n := 2*pgstore.BuildBatchSize + 17
	fill(t, dsn, n)
	s := open(t, dsn, userprops.WithIndex(cityIndex.Key, cityIndex.Path), quiet)
	require.NoError(t, s.Check(ctx))
	_, err := connect(t, dsn).Exec(ctx, `DELETE FROM userprops_index_entries WHERE account_id = 'acct03001'`)
	require.NoError(t, err)
	err = s.Check(ctx)
	assert.ErrorIs(t, err, userprops.ErrCorrupt)
	assert.ErrorContains(t, err, `account "acct03001" lacks the entry for term "sOslo"`)
	assert.NotContains(t, err.Error(), "acct03002")
}

// TestPostgres_Check_ManyProblems damages every value: Check lists the
// first ten problems and stops.
func TestPostgres_Check_ManyProblems(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	fill(t, dsn, 50)
	s := open(t, dsn, quiet)
	_, err := connect(t, dsn).Exec(ctx, `UPDATE userprops_properties SET value = '['`)
	require.NoError(t, err)
	err = s.Check(ctx)
	require.ErrorIs(t, err, userprops.ErrCorrupt)
	assert.Equal(t, 10, strings.Count(err.Error(), "not valid JSON"), "problems listed: %v", err)
}
