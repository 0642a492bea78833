package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tidwall/buntdb"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/pgstore"
)

// kv is what every measured system offers the workloads. Every method is
// called from many goroutines at once.
type kv interface {
	// load stores users × keys properties the fastest way the system has.
	load(users, keys int, value []byte) error
	get(account, key string) error
	set(account, key string, value []byte) error
	keys(account string) (int, error)
	close() error
}

// system is one contender.
type system struct {
	name    string
	durable bool // a set returns only once it is on disk
	note    string
	open    func(dir string) (kv, error)
}

var systems = []system{
	{"userprops-bolt", true, "write-ahead log: one fdatasync'd append per group of writes, bbolt written behind it", func(dir string) (kv, error) {
		return openUserpropsBolt(dir, true)
	}},
	{"userprops-bolt-file", true, "without the log (WithWriteAheadLog(false)): group commit, one bbolt commit per group", func(dir string) (kv, error) {
		return openUserpropsBolt(dir, false)
	}},
	{"bbolt-update", true, "raw bbolt, one Update per write", func(dir string) (kv, error) { return openRawBolt(dir, 0) }},
	{"bbolt-batch", true, "raw bbolt, Batch with MaxBatchDelay 200µs (its best here)", func(dir string) (kv, error) {
		return openRawBolt(dir, 200*time.Microsecond)
	}},
	{"buntdb-always", true, "BuntDB, SyncPolicy Always", func(dir string) (kv, error) { return openBunt(dir, buntdb.Always) }},
	{"buntdb-everysecond", false, "BuntDB, SyncPolicy EverySecond (loses up to a second)", func(dir string) (kv, error) {
		return openBunt(dir, buntdb.EverySecond)
	}},
	{"fdatasync-floor", true, "not a store: each Set is one pwrite of its key and value into a zero-filled file and one fdatasync, one at a time, beside a map for the reads; the least a store that syncs every write on its own can cost", openFloor},
	{"userprops-memory", false, "in memory, not durable", func(string) (kv, error) {
		return memoryKV{userprops.NewMemory(storeIndexes()...)}, nil
	}},
}

// postgresSystem measures pgstore on the database at dsn (-postgres), in a
// schema of its own that is dropped afterwards, so that it starts empty as
// the other systems do.
func postgresSystem(dsn string) system {
	return system{"userprops-postgres", true, "pgstore on PostgreSQL on this machine (synchronous_commit on)", func(string) (kv, error) {
		return openPostgres(dsn)
	}}
}

func account(u int) string { return fmt.Sprintf("user-%07d", u) }
func propKey(k int) string { return fmt.Sprintf("key-%02d", k) }

// --- userprops ---------------------------------------------------------------

type boltKV struct{ s *userprops.BoltStore }

func openUserpropsBolt(dir string, log bool) (kv, error) {
	s, err := userprops.OpenBolt(filepath.Join(dir, "userprops.db"), append(storeIndexes(), userprops.WithWriteAheadLog(log))...)
	return boltKV{s}, err
}

func (b boltKV) load(users, keys int, value []byte) error {
	const batch = 5000
	props := make([]userprops.Property, 0, batch)
	now := time.Now()
	for u := range users {
		for k := range keys {
			props = append(props, userprops.Property{AccountID: account(u), Key: propKey(k), Value: value, Version: 1, UpdatedAt: now})
			if len(props) == batch {
				if err := b.s.Restore(context.Background(), props); err != nil {
					return err
				}
				props = props[:0]
			}
		}
	}
	return b.s.Restore(context.Background(), props)
}

func (b boltKV) get(a, k string) error {
	_, err := b.s.Get(context.Background(), a, k)
	return err
}

func (b boltKV) set(a, k string, v []byte) error {
	_, err := b.s.Set(context.Background(), a, k, v)
	return err
}

func (b boltKV) keys(a string) (int, error) {
	ks, err := b.s.Keys(context.Background(), a)
	return len(ks), err
}

func (b boltKV) close() error { return b.s.Close() }

type memoryKV struct{ s *userprops.MemoryStore }

func (m memoryKV) load(users, keys int, value []byte) error {
	for u := range users {
		for k := range keys {
			if _, err := m.s.Set(context.Background(), account(u), propKey(k), value); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m memoryKV) get(a, k string) error {
	_, err := m.s.Get(context.Background(), a, k)
	return err
}

func (m memoryKV) set(a, k string, v []byte) error {
	_, err := m.s.Set(context.Background(), a, k, v)
	return err
}

func (m memoryKV) keys(a string) (int, error) {
	ks, err := m.s.Keys(context.Background(), a)
	return len(ks), err
}

func (m memoryKV) close() error { return m.s.Close() }

// --- raw bbolt ---------------------------------------------------------------

// rawBolt is what a program that uses bbolt directly does: one bucket, the
// key account NUL key, the value as given, and no checks.
type rawBolt struct {
	db    *bolt.DB
	batch bool
}

var rawBucket = []byte("props")

func openRawBolt(dir string, batchDelay time.Duration) (kv, error) {
	db, err := bolt.Open(filepath.Join(dir, "bbolt.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(rawBucket); return err }); err != nil {
		return nil, err
	}
	if batchDelay > 0 {
		db.MaxBatchDelay = batchDelay
	}
	return &rawBolt{db: db, batch: batchDelay > 0}, nil
}

func rawKey(a, k string) []byte { return []byte(a + "\x00" + k) }

func (r *rawBolt) load(users, keys int, value []byte) error {
	const perTx = 5000
	for start := 0; start < users; start += perTx / keys {
		err := r.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(rawBucket)
			for u := start; u < min(users, start+perTx/keys); u++ {
				for k := range keys {
					if err := b.Put(rawKey(account(u), propKey(k)), value); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sink keeps results in use, so that the compiler cannot drop the copies
// that a correct bbolt program must make before its transaction ends.
var sink atomic.Int64

func (r *rawBolt) get(a, k string) error {
	var out []byte
	err := r.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(rawBucket).Get(rawKey(a, k))
		if v == nil {
			return errors.New("missing")
		}
		out = bytes.Clone(v)
		return nil
	})
	sink.Add(int64(len(out)))
	return err
}

func (r *rawBolt) set(a, k string, v []byte) error {
	put := func(tx *bolt.Tx) error { return tx.Bucket(rawBucket).Put(rawKey(a, k), v) }
	if r.batch {
		return r.db.Batch(put)
	}
	return r.db.Update(put)
}

func (r *rawBolt) keys(a string) (int, error) {
	var keys []string
	prefix := []byte(a + "\x00")
	err := r.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(rawBucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, string(k[len(prefix):]))
		}
		return nil
	})
	sink.Add(int64(len(keys)))
	return len(keys), err
}

func (r *rawBolt) close() error { return r.db.Close() }

// --- the floor of one sync per write ----------------------------------------

// floor is the cheapest durable Set there is on this disk without group
// commit: a pwrite into a file whose blocks were written and synced ahead
// (so that fdatasync flushes no size or block map), then fdatasync. The
// writes wrap around the file; it is a measurement, not a store.
type floor struct {
	mu    sync.Mutex
	f     *os.File
	off   int64
	buf   []byte
	props sync.Map // account -> *sync.Map of key -> value
}

const floorFileSize = 64 << 20

func openFloor(dir string) (kv, error) {
	f, err := os.OpenFile(filepath.Join(dir, "floor"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < floorFileSize; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return nil, errors.Join(err, f.Close())
		}
	}
	if err := f.Sync(); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return &floor{f: f}, nil
}

func (fl *floor) account(a string) *sync.Map {
	m, _ := fl.props.LoadOrStore(a, new(sync.Map))
	return m.(*sync.Map)
}

func (fl *floor) load(users, keys int, value []byte) error {
	for u := range users {
		m := fl.account(account(u))
		for k := range keys {
			m.Store(propKey(k), bytes.Clone(value))
		}
	}
	return nil
}

func (fl *floor) get(a, k string) error {
	v, ok := fl.account(a).Load(k)
	if !ok {
		return errors.New("missing")
	}
	sink.Add(int64(len(bytes.Clone(v.([]byte)))))
	return nil
}

func (fl *floor) set(a, k string, v []byte) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.buf = append(append(append(append(fl.buf[:0], a...), 0), k...), v...)
	if fl.off+int64(len(fl.buf)) > floorFileSize {
		fl.off = 0
	}
	if _, err := fl.f.WriteAt(fl.buf, fl.off); err != nil {
		return err
	}
	if err := unix.Fdatasync(int(fl.f.Fd())); err != nil {
		return err
	}
	fl.off += int64(len(fl.buf))
	fl.account(a).Store(k, bytes.Clone(v))
	return nil
}

func (fl *floor) keys(a string) (int, error) {
	n := 0
	fl.account(a).Range(func(any, any) bool { n++; return true })
	return n, nil
}

func (fl *floor) close() error { return fl.f.Close() }

// --- BuntDB ------------------------------------------------------------------

type bunt struct{ db *buntdb.DB }

func openBunt(dir string, policy buntdb.SyncPolicy) (kv, error) {
	db, err := buntdb.Open(filepath.Join(dir, "bunt.db"))
	if err != nil {
		return nil, err
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		return nil, err
	}
	cfg.SyncPolicy = policy
	cfg.AutoShrinkDisabled = true // no background rewrite during the runs
	if err := db.SetConfig(cfg); err != nil {
		return nil, err
	}
	return bunt{db}, createBuntIndexes(db)
}

func (b bunt) load(users, keys int, value []byte) error {
	const perTx = 5000
	v := string(value)
	for start := 0; start < users; start += perTx / keys {
		err := b.db.Update(func(tx *buntdb.Tx) error {
			for u := start; u < min(users, start+perTx/keys); u++ {
				for k := range keys {
					if _, _, err := tx.Set(account(u)+"\x00"+propKey(k), v, nil); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (b bunt) get(a, k string) error {
	return b.db.View(func(tx *buntdb.Tx) error {
		v, err := tx.Get(a + "\x00" + k)
		sink.Add(int64(len(v)))
		return err
	})
}

func (b bunt) set(a, k string, v []byte) error {
	return b.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(a+"\x00"+k, string(v), nil)
		return err
	})
}

func (b bunt) keys(a string) (int, error) {
	var keys []string
	prefix := a + "\x00"
	err := b.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendGreaterOrEqual("", prefix, func(key, _ string) bool {
			if !strings.HasPrefix(key, prefix) {
				return false
			}
			keys = append(keys, key[len(prefix):])
			return true
		})
	})
	sink.Add(int64(len(keys)))
	return len(keys), err
}

func (b bunt) close() error { return b.db.Close() }

// --- PostgreSQL --------------------------------------------------------------

type pgKV struct {
	s      *pgstore.Store
	base   string
	schema string
}

func openPostgres(base string) (kv, error) {
	ctx := context.Background()
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := pgstore.Open(ctx, u.String())
	if err != nil {
		return nil, err
	}
	return pgKV{s: s, base: base, schema: schema}, nil
}

// load sets every property from 64 goroutines: pgstore has no bulk path.
func (p pgKV) load(users, keys int, value []byte) error {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		wg.Go(func() {
			for u := w; u < users; u += 64 {
				for k := range keys {
					if _, err := p.s.Set(context.Background(), account(u), propKey(k), value); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (p pgKV) get(a, k string) error {
	_, err := p.s.Get(context.Background(), a, k)
	return err
}

func (p pgKV) set(a, k string, v []byte) error {
	_, err := p.s.Set(context.Background(), a, k, v)
	return err
}

func (p pgKV) keys(a string) (int, error) {
	ks, err := p.s.Keys(context.Background(), a)
	return len(ks), err
}

func (p pgKV) close() error {
	p.s.Close()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA "+p.schema+" CASCADE")
	return err
}
