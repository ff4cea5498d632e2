package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

func newCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	ca, err := LoadOrCreateCA(dir, "drydock CA")
	if err != nil {
		t.Fatalf("LoadOrCreateCA: %v", err)
	}
	return ca, dir
}

func setNow(t *testing.T, tm time.Time) {
	t.Helper()
	old := now
	now = func() time.Time { return tm }
	t.Cleanup(func() { now = old })
}

func TestCreateCA(t *testing.T) {
	ca, dir := newCA(t)
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Error("not a CA certificate")
	}
	if c.Subject.CommonName != "drydock CA" {
		t.Errorf("CommonName %q", c.Subject.CommonName)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("no CertSign key usage")
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if life := c.NotAfter.Sub(time.Now()); life < 9*365*24*time.Hour || life > 10*366*24*time.Hour {
		t.Errorf("CA valid for %v, want ten years", life)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil || !bytes.Equal(onDisk, ca.CertPEM) {
		t.Errorf("ca.crt on disk differs from CertPEM (%v)", err)
	}
	block, _ := pem.Decode(ca.CertPEM)
	if block == nil || !bytes.Equal(block.Bytes, c.Raw) {
		t.Error("CertPEM does not hold Cert")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != CACertFile && e.Name() != CAKeyFile {
			t.Errorf("stray file %s left in the CA directory", e.Name())
		}
	}
}

func TestKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	ca, dir := newCA(t)
	for name, want := range map[string]os.FileMode{CAKeyFile: 0o600, CACertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("CA directory has mode %v, want 0700", fi.Mode().Perm())
	}
	srv := filepath.Join(t.TempDir(), "srv")
	if _, err := ca.LoadOrIssueServer(filepath.Join(srv, "tls.crt"), filepath.Join(srv, "tls.key"), "localhost", []string{"localhost"}, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(srv, "tls.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("server key has mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestReloadGivesSameCA(t *testing.T) {
	ca, dir := newCA(t)
	again, err := LoadOrCreateCA(dir, "another name is ignored")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) || !bytes.Equal(again.CertPEM, ca.CertPEM) {
		t.Error("reloaded certificate differs")
	}
	if !again.Key.Public().(*ecdsa.PublicKey).Equal(ca.Key.Public()) {
		t.Error("reloaded key differs")
	}
	// Something issued by the first instance verifies against the second.
	cert, err := ca.IssueServer("x", []string{"x.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: again.Pool(), DNSName: "x.example"}); err != nil {
		t.Error(err)
	}
}

func TestLoadErrors(t *testing.T) {
	ca, _ := newCA(t)
	_, other := newCA(t)

	// Only the certificate: refuse rather than replace a trusted CA.
	noKey := t.TempDir()
	os.WriteFile(filepath.Join(noKey, CACertFile), ca.CertPEM, 0o644)
	if _, err := LoadOrCreateCA(noKey, "x"); err == nil {
		t.Error("loaded a CA without its key")
	}
	// A key that does not belong to the certificate.
	mixed := t.TempDir()
	os.WriteFile(filepath.Join(mixed, CACertFile), ca.CertPEM, 0o644)
	otherKey, _ := os.ReadFile(filepath.Join(other, CAKeyFile))
	os.WriteFile(filepath.Join(mixed, CAKeyFile), otherKey, 0o600)
	if _, err := LoadOrCreateCA(mixed, "x"); err == nil {
		t.Error("loaded a CA whose key does not match")
	}
	// Garbage.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, CACertFile), []byte("nope"), 0o644)
	os.WriteFile(filepath.Join(bad, CAKeyFile), []byte("nope"), 0o600)
	if _, err := LoadOrCreateCA(bad, "x"); err == nil {
		t.Error("loaded garbage")
	}
	// A leaf certificate is not a CA.
	leafDir := t.TempDir()
	certPEM, keyPEM, _ := ca.IssueClient("u", nil, time.Hour)
	os.WriteFile(filepath.Join(leafDir, CACertFile), certPEM, 0o644)
	os.WriteFile(filepath.Join(leafDir, CAKeyFile), keyPEM, 0o600)
	if _, err := LoadOrCreateCA(leafDir, "x"); err == nil {
		t.Error("loaded a leaf certificate as a CA")
	}
}

func TestKeyWithoutCertificateIsReused(t *testing.T) {
	ca, dir := newCA(t)
	os.Remove(filepath.Join(dir, CACertFile))
	again, err := LoadOrCreateCA(dir, "drydock CA")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Key.Public().(*ecdsa.PublicKey).Equal(ca.Key.Public()) {
		t.Error("the existing key was replaced")
	}
	// Certificates issued under the old CA certificate still verify: same
	// key, same subject.
	cert, _ := ca.IssueServer("x", []string{"x"}, nil)
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: again.Pool(), DNSName: "x"}); err != nil {
		t.Error(err)
	}
}

func TestConcurrentCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	const n = 8
	cas := make([]*CA, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cas[i], errs[i] = LoadOrCreateCA(dir, "drydock CA")
		}()
	}
	wg.Wait()
	final, err := LoadOrCreateCA(dir, "drydock CA")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		// Every caller signs with the key on disk, so whatever it issued
		// verifies against the final CA.
		if !cas[i].Key.Public().(*ecdsa.PublicKey).Equal(final.Key.Public()) {
			t.Errorf("caller %d holds a key that is not on disk", i)
		}
		cert, err := cas[i].IssueServer("s", []string{"s"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: final.Pool(), DNSName: "s"}); err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
}

func TestIssueServerVerifies(t *testing.T) {
	ca, _ := newCA(t)
	names := []string{"localhost", "drydock.local", "*.azurecr.localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	cert, err := ca.IssueServer("drydock", names, ips)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		t.Fatal("Leaf not set")
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage %v", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Error("server certificate is a CA")
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("private key %T", cert.PrivateKey)
	}
	if life := leaf.NotAfter.Sub(time.Now()); life < 364*24*time.Hour || life > 366*24*time.Hour {
		t.Errorf("valid for %v, want a year", life)
	}
	for _, host := range []string{"localhost", "drydock.local", "myacr.azurecr.localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	for _, host := range []string{"example.com", "10.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host}); err == nil {
			t.Errorf("%s verified", host)
		}
	}
	// Not valid for client authentication.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("server certificate verified for client auth")
	}
	// Another CA does not trust it.
	other, _ := newCA(t)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "localhost"}); err == nil {
		t.Error("verified against a different CA")
	}
	if _, err := ca.IssueServer("", nil, nil); err == nil {
		t.Error("issued a certificate for no name at all")
	}
}

func TestIssueClient(t *testing.T) {
	ca, _ := newCA(t)
	certPEM, keyPEM, err := ca.IssueClient("admin", []string{"system:masters", "drydock:admins"}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("the PEMs are not a key pair: %v", err)
	}
	leaf := pair.Leaf
	// Several O values form one multi-valued RDN, a DER SET, whose order
	// is not kept; Kubernetes treats them as a set of groups anyway.
	orgs := slices.Sorted(slices.Values(leaf.Subject.Organization))
	if leaf.Subject.CommonName != "admin" || !slices.Equal(orgs, []string{"drydock:admins", "system:masters"}) {
		t.Errorf("subject %v", leaf.Subject)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err == nil {
		t.Error("client certificate verified for server auth")
	}
	if life := leaf.NotAfter.Sub(time.Now()); life < time.Hour || life > 2*time.Hour {
		t.Errorf("valid for %v, want two hours", life)
	}
	// No validity means a year; no validity outlives the CA.
	certPEM, _, _ = ca.IssueClient("u", nil, 0)
	if c := parseCert(t, certPEM); c.NotAfter.Sub(time.Now()) < 364*24*time.Hour {
		t.Errorf("default validity ends %v", c.NotAfter)
	}
	certPEM, _, _ = ca.IssueClient("u", nil, 100*365*24*time.Hour)
	if c := parseCert(t, certPEM); c.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("client certificate outlives the CA: %v > %v", c.NotAfter, ca.Cert.NotAfter)
	}
	if _, _, err := ca.IssueClient("", nil, time.Hour); err == nil {
		t.Error("issued a client certificate without a name")
	}
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadOrIssueServer(t *testing.T) {
	ca, _ := newCA(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "certs", "server.crt"), filepath.Join(dir, "certs", "server.key")
	names := []string{"localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1")}

	first, err := ca.LoadOrIssueServer(certPath, keyPath, "drydock", names, ips)
	if err != nil {
		t.Fatal(err)
	}
	serial := func(c tls.Certificate) string {
		if c.Leaf != nil {
			return c.Leaf.SerialNumber.String()
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	load := func(cn string, names []string, ips []net.IP) tls.Certificate {
		t.Helper()
		c, err := ca.LoadOrIssueServer(certPath, keyPath, cn, names, ips)
		if err != nil {
			t.Fatal(err)
		}
		onDisk, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			t.Fatalf("files on disk are not a pair: %v", err)
		}
		if serial(onDisk) != serial(c) {
			t.Fatal("returned certificate is not the one on disk")
		}
		return c
	}

	if got := load("drydock", names, ips); serial(got) != serial(first) {
		t.Error("re-issued although nothing changed")
	}
	// Same names in another case and order, and a subset: kept.
	if got := load("drydock", []string{"LOCALHOST"}, []net.IP{net.ParseIP("127.0.0.1").To16()}); serial(got) != serial(first) {
		t.Error("re-issued for names it already has")
	}

	// A DNS name is added: re-issued, with all names.
	withName := load("drydock", []string{"localhost", "drydock.test"}, ips)
	if serial(withName) == serial(first) {
		t.Fatal("not re-issued when a DNS name was added")
	}
	for _, host := range []string{"localhost", "drydock.test", "127.0.0.1"} {
		if _, err := withName.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	// An IP is added.
	withIP := load("drydock", []string{"localhost", "drydock.test"}, []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")})
	if serial(withIP) == serial(withName) {
		t.Error("not re-issued when an IP was added")
	}
	// The common name changes.
	renamed := load("drydock2", []string{"localhost"}, nil)
	if serial(renamed) == serial(withIP) {
		t.Error("not re-issued when the common name changed")
	}
	// Signed by another CA.
	other, _ := newCA(t)
	foreign, err := other.LoadOrIssueServer(certPath, keyPath, "drydock2", []string{"localhost"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if serial(foreign) == serial(renamed) {
		t.Error("kept a certificate signed by another CA")
	}
	back := load("drydock2", []string{"localhost"}, nil)
	if serial(back) == serial(foreign) {
		t.Error("kept a certificate signed by another CA")
	}
	if _, err := back.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "localhost"}); err != nil {
		t.Error(err)
	}

	// Close to expiry: kept 31 days before, re-issued 29 days before.
	setNow(t, back.Leaf.NotAfter.Add(-31*24*time.Hour))
	if got := load("drydock2", []string{"localhost"}, nil); serial(got) != serial(back) {
		t.Error("re-issued 31 days before expiry")
	}
	setNow(t, back.Leaf.NotAfter.Add(-29*24*time.Hour))
	renewed := load("drydock2", []string{"localhost"}, nil)
	if serial(renewed) == serial(back) {
		t.Error("not re-issued 29 days before expiry")
	}
	if !renewed.Leaf.NotAfter.After(back.Leaf.NotAfter) {
		t.Error("renewed certificate does not last longer")
	}
}

func TestLoadOrIssueServerRepairsFiles(t *testing.T) {
	ca, _ := newCA(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, err := ca.LoadOrIssueServer(certPath, keyPath, "s", []string{"s"}, nil); err != nil {
		t.Fatal(err)
	}
	// A key that does not match the certificate (as after a crash between
	// the two writes), a missing key, and garbage all lead to a new pair.
	_, otherKey, _ := ca.IssueClient("x", nil, time.Hour)
	for name, breakIt := range map[string]func(){
		"mismatched key": func() { os.WriteFile(keyPath, otherKey, 0o600) },
		"missing key":    func() { os.Remove(keyPath) },
		"garbage cert":   func() { os.WriteFile(certPath, []byte("garbage"), 0o644) },
	} {
		breakIt()
		if _, err := ca.LoadOrIssueServer(certPath, keyPath, "s", []string{"s"}, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
			t.Errorf("%s: not repaired: %v", name, err)
		}
	}
}

func TestTLSHandshake(t *testing.T) {
	ca, _ := newCA(t)
	server, err := ca.IssueServer("drydock", []string{"drydock.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueClient("alice", []string{"devs"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert})
	cli := tls.Client(b, &tls.Config{RootCAs: ca.Pool(), ServerName: "drydock.test", Certificates: []tls.Certificate{client}})
	errc := make(chan error, 1)
	go func() {
		if err := srv.Handshake(); err != nil {
			errc <- err
			return
		}
		st := srv.ConnectionState()
		if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "alice" {
			errc <- errors.New("server did not see alice's certificate")
			return
		}
		_, err := io.WriteString(srv, "ok")
		errc <- err
	}()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(cli, buf); err != nil || string(buf) != "ok" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
