package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/userprops/userprops"
)

// call is one operation's request, sent once or, when that is safe, again.
type call struct {
	method    string
	path      string // escaped, after the base URL
	accountID string // sent as ?accountId= unless ""
	query     string // the encoded query, when accountID is ""
	key       string // for messages
	body      []byte
	write     bool  // changes the server's data: never resent once it may have arrived
	limit     int64 // the most bytes of a successful answer read
	// userpropsOnly names an operation only a userprops server has: a 404
	// that is not Jira's unknown user answer means the server lacks it.
	userpropsOnly string
}

// result is an answer: its status, headers and (capped) body.
type result struct {
	c      *call
	status int
	header http.Header
	body   []byte
}

// retryPolicy is how a call is retried.
type retryPolicy struct {
	attempts int           // requests in all, at least 1
	base     time.Duration // the first wait without a Retry-After
	maxWait  time.Duration // no wait is longer
}

var defaultRetry = retryPolicy{attempts: 4, base: 100 * time.Millisecond, maxWait: 30 * time.Second}

// do sends c, retrying as the package documentation says, and returns the
// answer, or an error for an answer that is not a success (see
// result.err).
func (s *Store) do(ctx context.Context, c *call) (result, error) {
	for attempt := 1; ; attempt++ {
		r, sent, err := s.once(ctx, c)
		var retryAfter time.Duration
		switch {
		case err != nil && c.write && sent:
			return result{}, fmt.Errorf("%w: %s %s: the request was sent, and then: %v",
				userprops.ErrOutcomeUnknown, c.method, c.path, err)
		case err != nil && ctx.Err() != nil:
			return result{}, fmt.Errorf("remote: %s %s: %w", c.method, c.path, ctx.Err())
		case err != nil:
			err = fmt.Errorf("remote: %s %s: %w", c.method, c.path, err)
		case r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable && !c.write:
			retryAfter = parseRetryAfter(r.header.Get("Retry-After"), time.Now())
			err = r.err()
		case r.status >= 400:
			return result{}, r.err()
		default:
			return r, nil
		}
		if attempt >= s.retry.attempts {
			return result{}, err
		}
		wait, ok := s.retry.wait(attempt, retryAfter)
		if deadline, has := ctx.Deadline(); !ok || has && time.Until(deadline) < wait {
			return result{}, err // waiting longer than allowed, or than the caller has
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return result{}, fmt.Errorf("remote: %s %s: %w (waiting to retry after: %v)", c.method, c.path, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// wait returns how long to wait before attempt+1: the server's Retry-After
// if it gave one, with up to base of jitter, else base·2^(attempt-1) with
// full jitter, both capped at maxWait. It reports false when the server
// asks for more than maxWait.
func (p retryPolicy) wait(attempt int, retryAfter time.Duration) (time.Duration, bool) {
	if retryAfter > 0 {
		if retryAfter > p.maxWait {
			return 0, false
		}
		return min(p.maxWait, retryAfter+rand.N(p.base+1)), true
	}
	d := min(p.maxWait, p.base<<min(attempt-1, 20))
	return d/2 + rand.N(d/2+1), true
}

// parseRetryAfter reads a Retry-After header: whole seconds, or an HTTP
// date. It returns 0 for none or for one it cannot read.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(min(n, 1<<20)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// once sends c one time. sent reports, for a request that failed, whether
// it may have reached the server: a connection was taken for it, and its
// writing did not fail.
//
// A write's request is not canceled with ctx: when ctx ends, it is given
// s.grace more for its answer, so that a write that reached the server
// reports what the server did; only then is it canceled.
func (s *Store) once(ctx context.Context, c *call) (r result, sent bool, err error) {
	reqCtx := ctx
	if c.write {
		detached, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		stop := context.AfterFunc(ctx, func() {
			t := time.NewTimer(s.grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-detached.Done():
			}
		})
		defer stop()
		reqCtx = detached
	}
	var gotConn, writeFailed atomic.Bool
	if c.write { // whether a read was sent does not matter: it is retried
		reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
			WroteRequest: func(i httptrace.WroteRequestInfo) {
				if i.Err != nil {
					writeFailed.Store(true)
				}
			},
		})
	}
	target := s.base + c.path
	switch {
	case c.accountID != "":
		target += "?accountId=" + url.QueryEscape(c.accountID)
	case c.query != "":
		target += "?" + c.query
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(reqCtx, c.method, target, body)
	if err != nil {
		return result{}, false, err
	}
	req.Header.Set("Accept", "application/json")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	s.auth(req)
	resp, err := s.client.Do(req)
	if err != nil {
		// Every trace callback of the request has run once Do returns
		// but WroteRequest's, which may come later: a write not known to
		// have failed may have arrived.
		return result{}, gotConn.Load() && !writeFailed.Load(), err
	}
	defer resp.Body.Close()
	r = result{c: c, status: resp.StatusCode, header: resp.Header}
	limit := c.limit
	if resp.StatusCode >= 300 {
		limit = errorLimit
	}
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil && c.write:
		// The status says what the server did; the body is lost.
		if resp.StatusCode < 300 && c.limit > 0 {
			return result{}, true, fmt.Errorf("reading the answer %d: %w", resp.StatusCode, err)
		}
		r.body = nil
	case err != nil:
		return result{}, true, fmt.Errorf("reading the answer %d: %w", resp.StatusCode, err)
	case int64(len(r.body)) > limit && resp.StatusCode < 300:
		return result{}, true, fmt.Errorf("%w: the answer %d is larger than %d bytes", errUnexpected, resp.StatusCode, limit)
	case int64(len(r.body)) > limit:
		r.body = nil // too large to be Jira's error body
	}
	return r, true, nil
}
