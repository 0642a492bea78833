package userprops

// Benchmarks of the hot paths, each beside a raw baseline in the same run:
// plain bbolt View/Update on a file with the same data, a plain map under a
// sync.RWMutex, encoding/json.Valid. They are white-box so that the fixture
// files are written straight in the store's layout (boltKey, stampRecord)
// instead of through a million durable Sets.
//
//	go test -run '^$' -bench . -benchmem
//
// Durable writes go to the file system of os.TempDir (set TMPDIR to measure
// another disk).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// benchValue is a ~200-byte settings document.
var benchValue = []byte(`{"theme":"dark","language":"en-GB","timezone":"Europe/London",` +
	`"dashboard":{"columns":[1,2,3],"dense":true,"filters":["assignee = currentUser()",` +
	`"status != Done"]},"notifications":{"email":false,"mobile":true},"seen":1732406400}`)

func benchAccount(i int) string { return fmt.Sprintf("user-%07d", i) }
func benchKey(j int) string     { return fmt.Sprintf("key-%02d", j) }

// fixtures caches bbolt files in the store's layout, by size, for the
// whole benchmark run, and the store open on one of them (searchStore).
var fixtures struct {
	sync.Mutex
	dir    string
	files  map[string]string
	search *BoltStore
}

// closeFixtures closes the fixtures' store and removes their files.
func closeFixtures() {
	if fixtures.search != nil {
		fixtures.search.Close()
	}
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
}

// fixture returns a copy of a store file holding users × keys properties,
// written with plain bbolt in the store's layout.
func fixture(b *testing.B, users, keys int) string {
	return fixtureOf(b, fmt.Sprintf("u%d-k%d.db", users, keys), users, func(int) int { return keys })
}

// sparseFixture holds users accounts with one property each, but every
// hundredth with benchKeys: many accounts, a few of them the size Keys is
// measured on.
func sparseFixture(b *testing.B, users int) string {
	return fixtureOf(b, fmt.Sprintf("u%d-sparse.db", users), users, func(u int) int {
		if u%100 == 0 {
			return benchKeys
		}
		return 1
	})
}

func fixtureOf(b *testing.B, name string, users int, keysOf func(user int) int) string {
	return copyFixture(b, cachedFixture(b, name, func(path string) error {
		return writeFixture(path, users, func(u int, put func(key string, value []byte)) {
			for k := range keysOf(u) {
				put(benchKey(k), benchValue)
			}
		})
	}))
}

// cachedFixture returns the path of the fixture file name, written by
// write the first time it is asked for in the benchmark run. Benchmarks
// that may change the file use a copy (copyFixture).
func cachedFixture(b *testing.B, name string, write func(path string) error) string {
	b.Helper()
	fixtures.Lock()
	defer fixtures.Unlock()
	if fixtures.dir == "" {
		dir, err := os.MkdirTemp("", "userprops-bench-")
		if err != nil {
			b.Fatal(err)
		}
		fixtures.dir, fixtures.files = dir, map[string]string{}
	}
	src, ok := fixtures.files[name]
	if !ok {
		src = filepath.Join(fixtures.dir, name)
		if err := write(src); err != nil {
			b.Fatal(err)
		}
		fixtures.files[name] = src
	}
	return src
}

// copyFixture returns a copy of the file at src in b's temporary directory.
func copyFixture(b *testing.B, src string) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), filepath.Base(src))
	copyFile(b, src, dst, 0o600)
	return dst
}

// writeFixture writes a store file of users accounts, each holding the
// properties propsOf puts (in ascending key order), straight in the store's
// layout with plain bbolt.
func writeFixture(path string, users int, propsOf func(user int, put func(key string, value []byte))) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Update(createLayout); err != nil {
		return err
	}
	const usersPerTx = 5000
	now := time.Now().UnixNano()
	var rev uint64
	for start := 0; start < users; start += usersPerTx {
		err := db.Update(func(tx *bolt.Tx) error {
			props, usage := tx.Bucket(boltPropsBucket), tx.Bucket(boltUsageBucket)
			props.FillPercent, usage.FillPercent = 0.9, 0.9 // keys arrive in order
			var err error
			for u := start; u < min(users, start+usersPerTx) && err == nil; u++ {
				var used Usage
				propsOf(u, func(k string, value []byte) {
					rec, valueCRC := newRecord(value)
					key := boltKey(nil, benchAccount(u), k)
					rev++
					stampRecord(key, rec, valueCRC, 1, now, rev)
					if err == nil {
						err = props.Put(key, rec)
					}
					used.Properties++
					used.Bytes += PropertyBytes(k, value)
				})
				if err == nil {
					err = writeUsage(rawBucket{usage}, boltKey(nil, benchAccount(u), ""), used)
				}
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	// The history starts after the properties, as after an upgrade.
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(boltMetaBucket).Put(boltRevisionKey, encodeRevisions(revisions{head: rev, trimmed: rev}))
	})
	if err != nil {
		return err
	}
	return db.Sync()
}

// rawMap is the baseline for the memory store: one map under one RWMutex.
type rawMap struct {
	mu sync.RWMutex
	m  map[[2]string][]byte
}

func (r *rawMap) get(account, key string) []byte {
	r.mu.RLock()
	v, ok := r.m[[2]string{account, key}]
	r.mu.RUnlock()
	if !ok {
		return nil
	}
	return bytes.Clone(v)
}

func (r *rawMap) set(account, key string, value []byte) {
	v := bytes.Clone(value)
	r.mu.Lock()
	r.m[[2]string{account, key}] = v
	r.mu.Unlock()
}

const benchUsers, benchKeys = 100_000, 10

// randomRefs returns n random (account, key) pairs of the fixture data, so
// that formatting them stays out of the timed loop.
func randomRefs(n, users, keys int) [][2]string {
	r := rand.New(rand.NewPCG(1, 2))
	refs := make([][2]string, n)
	for i := range refs {
		refs[i] = [2]string{benchAccount(r.IntN(users)), benchKey(r.IntN(keys))}
	}
	return refs
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	refs := randomRefs(1<<16, benchUsers, benchKeys)
	name := fmt.Sprintf("props=%d", benchUsers*benchKeys)

	b.Run("bolt/"+name, func(b *testing.B) {
		s, err := OpenBolt(fixture(b, benchUsers, benchKeys))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		warm(b, s.db)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			ref := refs[i&(len(refs)-1)]
			if _, err := s.Get(ctx, ref[0], ref[1]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bbolt-view/"+name, func(b *testing.B) {
		db, err := bolt.Open(fixture(b, benchUsers, benchKeys), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		warm(b, db)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			ref := refs[i&(len(refs)-1)]
			var v []byte
			err := db.View(func(tx *bolt.Tx) error {
				v = bytes.Clone(tx.Bucket(boltPropsBucket).Get(boltKey(nil, ref[0], ref[1])))
				return nil
			})
			if err != nil || v == nil {
				b.Fatal("missing", err)
			}
		}
	})

	mem := NewMemory()
	raw := &rawMap{m: map[[2]string][]byte{}}
	for u := range benchUsers {
		for k := range benchKeys {
			if _, err := mem.Set(ctx, benchAccount(u), benchKey(k), benchValue); err != nil {
				b.Fatal(err)
			}
			raw.set(benchAccount(u), benchKey(k), benchValue)
		}
	}
	b.Run("memory/"+name, func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ref := refs[i&(len(refs)-1)]
			if _, err := mem.Get(ctx, ref[0], ref[1]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("map-rwmutex/"+name, func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ref := refs[i&(len(refs)-1)]
			if raw.get(ref[0], ref[1]) == nil {
				b.Fatal("missing")
			}
		}
	})
	b.Run("memory-parallel/"+name, func(b *testing.B) {
		var seq atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1) * 7919)
			for ; pb.Next(); i++ {
				ref := refs[i&(len(refs)-1)]
				if _, err := mem.Get(ctx, ref[0], ref[1]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("map-rwmutex-parallel/"+name, func(b *testing.B) {
		var seq atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1) * 7919)
			for ; pb.Next(); i++ {
				ref := refs[i&(len(refs)-1)]
				if raw.get(ref[0], ref[1]) == nil {
					b.Error("missing")
					return
				}
			}
		})
	})
}

// warm reads every page of the properties bucket and of the index entries
// once, so that timed reads do not pay for first touches of the memory map.
func warm(b *testing.B, db *bolt.DB) {
	walk := func(bk *bolt.Bucket) {
		c := bk.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
		}
	}
	err := db.View(func(tx *bolt.Tx) error {
		walk(tx.Bucket(boltPropsBucket))
		if terms := tx.Bucket(boltTermsBucket); terms != nil {
			return terms.ForEachBucket(func(id []byte) error {
				walk(terms.Bucket(id))
				return nil
			})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// writers runs b.N calls of write spread over n goroutines; write gets a
// unique sequence number.
func writers(b *testing.B, n int, write func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := write(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 4, 8, 32} {
		prefix := fmt.Sprintf("writers=%d/", n)
		// bolt-log is the default, with the write-ahead log; bolt-file
		// commits every batch to the file. Both keep the default history
		// (DefaultHistoryChanges, trimmed as it goes once full);
		// bolt-file-history=1 the least there is, one change: its ratio
		// to bolt-file is what the history costs.
		for _, h := range []struct {
			name string
			opts []Option
		}{
			{"bolt-log", []Option{WithWriteAheadLog(true)}},
			{"bolt-file", []Option{WithWriteAheadLog(false)}},
			{"bolt-file-history=1", []Option{WithHistory(1, 0), WithWriteAheadLog(false)}},
		} {
			b.Run(prefix+h.name, func(b *testing.B) {
				s, err := OpenBolt(filepath.Join(b.TempDir(), "set.db"), h.opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				writers(b, n, func(i int) error {
					_, err := s.Set(ctx, benchAccount(i%1000), benchKey(i/1000%100), benchValue)
					return err
				})
			})
		}
		b.Run(prefix+"bbolt-update", func(b *testing.B) {
			db := openRawBolt(b)
			writers(b, n, func(i int) error {
				return db.Update(func(tx *bolt.Tx) error {
					return putRaw(tx, benchAccount(i%1000), benchKey(i/1000%100))
				})
			})
		})
		if n == 32 {
			// 10ms is bbolt's default MaxBatchDelay.
			for _, delay := range []time.Duration{10 * time.Millisecond, time.Millisecond, 200 * time.Microsecond} {
				b.Run(fmt.Sprintf("%sbbolt-batch-delay=%v", prefix, delay), func(b *testing.B) {
					db := openRawBolt(b)
					db.MaxBatchDelay = delay
					writers(b, n, func(i int) error {
						return db.Batch(func(tx *bolt.Tx) error {
							return putRaw(tx, benchAccount(i%1000), benchKey(i/1000%100))
						})
					})
				})
			}
		}
		b.Run(prefix+"memory", func(b *testing.B) {
			s := NewMemory()
			writers(b, n, func(i int) error {
				_, err := s.Set(ctx, benchAccount(i%1000), benchKey(i/1000%100), benchValue)
				return err
			})
		})
		b.Run(prefix+"map-rwmutex", func(b *testing.B) {
			raw := &rawMap{m: map[[2]string][]byte{}}
			writers(b, n, func(i int) error {
				raw.set(benchAccount(i%1000), benchKey(i/1000%100), benchValue)
				return nil
			})
		})
	}
}

func openRawBolt(b *testing.B) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(boltPropsBucket)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// putRaw is the least a raw bbolt program does for a durable set: read the
// old version, write the record.
func putRaw(tx *bolt.Tx, account, key string) error {
	props := tx.Bucket(boltPropsBucket)
	k := boltKey(nil, account, key)
	version := uint64(1)
	if old := props.Get(k); old != nil {
		version++
	}
	rec, valueCRC := newRecord(benchValue)
	stampRecord(k, rec, valueCRC, version, time.Now().UnixNano(), version)
	return props.Put(k, rec)
}

func BenchmarkKeys(b *testing.B) {
	ctx := context.Background()
	// Accounts with benchKeys keys, among few and among many accounts:
	// the time should hardly grow with the number of accounts.
	for _, users := range []int{10_000, 1_000_000} {
		r := rand.New(rand.NewPCG(3, 4))
		refs := make([]string, 1<<12)
		for i := range refs {
			refs[i] = benchAccount(r.IntN(users/100) * 100)
		}
		name := fmt.Sprintf("users=%d/keys=%d", users, benchKeys)
		b.Run("bolt/"+name, func(b *testing.B) {
			s, err := OpenBolt(sparseFixture(b, users))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			warm(b, s.db)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				ks, err := s.Keys(ctx, refs[i&(len(refs)-1)])
				if err != nil || len(ks) != benchKeys {
					b.Fatal(len(ks), err)
				}
			}
		})
		b.Run("bbolt-cursor/"+name, func(b *testing.B) {
			db, err := bolt.Open(sparseFixture(b, users), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			warm(b, db)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				var ks []string
				prefix := boltKey(nil, refs[i&(len(refs)-1)], "")
				err := db.View(func(tx *bolt.Tx) error {
					c := tx.Bucket(boltPropsBucket).Cursor()
					for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
						ks = append(ks, string(k[len(prefix):]))
					}
					return nil
				})
				if err != nil || len(ks) != benchKeys {
					b.Fatal(len(ks), err)
				}
			}
		})
		if users > 10_000 {
			continue // the memory store is measured at one size
		}
		mem := NewMemory()
		for u := range users {
			for k := range benchKeys {
				if _, err := mem.Set(ctx, benchAccount(u), benchKey(k), benchValue); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run("memory/"+name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				ks, err := mem.Keys(ctx, refs[i&(len(refs)-1)])
				if err != nil || len(ks) != benchKeys {
					b.Fatal(len(ks), err)
				}
			}
		})
	}
}

// benchDocuments are 32 KB values: one like the settings apps keep per user
// (prose, queries, dates: long strings), and one dense with short tokens and
// non-ASCII text, the hard case for a validator.
func benchDocuments() []struct {
	name  string
	value []byte
} {
	var settings bytes.Buffer
	settings.WriteString(`{"version":3,"locale":"en-GB","dashboards":[`)
	for i := 0; settings.Len() < MaxValueBytes-700; i++ {
		fmt.Fprintf(&settings, `{"title":"Sprint board for the payments team, iteration %d",`+
			`"description":"Shows every issue of the current sprint that is in progress or in review, grouped by assignee, with the epics collapsed and the swimlanes ordered by priority so that blockers stay on top.",`+
			`"jql":"project = PAY AND sprint in openSprints() AND status in (\"In Progress\", \"In Review\") ORDER BY priority DESC, rank",`+
			`"owner":"712020:2722a0b4-4b3c-4ee2-a0fc-1fd9bd1bbcb9","updated":"2026-11-23T21:%02d:00Z",`+
			`"columns":["Key","Summary","Assignee","Status","Story points"],"flags":{"compact":true,"showEpics":false},"order":%d},`, i, i%60, i)
	}
	settings.Truncate(settings.Len() - 1)
	settings.WriteString(`]}`)

	var dense bytes.Buffer
	dense.WriteString(`{"items":[`)
	for i := 0; dense.Len() < MaxValueBytes-300; i++ {
		fmt.Fprintf(&dense, `{"id":%d,"name":"Ünïcödé näme %d","tags":["a","b"],"score":%d.5,"ok":true},`, i, i, i)
	}
	dense.Truncate(dense.Len() - 1)
	dense.WriteString(`]}`)
	return []struct {
		name  string
		value []byte
	}{
		{"settings-200B", benchValue},
		{"settings-32K", settings.Bytes()},
		{"dense-unicode-32K", dense.Bytes()},
	}
}

func BenchmarkValidateValue(b *testing.B) {
	for _, c := range benchDocuments() {
		if err := ValidateValue(c.value); err != nil {
			b.Fatal(c.name, err)
		}
		b.Run("userprops/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				if ValidateValue(c.value) != nil {
					b.Fatal("invalid")
				}
			}
		})
		b.Run("encoding-json/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(c.value) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run("encoding-json+utf8/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			for b.Loop() {
				if !json.Valid(c.value) || !utf8.Valid(c.value) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkSetDuringBackup measures the latency of durable Sets from 32
// writers that grow the file, alone and beside a Backup stalled on its
// writer for the whole run, and reports the 99th percentile of each: with
// the memory map reserved (WithMmapSize), the two must be alike.
func BenchmarkSetDuringBackup(b *testing.B) {
	value := []byte(`"` + string(bytes.Repeat([]byte("v"), 4094)) + `"`)
	for _, backup := range []bool{false, true} {
		name := "alone"
		if backup {
			name = "stalled-backup"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s, err := OpenBolt(filepath.Join(b.TempDir(), "props.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			release := make(chan struct{})
			backupDone := make(chan error, 1)
			if backup {
				started := make(chan struct{})
				go func() {
					_, err := s.Backup(ctx, writerFunc(func(p []byte) (int, error) {
						select {
						case <-started:
						default:
							close(started)
							<-release
						}
						return len(p), nil
					}))
					backupDone <- err
				}()
				<-started
			}
			const writers = 32
			lat := make([][]time.Duration, writers)
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						start := time.Now()
						if _, err := s.Set(ctx, fmt.Sprintf("w%02d", g), fmt.Sprintf("k%d", i), value); err != nil {
							b.Error(err)
							return
						}
						lat[g] = append(lat[g], time.Since(start))
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(release)
			if backup {
				if err := <-backupDone; err != nil {
					b.Fatal(err)
				}
			}
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// writerFunc adapts a function to io.Writer.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// benchSettings is benchValue's shape, for the typed helpers.
type benchSettings struct {
	Theme     string `json:"theme"`
	Language  string `json:"language"`
	Timezone  string `json:"timezone"`
	Dashboard struct {
		Columns []int    `json:"columns"`
		Dense   bool     `json:"dense"`
		Filters []string `json:"filters"`
	} `json:"dashboard"`
	Notifications map[string]bool `json:"notifications"`
	Seen          int64           `json:"seen"`
}

// BenchmarkGetJSON measures GetJSON beside what it replaces, Get and then
// json.Unmarshal, on the same store in the same run.
//
//	go test -run '^$' -bench GetJSON -count 10 -benchmem
func BenchmarkGetJSON(b *testing.B) {
	ctx := context.Background()
	bolt, err := OpenBolt(filepath.Join(b.TempDir(), "props.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer bolt.Close()
	mem := NewMemory()
	defer mem.Close()
	for _, s := range []struct {
		name  string
		store Store
	}{{"memory", mem}, {"bolt", bolt}} {
		if _, err := s.store.Set(ctx, "user-0000001", "settings", benchValue); err != nil {
			b.Fatal(err)
		}
		b.Run(s.name+"/GetJSON", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _, err := GetJSON[benchSettings](ctx, s.store, "user-0000001", "settings")
				if err != nil || v.Seen == 0 {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"/Get+Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.store.Get(ctx, "user-0000001", "settings")
				if err != nil {
					b.Fatal(err)
				}
				var v benchSettings
				if err := json.Unmarshal(p.Value, &v); err != nil || v.Seen == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}
