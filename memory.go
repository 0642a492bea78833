package userprops

import (
	"context"
	"hash/maphash"
	"slices"
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
	gate   *Gate
	seed   maphash.Seed
	shards [memShardCount]memShard
}

var _ Store = (*MemoryStore)(nil)

// memShard holds the properties of the accounts that hash to it.
type memShard struct {
	mu sync.RWMutex
	// props holds every property of the shard by (account, key).
	props map[memKey]memRecord
	// keys indexes props by account, for Keys; an account with no
	// properties has no entry.
	keys map[string]map[string]struct{}
	// Padding keeps neighbouring shards' locks off one cache line.
	_ [64]byte
}

type memKey struct{ accountID, key string }

type memRecord struct {
	value     []byte // owned by the store, never handed out
	version   uint64
	updatedAt time.Time
}

// NewMemory returns an empty MemoryStore. It accepts WithDirectory and
// WithClock; other options have no effect.
func NewMemory(opts ...Option) *MemoryStore {
	s := &MemoryStore{gate: NewGate(opts...), seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].props = make(map[memKey]memRecord)
		s.shards[i].keys = make(map[string]map[string]struct{})
	}
	return s
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
	rec := memRecord{value: slices.Clone(value), version: 1, updatedAt: s.gate.Now()}
	k := memKey{accountID, key}
	sh := s.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.gate.Closed() {
		return 0, ErrClosed
	}
	status := Created
	if old, ok := sh.props[k]; ok {
		status = Updated
		rec.version = old.version + 1
	} else {
		keys := sh.keys[accountID]
		if keys == nil {
			keys = make(map[string]struct{})
			sh.keys[accountID] = keys
		}
		keys[key] = struct{}{}
	}
	sh.props[k] = rec
	return status, nil
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
		UpdatedAt: rec.updatedAt,
	}, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(ctx context.Context, accountID, key string) error {
	if err := s.gate.AdmitDelete(ctx, accountID, key); err != nil {
		return err
	}
	k := memKey{accountID, key}
	sh := s.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.gate.Closed() {
		return ErrClosed
	}
	if _, ok := sh.props[k]; !ok {
		return NotFound(accountID, key)
	}
	delete(sh.props, k)
	keys := sh.keys[accountID]
	delete(keys, key)
	if len(keys) == 0 {
		delete(sh.keys, accountID)
	}
	return nil
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
	set := sh.keys[accountID]
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sh.mu.RUnlock()
	slices.Sort(keys)
	return keys, nil
}

// Close implements Store: it drops every property, after the calls in flight
// have finished.
func (s *MemoryStore) Close() error {
	if !s.gate.MarkClosed() {
		return nil
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.props, sh.keys = nil, nil
		sh.mu.Unlock()
	}
	return nil
}
