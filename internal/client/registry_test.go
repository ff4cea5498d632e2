package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/pki"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

const testSuffix = "azurecr.test" // .test never resolves (RFC 6761)

// registryEnv is drydock's real server with registry myacr (admin user
// enabled) holding hello:v1, and a client signed in as the admin.
type registryEnv struct {
	*servertest.Server
	t     *testing.T
	c     *Client
	login string
	// adminUser and adminPassword are the registry's admin credentials.
	adminUser, adminPassword string
	// digest is hello:v1's manifest digest.
	digest string
	// log records the requests the client sends (see record).
	log *recorder
}

func newRegistryEnv(t *testing.T) *registryEnv {
	t.Helper()
	e := &registryEnv{t: t, log: &recorder{}}
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.LoginServerSuffix = testSuffix }),
		servertest.WithInterceptor(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/metadata/endpoints" {
				e.log.note(r)
			}
			return false
		}))
	e.Server = s
	arm := s.AdminToken(t, servertest.ARMScope)
	rg := "/subscriptions/" + s.SubscriptionID + "/resourceGroups/rg"
	e.mustARM(arm, http.MethodPut, rg+"?api-version=2022-09-01", map[string]any{"location": "eastus"})
	acr := rg + "/providers/Microsoft.ContainerRegistry/registries/myacr"
	out := e.mustARM(arm, http.MethodPut, acr+"?api-version=2023-07-01",
		map[string]any{"location": "eastus", "sku": map[string]any{"name": "Standard"}, "properties": map[string]any{"adminUserEnabled": true}})
	e.login = out["properties"].(map[string]any)["loginServer"].(string)
	creds := e.mustARM(arm, http.MethodPost, acr+"/listCredentials?api-version=2023-07-01", nil)
	e.adminUser = creds["username"].(string)
	e.adminPassword = creds["passwords"].([]any)[0].(map[string]any)["value"].(string)
	e.c = e.client(s.CAFile)
	e.digest = e.push("hello", "v1")
	e.log.reset()
	return e
}

func (e *registryEnv) mustARM(token, method, path string, body any) map[string]any {
	e.t.Helper()
	code, out := e.Do(e.t, token, method, path, body)
	if code >= 300 {
		e.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// client is a client of the server trusting caFile, signed in as the
// admin, whose ARM requests are recorded.
func (e *registryEnv) client(caFile string) *Client {
	c, err := New(Config{Endpoint: e.URL, CAFile: caFile})
	if err != nil {
		e.t.Fatal(err)
	}
	c.Sleep = func(context.Context, time.Duration) error { return nil }
	c.SetCredentials(&Credentials{TenantID: e.TenantID, AccessTokens: map[string]AccessToken{
		ARMScope: {Token: e.AdminToken(e.t, servertest.ARMScope), ExpiresOn: time.Now().Add(time.Hour)},
	}})
	return c
}

// registry is a client of myacr whose requests are recorded (as are the
// server's metadata requests). Names resolve with opts.LookupHost (by
// default, to nothing: the registry listener is found in the metadata).
func (e *registryEnv) registry(c *Client, opts RegistryOptions) *Registry {
	if opts.LookupHost == nil {
		opts.LookupHost = notFound
	}
	r := c.Registry(e.login, opts)
	r.Sleep = func(context.Context, time.Duration) error { return nil }
	r.HTTP.Transport = &recording{rec: e.log, next: r.HTTP.Transport}
	return r
}

// push pushes a small random image as repo:tag with the admin's refresh
// token and returns its digest.
func (e *registryEnv) push(repo, tag string) string {
	e.t.Helper()
	reg := e.c.Registry(e.login, RegistryOptions{LookupHost: notFound})
	refresh, err := reg.RefreshToken(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	ref, err := name.NewTag(e.login + "/" + repo + ":" + tag)
	if err != nil {
		e.t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: RegistryNullGUID, Password: refresh})
	if err := remote.Write(ref, img, auth, remote.WithTransport(reg.HTTP.Transport)); err != nil {
		e.t.Fatalf("pushing %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return d.String()
}

// recorder notes requests ("METHOD host path?query") and their form
// bodies, and answers those a fault (if set) takes: what the server would
// not answer (a 503, a challenge without its header).
type recorder struct {
	mu    sync.Mutex
	log   []string
	forms []url.Values
	fault func(r *http.Request) *http.Response
}

type recording struct {
	rec  *recorder
	next http.RoundTripper
}

// note records r.
func (rec *recorder) note(r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.log = append(rec.log, r.Method+" "+r.Host+" "+r.URL.RequestURI())
	if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" && r.GetBody != nil {
		body, _ := r.GetBody()
		b, _ := io.ReadAll(body)
		form, _ := url.ParseQuery(string(b))
		rec.forms = append(rec.forms, form)
	}
}

func (t *recording) RoundTrip(r *http.Request) (*http.Response, error) {
	t.rec.note(r)
	t.rec.mu.Lock()
	fault := t.rec.fault
	t.rec.mu.Unlock()
	if fault != nil {
		if res := fault(r); res != nil {
			res.Request = r
			return res, nil
		}
	}
	return t.next.RoundTrip(r)
}

func (rec *recorder) requests() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.log...)
}

func (rec *recorder) reset() {
	rec.mu.Lock()
	rec.log, rec.forms = nil, nil
	rec.mu.Unlock()
}

func (rec *recorder) count(part string) int {
	n := 0
	for _, l := range rec.requests() {
		if strings.Contains(l, part) {
			n++
		}
	}
	return n
}

func (rec *recorder) setFault(f func(r *http.Request) *http.Response) {
	rec.mu.Lock()
	rec.fault = f
	rec.mu.Unlock()
}

// answer is a response of status with header and body.
func answer(status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// notFound is a resolver that knows no name.
func notFound(_ context.Context, host string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func loopback(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }

func TestRegistryTokenFlowAndFallbackAddress(t *testing.T) {
	e := newRegistryEnv(t)
	reg := e.registry(e.c, RegistryOptions{})
	if reg.Name != "myacr" || reg.Tenant != e.TenantID || reg.Host() != "myacr."+testSuffix {
		t.Fatalf("registry = %+v", reg)
	}
	ch, err := reg.Challenge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ch.Scheme != "bearer" || ch.Realm() != "https://"+e.login+"/oauth2/token" || ch.Service() != e.login {
		t.Errorf("challenge = %+v", ch)
	}
	rt, err := reg.RefreshToken(context.Background())
	if err != nil || rt == "" {
		t.Fatalf("refresh token %q %v", rt, err)
	}
	at, err := reg.AccessToken(context.Background(), ScopeCatalog)
	if err != nil || at == "" {
		t.Fatalf("access token %q %v", at, err)
	}
	// Cached: a second call does not ask again.
	n := len(e.log.requests())
	if _, err := reg.AccessToken(context.Background(), ScopeCatalog); err != nil || len(e.log.requests()) != n {
		t.Errorf("access token not cached: %v", e.log.requests()[n:])
	}
	e.log.mu.Lock()
	exch := e.log.forms[0]
	e.log.mu.Unlock()
	if exch.Get("grant_type") != "access_token" || exch.Get("tenant") != e.TenantID || exch.Get("service") != e.login || exch.Get("access_token") == "" {
		t.Errorf("exchange form %v", exch)
	}
	// The token works: the catalog lists hello.
	repos, err := reg.List(context.Background(), "/acr/v1/_catalog", ScopeCatalog, "repositories", -1, "")
	if err != nil || !slices.Equal(repos, []any{"hello"}) {
		t.Errorf("catalog %v %v", repos, err)
	}
	// The metadata lookup happened once although several connections
	// may have been dialed.
	if md := e.log.count("/metadata/endpoints"); md != 1 {
		t.Errorf("metadata fetched %d times: %v", md, e.log.requests())
	}
}

func TestRegistryDirectResolution(t *testing.T) {
	e := newRegistryEnv(t)
	reg := e.registry(e.c, RegistryOptions{LookupHost: loopback})
	if _, err := reg.AccessToken(context.Background(), ScopeCatalog); err != nil {
		t.Fatal(err)
	}
	if e.log.count("/metadata/endpoints") != 0 {
		t.Errorf("metadata fetched although the name resolved: %v", e.log.requests())
	}
	st, err := reg.Handshake(context.Background())
	if err != nil || st.ServerName != "myacr."+testSuffix || len(st.VerifiedChains) == 0 {
		t.Errorf("handshake %+v %v", st, err)
	}
}

func TestRegistryErrors(t *testing.T) {
	e := newRegistryEnv(t)
	ctx := context.Background()
	var re *RegistryError

	// A registry that answers no challenge (a fault: drydock always does).
	reg := e.registry(e.c, RegistryOptions{})
	e.log.setFault(func(r *http.Request) *http.Response {
		if r.URL.Path == "/v2/" {
			return answer(http.StatusUnauthorized, nil, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		}
		return nil
	})
	_, err := reg.RefreshToken(ctx)
	if !errors.As(err, &re) || re.Title != TitleChallenge || re.Message != "Registry '"+e.login+"' did not issue a challenge." {
		t.Errorf("no challenge: %v", err)
	}
	e.log.setFault(nil)

	// The exchange of a token the directory did not issue is refused.
	reg = e.registry(e.c, RegistryOptions{})
	reg.AADToken = func(context.Context) (string, error) { return "not-a-token", nil }
	_, err = reg.AccessToken(ctx, ScopeCatalog)
	want := "Access to registry '" + e.login + "' was denied. Response code: 401. Please try running 'az login' again to refresh permissions."
	if !errors.As(err, &re) || re.Title != TitleRefreshToken || re.Message != want {
		t.Errorf("denied exchange: %v", err)
	}

	_, err = e.registry(e.c, RegistryOptions{Username: e.adminUser, Password: "wrong"}).AccessToken(ctx, ScopeCatalog)
	if !errors.As(err, &re) || re.Title != TitleAccessToken || re.Status != 401 {
		t.Errorf("bad password: %v", err)
	}
	tok, err := e.registry(e.c, RegistryOptions{Username: e.adminUser, Password: e.adminPassword}).AccessToken(ctx, "repository:hello:pull")
	if err != nil || tok == "" {
		t.Errorf("password grant %q %v", tok, err)
	}

	// Unreachable: nothing resolves and there is no fallback address.
	bad := e.c.Registry("nowhere."+testSuffix+":1", RegistryOptions{LookupHost: notFound})
	bad.dialer.fallback = nil
	_, err = bad.Challenge(ctx)
	if !errors.As(err, &re) || re.Title != TitleDNS || !strings.HasPrefix(re.Message, "Could not connect to the registry login server 'nowhere.azurecr.test:1'.") {
		t.Errorf("unreachable: %v", err)
	}

	reg = e.registry(e.c, RegistryOptions{})
	_, _, err = reg.Data(ctx, http.MethodGet, "/acr/v1/hello/_tags/nope", nil, RepositoryScope("hello", "metadata_read"), "tag")
	if !errors.As(err, &re) || !strings.HasPrefix(re.Message, "Error: ") || re.Code != "TAG_UNKNOWN" || IsRouteMissing(err) {
		t.Errorf("404 with body: %v (%+v)", err, re)
	}
	// A route the registry does not serve: the distribution API's
	// NOT_FOUND, or (a fault: a registry without drydock's routes) a bare
	// 404.
	_, _, err = reg.Data(ctx, http.MethodGet, "/acr/v2/hello", nil, RepositoryScope("hello", "metadata_read"), "")
	if !IsRouteMissing(err) || !errors.As(err, &re) || re.Code != "NOT_FOUND" || re.Message != "Error: the requested resource is not part of the distribution API." {
		t.Errorf("404 NOT_FOUND: %v", err)
	}
	e.log.setFault(func(r *http.Request) *http.Response {
		if r.URL.Path == "/acr/v1/hello/_plain" {
			return answer(http.StatusNotFound, nil, "")
		}
		return nil
	})
	_, _, err = reg.Data(ctx, http.MethodGet, "/acr/v1/hello/_plain", nil, RepositoryScope("hello", "metadata_read"), "")
	if !IsRouteMissing(err) || err.Error() != "The requested data does not exist." {
		t.Errorf("plain 404: %v", err)
	}

	// A registry failing with 503 (a fault) is tried 3 times.
	e.log.setFault(func(r *http.Request) *http.Response {
		if r.URL.Path == "/acr/v1/hello/_tags" {
			return answer(http.StatusServiceUnavailable, http.Header{"X-Ms-Correlation-Request-Id": {"corr-1"}}, "")
		}
		return nil
	})
	_, _, err = reg.Data(ctx, http.MethodGet, "/acr/v1/hello/_tags", nil, RepositoryScope("hello", "metadata_read"), "")
	if err == nil || err.Error() != "Could not get the requested data. Correlation ID: corr-1." {
		t.Errorf("503: %v", err)
	}
	tries := 0
	for _, l := range e.log.requests() {
		if strings.HasSuffix(l, "/acr/v1/hello/_tags") {
			tries++
		}
	}
	if tries != 3 {
		t.Errorf("503 tried %d times", tries)
	}
}

func TestRegistryListPaging(t *testing.T) {
	e := newRegistryEnv(t)
	ctx := context.Background()
	for _, repo := range []string{"gamma", "alpha", "delta", "beta"} {
		e.push(repo, "v1")
	}
	want := []any{"alpha", "beta", "delta", "gamma", "hello"}
	reg := e.registry(e.c, RegistryOptions{})
	all, err := reg.List(ctx, "/acr/v1/_catalog", ScopeCatalog, "repositories", -1, "")
	if err != nil || !slices.Equal(all, want) {
		t.Fatalf("list all: %v %v", all, err)
	}
	reg.PageSize = 2
	all, err = reg.List(ctx, "/acr/v1/_catalog", ScopeCatalog, "repositories", -1, "")
	if err != nil || !slices.Equal(all, want) {
		t.Fatalf("list all by 2: %v %v", all, err)
	}
	some, err := reg.List(ctx, "/acr/v1/_catalog", ScopeCatalog, "repositories", 3, "")
	if err != nil || !slices.Equal(some, want[:3]) {
		t.Fatalf("top 3: %v %v", some, err)
	}
	var pages []string
	for _, l := range e.log.requests() {
		if strings.Contains(l, "_catalog") {
			pages = append(pages, l[strings.Index(l, "/acr"):])
		}
	}
	wantPages := []string{
		"/acr/v1/_catalog?n=100",
		"/acr/v1/_catalog?n=2", "/acr/v1/_catalog?last=beta&n=2", "/acr/v1/_catalog?last=gamma&n=2",
		"/acr/v1/_catalog?n=2", "/acr/v1/_catalog?last=beta&n=1",
	}
	if !slices.Equal(pages, wantPages) {
		t.Errorf("pages:\n%v\nwant\n%v", pages, wantPages)
	}
}

func TestRegistryManifestDigest(t *testing.T) {
	e := newRegistryEnv(t)
	reg := e.registry(e.c, RegistryOptions{})
	ctx := context.Background()
	d, err := reg.ManifestDigest(ctx, "hello", "v1", RepositoryScope("hello", "pull"))
	if err != nil || d != e.digest {
		t.Errorf("HEAD digest %q %v, want %s", d, err, e.digest)
	}
	if e.log.count("HEAD ") != 1 || e.log.count("GET "+e.login+"/v2/hello/manifests/") != 0 {
		t.Errorf("requests: %v", e.log.requests())
	}
	// Without Docker-Content-Digest (a fault: drydock sends it), the
	// body's hash.
	var body []byte
	e.log.setFault(func(r *http.Request) *http.Response {
		if !strings.HasPrefix(r.URL.Path, "/v2/hello/manifests/") {
			return nil
		}
		if r.Method == http.MethodHead {
			return answer(http.StatusOK, nil, "")
		}
		body = []byte(`{"schemaVersion":2}`)
		return answer(http.StatusOK, nil, string(body))
	})
	d, err = reg.ManifestDigest(ctx, "hello", "v1", RepositoryScope("hello", "pull"))
	sum := sha256.Sum256(body)
	if err != nil || d != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("GET digest %q %v", d, err)
	}
}

func TestRegistryDebugRedaction(t *testing.T) {
	e := newRegistryEnv(t)
	var log bytes.Buffer
	e.c.HTTP.Transport = &debugTransport{next: e.c.HTTP.Transport, w: &log}
	reg := e.c.Registry(e.login, RegistryOptions{LookupHost: notFound})
	at, err := reg.AccessToken(context.Background(), ScopeCatalog)
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := reg.RefreshToken(context.Background())
	out := log.String()
	if !strings.Contains(out, "/oauth2/exchange") || !strings.Contains(out, "access_token=%2A%2A%2A%2A%2A") {
		t.Errorf("debug log lacks the redacted exchange:\n%s", out)
	}
	for _, secret := range []string{rt, at, e.c.Credentials().AccessTokens[ARMScope].Token} {
		if strings.Contains(out, secret) {
			t.Errorf("debug log leaks %q:\n%s", secret, out)
		}
	}
}

func TestARMProgress(t *testing.T) {
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
	err := c.ARM(context.Background(), Request{Method: http.MethodPost, Path: "/x/importImage", APIVersion: "v", Body: map[string]any{"mode": "NoForce"},
		Progress: func(s OperationStatus) { seen = append(seen, s) }}, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Error() != "(ImportFailed) blob missing" {
		t.Fatalf("err = %v", err)
	}
	if len(seen) != 3 || seen[0].Progress != "copied 2 of 5 blobs (1.0 MiB)" || *seen[0].PercentComplete != 40 || seen[1].PercentComplete != nil {
		t.Errorf("progress = %+v", seen)
	}
}

// foreignCA makes a CA that is not drydock's and a server certificate it
// signs for *.azurecr.test and 127.0.0.1; it returns the certificate and
// the CA's PEM.
func foreignCA(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "a real registry's CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer("*."+testSuffix, []string{"*." + testSuffix}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return cert, caPEM
}

func TestRegistryUntrustedCertificate(t *testing.T) {
	e := newRegistryEnv(t)
	other := httptest.NewTLSServer(http.NotFoundHandler())
	defer other.Close()
	reg := e.c.Registry(other.Listener.Addr().String(), RegistryOptions{LookupHost: notFound})
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
	e := newRegistryEnv(t)
	foreignCert, foreignPEM := foreignCA(t)
	var hits sync.Map
	foreign := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.Method+" "+r.URL.Path, true)
		w.WriteHeader(500)
	}))
	foreign.TLS = &tls.Config{Certificates: []tls.Certificate{foreignCert}}
	foreign.StartTLS()
	defer foreign.Close()
	// The login server's name and port lead to the foreign server.
	_, fport, _ := net.SplitHostPort(foreign.Listener.Addr().String())
	e.login = "myacr." + testSuffix + ":" + fport

	// The client trusts both CAs (like system roots that trust the real
	// registry); only the first is drydock's.
	dir := t.TempDir()
	both := filepath.Join(dir, "both.pem")
	caPEM, _ := os.ReadFile(e.CAFile)
	os.WriteFile(both, append(append([]byte{}, caPEM...), foreignPEM...), 0o600)
	c := e.client(both)
	reg := e.registry(c, RegistryOptions{LookupHost: loopback, CAFile: e.CAFile})
	if _, err := reg.AccessToken(context.Background(), ScopeCatalog); err != nil {
		t.Fatalf("access token: %v", err)
	}
	hits.Range(func(k, _ any) bool { t.Errorf("request reached the foreign server: %v", k); return true })
	// Without drydock's CA known, the name's server is used.
	reg = e.registry(c, RegistryOptions{LookupHost: loopback})
	if _, err := reg.Challenge(context.Background()); err == nil {
		t.Error("the foreign server issued a challenge")
	}
	if _, ok := hits.Load("GET /v2/"); !ok {
		t.Error("the foreign server was not asked")
	}
}
