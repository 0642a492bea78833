package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/userprops/userprops/httpapi"
)

// networkFlags are serve's flags for being reached from other machines:
// TLS, a TLS-terminating proxy in front, browser access and rate limits.
type networkFlags struct {
	tlsCert, tlsKey string
	behindProxy     bool
	proxies         prefixList
	corsOrigins     stringList
	limits          httpapi.RateLimits
}

// defaultTrustedProxies is what --trusted-proxy defaults to: a proxy on
// the same machine.
var defaultTrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// addNetworkFlags defines the flags on fs.
func addNetworkFlags(fs *flag.FlagSet) *networkFlags {
	f := &networkFlags{limits: httpapi.DefaultRateLimits()}
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with the certificate in `FILE` (PEM; with --tls-key; re-read on SIGHUP)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the private key of --tls-cert, in `FILE` (PEM)")
	fs.BoolVar(&f.behindProxy, "behind-tls-proxy", false, "a TLS-terminating proxy is in front: serve plain HTTP on any address, and believe X-Forwarded-For and X-Forwarded-Proto from --trusted-proxy addresses")
	fs.Var(&f.proxies, "trusted-proxy", "`CIDR` of the proxy's address, with --behind-tls-proxy; repeatable (default 127.0.0.0/8 and ::1/128)")
	fs.Var(&f.corsOrigins, "cors-origin", "let web pages from `ORIGIN` (https://host[:port]) call the API from a browser; repeatable")
	a, d, l := &f.limits.Account, &f.limits.Address, &f.limits.FailedLogin
	fs.Float64Var(&a.PerSecond, "account-rate", a.PerSecond, "`R` requests a second each account may send on average (0: no limit)")
	fs.IntVar(&a.Burst, "account-burst", a.Burst, "`N` requests each account may send at once")
	fs.Float64Var(&d.PerSecond, "address-rate", d.PerSecond, "`R` requests without credentials a second from each client address (0: no limit)")
	fs.IntVar(&d.Burst, "address-burst", d.Burst, "`N` requests without credentials from each client address at once")
	fs.Float64Var(&l.PerSecond, "failed-login-rate", l.PerSecond, "`R` refused logins a second from each client address (0: no limit)")
	fs.IntVar(&l.Burst, "failed-login-burst", l.Burst, "`N` refused logins from each client address at once")
	return f
}

// check returns a usage error for flags that do not go together.
func (f *networkFlags) check() error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageError{"give --tls-cert and --tls-key together"}
	}
	if len(f.proxies) > 0 && !f.behindProxy {
		return usageError{"--trusted-proxy names the proxy of --behind-tls-proxy: give that too"}
	}
	for _, o := range f.corsOrigins {
		if err := httpapi.CheckOrigin(o); err != nil {
			return usageError{"--cors-origin: " + err.Error()}
		}
	}
	for _, l := range []struct {
		name  string
		limit httpapi.Limit
	}{{"account", f.limits.Account}, {"address", f.limits.Address}, {"failed-login", f.limits.FailedLogin}} {
		if l.limit.PerSecond < 0 || l.limit.PerSecond > 0 && l.limit.Burst < 1 {
			return usageError{fmt.Sprintf("--%s-rate must be 0 (no limit) or more, and --%s-burst at least 1", l.name, l.name)}
		}
	}
	return nil
}

// tls reports whether serve is to serve HTTPS.
func (f *networkFlags) tls() bool { return f.tlsCert != "" }

// trustedProxies returns the proxies whose forwarded headers are believed:
// none without --behind-tls-proxy.
func (f *networkFlags) trustedProxies() []netip.Prefix {
	switch {
	case !f.behindProxy:
		return nil
	case len(f.proxies) == 0:
		return defaultTrustedProxies
	}
	return f.proxies
}

// options returns the handler options the flags ask for.
func (f *networkFlags) options() []httpapi.Option {
	opts := []httpapi.Option{httpapi.WithRateLimiter(httpapi.NewRateLimiter(f.limits))}
	if p := f.trustedProxies(); len(p) > 0 {
		opts = append(opts, httpapi.WithTrustedProxies(p...))
	}
	if len(f.corsOrigins) > 0 {
		opts = append(opts, httpapi.WithCORS(f.corsOrigins...))
	}
	return opts
}

// checkExposure refuses to serve plain HTTP on addr, where serve listens,
// unless it is a loopback address or a TLS-terminating proxy is said to be
// in front: every request carries an API token.
func (f *networkFlags) checkExposure(addr net.Addr) error {
	if f.tls() || f.behindProxy || isLoopback(addr) {
		return nil
	}
	return usageError{fmt.Sprintf("refusing to serve plain HTTP on %s, which is not a loopback address: "+
		"every request carries an API token, which would cross the network in cleartext. "+
		"Give --tls-cert FILE --tls-key FILE to serve HTTPS, or, if a TLS-terminating proxy is in front, "+
		"--behind-tls-proxy (and --trusted-proxy CIDR for its address, unless it is on this machine)", addr)}
}

// isLoopback reports whether addr, a listener's address, is a loopback
// address (127.0.0.0/8, ::1).
func isLoopback(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// scheme returns the scheme of the URLs serve prints.
func (f *networkFlags) scheme() string {
	if f.tls() {
		return "https"
	}
	return "http"
}

// prefixList is a repeatable flag of CIDR prefixes (a bare address counts
// as one address).
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	s := make([]string, len(*p))
	for i, pr := range *p {
		s[i] = pr.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixList) Set(v string) error {
	pr, err := netip.ParsePrefix(v)
	if err != nil {
		a, aerr := netip.ParseAddr(v)
		if aerr != nil {
			return fmt.Errorf("%q is not a CIDR prefix (such as 10.0.0.0/8) or an address", v)
		}
		pr = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	*p = append(*p, pr.Masked())
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strconv.Quote(strings.Join(*s, ",")) }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}
