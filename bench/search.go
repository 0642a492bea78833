package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tidwall/buntdb"
	"github.com/tidwall/gjson"
	bolt "go.etcd.io/bbolt"

	"github.com/userprops/userprops"
)

// The search workloads: every account gets a "profile" property, and each
// system answers "the first page of 50 accounts whose profile holds this
// value at this path, and how many there are" the way it does best: from
// its indexes (userprops WithIndex, BuntDB IndexJSON and AscendEqual) or,
// for a path without an index, by reading every profile.

// searcher is what a system that can search profiles offers.
type searcher interface {
	// loadProfiles stores profile(u) as the "profile" of every account.
	loadProfiles(users int) error
	// find returns the first page (up to pageSize accounts) and the total
	// of the accounts whose profile holds value at path; an indexed search
	// uses the system's index on path, an unindexed one reads the values.
	// It returns errNoIndex if the system has no indexes.
	find(path, value string, indexed bool) (page []string, total int, err error)
}

const pageSize = 50

// errNoIndex is what a system without indexes answers an indexed search.
var errNoIndex = errors.New("no index")

// search is one search workload.
type search struct {
	name, path string
	indexed    bool
	value      func(r *rand.Rand, users int) string
	total      func(users int) int // how many accounts match
}

var searches = []search{
	{"find/one", "id", true, func(r *rand.Rand, users int) string { return fmt.Sprintf("u%07d", r.IntN(users)) },
		func(int) int { return 1 }},
	{"find/0.1%", "group", true, func(*rand.Rand, int) string { return "rare" },
		func(users int) int { return (users + 999) / 1000 }},
	{"find/10%", "group", true, func(*rand.Rand, int) string { return "common" },
		func(users int) int { return (users + 8) / 10 }},
	{"find/unindexed", "office.city", false, func(*rand.Rand, int) string { return "Sydney" },
		func(users int) int { return (users + 6) / 7 }},
}

// profile is account u's profile, about 190 bytes: a unique id, a group
// ("rare" for one account in 1,000, "common" for one in 10) and a city
// (Sydney for one in 7).
func profile(u int) []byte {
	group := "other"
	switch {
	case u%1000 == 0:
		group = "rare"
	case u%10 == 1:
		group = "common"
	}
	cities := []string{"Sydney", "Oslo", "Austin", "Berlin", "Tokyo", "Lagos", "Lima"}
	return fmt.Appendf(nil, `{"id":"u%07d","office":{"country":"AU","city":%q},"group":%q,"level":%d,`+
		`"active":true,"email":"user-%07d@example.com","tags":["onboarded","beta"]}`, u, cities[u%7], group, u%50, u)
}

// searchIndexes are the indexes a system keeps for the search workloads.
var searchIndexes = []string{"id", "group"}

const profileKey = "profile"

// measureSearches loads the profiles into db and runs every search
// workload on it, one goroutine each, checking every answer's total.
func measureSearches(db searcher, cfg config, add func(workload string, perSecond float64)) error {
	if err := db.loadProfiles(cfg.users); err != nil {
		return fmt.Errorf("loading profiles: %w", err)
	}
	for _, s := range searches {
		want := s.total(cfg.users)
		perSecond, err := timed(cfg.duration, 1, func(r *rand.Rand) error {
			page, total, err := db.find(s.path, s.value(r, cfg.users), s.indexed)
			if err == nil && (total != want || len(page) != min(want, pageSize)) {
				err = fmt.Errorf("%s: %d found, %d on the page; want %d", s.name, total, len(page), want)
			}
			return err
		})
		if errors.Is(err, errNoIndex) {
			continue
		}
		if err != nil {
			return err
		}
		add(s.name, perSecond)
	}
	return nil
}

func profileProps(users int, fn func([]userprops.Property) error) error {
	const batch = 5000
	props := make([]userprops.Property, 0, batch)
	now := time.Now()
	for u := range users {
		props = append(props, userprops.Property{AccountID: account(u), Key: profileKey, Value: profile(u), Version: 1, UpdatedAt: now})
		if len(props) == batch || u == users-1 {
			if err := fn(props); err != nil {
				return err
			}
			props = props[:0]
		}
	}
	return nil
}

// storeFind is find for a userprops store.
func storeFind(st userprops.Store, path, value string) ([]string, int, error) {
	found, err := st.Find(context.Background(), userprops.Where(profileKey, path, value), userprops.Page{MaxResults: pageSize})
	return found.AccountIDs, found.Total, err
}

// storeIndexes are the options that declare searchIndexes.
func storeIndexes() []userprops.Option {
	var opts []userprops.Option
	for _, path := range searchIndexes {
		opts = append(opts, userprops.WithIndex(profileKey, path))
	}
	return opts
}

func (b boltKV) loadProfiles(users int) error {
	return profileProps(users, func(props []userprops.Property) error { return b.s.Restore(context.Background(), props) })
}

func (b boltKV) find(path, value string, _ bool) ([]string, int, error) {
	return storeFind(b.s, path, value)
}

func (m memoryKV) loadProfiles(users int) error {
	for u := range users {
		if _, err := m.s.Set(context.Background(), account(u), profileKey, profile(u)); err != nil {
			return err
		}
	}
	return nil
}

func (m memoryKV) find(path, value string, _ bool) ([]string, int, error) {
	return storeFind(m.s, path, value)
}

func (r *rawBolt) loadProfiles(users int) error {
	return profileProps(users, func(props []userprops.Property) error {
		return r.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(rawBucket)
			for _, p := range props {
				if err := b.Put(rawKey(p.AccountID, p.Key), p.Value); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// find reads every profile: a program on plain bbolt has no index.
func (r *rawBolt) find(path, value string, indexed bool) ([]string, int, error) {
	if indexed {
		return nil, 0, errNoIndex
	}
	var page []string
	total := 0
	suffix := []byte("\x00" + profileKey)
	err := r.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(rawBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if bytes.HasSuffix(k, suffix) && gjson.GetBytes(v, path).Str == value {
				if total++; len(page) < pageSize {
					page = append(page, string(k[:len(k)-len(suffix)]))
				}
			}
		}
		return nil
	})
	return page, total, err
}

// createBuntIndexes adds the JSON indexes of the search workloads.
func createBuntIndexes(db *buntdb.DB) error {
	for _, path := range searchIndexes {
		if err := db.CreateIndex(path, "*\x00"+profileKey, buntdb.IndexJSON(path)); err != nil {
			return err
		}
	}
	return nil
}

func (b bunt) loadProfiles(users int) error {
	return profileProps(users, func(props []userprops.Property) error {
		return b.db.Update(func(tx *buntdb.Tx) error {
			for _, p := range props {
				if _, _, err := tx.Set(p.AccountID+"\x00"+p.Key, string(p.Value), nil); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// find walks the matching entries of an IndexJSON index with AscendEqual,
// all of them (BuntDB counts by walking); unindexed, it walks every key.
// Its keys are in the index's order, then by key: the accounts come in
// ascending order, as userprops gives them.
func (b bunt) find(path, value string, indexed bool) ([]string, int, error) {
	var page []string
	total := 0
	suffix := "\x00" + profileKey
	err := b.db.View(func(tx *buntdb.Tx) error {
		if indexed {
			return tx.AscendEqual(path, fmt.Sprintf(`{%q:%q}`, path, value), func(key, _ string) bool {
				if total++; len(page) < pageSize {
					page = append(page, strings.TrimSuffix(key, suffix))
				}
				return true
			})
		}
		return tx.Ascend("", func(key, v string) bool {
			if strings.HasSuffix(key, suffix) && gjson.Get(v, path).Str == value {
				if total++; len(page) < pageSize {
					page = append(page, strings.TrimSuffix(key, suffix))
				}
			}
			return true
		})
	})
	return page, total, err
}
