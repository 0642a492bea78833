// Package storetest is the conformance suite for userprops.Store
// implementations: every rule of the package documentation, run as named
// subtests on fresh stores.
//
// A backend proves itself with one call in its tests:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, opts ...userprops.Option) userprops.Store {
//			s, err := mystore.Open(t.TempDir(), opts...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// A backend that does more than the Store contract says so in a Harness and
// runs RunHarness; the suite asks the harness what the backend does and
// checks that too (a durable backend: that every acknowledged change
// survives a reopen).
package storetest

import (
	"context"
	"encoding/json"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// Opener returns a new, empty store configured with opts. The suite accepts
// every option of the userprops package and relies on WithDirectory,
// WithClock and WithAccountLimits. It closes every store it opens.
type Opener func(t *testing.T, opts ...userprops.Option) userprops.Store

// Harness is what the suite knows of the backend under test: how to open a
// store and what the backend does beyond the Store contract. A capability
// left at its zero value is not claimed, and the tests that need it are
// skipped, saying which field would enable them.
type Harness struct {
	// Open returns a new, empty store (required).
	Open Opener

	// Reopen, for a durable backend, returns a store over the same data as
	// st, which the suite has closed, opened with opts. The suite then
	// checks that everything acknowledged before Close is there after,
	// exactly. Leave it nil for a backend that keeps nothing across Close.
	Reopen func(t *testing.T, st userprops.Store, opts ...userprops.Option) userprops.Store

	// Skip names the subtests that cannot hold for the backend, by their
	// path below the suite as t.Name() spells it ("Directory/Error"), each
	// with the reason, which the skip message gives. Such a subtest is
	// skipped when it opens its first store; a name that matches no
	// subtest fails the suite (when go test runs every test: no -run or
	// -skip), so that a renamed subtest is not skipped
	// unseen. Leave it empty: it is for a backend that cannot pass a
	// subtest by its nature (a client whose server's directory errors
	// reach it only as an HTTP 500), never for a failing one.
	Skip map[string]string
}

// Run runs the conformance suite against the stores open returns, claiming
// nothing beyond the Store contract: RunHarness(t, Harness{Open: open}).
func Run(t *testing.T, open Opener) {
	RunHarness(t, Harness{Open: open})
}

// RunHarness runs the conformance suite against the backend h describes.
func RunHarness(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is required")
	}
	s := suite{open: h.Open, h: h}
	if len(h.Skip) > 0 {
		root := t.Name() + "/"
		seen := map[string]bool{}
		var mu sync.Mutex
		s.open = func(t *testing.T, opts ...userprops.Option) userprops.Store {
			t.Helper()
			name := strings.TrimPrefix(t.Name(), root)
			if reason, ok := h.Skip[name]; ok {
				mu.Lock()
				seen[name] = true
				mu.Unlock()
				t.Skipf("storetest: Harness.Skip: %s", reason)
			}
			return h.Open(t, opts...)
		}
		t.Cleanup(func() {
			if filtered() {
				return // -run or -skip may have left the subtest out
			}
			for name := range h.Skip {
				if !seen[name] {
					t.Errorf("storetest: Harness.Skip names %q, which opened no store: no such subtest", name)
				}
			}
		})
	}
	t.Run("Set", s.testSet)
	t.Run("Get", s.testGet)
	t.Run("Delete", s.testDelete)
	t.Run("Keys", s.testKeys)
	t.Run("DeleteAccount", s.testDeleteAccount)
	t.Run("Validation", s.testValidation)
	t.Run("Aliasing", s.testAliasing)
	t.Run("Context", s.testContext)
	t.Run("Close", s.testClose)
	t.Run("Durable", s.testDurable)
	t.Run("Directory", s.testDirectory)
	t.Run("Limits", s.testLimits)
	t.Run("Concurrency", s.testConcurrency)
	t.Run("ForActor", s.testForActor)
	t.Run("Find", s.testFind)
	t.Run("Scan", s.testScan)
	t.Run("Linearizable", s.testLinearizable)
}

type suite struct {
	open Opener
	h    Harness
}

// filtered reports whether go test was given -run or -skip, so that some
// subtests may not run.
func filtered() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}

// fresh opens a new store that is closed when the test ends.
func (s suite) fresh(t *testing.T, opts ...userprops.Option) userprops.Store {
	t.Helper()
	st := s.open(t, opts...)
	require.NotNil(t, st, "open returned a nil store")
	t.Cleanup(func() { assert.NoError(t, st.Close(), "Close") })
	return st
}

// set stores value and requires the given status.
func set(t *testing.T, st userprops.Store, accountID, key, value string, want userprops.Status) {
	t.Helper()
	got, err := st.Set(context.Background(), accountID, key, []byte(value))
	require.NoError(t, err, "Set(%q, %q, %q)", accountID, key, value)
	require.Equal(t, want, got, "Set(%q, %q, %q) status", accountID, key, value)
}

// get returns the property, requiring it to exist.
func get(t *testing.T, st userprops.Store, accountID, key string) userprops.Property {
	t.Helper()
	p, err := st.Get(context.Background(), accountID, key)
	require.NoError(t, err, "Get(%q, %q)", accountID, key)
	return p
}

func keys(t *testing.T, st userprops.Store, accountID string) []string {
	t.Helper()
	ks, err := st.Keys(context.Background(), accountID)
	require.NoError(t, err, "Keys(%q)", accountID)
	return ks
}

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// jsonString returns s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	return string(b)
}

func countOf[T comparable](s []T, v T) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
