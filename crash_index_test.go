package userprops

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// The index the kill -9 test of indexes builds, drops and builds again, on
// a population large enough that a build of crashBuildBatch properties per
// transaction takes many commits.
var crashIndex = Index{"ix", "m"}

const (
	crashPopulation = 3000
	crashBuildBatch = 50
	crashMods       = 5
)

// crashIndexValue is what writer g's operation i of round r stores.
func crashIndexValue(i int) []byte { return fmt.Appendf(nil, `{"i":%d,"m":%d}`, i, i%crashMods) }

// crashIndexChild, until it is killed, builds crashIndex again and again
// (DropIndex, AddIndex) while crashWriters writers set their own account's
// property "ix" and change random accounts of the population, each writer
// printing "g i" once its operation i has returned. OpenBolt first finishes
// a build the previous kill interrupted.
func crashIndexChild(path string, round int) error {
	boltBuildBatch = crashBuildBatch
	s, err := OpenBolt(path, quiet)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var mu sync.Mutex
	fail := make(chan error)
	for g := range crashWriters {
		go func() {
			r := rand.New(rand.NewPCG(uint64(round), uint64(g)))
			for i := 0; ; i++ {
				_, err := s.Set(ctx, fmt.Sprintf("r%02d-w%d", round, g), "ix", crashIndexValue(i))
				if err == nil && i%2 == 1 {
					account := fmt.Sprintf("p%04d", r.IntN(crashPopulation))
					if i%6 == 5 {
						if err = s.Delete(ctx, account, "ix"); errors.Is(err, ErrNotFound) {
							err = nil
						}
					} else {
						_, err = s.Set(ctx, account, "ix", crashIndexValue(r.IntN(100)))
					}
				}
				if err != nil {
					fail <- err
					return
				}
				mu.Lock()
				_, err = fmt.Fprintf(os.Stdout, "%d %d\n", g, i)
				mu.Unlock()
				if err != nil {
					fail <- err
					return
				}
			}
		}()
	}
	go func() {
		for {
			if err := s.DropIndex(ctx, crashIndex); err != nil && !errors.Is(err, ErrNotFound) {
				fail <- err
				return
			}
			if err := s.AddIndex(ctx, crashIndex); err != nil {
				fail <- err
				return
			}
		}
	}()
	return <-fail
}

// TestBolt_KillNine_Index kills a process that builds an index while it
// writes the properties the index covers, at random moments: during a
// build, between builds, during writes. After each kill the file must hold
// every acknowledged write, pass Check once reopened (OpenBolt finishing an
// interrupted build), and Find must give the answers of reading every
// value.
func TestBolt_KillNine_Index(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds")
	}
	defer func(n int) { boltBuildBatch = n }(boltBuildBatch)
	boltBuildBatch = crashBuildBatch // reopening finishes builds in as many commits as the child
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	s, err := OpenBolt(path, quiet)
	require.NoError(t, err)
	var population []Property
	for a := range crashPopulation {
		population = append(population, Property{AccountID: fmt.Sprintf("p%04d", a), Key: "ix",
			Value: crashIndexValue(a), Version: 1, UpdatedAt: time.Unix(1, 0)})
	}
	require.NoError(t, s.Restore(ctx, population))
	require.NoError(t, s.Close())

	const rounds = 16
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	midBuild := 0
	for round := range rounds {
		acked := map[int]int{} // writer → operations acknowledged
		killAfterAck(t, "crash-index", path, strconv.Itoa(round), time.Duration(5+r.IntN(400))*time.Millisecond, func(line string) {
			var g, i int
			if _, err := fmt.Sscan(line, &g, &i); err == nil {
				acked[g] = i + 1
			}
		})
		if indexBeingBuilt(t, path) {
			midBuild++
		}

		s, err := OpenBolt(path, quiet)
		require.NoError(t, err, "reopening after round %d", round)
		require.NoError(t, s.Check(ctx), "the file after round %d", round)
		infos := indexInfos(t, s)
		require.Contains(t, []int{0, 1}, len(infos), "indexes after round %d: %v", round, infos)
		for _, info := range infos {
			require.True(t, info.Ready, "index %s after round %d", info.Index, round)
		}
		for g := range crashWriters {
			p, err := s.Get(ctx, fmt.Sprintf("r%02d-w%d", round, g), "ix")
			if acked[g] == 0 && errors.Is(err, ErrNotFound) {
				continue
			}
			require.NoError(t, err, "round %d, writer %d: %d writes acknowledged", round, g, acked[g])
			if want := [][]byte{crashIndexValue(acked[g] - 1), crashIndexValue(acked[g])}; string(p.Value) != string(want[0]) && string(p.Value) != string(want[1]) {
				t.Fatalf("round %d, writer %d: %d writes acknowledged, the store holds %s", round, g, acked[g], p.Value)
			}
		}
		// The index, if any, against reading every value.
		ref := NewMemory()
		require.NoError(t, s.ForEach(ctx, func(p Property) error {
			_, err := ref.Set(ctx, p.AccountID, p.Key, p.Value)
			return err
		}))
		for m := range crashMods {
			q := Where(crashIndex.Key, crashIndex.Path, m)
			want, err := ref.Find(ctx, q, Page{MaxResults: 7})
			require.NoError(t, err)
			got, err := s.Find(ctx, q, Page{MaxResults: 7})
			require.NoError(t, err)
			require.Equal(t, want, got, "Find(%s) after round %d", q, round)
		}
		require.NoError(t, s.Close())
	}
	t.Logf("%d kill -9 rounds, %d of them during a build", rounds, midBuild)
	require.NotZero(t, midBuild, "no kill came during a build")
}

// indexBeingBuilt reports whether the file at path records an index whose
// build has not ended.
func indexBeingBuilt(t *testing.T, path string) bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	building := false
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(boltIndexesBucket).ForEach(func(id, rec []byte) error {
			_, state, _, err := decodeIndexRecord(id, rec)
			building = building || state == indexBuilding
			return err
		})
	}))
	return building
}
