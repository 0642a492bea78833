package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

// WithTrustedProxies says that a TLS-terminating proxy in front of the
// handler connects from an address within proxies, and that it sets
// X-Forwarded-For and X-Forwarded-Proto. On requests that come straight from
// such an address, and on those only, the handler believes them: the client
// address in the request log and for rate limits is the last address of
// X-Forwarded-For that is not itself a trusted proxy (walking from the
// right, as each proxy appends the address it was called from), and the
// scheme of self links (without WithBaseURL) is the last X-Forwarded-Proto
// ("https" or "http"). From any other peer both headers are ignored, so a
// client cannot choose its address or its links. Without this option both
// are always ignored.
func WithTrustedProxies(proxies ...netip.Prefix) Option {
	return func(s *server) {
		for _, p := range proxies {
			s.proxies = append(s.proxies, p.Masked())
		}
	}
}

// client is who sent a request, as far as the handler trusts what it is
// told.
type client struct {
	// addr is the client's address; the zero Addr when the peer's is not
	// an IP address (a Unix socket, a test's pipe).
	addr netip.Addr
	// https reports whether the client's side of the connection is TLS.
	https bool
}

type clientKey struct{}

// identifyClient returns middleware that works out each request's client
// (see WithTrustedProxies) once and keeps it in the request's context, for
// the handlers and middleware after it.
func (s *server) identifyClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := s.client(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// requestClient returns the client identifyClient found for r or, without
// it, the peer of r's connection.
func requestClient(r *http.Request) client {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c
	}
	return client{addr: peerAddr(r), https: r.TLS != nil}
}

// client works out who sent r: its peer, or what a trusted proxy says.
func (s *server) client(r *http.Request) client {
	c := client{addr: peerAddr(r), https: r.TLS != nil}
	if !s.trusts(c.addr) {
		return c
	}
	c.addr = s.forwardedFor(c.addr, r.Header.Values("X-Forwarded-For"))
	if protos := r.Header.Values("X-Forwarded-Proto"); len(protos) > 0 {
		last := protos[len(protos)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		switch strings.ToLower(strings.TrimSpace(last)) {
		case "https":
			c.https = true
		case "http":
			c.https = false
		}
	}
	return c
}

// forwardedFor walks the X-Forwarded-For values from the right, starting
// at peer, a trusted proxy: each address a trusted proxy reports is
// believed, until one that is not a trusted proxy, which is the client. A
// value that is not an address ends the walk at the address before it.
func (s *server) forwardedFor(peer netip.Addr, values []string) netip.Addr {
	addr := peer
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			if !s.trusts(addr) {
				return addr
			}
			hop, ok := parseHop(strings.TrimSpace(hops[j]))
			if !ok {
				return addr
			}
			addr = hop
		}
	}
	return addr
}

// parseHop parses one X-Forwarded-For entry: an address, or an address and
// port as some proxies write it ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// trusts reports whether a is the address of a trusted proxy.
func (s *server) trusts(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr returns the address of r's peer, the zero Addr if it is not an
// IP address.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}
