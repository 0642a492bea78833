package userprops_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/storetest"
)

// mapStore is the smallest backend a third party could write: a map under
// one lock, with every rule left to a Gate. That it passes the conformance
// suite shows that the Gate is all a backend needs for Jira's rules.
type mapStore struct {
	gate  *userprops.Gate
	mu    sync.Mutex
	props map[[2]string]userprops.Property
}

var _ userprops.Store = (*mapStore)(nil)

func (m *mapStore) Set(ctx context.Context, accountID, key string, value []byte) (userprops.Status, error) {
	if err := m.gate.AdmitSet(ctx, accountID, key, value); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.props[[2]string{accountID, key}]
	status := userprops.Updated
	if !ok {
		status, p = userprops.Created, userprops.Property{AccountID: accountID, Key: key}
	}
	p.Value, p.Version, p.UpdatedAt = slices.Clone(value), p.Version+1, m.gate.Now()
	m.props[[2]string{accountID, key}] = p
	return status, nil
}

func (m *mapStore) Get(ctx context.Context, accountID, key string) (userprops.Property, error) {
	if err := m.gate.AdmitGet(ctx, accountID, key); err != nil {
		return userprops.Property{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.props[[2]string{accountID, key}]
	if !ok {
		return userprops.Property{}, userprops.NotFound(accountID, key)
	}
	p.Value = slices.Clone(p.Value)
	return p, nil
}

func (m *mapStore) Delete(ctx context.Context, accountID, key string) error {
	if err := m.gate.AdmitDelete(ctx, accountID, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.props[[2]string{accountID, key}]; !ok {
		return userprops.NotFound(accountID, key)
	}
	delete(m.props, [2]string{accountID, key})
	return nil
}

func (m *mapStore) Keys(ctx context.Context, accountID string) ([]string, error) {
	if err := m.gate.AdmitKeys(ctx, accountID); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := []string{}
	for ref := range m.props {
		if ref[0] == accountID {
			keys = append(keys, ref[1])
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (m *mapStore) Close() error {
	m.gate.MarkClosed()
	return nil
}

func TestGate_ThirdPartyBackend(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts ...userprops.Option) userprops.Store {
		return &mapStore{gate: userprops.NewGate(opts...), props: map[[2]string]userprops.Property{}}
	})
}
