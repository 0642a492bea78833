package userprops

import (
	"context"
	"hash/maphash"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// memShardCount is the number of independently locked parts of a MemoryStore;
// an account's properties all live in one shard, chosen by a hash of its ID.
const memShardCount = 64

// MemoryStore is a Store that keeps properties in memory. It follows the same
// rules as every other Store, to the letter, and loses everything when the
// process ends or the store is closed.
//
// It is safe for concurrent use by multiple goroutines. Accounts are spread
// over independently locked shards, so calls for different accounts rarely
// wait for each other, and reads of one shard run in parallel.
type MemoryStore struct {
	gate    *Gate
	seed    maphash.Seed
	indexes []Index
	history memHistory
	signal  Signal
	shards  [memShardCount]memShard
}

var (
	_ Store   = (*MemoryStore)(nil)
	_ Scanner = (*MemoryStore)(nil)
)

// memShard holds the properties of the accounts that hash to it.
type memShard struct {
	mu sync.RWMutex
	// props holds every property of the shard by (account, key).
	props map[memKey]memRecord
	// accounts indexes props by account, for Keys, and holds each
	// account's usage, for the account limits; an account with no
	// properties has no entry.
	accounts map[string]*memAccount
	// terms holds the entries of each declared index for the shard's
	// accounts: index, term, accounts.
	terms map[Index]map[string]map[string]struct{}
	// Padding keeps neighbouring shards' locks off one cache line.
	_ [64]byte
}

type memKey struct{ accountID, key string }

// memAccount is what a shard knows of one account with properties.
type memAccount struct {
	keys  map[string]struct{}
	usage Usage
}

type memRecord struct {
	value     []byte // owned by the store, never handed out
	version   uint64
	revision  uint64
	updatedAt time.Time
}

// NewMemory returns an empty MemoryStore. It accepts WithDirectory,
// WithClock, WithAccountLimits and WithIndex (inverted maps, kept with every
// write); other options have no effect.
func NewMemory(opts ...Option) *MemoryStore {
	s := &MemoryStore{gate: NewGate(opts...), seed: maphash.MakeSeed()}
	s.indexes = s.gate.Indexes()
	s.history.maxChanges, s.history.maxAge = s.gate.History()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.props = make(map[memKey]memRecord)
		sh.accounts = make(map[string]*memAccount)
		sh.terms = make(map[Index]map[string]map[string]struct{})
		for _, ix := range s.indexes {
			sh.terms[ix] = make(map[string]map[string]struct{})
		}
	}
	return s
}

// reindex moves accountID's entries in the indexes on key from the terms
// of old to those of value (nil for none). The caller holds sh.mu.
func (s *MemoryStore) reindex(sh *memShard, accountID, key string, old, value []byte) {
	for _, ix := range s.indexes {
		if ix.Key != key {
			continue
		}
		m := sh.terms[ix]
		if old != nil {
			for _, t := range ix.Terms(old) {
				delete(m[t], accountID)
				if len(m[t]) == 0 {
					delete(m, t)
				}
			}
		}
		if value != nil {
			for _, t := range ix.Terms(value) {
				if m[t] == nil {
					m[t] = make(map[string]struct{})
				}
				m[t][accountID] = struct{}{}
			}
		}
	}
}

func (s *MemoryStore) shard(accountID string) *memShard {
	return &s.shards[maphash.String(s.seed, accountID)%memShardCount]
}

// Set implements Store. The change is visible to every later call as soon as
// Set returns; it is not durable.
func (s *MemoryStore) Set(ctx context.Context, accountID, key string, value []byte) (Status, error) {
	if err := s.gate.AdmitSet(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	status, _, err := s.set(accountID, key, value, nil)
	return status, err
}

// SetIf implements Store, under the account's shard lock.
func (s *MemoryStore) SetIf(ctx context.Context, accountID, key string, value []byte, revision uint64) (uint64, error) {
	if err := s.gate.AdmitSetIf(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	_, rev, err := s.set(accountID, key, value, &revision)
	return rev, err
}

// set stores a property after its admission, if the property is at
// revision *cond (when cond is not nil), and returns its status and new
// revision.
func (s *MemoryStore) set(accountID, key string, value []byte, cond *uint64) (Status, uint64, error) {
	rec := memRecord{value: slices.Clone(value), version: 1, updatedAt: s.gate.Now()}
	k := memKey{accountID, key}
	sh := s.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.gate.Closed() {
		return 0, 0, ErrClosed
	}
	old, exists := sh.props[k]
	if cond != nil {
		if err := CheckRevision(accountID, key, old.revision, *cond); err != nil {
			return 0, 0, err
		}
	}
	// The account's usage is counted under the shard's lock, so that
	// concurrent Sets on one account pass its limits one after another.
	acc := sh.accounts[accountID]
	var before Usage
	if acc != nil {
		before = acc.usage
	}
	oldBytes := NoProperty
	if exists {
		oldBytes = PropertyBytes(key, old.value)
	}
	after := before.Change(oldBytes, PropertyBytes(key, value))
	if err := s.gate.CheckUsage(accountID, before, after); err != nil {
		return 0, 0, err
	}
	status := Created
	if exists {
		status = Updated
		rec.version = old.version + 1
	} else {
		if acc == nil {
			acc = &memAccount{keys: make(map[string]struct{})}
			sh.accounts[accountID] = acc
		}
		acc.keys[key] = struct{}{}
	}
	acc.usage = after
	rec.revision = s.history.append(Change{AccountID: accountID, Key: key, Value: rec.value}, rec.updatedAt)
	sh.props[k] = rec
	s.reindex(sh, accountID, key, old.value, rec.value)
	s.signal.Notify()
	return status, rec.revision, nil
}

// Get implements Store.
func (s *MemoryStore) Get(ctx context.Context, accountID, key string) (Property, error) {
	if err := s.gate.AdmitGet(ctx, accountID, key); err != nil {
		return Property{}, err
	}
	sh := s.shard(accountID)
	sh.mu.RLock()
	if s.gate.Closed() {
		sh.mu.RUnlock()
		return Property{}, ErrClosed
	}
	rec, ok := sh.props[memKey{accountID, key}]
	if !ok {
		sh.mu.RUnlock()
		return Property{}, NotFound(accountID, key)
	}
	// Records are replaced, never modified in place, so rec.value may be
	// copied after the lock is released.
	sh.mu.RUnlock()
	return Property{
		AccountID: accountID,
		Key:       key,
		Value:     slices.Clone(rec.value),
		Version:   rec.version,
		Revision:  rec.revision,
		UpdatedAt: rec.updatedAt,
	}, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(ctx context.Context, accountID, key string) error {
	if err := s.gate.AdmitDelete(ctx, accountID, key); err != nil {
		return err
	}
	return s.delete(accountID, key, nil)
}

// DeleteIf implements Store, under the account's shard lock.
func (s *MemoryStore) DeleteIf(ctx context.Context, accountID, key string, revision uint64) error {
	if err := s.gate.AdmitDeleteIf(ctx, accountID, key); err != nil {
		return err
	}
	return s.delete(accountID, key, &revision)
}

// delete removes a property after its admission, if it is at revision
// *cond (when cond is not nil).
func (s *MemoryStore) delete(accountID, key string, cond *uint64) error {
	k := memKey{accountID, key}
	sh := s.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.gate.Closed() {
		return ErrClosed
	}
	old, ok := sh.props[k]
	if cond != nil && (ok || *cond != 0) {
		if err := CheckRevision(accountID, key, old.revision, *cond); err != nil {
			return err
		}
	}
	if !ok {
		return NotFound(accountID, key)
	}
	s.remove(sh, accountID, key, old)
	s.signal.Notify()
	return nil
}

// remove deletes the existing property (accountID, key), whose record is
// old, with its index entries and usage, and records the change. The
// caller holds sh.mu.
func (s *MemoryStore) remove(sh *memShard, accountID, key string, old memRecord) {
	delete(sh.props, memKey{accountID, key})
	s.reindex(sh, accountID, key, old.value, nil)
	acc := sh.accounts[accountID]
	delete(acc.keys, key)
	acc.usage = acc.usage.Change(PropertyBytes(key, old.value), NoProperty)
	if len(acc.keys) == 0 {
		delete(sh.accounts, accountID)
	}
	s.history.append(Change{AccountID: accountID, Key: key, Deleted: true}, s.gate.Now())
}

// DeleteAccount implements Store, under the account's shard lock. Each
// property deleted is one change, in the byte order of the keys.
func (s *MemoryStore) DeleteAccount(ctx context.Context, accountID string) (int, error) {
	if err := s.gate.AdmitDeleteAccount(ctx, accountID); err != nil {
		return 0, err
	}
	sh := s.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.gate.Closed() {
		return 0, ErrClosed
	}
	acc := sh.accounts[accountID]
	if acc == nil {
		return 0, nil
	}
	keys := slices.Sorted(maps.Keys(acc.keys))
	for _, key := range keys {
		s.remove(sh, accountID, key, sh.props[memKey{accountID, key}])
	}
	s.signal.Notify()
	return len(keys), nil
}

// Keys implements Store.
func (s *MemoryStore) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := s.gate.AdmitKeys(ctx, accountID); err != nil {
		return nil, err
	}
	sh := s.shard(accountID)
	sh.mu.RLock()
	if s.gate.Closed() {
		sh.mu.RUnlock()
		return nil, ErrClosed
	}
	keys := []string{}
	if acc := sh.accounts[accountID]; acc != nil {
		keys = make([]string, 0, len(acc.keys))
		for k := range acc.keys {
			keys = append(keys, k)
		}
	}
	sh.mu.RUnlock()
	slices.Sort(keys)
	return keys, nil
}

// Watch implements Store, from the history the store keeps in memory
// (WithHistory).
func (s *MemoryStore) Watch(ctx context.Context, accountID string, after uint64) iter.Seq2[Change, error] {
	if err := s.gate.AdmitWatch(ctx, accountID); err != nil {
		return func(yield func(Change, error) bool) { yield(Change{}, err) }
	}
	return WatchHistory(ctx, s.gate, &s.history, &s.signal, accountID, after)
}

// Find implements Store. It holds every shard's read lock while it
// answers, so writes wait for it.
func (s *MemoryStore) Find(ctx context.Context, q Query, page Page) (Found, error) {
	page, err := s.gate.AdmitFind(ctx, q, page)
	if err != nil {
		return Found{}, err
	}
	for i := range s.shards {
		s.shards[i].mu.RLock()
	}
	defer func() {
		for i := range s.shards {
			s.shards[i].mu.RUnlock()
		}
	}()
	if s.gate.Closed() {
		return Found{}, ErrClosed
	}
	return Evaluate(ctx, memView{s}, q, page)
}

// memView is the FindView of a MemoryStore whose shards are all read-locked.
type memView struct{ s *MemoryStore }

func (v memView) Indexed(ix Index) bool {
	_, ok := v.s.shards[0].terms[ix]
	return ok
}

func (v memView) Lookup(_ context.Context, ix Index, term string) ([]string, error) {
	var ids []string
	for i := range v.s.shards {
		for id := range v.s.shards[i].terms[ix][term] {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (v memView) Scan(ctx context.Context, key string, fn func(accountID string, value []byte) bool) error {
	for i := range v.s.shards {
		if err := ctx.Err(); err != nil {
			return err
		}
		sh := &v.s.shards[i]
		for id, acc := range sh.accounts {
			if _, ok := acc.keys[key]; !ok {
				continue
			}
			if !fn(id, sh.props[memKey{id, key}].value) {
				return nil
			}
		}
	}
	return nil
}

func (v memView) Value(_ context.Context, accountID, key string) ([]byte, bool, error) {
	rec, ok := v.s.shard(accountID).props[memKey{accountID, key}]
	return rec.value, ok, nil
}

// ForEach implements Scanner. It takes its snapshot under every shard's read
// lock, then sorts it and calls fn with no lock held, so fn may call the
// store, writes included. The snapshot shares the values, which are never
// modified in place, and costs memory in proportion to the number of
// properties, not to their size.
func (s *MemoryStore) ForEach(ctx context.Context, fn func(Property) error) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	type entry struct {
		memKey
		rec memRecord
	}
	var all []entry
	for i := range s.shards {
		s.shards[i].mu.RLock()
	}
	closed := s.gate.Closed()
	if !closed {
		for i := range s.shards {
			for k, rec := range s.shards[i].props {
				all = append(all, entry{k, rec})
			}
		}
	}
	for i := range s.shards {
		s.shards[i].mu.RUnlock()
	}
	if closed {
		return ErrClosed
	}
	slices.SortFunc(all, func(a, b entry) int {
		if c := strings.Compare(a.accountID, b.accountID); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	for i, e := range all {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		err := fn(Property{AccountID: e.accountID, Key: e.key, Value: slices.Clone(e.rec.value),
			Version: e.rec.version, Revision: e.rec.revision, UpdatedAt: e.rec.updatedAt})
		if err != nil {
			return err
		}
	}
	return nil
}

// Close implements Store: it drops every property, after the calls in flight
// have finished.
func (s *MemoryStore) Close() error {
	if !s.gate.MarkClosed() {
		return nil
	}
	s.signal.Close()
	s.history.clear()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.props, sh.accounts, sh.terms = nil, nil, nil
		sh.mu.Unlock()
	}
	return nil
}
