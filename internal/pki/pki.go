// Package pki owns drydock's certificate authority: it creates the CA on
// first start and issues server and client certificates from it.
//
// Keys are ECDSA P-256. Private keys are written with mode 0600, and every
// file is written atomically (temporary file, fsync, then rename or link),
// so a crash never leaves a half-written certificate or key behind.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/atomicfile"
)

// File names inside the CA directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 365 * 24 * time.Hour
	// clientValidity is used when IssueClient is given no validity.
	clientValidity = 365 * 24 * time.Hour
	// renewBefore is how close to expiry LoadOrIssueServer re-issues.
	renewBefore = 30 * 24 * time.Hour
	// backdate is subtracted from NotBefore to tolerate clock skew.
	backdate = time.Hour
)

// CA is a certificate authority that can sign certificates.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// now is the clock; tests move it.
var now = time.Now

// LoadOrCreateCA loads dir/ca.crt and dir/ca.key, or creates them: a
// self-signed ECDSA P-256 CA valid for ten years with the given CommonName.
// The directory is created with mode 0700 if missing, the key is written
// with mode 0600 and the certificate with 0644.
//
// When two processes start at once, the first to publish its files wins and
// the other loads them. If only the key exists (a crash between the two
// writes) a certificate is made for that key; if only the certificate
// exists LoadOrCreateCA fails rather than replace a CA that may be trusted.
func LoadOrCreateCA(dir, commonName string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: creating %s: %w", dir, err)
	}
	certPath := filepath.Join(dir, CACertFile)
	keyPath := filepath.Join(dir, CAKeyFile)
	for range 3 {
		certPEM, certErr := os.ReadFile(certPath)
		keyPEM, keyErr := os.ReadFile(keyPath)
		switch {
		case certErr == nil && keyErr == nil:
			return parseCA(certPEM, keyPEM, certPath, keyPath)
		case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
			return nil, fmt.Errorf("pki: reading the CA certificate: %w", certErr)
		case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
			return nil, fmt.Errorf("pki: reading the CA key: %w", keyErr)
		case keyErr != nil && certErr == nil:
			return nil, fmt.Errorf("pki: %s exists but its key %s does not; restore the key or remove both to create a new CA", certPath, keyPath)
		}
		// The certificate is missing; the key may be there.
		var key crypto.Signer
		if keyErr == nil {
			k, err := parsePrivateKey(keyPEM)
			if err != nil {
				return nil, fmt.Errorf("pki: %s: %w", keyPath, err)
			}
			key = k
		} else {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, fmt.Errorf("pki: generating the CA key: %w", err)
			}
			pemKey, err := encodeKey(k)
			if err != nil {
				return nil, err
			}
			if err := atomicfile.Create(keyPath, pemKey, 0o600); err != nil {
				if errors.Is(err, fs.ErrExist) {
					continue // another process created it first: start over
				}
				return nil, fmt.Errorf("pki: writing the CA key: %w", err)
			}
			key = k
		}
		ca, err := newCACert(key, commonName)
		if err != nil {
			return nil, err
		}
		if err := atomicfile.Create(certPath, ca.CertPEM, 0o644); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return nil, fmt.Errorf("pki: writing the CA certificate: %w", err)
		}
		return ca, nil
	}
	return nil, fmt.Errorf("pki: %s keeps changing while it is being created", dir)
}

func newCACert(key crypto.Signer, commonName string) (*CA, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	start := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             start.Add(-backdate),
		NotAfter:              start.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func parseCA(certPEM, keyPEM []byte, certPath, keyPath string) (*CA, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: %s holds no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: %s is not a CA certificate", certPath)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", keyPath, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("pki: %s does not hold the key of %s", keyPath, certPath)
	}
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}, nil
}

// Pool returns a certificate pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// IssueServer issues a server certificate (ExtKeyUsageServerAuth, one year,
// ECDSA P-256) for the DNS names and IP addresses given. The chain in the
// result holds the leaf only; Leaf is set.
func (ca *CA) IssueServer(commonName string, dnsNames []string, ips []net.IP) (tls.Certificate, error) {
	if commonName == "" && len(dnsNames) == 0 && len(ips) == 0 {
		return tls.Certificate{}, errors.New("pki: a server certificate needs a common name, a DNS name or an IP address")
	}
	der, key, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		DNSNames:    uniqueNames(dnsNames),
		IPAddresses: uniqueIPs(ips),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, serverValidity)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// IssueClient issues a client certificate (ExtKeyUsageClientAuth) with the
// given CommonName and Organization list; Kubernetes reads the user from CN
// and the groups from O. A validity of zero or less means one year. The
// certificate never outlives the CA. The key PEM is an "EC PRIVATE KEY".
func (ca *CA) IssueClient(commonName string, orgs []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if commonName == "" {
		return nil, nil, errors.New("pki: a client certificate needs a common name")
	}
	if validity <= 0 {
		validity = clientValidity
	}
	der, key, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName, Organization: slices.Clone(orgs)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// issue signs tmpl with a fresh P-256 key, filling in the serial number,
// validity window (clamped to the CA's) and key usage.
func (ca *CA) issue(tmpl *x509.Certificate, validity time.Duration) ([]byte, *ecdsa.PrivateKey, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, nil, errors.New("pki: the CA is not loaded")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generating a key: %w", err)
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, nil, err
	}
	start := now()
	tmpl.NotBefore = start.Add(-backdate)
	if tmpl.NotBefore.Before(ca.Cert.NotBefore) {
		tmpl.NotBefore = ca.Cert.NotBefore
	}
	tmpl.NotAfter = start.Add(validity)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	if !tmpl.NotAfter.After(start) {
		return nil, nil, fmt.Errorf("pki: the CA %q expired on %s", ca.Cert.Subject.CommonName, ca.Cert.NotAfter.Format(time.RFC3339))
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: signing the certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	return der, key, nil
}

// LoadOrIssueServer keeps a server certificate and key at certPath and
// keyPath. It returns the stored pair unless it is missing, unreadable,
// mismatched, expired or expiring within 30 days, not signed by ca, not for
// server authentication, issued for a different CommonName, or missing any
// of the requested DNS names or IP addresses; then it issues a new pair and
// stores it (the key with mode 0600).
func (ca *CA) LoadOrIssueServer(certPath, keyPath, commonName string, dnsNames []string, ips []net.IP) (tls.Certificate, error) {
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && ca.serverCertOK(cert, commonName, dnsNames, ips) {
		return cert, nil
	}
	cert, err := ca.IssueServer(commonName, dnsNames, ips)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := encodeKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	for _, p := range []string{certPath, keyPath} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return tls.Certificate{}, fmt.Errorf("pki: %w", err)
		}
	}
	// The key goes first: if the certificate write fails, the pair on disk
	// no longer matches and the next call re-issues.
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: writing %s: %w", keyPath, err)
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: writing %s: %w", certPath, err)
	}
	return cert, nil
}

func (ca *CA) serverCertOK(cert tls.Certificate, commonName string, dnsNames []string, ips []net.IP) bool {
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return false
		}
	}
	t := now()
	if t.Add(renewBefore).After(leaf.NotAfter) || t.Before(leaf.NotBefore) {
		return false
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       ca.Pool(),
		CurrentTime: t,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return false
	}
	if leaf.Subject.CommonName != commonName {
		return false
	}
	for _, name := range dnsNames {
		if !slices.ContainsFunc(leaf.DNSNames, func(have string) bool { return strings.EqualFold(have, name) }) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func uniqueNames(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" && !slices.ContainsFunc(out, func(have string) bool { return strings.EqualFold(have, n) }) {
			out = append(out, n)
		}
	}
	return out
}

func uniqueIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		if ip == nil {
			continue
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if !slices.ContainsFunc(out, ip.Equal) {
			out = append(out, slices.Clone(ip))
		}
	}
	return out
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: generating a serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // never zero
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding a key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// parsePrivateKey reads a PEM "EC PRIVATE KEY", "PRIVATE KEY" (PKCS #8) or
// "RSA PRIVATE KEY", so a CA made by other tools can be dropped in.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		var key any
		var err error
		switch block.Type {
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue // e.g. "EC PARAMETERS" written by openssl
		}
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
