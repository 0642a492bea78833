package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// certificate is the TLS certificate serve presents: a certificate file and
// its key file, read at start and again on each Reload. It is safe for
// concurrent use: handshakes read the pair in use while a reload replaces
// it.
type certificate struct {
	certFile, keyFile string
	now               func() time.Time
	pair              atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the certificate (PEM, the server's first, then any
// intermediates) and key files, and fails as Reload does.
func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the two files again and, if they hold a certificate and its
// key that is valid now, makes it the one presented to every later
// handshake; connections already open keep theirs. Otherwise the pair in
// use stays, and the error says why: a file missing or unreadable, a
// certificate and key that do not belong together, a certificate expired
// or not yet valid.
func (c *certificate) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	leaf := pair.Leaf // parsed by LoadX509KeyPair since Go 1.23
	if leaf == nil {
		return errors.New("loading the TLS certificate " + c.certFile + ": no certificate")
	}
	now := c.now()
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("the TLS certificate %s expired on %s", c.certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("the TLS certificate %s is not valid before %s", c.certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	c.pair.Store(&pair)
	return nil
}

// expires returns when the certificate in use expires.
func (c *certificate) expires() time.Time { return c.pair.Load().Leaf.NotAfter }

// getCertificate is the tls.Config.GetCertificate hook: the pair in use.
func (c *certificate) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.pair.Load(), nil
}

// tlsConfig returns the TLS configuration of serve: TLS 1.2 at least,
// Go's default cipher suites and curves, and the certificate in use.
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.getCertificate,
	}
}
