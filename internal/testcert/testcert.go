// Package testcert makes TLS certificates for tests, so that no test needs
// a key checked into the repository.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// Cert is a self-signed ECDSA P-256 certificate for 127.0.0.1, ::1 and
// localhost, its own trust anchor.
type Cert struct {
	// CertPEM and KeyPEM are the certificate and its private key (PKCS #8)
	// in PEM, as a server's files hold them.
	CertPEM, KeyPEM []byte
	// Leaf is the parsed certificate; Pool trusts it and nothing else.
	Leaf *x509.Certificate
	Pool *x509.CertPool
}

// New makes a certificate named name (its common name) valid from
// notBefore to notAfter, failing tb if it cannot.
func New(tb testing.TB, name string, notBefore, notAfter time.Time) Cert {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: its own trust anchor
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	c := Cert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Leaf:    leaf,
		Pool:    x509.NewCertPool(),
	}
	c.Pool.AddCert(leaf)
	return c
}

// Valid makes a certificate valid from an hour ago for a day.
func Valid(tb testing.TB, name string) Cert {
	tb.Helper()
	return New(tb, name, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// TLS returns the certificate and key as a server presents them.
func (c Cert) TLS(tb testing.TB) tls.Certificate {
	tb.Helper()
	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return pair
}
