package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/userprops/userprops"
)

// Limit is one token bucket: PerSecond requests a second on average, with
// bursts of up to Burst requests at once. A PerSecond of 0 or less turns
// the limit off; a Burst below 1 counts as 1.
type Limit struct {
	PerSecond float64
	Burst     int
}

// RateLimits configures a RateLimiter (see NewRateLimiter).
type RateLimits struct {
	// Account limits the requests of each authenticated account.
	Account Limit
	// Address limits the requests without credentials from each client
	// address.
	Address Limit
	// FailedLogin limits the requests whose credentials are refused, from
	// each client address. It should be the strictest: it is what makes
	// guessing API tokens cost time.
	FailedLogin Limit
	// MaxEntries bounds how many buckets each of the three limits keeps
	// (0 or less: DefaultMaxEntries). See RateLimiter.
	MaxEntries int
	// Clock, if not nil, replaces time.Now (for tests).
	Clock func() time.Time
}

// The defaults of DefaultRateLimits.
const (
	// DefaultAccountRate and DefaultAccountBurst: an account may send 100
	// requests a second, and 200 at once, so that 100 concurrent requests
	// of one account all succeed.
	DefaultAccountRate  = 100
	DefaultAccountBurst = 200
	// DefaultAddressRate and DefaultAddressBurst: requests without
	// credentials, from one address.
	DefaultAddressRate  = 10
	DefaultAddressBurst = 50
	// DefaultFailedLoginRate and DefaultFailedLoginBurst: refused
	// credentials from one address, ten at once, then one every 5 seconds.
	DefaultFailedLoginRate  = 0.2
	DefaultFailedLoginBurst = 10
	// DefaultMaxEntries is how many buckets each limit keeps at most, about
	// 150 bytes each.
	DefaultMaxEntries = 16384
)

// DefaultRateLimits returns the limits that userprops serve applies unless
// told otherwise: the Default… constants.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Account:     Limit{PerSecond: DefaultAccountRate, Burst: DefaultAccountBurst},
		Address:     Limit{PerSecond: DefaultAddressRate, Burst: DefaultAddressBurst},
		FailedLogin: Limit{PerSecond: DefaultFailedLoginRate, Burst: DefaultFailedLoginBurst},
		MaxEntries:  DefaultMaxEntries,
	}
}

// RateLimiter keeps the token buckets of RateLimits: one per authenticated
// account, and two per client address, for requests without credentials
// and for refused credentials. Pass it to New with WithRateLimiter; it is
// safe for concurrent use, and one RateLimiter may serve several handlers,
// which then share its buckets. Its buckets are its own code, not
// golang.org/x/time/rate: a refused login must be charged after the check
// it passed (x/time/rate can only return a token, and then only at the
// time it was taken), and each bucket is read and charged under one lock
// with a clock that never goes back, which counts concurrent requests
// exactly.
//
// Memory is bounded: a bucket that has refilled is as good as a new one
// and is dropped, and each limit keeps at most MaxEntries buckets,
// dropping the least recently used one to make room, so a flood of
// distinct addresses costs no more than MaxEntries buckets a limit (a
// dropped bucket that was not yet full starts again full). Checking
// credentials makes no bucket; only refusing them does. IPv6 addresses
// count by their /64 prefix, the smallest block a site is given, so one
// client cannot multiply its allowance by changing the low bits of its
// address.
type RateLimiter struct {
	now                 func() time.Time
	account             *buckets[string]
	address, failedAuth *buckets[netip.Addr]
}

// NewRateLimiter returns a RateLimiter applying limits.
func NewRateLimiter(limits RateLimits) *RateLimiter {
	maxEntries := limits.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	l := &RateLimiter{
		now:        limits.Clock,
		account:    newBuckets[string](limits.Account, maxEntries),
		address:    newBuckets[netip.Addr](limits.Address, maxEntries),
		failedAuth: newBuckets[netip.Addr](limits.FailedLogin, maxEntries),
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Entries returns how many buckets the limiter holds, all limits together.
func (l *RateLimiter) Entries() int {
	return l.account.len() + l.address.len() + l.failedAuth.len()
}

// Why a request was refused: the value of the RateLimit-Reason header, as
// Jira Cloud names the limit that refused a request there.
const (
	reasonAccount     = "userprops-account"
	reasonAddress     = "userprops-address"
	reasonFailedLogin = "userprops-failed-login"
)

// refusal says why and for how long a request is refused; the zero value
// admits it.
type refusal struct {
	wait   time.Duration
	reason string
	at     time.Time
}

func (r refusal) refused() bool { return r.reason != "" }

// refuse returns the refusal for reason when wait is positive, else none.
func refuse(wait time.Duration, reason string, now time.Time) refusal {
	if wait <= 0 {
		return refusal{}
	}
	return refusal{wait, reason, now}
}

// admitAnonymous takes a token of the address bucket of a request without
// credentials.
func (l *RateLimiter) admitAnonymous(addr netip.Addr, now time.Time) refusal {
	return refuse(l.address.take(addressKey(addr), now), reasonAddress, now)
}

// admitAccount takes a token of an authenticated account's bucket.
func (l *RateLimiter) admitAccount(accountID string, now time.Time) refusal {
	return refuse(l.account.take(accountID, now), reasonAccount, now)
}

// admitLogin is asked before the credentials of a request from addr are
// checked: while addr's failed-login bucket is empty, no credentials from
// it are checked at all, else a refused guess would cost nothing but a 429
// and a right one would still get through. It takes no token: good
// credentials cost none, and so any number of them may be checked at once.
func (l *RateLimiter) admitLogin(addr netip.Addr, now time.Time) refusal {
	return refuse(l.failedAuth.wait(addressKey(addr), now), reasonFailedLogin, now)
}

// loginFailed takes a token of addr's failed-login bucket, for credentials
// that were refused. The bucket may go below empty when several guesses
// were checked at once: each one refused costs its time all the same.
func (l *RateLimiter) loginFailed(addr netip.Addr, now time.Time) {
	l.failedAuth.charge(addressKey(addr), now)
}

// addressKey is the bucket key of a client address: the address itself for
// IPv4 (also when written as IPv4-mapped IPv6), its /64 prefix for IPv6.
// Requests whose address is unknown share the key of the zero Addr.
func addressKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64) // cannot fail for an IPv6 address
		return p.Addr()
	}
	return a
}

// retryAfter is the Retry-After of a refusal: its wait in whole seconds,
// rounded up, at least 1, so that a client that waits that long finds a
// token (unless others from its account or address took it first).
func (r refusal) retryAfter() int64 {
	s := int64(math.Ceil(r.wait.Seconds()))
	return max(s, 1)
}

// writeTooManyRequests answers a refused request as Jira Cloud does: 429,
// Retry-After in seconds, X-RateLimit-Reset (when the wait ends, ISO 8601
// to the minute, as Jira writes it), RateLimit-Reason, and Jira's error
// body.
func writeTooManyRequests(w http.ResponseWriter, r refusal) {
	secs := r.retryAfter()
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("X-RateLimit-Reset", r.at.Add(time.Duration(secs)*time.Second).UTC().Format("2006-01-02T15:04Z"))
	h.Set("RateLimit-Reason", r.reason)
	msg := "Rate limit exceeded: too many requests from this account."
	switch r.reason {
	case reasonAddress:
		msg = "Rate limit exceeded: too many requests without credentials from this address."
	case reasonFailedLogin:
		msg = "Rate limit exceeded: too many failed logins from this address."
	}
	writeError(w, http.StatusTooManyRequests, msg+" Retry after the number of seconds in the Retry-After header.")
}

// buckets is one limit's token buckets, by key, least recently used first.
// Each bucket is read and changed under mu, with the time never going back
// for a bucket, so that concurrent requests are counted exactly.
type buckets[K comparable] struct {
	rate  float64 // tokens a second
	burst float64
	max   int

	mu    sync.Mutex
	byKey map[K]*bucket[K]
	lru   bucket[K] // sentinel of the list: lru.next is the least recently used
}

// bucket is one key's token bucket, in its buckets' list: it held tokens
// at the time at, and gains rate a second up to burst.
type bucket[K comparable] struct {
	key        K
	tokens     float64
	at         time.Time
	prev, next *bucket[K]
}

// newBuckets returns the buckets of limit, at most maxEntries of them, or
// nil when the limit is off.
func newBuckets[K comparable](limit Limit, maxEntries int) *buckets[K] {
	if limit.PerSecond <= 0 {
		return nil
	}
	b := &buckets[K]{
		rate:  limit.PerSecond,
		burst: float64(max(limit.Burst, 1)),
		max:   maxEntries,
		byKey: make(map[K]*bucket[K]),
	}
	b.lru.prev, b.lru.next = &b.lru, &b.lru
	return b
}

// take takes a token of key's bucket at now and returns 0, or, when the
// bucket holds less than one, takes none and returns how long until it
// will. It returns 0 when b is nil (the limit is off).
func (b *buckets[K]) take(key K, now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.use(key, now)
	if e.tokens >= 1 {
		e.tokens--
		return 0
	}
	return b.until(e)
}

// wait returns how long until key's bucket holds a token, taking none: 0
// when it holds one now, or when b is nil.
func (b *buckets[K]) wait(key K, now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byKey[key]
	if !ok {
		return 0 // a new bucket is full
	}
	e.refill(now, b.rate, b.burst)
	if e.tokens >= 1 {
		return 0
	}
	return b.until(e)
}

// charge takes a token of key's bucket at now even when it holds none, so
// that it goes below empty.
func (b *buckets[K]) charge(key K, now time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.use(key, now).tokens--
}

// until returns how long e, holding less than a token, takes to hold one.
func (b *buckets[K]) until(e *bucket[K]) time.Duration {
	return time.Duration(math.Ceil((1 - e.tokens) / b.rate * float64(time.Second)))
}

// refill adds the tokens gained since e.at, up to burst. A now before e.at
// (another request's clock read later, but locked first) counts as e.at.
func (e *bucket[K]) refill(now time.Time, rate, burst float64) {
	if now.After(e.at) {
		e.tokens = min(burst, e.tokens+now.Sub(e.at).Seconds()*rate)
		e.at = now
	}
}

// use returns key's bucket refilled to now and marked most recently used,
// making it (full) if there is none. To make one, it first drops the
// buckets that are full again at now (as good as new) from the least
// recently used end, and the least recently used ones beyond max: each
// bucket is made and dropped once, so that costs O(1) a call on average.
// b.mu must be held.
func (b *buckets[K]) use(key K, now time.Time) *bucket[K] {
	e, ok := b.byKey[key]
	if ok {
		e.unlink()
		e.refill(now, b.rate, b.burst)
	} else {
		for old := b.lru.next; old != &b.lru; old = b.lru.next {
			if len(b.byKey) < b.max {
				if old.refill(now, b.rate, b.burst); old.tokens < b.burst {
					break
				}
			}
			old.unlink()
			delete(b.byKey, old.key)
		}
		e = &bucket[K]{key: key, tokens: b.burst, at: now}
		b.byKey[key] = e
	}
	// The most recently used goes last.
	e.prev, e.next = b.lru.prev, &b.lru
	b.lru.prev.next = e
	b.lru.prev = e
	return e
}

// unlink takes e out of its list.
func (e *bucket[K]) unlink() {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

// len returns how many buckets b holds (0 when the limit is off).
func (b *buckets[K]) len() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byKey)
}

// limitRate returns middleware applying s.limiter (see WithRateLimiter).
// It authenticates the requests that carry credentials itself, and hands
// the outcome on in the request's context, for credentials.
func (s *server) limitRate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.limiter.now()
		addr := requestClient(r).addr
		if r.Header.Get("Authorization") == "" {
			if no := s.limiter.admitAnonymous(addr, now); no.refused() {
				writeTooManyRequests(w, no)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if no := s.limiter.admitLogin(addr, now); no.refused() {
			writeTooManyRequests(w, no)
			return
		}
		actor, err := s.auth.Authenticate(r)
		if errors.Is(err, userprops.ErrUnauthorized) {
			s.limiter.loginFailed(addr, now)
		}
		if err == nil {
			if no := s.limiter.admitAccount(actor.AccountID, now); no.refused() {
				writeTooManyRequests(w, no)
				return
			}
		}
		ctx := context.WithValue(r.Context(), authKey{}, authOutcome{actor, err})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authOutcome is what limitRate's authentication of a request found.
type authOutcome struct {
	actor userprops.Actor
	err   error
}

type authKey struct{}

// credentials returns the actor of r: what limitRate found, or else what
// the Authenticator says.
func (s *server) credentials(r *http.Request) (userprops.Actor, error) {
	if o, ok := r.Context().Value(authKey{}).(authOutcome); ok {
		return o.actor, o.err
	}
	return s.auth.Authenticate(r)
}
