package main

import (
	"container/list"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits and timeouts of serve's HTTP server.
const (
	// defaultMaxConnections is the default of --max-connections.
	defaultMaxConnections = 1024
	// reservedFiles is how many file descriptors the connection cap leaves
	// to everything else: the store and accounts files, the listener,
	// PostgreSQL connections, the runtime's own.
	reservedFiles = 64

	// defaultIdleTimeout is the default of --idle-timeout: how long a
	// keep-alive connection may wait for its next request.
	defaultIdleTimeout = 30 * time.Second
	// readHeaderTimeout bounds the reading of a request's headers,
	// readTimeout that of a whole request, body included (a body cut off by
	// it answers 408), writeTimeout the writing of a response.
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = time.Minute
)

// newHTTPServer returns the server serve runs: handler behind the
// timeouts above and idle, with ln's bookkeeping of connection states.
// Serve it on ln.
func newHTTPServer(handler http.Handler, ln *connLimiter, idle time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idle,
		ConnState:         ln.ConnState,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// capConnections returns the connection cap to use for a requested one,
// given the process's limit on open files (RLIMIT_NOFILE; 0 when unknown):
// at most the limit minus reservedFiles, and at least 1, so that a flood of
// connections meets the cap before it exhausts the descriptors. There is
// no soft limit left to raise: the Go runtime raises it to just below the
// hard one at start (Go 1.19 and later). The result is false when the cap
// had to be lowered.
func capConnections(requested int, fileLimit uint64) (int, bool) {
	if fileLimit == 0 || uint64(requested)+reservedFiles <= fileLimit {
		return requested, true
	}
	if fileLimit <= reservedFiles {
		return 1, false
	}
	return int(fileLimit - reservedFiles), false
}

// connLimiter is a listener that keeps at most max connections open. It
// never leaves a client waiting in the accept queue: when a connection
// arrives at the cap, the connection that has been idle longest is closed to
// make room (a keep-alive connection between requests, or one that has not
// sent a request yet: HTTP lets a server close those at any time, and
// clients retry), and when none is idle, every one running a request, the
// new connection is closed at once. A connection that net/http has reported
// active (running a request) is never closed. Set ConnState as the
// http.Server's ConnState hook, which tells it which connections are idle.
type connLimiter struct {
	net.Listener
	max int
	log *slog.Logger

	mu       sync.Mutex
	open     int
	idle     list.List // of *limitedConn, the longest idle first
	evicted  int       // idle connections closed to make room
	refused  int       // new connections closed because all were busy
	lastWarn time.Time
}

// limitConnections returns ln limited to max open connections.
func limitConnections(ln net.Listener, max int, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: ln, max: max, log: log}
}

// Accept returns the next connection that fits under the cap, making room
// for it or closing it as the type's documentation says.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
		c.Close()
	}
}

// admit counts c in, closing the longest idle connection first when at the
// cap, and returns it wrapped; nil when every open connection is busy.
func (l *connLimiter) admit(c net.Conn) *limitedConn {
	for {
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			lc := &limitedConn{Conn: c, l: l}
			lc.idle = l.idle.PushBack(lc) // idle until its first request
			l.mu.Unlock()
			return lc
		}
		oldest := l.idle.Front()
		if oldest == nil {
			l.refused++
			l.warnFullLocked()
			l.mu.Unlock()
			return nil
		}
		victim := oldest.Value.(*limitedConn)
		l.idle.Remove(oldest)
		victim.idle = nil
		l.evicted++
		l.warnFullLocked()
		l.mu.Unlock()
		victim.Close() // frees its place before it returns
	}
}

// warnFullLocked logs that the cap was reached, at most once a second.
func (l *connLimiter) warnFullLocked() {
	now := time.Now()
	if now.Sub(l.lastWarn) < time.Second {
		return
	}
	l.lastWarn = now
	l.log.Warn("connection limit reached", "max", l.max, "closedIdle", l.evicted, "refused", l.refused)
}

// ConnState is the http.Server hook that keeps the idle list: a connection
// is idle from its arrival until its first request (a TLS handshake
// included), and again between requests.
func (l *connLimiter) ConnState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok { // serving HTTPS: the TLS layer over ours
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	switch state {
	case http.StateIdle:
		l.mu.Lock()
		if !lc.closed {
			if lc.idle != nil {
				l.idle.Remove(lc.idle)
			}
			lc.idle = l.idle.PushBack(lc)
		}
		l.mu.Unlock()
	case http.StateActive, http.StateHijacked:
		l.mu.Lock()
		if lc.idle != nil {
			l.idle.Remove(lc.idle)
			lc.idle = nil
		}
		l.mu.Unlock()
	case http.StateClosed:
		lc.Close()
	}
}

// limitedConn is a connection counted by a connLimiter until it is closed.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
	err  error

	// Guarded by l.mu.
	idle   *list.Element // in l.idle while idle
	closed bool
}

// Close closes the connection and gives its place back, once.
func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.l.mu.Lock()
		c.closed = true
		if c.idle != nil {
			c.l.idle.Remove(c.idle)
			c.idle = nil
		}
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.err
}

// CloseWrite half-closes the connection when it can (TCP): net/http does so
// before closing after an unread request body, so that the client reads the
// answer instead of a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
