package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testSuffix = "azurecr.test"

// testCA issues a CA and a server certificate for *.azurecr.test and
// 127.0.0.1, like drydock's PKI; it returns the server certificate and the
// CA file.
func testCA(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	cert, caPEM := issueCA(t)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, file
}

// issueCA makes a CA and a server certificate it signs; it returns the
// certificate and the CA's PEM.
func issueCA(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "*." + testSuffix},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"*." + testSuffix}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// fakeRegistry serves ARM's metadata and one registry's data plane on one
// TLS listener, routing by Host like drydock's listeners.
type fakeRegistry struct {
	t      *testing.T
	srv    *httptest.Server
	login  string
	caFile string

	mu       sync.Mutex
	log      []string
	forms    []string
	noChal   bool
	denyExch bool
	repos    []string
}

func newFakeRegistry(t *testing.T) (*fakeRegistry, *Client) {
	t.Helper()
	cert, caFile := testCA(t)
	f := &fakeRegistry{t: t, caFile: caFile, repos: []string{"alpha", "beta", "gamma", "delta", "epsilon"}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	_, port, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	f.login = "myacr." + testSuffix + ":" + port
	c, err := New(Config{Endpoint: f.srv.URL, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	c.Sleep = func(ctx context.Context, d time.Duration) error { return nil }
	c.SetCredentials(&Credentials{TenantID: "tenant-1", AccessTokens: map[string]AccessToken{
		ARMScope: {Token: fakeJWT(map[string]any{"tid": "tenant-1"}), ExpiresOn: time.Now().Add(time.Hour)},
	}})
	return f, c
}

// notFound is a resolver that knows no name.
func notFound(_ context.Context, host string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func loopback(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }

func (f *fakeRegistry) registry(c *Client, opts RegistryOptions) *Registry {
	if opts.LookupHost == nil {
		opts.LookupHost = notFound
	}
	r := c.Registry(f.login, opts)
	r.Sleep = func(context.Context, time.Duration) error { return nil }
	return r
}

func (f *fakeRegistry) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func regErrors(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.Host+" "+r.URL.RequestURI())
	f.mu.Unlock()
	if r.URL.Path == "/metadata/endpoints" {
		_, port, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
		writeJSON(w, 200, []any{map[string]any{"drydock": map[string]any{"registryAddress": "0.0.0.0:" + port}}})
		return
	}
	if r.Host != f.login {
		http.Error(w, "wrong host "+r.Host, 404)
		return
	}
	_ = r.ParseForm()
	switch {
	case r.URL.Path == "/v2/" && r.Header.Get("Authorization") == "":
		if !f.noChal {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, f.login, f.login))
		}
		regErrors(w, 401, "UNAUTHORIZED", "authentication required")
	case r.URL.Path == "/oauth2/exchange":
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm.Encode())
		f.mu.Unlock()
		if f.denyExch || r.PostForm.Get("grant_type") != "access_token" || r.PostForm.Get("service") != f.login ||
			r.PostForm.Get("tenant") != "tenant-1" || r.PostForm.Get("access_token") == "" {
			regErrors(w, 401, "UNAUTHORIZED", "denied")
			return
		}
		writeJSON(w, 200, map[string]any{"refresh_token": "acr-refresh"})
	case r.URL.Path == "/oauth2/token":
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm.Encode())
		f.mu.Unlock()
		ok := false
		switch r.PostForm.Get("grant_type") {
		case "refresh_token":
			ok = r.PostForm.Get("refresh_token") == "acr-refresh"
		case "password":
			ok = r.PostForm.Get("username") == "myacr" && r.PostForm.Get("password") == "adminpw"
		}
		if !ok || r.PostForm.Get("service") != f.login {
			regErrors(w, 401, "UNAUTHORIZED", "bad credentials")
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": "at|" + r.PostForm.Get("scope"), "token": "at"})
	default:
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "Bearer at|") {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, f.login, f.login))
			regErrors(w, 401, "UNAUTHORIZED", "authentication required")
			return
		}
		scope := strings.TrimPrefix(auth, "Bearer at|")
		f.data(w, r, scope)
	}
}

func (f *fakeRegistry) data(w http.ResponseWriter, r *http.Request, scope string) {
	switch {
	case r.URL.Path == "/acr/v1/_catalog":
		if scope != ScopeCatalog {
			regErrors(w, 401, "UNAUTHORIZED", "wrong scope "+scope)
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		last := r.URL.Query().Get("last")
		sorted := slices.Sorted(slices.Values(f.repos))
		start := 0
		for i, x := range sorted {
			if x > last {
				start = i
				break
			}
		}
		end := min(start+n, len(sorted))
		page := sorted[start:end]
		if end < len(sorted) {
			w.Header().Set("Link", fmt.Sprintf(`</acr/v1/_catalog?last=%s&n=%d>; rel="next"`, page[len(page)-1], n))
		}
		writeJSON(w, 200, map[string]any{"repositories": page})
	case r.URL.Path == "/v2/hello/manifests/v1" && r.Method == http.MethodHead:
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.oci.image.index.v1+json") {
			w.WriteHeader(406)
			return
		}
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		w.WriteHeader(200)
	case r.URL.Path == "/v2/hello/manifests/v2":
		w.WriteHeader(200)
		if r.Method == http.MethodGet {
			w.Write([]byte(`{"schemaVersion":2}`))
		}
	case r.URL.Path == "/acr/v1/hello/_tags/nope":
		regErrors(w, 404, "TAG_UNKNOWN", "tag nope not found")
	case r.URL.Path == "/acr/v1/flaky":
		w.Header().Set("x-ms-correlation-request-id", "corr-1")
		w.WriteHeader(503)
	default:
		http.NotFound(w, r)
	}
}

func TestRegistryTokenFlowAndFallbackAddress(t *testing.T) {
	f, c := newFakeRegistry(t)
	reg := f.registry(c, RegistryOptions{})
	if reg.Name != "myacr" || reg.Tenant != "tenant-1" || reg.Host() != "myacr."+testSuffix {
		t.Fatalf("registry = %+v", reg)
	}
	ch, err := reg.Challenge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ch.Scheme != "bearer" || ch.Realm() != "https://"+f.login+"/oauth2/token" || ch.Service() != f.login {
		t.Errorf("challenge = %+v", ch)
	}
	rt, err := reg.RefreshToken(context.Background())
	if err != nil || rt != "acr-refresh" {
		t.Fatalf("refresh token %q %v", rt, err)
	}
	at, err := reg.AccessToken(context.Background(), ScopeCatalog)
	if err != nil || at != "at|"+ScopeCatalog {
		t.Fatalf("access token %q %v", at, err)
	}
	// Cached: a second call does not ask again.
	n := len(f.requests())
	if _, err := reg.AccessToken(context.Background(), ScopeCatalog); err != nil || len(f.requests()) != n {
		t.Errorf("access token not cached: %v", f.requests()[n:])
	}
	f.mu.Lock()
	exch := f.forms[0]
	f.mu.Unlock()
	for _, want := range []string{"grant_type=access_token", "tenant=tenant-1", "service=myacr.azurecr.test"} {
		if !strings.Contains(exch, want) {
			t.Errorf("exchange form %s lacks %s", exch, want)
		}
	}
	// The metadata lookup happened once although several connections
	// may have been dialed.
	md := 0
	for _, l := range f.requests() {
		if strings.Contains(l, "/metadata/endpoints") {
			md++
		}
	}
	if md != 1 {
		t.Errorf("metadata fetched %d times: %v", md, f.requests())
	}
}

func TestRegistryDirectResolution(t *testing.T) {
	f, c := newFakeRegistry(t)
	reg := f.registry(c, RegistryOptions{LookupHost: loopback})
	if _, err := reg.AccessToken(context.Background(), ScopeCatalog); err != nil {
		t.Fatal(err)
	}
	for _, l := range f.requests() {
		if strings.Contains(l, "/metadata/endpoints") {
			t.Errorf("metadata fetched although the name resolved: %v", f.requests())
		}
	}
	st, err := reg.Handshake(context.Background())
	if err != nil || st.ServerName != "myacr."+testSuffix || len(st.VerifiedChains) == 0 {
		t.Errorf("handshake %+v %v", st, err)
	}
}

func TestRegistryErrors(t *testing.T) {
	f, c := newFakeRegistry(t)
	ctx := context.Background()

	f.noChal = true
	_, err := f.registry(c, RegistryOptions{}).RefreshToken(ctx)
	var re *RegistryError
	if !errors.As(err, &re) || re.Title != TitleChallenge || re.Message != "Registry '"+f.login+"' did not issue a challenge." {
		t.Errorf("no challenge: %v", err)
	}
	f.noChal = false

	f.denyExch = true
	_, err = f.registry(c, RegistryOptions{}).AccessToken(ctx, ScopeCatalog)
	want := "Access to registry '" + f.login + "' was denied. Response code: 401. Please try running 'az login' again to refresh permissions."
	if !errors.As(err, &re) || re.Title != TitleRefreshToken || re.Message != want {
		t.Errorf("denied exchange: %v", err)
	}
	f.denyExch = false

	_, err = f.registry(c, RegistryOptions{Username: "myacr", Password: "wrong"}).AccessToken(ctx, ScopeCatalog)
	if !errors.As(err, &re) || re.Title != TitleAccessToken || re.Status != 401 {
		t.Errorf("bad password: %v", err)
	}
	tok, err := f.registry(c, RegistryOptions{Username: "myacr", Password: "adminpw"}).AccessToken(ctx, "repository:x:pull")
	if err != nil || tok != "at|repository:x:pull" {
		t.Errorf("password grant %q %v", tok, err)
	}

	// Unreachable: nothing resolves and there is no fallback address.
	bad := c.Registry("nowhere."+testSuffix+":1", RegistryOptions{LookupHost: notFound})
	bad.dialer.fallback = nil
	_, err = bad.Challenge(ctx)
	if !errors.As(err, &re) || re.Title != TitleDNS || !strings.HasPrefix(re.Message, "Could not connect to the registry login server 'nowhere.azurecr.test:1'.") {
		t.Errorf("unreachable: %v", err)
	}

	reg := f.registry(c, RegistryOptions{})
	_, _, err = reg.Data(ctx, http.MethodGet, "/acr/v1/hello/_tags/nope", nil, RepositoryScope("hello", "metadata_read"), "tag")
	if !errors.As(err, &re) || re.Message != "Error: tag nope not found." || re.Code != "TAG_UNKNOWN" || IsRouteMissing(err) {
		t.Errorf("404 with body: %v", err)
	}
	_, _, err = reg.Data(ctx, http.MethodGet, "/acr/v1/hello/_tags/x/y", nil, RepositoryScope("hello", "metadata_read"), "")
	if !IsRouteMissing(err) || err.Error() != "The requested data does not exist." {
		t.Errorf("plain 404: %v", err)
	}
	_, _, err = reg.Data(ctx, http.MethodGet, "/acr/v1/flaky", nil, RepositoryScope("flaky", "metadata_read"), "")
	if err == nil || err.Error() != "Could not get the requested data. Correlation ID: corr-1." {
		t.Errorf("503: %v", err)
	}
	flaky := 0
	for _, l := range f.requests() {
		if strings.HasSuffix(l, "/acr/v1/flaky") {
			flaky++
		}
	}
	if flaky != 3 {
		t.Errorf("503 tried %d times", flaky)
	}
}

func TestRegistryListPaging(t *testing.T) {
	f, c := newFakeRegistry(t)
	ctx := context.Background()
	reg := f.registry(c, RegistryOptions{})
	f.repos = nil
	for i := range 250 {
		f.repos = append(f.repos, fmt.Sprintf("repo%03d", i))
	}
	all, err := reg.List(ctx, "/acr/v1/_catalog", ScopeCatalog, "repositories", -1, "")
	if err != nil || len(all) != 250 || all[0] != "repo000" || all[249] != "repo249" {
		t.Fatalf("list all: %d %v", len(all), err)
	}
	some, err := reg.List(ctx, "/acr/v1/_catalog", ScopeCatalog, "repositories", 130, "")
	if err != nil || len(some) != 130 || some[129] != "repo129" {
		t.Fatalf("top 130: %d %v", len(some), err)
	}
	var pages []string
	for _, l := range f.requests() {
		if strings.Contains(l, "_catalog") {
			pages = append(pages, l[strings.Index(l, "/acr"):])
		}
	}
	want := []string{
		"/acr/v1/_catalog?n=100", "/acr/v1/_catalog?last=repo099&n=100", "/acr/v1/_catalog?last=repo199&n=100",
		"/acr/v1/_catalog?n=100", "/acr/v1/_catalog?last=repo099&n=30",
	}
	if !slices.Equal(pages, want) {
		t.Errorf("pages:\n%v\nwant\n%v", pages, want)
	}
}

func TestRegistryManifestDigest(t *testing.T) {
	f, c := newFakeRegistry(t)
	reg := f.registry(c, RegistryOptions{})
	ctx := context.Background()
	d, err := reg.ManifestDigest(ctx, "hello", "v1", RepositoryScope("hello", "pull"))
	if err != nil || d != "sha256:abc" {
		t.Errorf("HEAD digest %q %v", d, err)
	}
	// No Docker-Content-Digest: the body's hash.
	d, err = reg.ManifestDigest(ctx, "hello", "v2", RepositoryScope("hello", "pull"))
	sum := sha256.Sum256([]byte(`{"schemaVersion":2}`))
	if err != nil || d != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("GET digest %q %v", d, err)
	}
}

func TestRegistryDebugRedaction(t *testing.T) {
	f, c := newFakeRegistry(t)
	var log bytes.Buffer
	c.HTTP.Transport = &debugTransport{next: c.HTTP.Transport, w: &log}
	reg := f.registry(c, RegistryOptions{})
	if _, err := reg.AccessToken(context.Background(), ScopeCatalog); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	if !strings.Contains(out, "/oauth2/exchange") || !strings.Contains(out, "access_token=%2A%2A%2A%2A%2A") {
		t.Errorf("debug log lacks the redacted exchange:\n%s", out)
	}
	for _, secret := range []string{"acr-refresh", "at|", c.Credentials().AccessTokens[ARMScope].Token} {
		if strings.Contains(out, secret) {
			t.Errorf("debug log leaks %q:\n%s", secret, out)
		}
	}
}

func TestARMOperationProgress(t *testing.T) {
	polls := 0
	ts, c := newTestServer(t, nil)
	ts.h = func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/importImage"):
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			if body["mode"] != "NoForce" {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("Azure-AsyncOperation", ts.srv.URL+"/operations/1")
			w.WriteHeader(202)
		case r.URL.Path == "/operations/1":
			polls++
			switch polls {
			case 1:
				writeJSON(w, 200, map[string]any{"status": "InProgress", "percentComplete": 40, "properties": map[string]any{"progress": "copied 2 of 5 blobs (1.0 MiB)"}})
			case 2:
				writeJSON(w, 200, map[string]any{"status": "InProgress"})
			default:
				writeJSON(w, 200, map[string]any{"status": "Failed", "error": map[string]any{"code": "ImportFailed", "message": "blob missing"}})
			}
		default:
			w.WriteHeader(404)
		}
	}
	c.SetCredentials(&Credentials{TenantID: "t", AccessTokens: map[string]AccessToken{ARMScope: {Token: "x", ExpiresOn: time.Now().Add(time.Hour)}}})
	var seen []OperationStatus
	err := c.ARMOperation(context.Background(), Request{Method: http.MethodPost, Path: "/x/importImage", APIVersion: "v", Body: map[string]any{"mode": "NoForce"}},
		func(s OperationStatus) { seen = append(seen, s) })
	var ae *APIError
	if !errors.As(err, &ae) || ae.Error() != "(ImportFailed) blob missing" {
		t.Fatalf("err = %v", err)
	}
	if len(seen) != 3 || seen[0].Progress != "copied 2 of 5 blobs (1.0 MiB)" || *seen[0].PercentComplete != 40 || seen[1].PercentComplete != nil {
		t.Errorf("progress = %+v", seen)
	}
}

func TestRegistryUntrustedCertificate(t *testing.T) {
	_, c := newFakeRegistry(t)
	other := httptest.NewTLSServer(http.NotFoundHandler())
	defer other.Close()
	reg := c.Registry(other.Listener.Addr().String(), RegistryOptions{LookupHost: notFound})
	if _, err := reg.Handshake(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("handshake with an untrusted certificate: %v", err)
	}
	_, err := reg.Challenge(context.Background())
	var re *RegistryError
	if !errors.As(err, &re) || re.Title != TitleSSL {
		t.Errorf("challenge: %v", err)
	}
}

// A login server whose name resolves to another server (a real registry of
// the same name) is reached at drydock's listener instead.
func TestRegistryNameResolvesElsewhere(t *testing.T) {
	f, _ := newFakeRegistry(t)
	foreignCert, foreignCA := issueCA(t)
	var hits sync.Map
	foreign := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.Method+" "+r.URL.Path, true)
		w.WriteHeader(500)
	}))
	foreign.TLS = &tls.Config{Certificates: []tls.Certificate{foreignCert}}
	foreign.StartTLS()
	defer foreign.Close()
	_, fport, _ := net.SplitHostPort(foreign.Listener.Addr().String())
	f.login = "myacr." + testSuffix + ":" + fport

	// The client trusts both CAs (like system roots that trust the real
	// registry); only the first is drydock's.
	dir := t.TempDir()
	drydockCA := filepath.Join(dir, "drydock.pem")
	both := filepath.Join(dir, "both.pem")
	caPEM, _ := os.ReadFile(f.caFile)
	os.WriteFile(drydockCA, caPEM, 0o600)
	os.WriteFile(both, append(append([]byte{}, caPEM...), foreignCA...), 0o600)
	c, err := New(Config{Endpoint: f.srv.URL, CAFile: both})
	if err != nil {
		t.Fatal(err)
	}
	c.SetCredentials(&Credentials{TenantID: "tenant-1", AccessTokens: map[string]AccessToken{
		ARMScope: {Token: fakeJWT(map[string]any{"tid": "tenant-1"}), ExpiresOn: time.Now().Add(time.Hour)},
	}})
	reg := c.Registry(f.login, RegistryOptions{LookupHost: loopback, CAFile: drydockCA})
	if _, err := reg.AccessToken(context.Background(), ScopeCatalog); err != nil {
		t.Fatalf("access token: %v", err)
	}
	hits.Range(func(k, _ any) bool { t.Errorf("request reached the foreign server: %v", k); return true })
	// Without drydock's CA known, the name's server is used.
	reg = c.Registry(f.login, RegistryOptions{LookupHost: loopback})
	if _, err := reg.Challenge(context.Background()); err == nil {
		t.Error("the foreign server issued a challenge")
	}
	if _, ok := hits.Load("GET /v2/"); !ok {
		t.Error("the foreign server was not asked")
	}
}
