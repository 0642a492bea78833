package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
)

// fakeClock is a RateLimits.Clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingStore counts the calls that reach the store.
type countingStore struct {
	userprops.Store
	calls atomic.Int64
}

func (s *countingStore) Set(ctx context.Context, a, k string, v []byte) (userprops.Status, error) {
	s.calls.Add(1)
	return s.Store.Set(ctx, a, k, v)
}

func (s *countingStore) Get(ctx context.Context, a, k string) (userprops.Property, error) {
	s.calls.Add(1)
	return s.Store.Get(ctx, a, k)
}

func (s *countingStore) Delete(ctx context.Context, a, k string) error {
	s.calls.Add(1)
	return s.Store.Delete(ctx, a, k)
}

func (s *countingStore) Keys(ctx context.Context, a string) ([]string, error) {
	s.calls.Add(1)
	return s.Store.Keys(ctx, a)
}

// limited is a handler behind a rate limiter on a fake clock, called in
// process so that each request can come from any address.
type limited struct {
	h       http.Handler
	clock   *fakeClock
	store   *countingStore
	limiter *httpapi.RateLimiter
}

func newLimited(t *testing.T, limits httpapi.RateLimits, opts ...httpapi.Option) *limited {
	t.Helper()
	accounts, err := httpapi.NewAccounts(testAccounts)
	require.NoError(t, err)
	mem := userprops.NewMemory(userprops.WithDirectory(accounts))
	t.Cleanup(func() { mem.Close() })
	l := &limited{clock: newFakeClock(), store: &countingStore{Store: mem}}
	limits.Clock = l.clock.Now
	l.limiter = httpapi.NewRateLimiter(limits)
	opts = append([]httpapi.Option{httpapi.WithLogger(slog.New(slog.DiscardHandler)), httpapi.WithRateLimiter(l.limiter)}, opts...)
	l.h = httpapi.New(l.store, accounts, opts...)
	return l
}

// get sends a GET of alice's key list (or anyone's, with c) from addr.
func (l *limited) get(c cred, addr string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", propPath("3", "", aliceID), nil)
	req.RemoteAddr = addr
	c(req)
	rec := httptest.NewRecorder()
	l.h.ServeHTTP(rec, req)
	return rec
}

// assertTooMany checks a 429 answer and returns its Retry-After.
func assertTooMany(t *testing.T, rec *httptest.ResponseRecorder, reason string) int {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q is not whole seconds", rec.Header().Get("Retry-After"))
	assert.GreaterOrEqual(t, secs, 1, "Retry-After")
	assert.Equal(t, reason, rec.Header().Get("RateLimit-Reason"))
	assert.NotEmpty(t, rec.Header().Get("X-RateLimit-Reset"))
	r := response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	assert.Contains(t, r.errorMessage(t), "Retry-After")
	return secs
}

func TestRateLimit_AccountBurst(t *testing.T) {
	l := newLimited(t, httpapi.RateLimits{Account: httpapi.Limit{PerSecond: 0.5, Burst: 5}})
	bob := basic("bob@example.com", bobToken)
	for i := range 5 {
		require.Equal(t, 200, l.get(alice, "192.0.2.1:1000").Code, "request %d of the burst", i+1)
	}
	before := l.store.calls.Load()
	secs := assertTooMany(t, l.get(alice, "192.0.2.1:1000"), "userprops-account")
	assert.Equal(t, 2, secs, "one token every 2 s")
	assertTooMany(t, l.get(alice, "198.51.100.7:1000"), "userprops-account") // another address: same account
	assert.Equal(t, before, l.store.calls.Load(), "a refused request reached the store")

	// Another account is still served, from the same address too.
	assert.Equal(t, 403, l.get(bob, "192.0.2.1:1000").Code, "bob is served (and may not read alice's keys)")

	// Retry-After is honest: after it, the next request goes through.
	l.clock.Advance(time.Duration(secs)*time.Second - time.Millisecond)
	assertTooMany(t, l.get(alice, "192.0.2.1:1000"), "userprops-account")
	l.clock.Advance(time.Millisecond)
	assert.Equal(t, 200, l.get(alice, "192.0.2.1:1000").Code, "refused after waiting the Retry-After given")
}

// The defaults let 100 concurrent requests of one account through (SPEC.md).
func TestRateLimit_DefaultsLetABurstThrough(t *testing.T) {
	limits := httpapi.DefaultRateLimits()
	l := newLimited(t, limits)
	var wg sync.WaitGroup
	codes := make([]int, 100)
	for i := range codes {
		wg.Go(func() { codes[i] = l.get(alice, "192.0.2.1:1000").Code })
	}
	wg.Wait()
	for i, c := range codes {
		assert.Equal(t, 200, c, "request %d", i)
	}
	// And over real connections and the real clock, as a client sends them.
	e := newEnv(t, httpapi.WithRateLimiter(httpapi.NewRateLimiter(httpapi.DefaultRateLimits())))
	for i := range codes {
		wg.Go(func() { codes[i] = e.do(t, alice, "GET", propPath("3", "", aliceID), nil).status })
	}
	wg.Wait()
	for i, c := range codes {
		assert.Equal(t, 200, c, "request %d over HTTP", i)
	}
}

func TestRateLimit_FailedLogins(t *testing.T) {
	l := newLimited(t, httpapi.RateLimits{
		Account:     httpapi.Limit{PerSecond: 100, Burst: 100},
		FailedLogin: httpapi.Limit{PerSecond: 0.1, Burst: 3},
	})
	const guesser, other = "203.0.113.9:4000", "203.0.113.10:4000"

	// Good credentials do not spend the failed-login allowance.
	for range 20 {
		require.Equal(t, 200, l.get(alice, guesser).Code)
	}
	for i := range 3 {
		require.Equal(t, 401, l.get(badToken, guesser).Code, "guess %d", i+1)
	}
	secs := assertTooMany(t, l.get(badToken, guesser), "userprops-failed-login")
	assert.Equal(t, 10, secs)
	assertTooMany(t, l.get(bearer("guessed-token-0123456789"), guesser), "userprops-failed-login")
	// While the address is throttled, no credentials from it are judged,
	// good ones included: else a right guess would still get through.
	assertTooMany(t, l.get(alice, guesser), "userprops-failed-login")
	// Alice from elsewhere is not affected; nor are requests without
	// credentials (they have their own limit, off here).
	assert.Equal(t, 200, l.get(alice, other).Code)
	assert.Equal(t, 401, l.get(nobody, guesser).Code)

	// The Retry-After given is how long the lockout lasts, and no longer.
	l.clock.Advance(time.Duration(secs) * time.Second)
	assert.Equal(t, 200, l.get(alice, guesser).Code, "good credentials locked out past the Retry-After")
	assert.Equal(t, 401, l.get(badToken, guesser).Code, "the good login left its token")
	assertTooMany(t, l.get(badToken, guesser), "userprops-failed-login")
}

func TestRateLimit_Anonymous(t *testing.T) {
	l := newLimited(t, httpapi.RateLimits{Address: httpapi.Limit{PerSecond: 1, Burst: 2}})
	for range 2 {
		require.Equal(t, 401, l.get(nobody, "192.0.2.1:1").Code)
	}
	assertTooMany(t, l.get(nobody, "192.0.2.1:1"), "userprops-address")
	assert.Equal(t, 401, l.get(nobody, "192.0.2.2:1").Code, "another address")
	assert.Equal(t, 200, l.get(alice, "192.0.2.1:1").Code, "credentials are counted by account")
	// IPv6 addresses count by their /64.
	for range 2 {
		require.Equal(t, 401, l.get(nobody, "[2001:db8:1:2::1]:1").Code)
	}
	assertTooMany(t, l.get(nobody, "[2001:db8:1:2:ffff::9]:1"), "userprops-address")
	assert.Equal(t, 401, l.get(nobody, "[2001:db8:1:3::1]:1").Code, "another /64")
}

// A flood of distinct addresses keeps at most MaxEntries buckets, and
// buckets idle long enough to be full again are dropped.
func TestRateLimit_MemoryBounded(t *testing.T) {
	limits := httpapi.DefaultRateLimits()
	l := newLimited(t, limits)
	const flood = 100_000

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	guess := bearer("guessed-token-0123456789") // one hash to check, not four
	for i := range flood {
		rec := l.get(guess, floodAddr(i))
		require.Equal(t, 401, rec.Code)
		if i%1000 == 0 {
			l.get(nobody, floodAddr(i))
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	assert.LessOrEqual(t, l.limiter.Entries(), 2*httpapi.DefaultMaxEntries, "buckets kept")
	assert.GreaterOrEqual(t, l.limiter.Entries(), httpapi.DefaultMaxEntries, "the flood filled the failed-login table")
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d distinct addresses: %d buckets, heap %+.1f MiB", flood, l.limiter.Entries(), float64(grown)/(1<<20))
	assert.Less(t, grown, int64(8<<20), "heap grew by %d bytes", grown)

	// The most recent addresses are still throttled: eviction drops the
	// least recently used.
	last := floodAddr(flood - 1)
	for range httpapi.DefaultFailedLoginBurst - 1 {
		require.Equal(t, 401, l.get(badToken, last).Code)
	}
	assertTooMany(t, l.get(badToken, last), "userprops-failed-login")

	// Once every bucket has had time to refill, the next request drops them.
	l.clock.Advance(time.Duration(httpapi.DefaultFailedLoginBurst/httpapi.DefaultFailedLoginRate) * time.Second)
	l.get(badToken, "192.0.2.1:1")
	l.get(nobody, "192.0.2.1:1")
	l.get(alice, "192.0.2.1:1")
	assert.Equal(t, 3, l.limiter.Entries(), "idle buckets kept")
}

// floodAddr returns the i-th address of a flood, as a RemoteAddr.
func floodAddr(i int) string {
	a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return netip.AddrPortFrom(a, 1).String()
}

// Concurrent requests on many keys, under -race: every answer is a 200, a
// 401 or a 429, and the buckets stay within bounds.
func TestRateLimit_Concurrent(t *testing.T) {
	l := newLimited(t, httpapi.RateLimits{
		Account:     httpapi.Limit{PerSecond: 1, Burst: 10},
		FailedLogin: httpapi.Limit{PerSecond: 1, Burst: 2},
		Address:     httpapi.Limit{PerSecond: 1, Burst: 2},
		MaxEntries:  50,
	})
	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				addr := fmt.Sprintf("192.0.2.%d:1", (g*500+i)%200)
				c := []cred{alice, badToken, nobody}[i%3]
				switch code := l.get(c, addr).Code; code {
				case 200:
					ok.Add(1)
				case 429:
					refused.Add(1)
				case 401:
				default:
					t.Errorf("status %d", code)
				}
				if i%100 == 0 {
					l.clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, l.limiter.Entries(), 1+2*50)
	assert.Positive(t, refused.Load())
	// alice had 10 at once and then one a second: 8 goroutines advanced
	// the clock 5 times each, 40 s.
	assert.LessOrEqual(t, ok.Load(), int64(10+40+1))
}

// Without a limiter nothing is refused, and the handler authenticates
// once either way (the limiter hands its outcome on).
func TestRateLimit_Off(t *testing.T) {
	l := newLimited(t, httpapi.RateLimits{})
	for range 1000 {
		require.Equal(t, 401, l.get(badToken, "192.0.2.1:1").Code)
	}
	assert.Equal(t, 0, l.limiter.Entries())
	var calls atomic.Int64
	auth := httpapi.AuthenticatorFunc(func(r *http.Request) (userprops.Actor, error) {
		calls.Add(1)
		return userprops.Actor{AccountID: aliceID}, nil
	})
	h := httpapi.New(userprops.NewMemory(), auth, httpapi.WithLogger(slog.New(slog.DiscardHandler)),
		httpapi.WithRateLimiter(httpapi.NewRateLimiter(httpapi.DefaultRateLimits())))
	req := httptest.NewRequest("GET", propPath("3", "", aliceID), nil)
	alice(req)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, int64(1), calls.Load(), "authentications of one request")
	assert.True(t, strings.HasPrefix(rec.Body.String(), `{"keys":[]`), rec.Body.String())
}
