package userprops_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

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
	// The account's usage, counted under the lock that serialises writes.
	var before userprops.Usage
	for ref, q := range m.props {
		if ref[0] == accountID {
			before.Properties++
			before.Bytes += userprops.PropertyBytes(q.Key, q.Value)
		}
	}
	after := before
	after.Bytes += userprops.PropertyBytes(key, value)
	if ok {
		after.Bytes -= userprops.PropertyBytes(key, p.Value)
	} else {
		after.Properties++
	}
	if err := m.gate.CheckUsage(accountID, before, after); err != nil {
		return 0, err
	}
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

func (m *mapStore) DeleteAccount(ctx context.Context, accountID string) (int, error) {
	if err := m.gate.AdmitDeleteAccount(ctx, accountID); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for ref := range m.props {
		if ref[0] == accountID {
			delete(m.props, ref)
			n++
		}
	}
	return n, nil
}

// Find answers from the map under its lock, through Evaluate, with no
// index: every clause scans.
func (m *mapStore) Find(ctx context.Context, q userprops.Query, page userprops.Page) (userprops.Found, error) {
	page, err := m.gate.AdmitFind(ctx, q, page)
	if err != nil {
		return userprops.Found{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return userprops.Evaluate(ctx, mapView{m}, q, page)
}

// mapView is the FindView of a mapStore whose lock is held.
type mapView struct{ m *mapStore }

func (mapView) Indexed(userprops.Index) bool { return false }

func (mapView) Lookup(context.Context, userprops.Index, string) ([]string, error) {
	panic("mapView keeps no index")
}

func (v mapView) Scan(_ context.Context, key string, fn func(string, []byte) bool) error {
	for ref, p := range v.m.props {
		if ref[1] == key && !fn(ref[0], p.Value) {
			break
		}
	}
	return nil
}

func (v mapView) Value(_ context.Context, accountID, key string) ([]byte, bool, error) {
	p, ok := v.m.props[[2]string{accountID, key}]
	return p.Value, ok, nil
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

func TestGate_CheckUsage(t *testing.T) {
	under := userprops.Usage{Properties: 2, Bytes: 100}
	for _, c := range []struct {
		name          string
		opts          []userprops.Option
		before, after userprops.Usage
		want          string // "" for nil, else the message's figures
	}{
		{"default, last property", nil,
			userprops.Usage{Properties: userprops.DefaultMaxProperties - 1}, userprops.Usage{Properties: userprops.DefaultMaxProperties}, ""},
		{"default, one property too many", nil,
			userprops.Usage{Properties: userprops.DefaultMaxProperties}, userprops.Usage{Properties: userprops.DefaultMaxProperties + 1},
			"would hold 1001 properties, more than the limit of 1000"},
		{"default, last byte", nil,
			userprops.Usage{Properties: 1, Bytes: 10}, userprops.Usage{Properties: 1, Bytes: userprops.DefaultMaxBytes}, ""},
		{"default, one byte too many", nil,
			userprops.Usage{Properties: 1, Bytes: 10}, userprops.Usage{Properties: 1, Bytes: userprops.DefaultMaxBytes + 1},
			"would hold 4194305 bytes of keys and values, more than the limit of 4194304"},
		{"set limits", []userprops.Option{userprops.WithAccountLimits(2, 100)}, userprops.Usage{}, under, ""},
		{"set limits, properties", []userprops.Option{userprops.WithAccountLimits(2, 100)},
			under, userprops.Usage{Properties: 3, Bytes: 100}, "would hold 3 properties, more than the limit of 2"},
		{"set limits, bytes", []userprops.Option{userprops.WithAccountLimits(2, 100)},
			under, userprops.Usage{Properties: 2, Bytes: 101}, "would hold 101 bytes of keys and values, more than the limit of 100"},
		{"above the limits, shrinking", []userprops.Option{userprops.WithAccountLimits(2, 100)},
			userprops.Usage{Properties: 5, Bytes: 500}, userprops.Usage{Properties: 5, Bytes: 499}, ""},
		{"above the limits, same size", []userprops.Option{userprops.WithAccountLimits(2, 100)},
			userprops.Usage{Properties: 5, Bytes: 500}, userprops.Usage{Properties: 5, Bytes: 500}, ""},
		{"above the limits, one property less", []userprops.Option{userprops.WithAccountLimits(2, 100)},
			userprops.Usage{Properties: 5, Bytes: 500}, userprops.Usage{Properties: 4, Bytes: 400}, ""},
		{"above the limits, growing", []userprops.Option{userprops.WithAccountLimits(2, 100)},
			userprops.Usage{Properties: 5, Bytes: 500}, userprops.Usage{Properties: 5, Bytes: 501}, "would hold 501 bytes"},
		{"no limits", []userprops.Option{userprops.WithAccountLimits(0, 0)},
			userprops.Usage{Properties: 1 << 40, Bytes: 1 << 50}, userprops.Usage{Properties: 1<<40 + 1, Bytes: 1<<50 + 1}, ""},
		{"negative is no limit", []userprops.Option{userprops.WithAccountLimits(-1, -1)},
			userprops.Usage{}, userprops.Usage{Properties: 1 << 40, Bytes: 1 << 50}, ""},
		{"no property limit", []userprops.Option{userprops.WithAccountLimits(0, 100)},
			userprops.Usage{}, userprops.Usage{Properties: 5000, Bytes: 100}, ""},
		{"no byte limit", []userprops.Option{userprops.WithAccountLimits(2, 0)},
			userprops.Usage{}, userprops.Usage{Properties: 2, Bytes: 1 << 50}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := userprops.NewGate(c.opts...).CheckUsage("acc", c.before, c.after)
			if c.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, userprops.ErrAccountFull)
			assert.ErrorContains(t, err, `account "acc" `+c.want)
		})
	}
}
