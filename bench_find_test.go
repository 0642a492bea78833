package userprops

// Benchmarks of Find and of what indexes cost, beside raw bbolt:
//
//	go test -run '^$' -bench 'Find|SetIndexed|BuildIndex' -benchtime 2s
//
// The first one that needs it writes a file of searchUsers accounts (about
// a minute and 0.9 GB in os.TempDir), cached for the rest of the run.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	bolt "go.etcd.io/bbolt"
)

const searchUsers = 1_000_000

// searchGroup is the group of account u: "g1k" for 1,000 accounts, "g10k"
// for 10,000, "g100k" for 100,000, and "other".
func searchGroup(u int) string {
	switch {
	case u%1000 == 0:
		return "g1k"
	case u%100 == 1:
		return "g10k"
	case u%10 == 2:
		return "g100k"
	}
	return "other"
}

var searchCities = []string{"Sydney", "Oslo", "Austin", "Berlin", "Tokyo", "Lagos", "Lima"}

// searchProfile is account u's "profile": about 190 bytes, with a unique id
// and a group of known size.
func searchProfile(u int) []byte {
	return fmt.Appendf(nil, `{"id":"u%07d","office":{"country":"AU","city":%q},"group":%q,"level":%d,`+
		`"active":true,"email":"user-%07d@example.com","tags":["onboarded","beta"]}`,
		u, searchCities[u%len(searchCities)], searchGroup(u), u%50, u)
}

// searchFixture is the path of the cached file of searchUsers accounts,
// each with a "profile" (searchProfile) and a "settings" (benchValue), and
// no index; open a copy (copyFixture) to change it.
func searchFixture(b *testing.B) string {
	return cachedFixture(b, "search.db", func(path string) error {
		return writeFixture(path, searchUsers, func(u int, put func(string, []byte)) {
			put("profile", searchProfile(u))
			put("settings", benchValue)
		})
	})
}

// searchIndexes are the indexes of the indexed search fixture.
var searchIndexes = []Index{{"profile", "id"}, {"profile", "group"}}

// searchStore is the store on the cached search fixture with searchIndexes
// built, opened once for the run, for benchmarks that only read. It is
// closed with the fixtures (closeFixtures).
func searchStore(b *testing.B) *BoltStore {
	b.Helper()
	fixtures.Lock()
	s := fixtures.search
	fixtures.Unlock()
	if s != nil {
		return s
	}
	raw := searchFixture(b)
	path := cachedFixture(b, "search-indexed.db", func(path string) error {
		copyFile(b, raw, path, 0o600)
		opts := []Option{quiet}
		for _, ix := range searchIndexes {
			opts = append(opts, WithIndex(ix.Key, ix.Path))
		}
		s, err := OpenBolt(path, opts...)
		if err != nil {
			return err
		}
		return s.Close()
	})
	s, err := OpenBolt(path, quiet)
	if err != nil {
		b.Fatal(err)
	}
	warm(b, s.db)
	fixtures.Lock()
	fixtures.search = s
	fixtures.Unlock()
	return s
}

func BenchmarkFind(b *testing.B) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	accounts := make([]int, 1<<12)
	for i := range accounts {
		accounts[i] = r.IntN(searchUsers)
	}
	ones := make([]Query, len(accounts))
	for i, u := range accounts {
		ones[i] = Where("profile", "id", fmt.Sprintf("u%07d", u))
	}
	// One match among a million: the index against one point Get.
	b.Run("bolt-indexed/matches=1/accounts=1e6", func(b *testing.B) {
		s := searchStore(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			found, err := s.Find(ctx, ones[i&(len(ones)-1)], Page{})
			if err != nil || found.Total != 1 {
				b.Fatal(found, err)
			}
		}
	})
	b.Run("bbolt-get/accounts=1e6", func(b *testing.B) {
		s := searchStore(b)
		keys := make([][]byte, len(accounts))
		for i, u := range accounts {
			keys[i] = boltKey(nil, benchAccount(u), "profile")
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var v []byte
			err := s.db.View(func(tx *bolt.Tx) error {
				v = bytes.Clone(tx.Bucket(boltPropsBucket).Get(keys[i&(len(keys)-1)]))
				return nil
			})
			if err != nil || v == nil {
				b.Fatal("missing", err)
			}
		}
	})
	// Many matches: the first page and the total.
	for _, n := range []int{1000, 10_000, 100_000} {
		q := Where("profile", "group", fmt.Sprintf("g%dk", n/1000))
		b.Run(fmt.Sprintf("bolt-indexed/matches=%d/accounts=1e6", n), func(b *testing.B) {
			s := searchStore(b)
			b.ReportAllocs()
			for b.Loop() {
				found, err := s.Find(ctx, q, Page{})
				if err != nil || found.Total != n || len(found.AccountIDs) != DefaultPageSize {
					b.Fatal(found.Total, err)
				}
			}
		})
	}
	// No index: every value of the key is read.
	var scanned int64
	for u := range searchUsers {
		scanned += int64(len(searchProfile(u)))
	}
	sydney := searchUsers / len(searchCities)
	b.Run("bolt-scan/accounts=1e6", func(b *testing.B) {
		s := searchStore(b)
		q := Where("profile", "office.city", "Sydney")
		b.SetBytes(scanned)
		for b.Loop() {
			found, err := s.Find(ctx, q, Page{})
			if err != nil || found.Total < sydney {
				b.Fatal(found.Total, err)
			}
		}
	})
	b.Run("bbolt-cursor-scan/accounts=1e6", func(b *testing.B) {
		// What a program on plain bbolt does: walk the records, pick
		// those of the key, read the path with gjson, keep the matches.
		s := searchStore(b)
		suffix := []byte("profile")
		b.SetBytes(scanned)
		for b.Loop() {
			var ids []string
			err := s.db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(boltPropsBucket).Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if bytes.HasSuffix(k, suffix) && gjson.GetBytes(v[recordHeaderLen:], "office.city").Str == "Sydney" {
						ids = append(ids, string(k[1:len(k)-len(suffix)]))
					}
				}
				return nil
			})
			if err != nil || len(ids) < sydney {
				b.Fatal(len(ids), err)
			}
		}
	})
}

// BenchmarkSetIndexed measures durable Sets from 32 writers on a store
// without indexes and on one with two indexes on the key written: once
// with values whose indexed fields stay as they are (another field changes
// with each write: the entries stay, only the values are read), and once
// with values whose two indexed fields change with every write (each write
// moves two entries: the worst case, four random B-tree places more per
// write). The values are the same size in every case.
func BenchmarkSetIndexed(b *testing.B) {
	ctx := context.Background()
	pad := strings.Repeat("x", 120)
	for _, c := range []struct {
		name    string
		indexes bool
		value   func(account, i int) []byte
	}{
		{"indexes=0", false, func(a, i int) []byte {
			return fmt.Appendf(nil, `{"team":"t%02d","office":{"city":"c%02d"},"seen":"%09d","pad":%q}`, i%97, i%13, i, pad)
		}},
		{"indexes=2/terms=kept", true, func(a, i int) []byte {
			return fmt.Appendf(nil, `{"team":"t%02d","office":{"city":"c%02d"},"seen":"%09d","pad":%q}`, a%97, a%13, i, pad)
		}},
		{"indexes=2/terms=moved", true, func(a, i int) []byte {
			return fmt.Appendf(nil, `{"team":"t%02d","office":{"city":"c%02d"},"seen":"%09d","pad":%q}`, i%97, i%13, i, pad)
		}},
	} {
		b.Run("writers=32/bolt/"+c.name, func(b *testing.B) {
			opts := []Option{quiet}
			if c.indexes {
				opts = append(opts, WithIndex("profile", "team"), WithIndex("profile", "office.city"))
			}
			s, err := OpenBolt(filepath.Join(b.TempDir(), "set.db"), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for a := range 1000 { // every account has its property: the writes are updates
				if _, err := s.Set(ctx, benchAccount(a), "profile", c.value(a, a)); err != nil {
					b.Fatal(err)
				}
			}
			writers(b, 32, func(i int) error {
				_, err := s.Set(ctx, benchAccount(i%1000), "profile", c.value(i%1000, i))
				return err
			})
		})
	}
}

// BenchmarkBuildIndex measures OpenBolt building one declared index over
// searchUsers properties (in a file of twice as many), and reports the
// properties of the index's key indexed per second. Run it with
// -benchtime 1x: each iteration copies the fixture first.
func BenchmarkBuildIndex(b *testing.B) {
	b.Run("bolt/props=1e6", func(b *testing.B) {
		raw := searchFixture(b)
		var progress string
		for b.Loop() {
			b.StopTimer()
			path := filepath.Join(b.TempDir(), "build.db")
			copyFile(b, raw, path, 0o600)
			var log bytes.Buffer
			b.StartTimer()
			s, err := OpenBolt(path, WithIndex("profile", "group"), WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			progress = log.String()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(searchUsers)*float64(b.N)/b.Elapsed().Seconds(), "props/s")
		b.Logf("the log of the last build:\n%s", progress)
	})
}
