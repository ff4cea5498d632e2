package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/client"
)

// fakeACR serves ARM (tokens, subscriptions, registries, importImage,
// listUsages, metadata) and the data plane of its registries on one TLS
// listener, routing by Host as drydock does. Its certificate covers
// *.azurecr.test and 127.0.0.1 and comes from a CA the CLI trusts through
// --ca-file.
type fakeACR struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string
	port   string

	mu         sync.Mutex
	log        []string
	registries map[string]map[string]any
	tags       []map[string]any
	manifests  []map[string]any
	imports    []map[string]any
	polls      int
	scopes     []string
	// denyExchange makes /oauth2/exchange answer 401; noAddress drops
	// drydock.registryAddress from the metadata.
	denyExchange bool
	noAddress    bool
	// v2Only serves no /acr/v1 routes, only the OCI API.
	v2Only bool
}

const acrSuffix = "azurecr.test"

func testCertificates(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake drydock CA"},
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
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "*." + acrSuffix},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"*." + acrSuffix}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}

func newFakeACR(t *testing.T) *fakeACR {
	cert, caFile := testCertificates(t)
	f := &fakeACR{t: t, caFile: caFile, registries: map[string]map[string]any{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	_, f.port, _ = net.SplitHostPort(f.srv.Listener.Addr().String())
	for _, r := range []struct {
		name  string
		admin bool
	}{{"myacr", false}, {"adminacr", true}, {"srcacr", false}} {
		id := "/subscriptions/" + fakeSub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/" + r.name
		f.registries[r.name] = map[string]any{
			"id": id, "name": r.name, "type": "Microsoft.ContainerRegistry/registries", "location": "westus",
			"sku":        map[string]any{"name": "Basic", "tier": "Basic"},
			"properties": map[string]any{"loginServer": f.login(r.name), "adminUserEnabled": r.admin, "provisioningState": "Succeeded"},
		}
	}
	f.tags = []map[string]any{
		{"name": "latest", "digest": "sha256:aaa", "createdTime": "2024-01-01T00:00:00Z", "lastUpdateTime": "2024-01-03T00:00:00Z", "signed": false},
		{"name": "v1", "digest": "sha256:aaa", "createdTime": "2024-01-01T00:00:00Z", "lastUpdateTime": "2024-01-01T00:00:00Z", "signed": false},
		{"name": "v2", "digest": "sha256:bbb", "createdTime": "2024-01-02T00:00:00Z", "lastUpdateTime": "2024-01-02T00:00:00Z", "signed": false},
	}
	f.manifests = []map[string]any{
		{"digest": "sha256:aaa", "imageSize": 1024, "createdTime": "2024-01-01T00:00:00Z", "lastUpdateTime": "2024-01-03T00:00:00Z", "tags": []any{"latest", "v1"}, "architecture": "amd64", "os": "linux"},
		{"digest": "sha256:bbb", "imageSize": 2048, "createdTime": "2024-01-02T00:00:00Z", "lastUpdateTime": "2024-01-02T00:00:00Z", "tags": []any{"v2"}, "architecture": "amd64", "os": "linux"},
	}
	return f
}

func (f *fakeACR) login(name string) string { return name + "." + acrSuffix + ":" + f.port }

func (f *fakeACR) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// saw reports whether a request line (method, host and URI) was logged.
func (f *fakeACR) saw(line string) bool { return slices.Contains(f.requests(), line) }

func acrErrors(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, map[string]any{"errors": []any{map[string]any{"code": code, "message": msg}}})
}

func (f *fakeACR) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, r.Method+" "+r.Host+" "+r.URL.RequestURI())
	host, _, _ := net.SplitHostPort(r.Host)
	if name, ok := strings.CutSuffix(host, "."+acrSuffix); ok {
		f.registry(w, r, name)
		return
	}
	f.arm(w, r)
}

func (f *fakeACR) arm(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	body, _ := io.ReadAll(r.Body)
	switch {
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		form, _ := url.ParseQuery(string(body))
		if form.Get("grant_type") == "password" && (form.Get("username") != fakeUser || form.Get("password") != fakePassword) {
			reply(w, 400, map[string]any{"error": "invalid_grant", "error_description": "AADSTS50126: bad password"})
			return
		}
		tok := fakeJWT(map[string]any{"tid": fakeTenant, "oid": fakeUserID, "upn": fakeUser})
		reply(w, 200, map[string]any{"token_type": "Bearer", "access_token": tok, "expires_in": 3600, "refresh_token": "rt"})
		return
	case p == "/metadata/endpoints":
		dd := map[string]any{"caFile": f.caFile}
		if !f.noAddress {
			dd["registryAddress"] = "0.0.0.0:" + f.port
		}
		reply(w, 200, []any{map[string]any{"suffixes": map[string]any{"acrLoginServer": acrSuffix}, "drydock": dd}})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		armError(w, 401, "AuthenticationFailed", "no token")
		return
	}
	prefix := "/subscriptions/" + fakeSub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/"
	switch {
	case p == "/subscriptions":
		reply(w, 200, map[string]any{"value": []any{map[string]any{"id": "/subscriptions/" + fakeSub, "subscriptionId": fakeSub, "tenantId": fakeTenant, "displayName": "Dev", "state": "Enabled"}}})
	case p == "/subscriptions/"+fakeSub+"/providers/Microsoft.ContainerRegistry/registries":
		var items []any
		for _, n := range []string{"adminacr", "myacr", "srcacr"} {
			items = append(items, f.registries[n])
		}
		reply(w, 200, map[string]any{"value": items})
	case p == "/operations/import":
		f.polls++
		var imp map[string]any
		if len(f.imports) > 0 {
			imp = f.imports[len(f.imports)-1]
		}
		src, _ := imp["source"].(map[string]any)
		if strings.Contains(fmt.Sprint(src["sourceImage"]), "missing") {
			reply(w, 200, map[string]any{"status": "Failed", "error": map[string]any{"code": "ImportSourceNotFound", "message": "The source image was not found."}})
			return
		}
		w.Header().Set("Retry-After", "0")
		steps := []map[string]any{
			{"status": "InProgress"},
			{"status": "InProgress", "percentComplete": 33.33, "properties": map[string]any{"progress": "copied 1 of 3 blobs (1.0 MiB)"}},
			{"status": "InProgress", "percentComplete": 33.33, "properties": map[string]any{"progress": "copied 1 of 3 blobs (1.0 MiB)"}},
			{"status": "InProgress", "percentComplete": 100, "properties": map[string]any{"progress": "copied 3 of 3 blobs (4.5 MiB)"}},
			{"status": "Succeeded"},
		}
		reply(w, 200, steps[min(f.polls-1, len(steps)-1)])
	case strings.HasPrefix(p, prefix):
		rest := strings.Split(strings.TrimPrefix(p, prefix), "/")
		reg, ok := f.registries[rest[0]]
		if !ok {
			armError(w, 404, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+rest[0]+"' under resource group 'rg' was not found.")
			return
		}
		switch {
		case len(rest) == 1 && r.Method == http.MethodGet:
			reply(w, 200, reg)
		case len(rest) == 2 && rest[1] == "listCredentials" && r.Method == http.MethodPost:
			reply(w, 200, map[string]any{"username": rest[0], "passwords": []any{map[string]any{"name": "password", "value": "adminpw"}, map[string]any{"name": "password2", "value": "adminpw2"}}})
		case len(rest) == 2 && rest[1] == "importImage" && r.Method == http.MethodPost:
			var in map[string]any
			_ = json.Unmarshal(body, &in)
			f.imports = append(f.imports, in)
			f.polls = 0
			w.Header().Set("Azure-AsyncOperation", f.srv.URL+"/operations/import?api-version=2023-07-01")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(202)
		case len(rest) == 2 && rest[1] == "listUsages" && r.Method == http.MethodGet:
			reply(w, 200, map[string]any{"value": []any{
				map[string]any{"name": "Size", "limit": 10737418240, "currentValue": 5767168, "unit": "Bytes"},
				map[string]any{"name": "Webhooks", "limit": 2, "currentValue": 0, "unit": "Count"},
			}})
		default:
			armError(w, 405, "MethodNotAllowed", r.Method+" "+p)
		}
	default:
		armError(w, 404, "NotFound", p)
	}
}

// registry serves the data plane of the registry name.
func (f *fakeACR) registry(w http.ResponseWriter, r *http.Request, name string) {
	login := f.login(name)
	if _, ok := f.registries[name]; !ok {
		acrErrors(w, 404, "NAME_UNKNOWN", "no registry is served at "+name)
		return
	}
	challenge := func() {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, login, login))
		acrErrors(w, 401, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.")
	}
	_ = r.ParseForm()
	form := r.PostForm
	switch r.URL.Path {
	case "/oauth2/exchange":
		claims, err := client.ParseClaims(form.Get("access_token"))
		if f.denyExchange || err != nil || claims.TenantID != fakeTenant || form.Get("tenant") != fakeTenant ||
			form.Get("grant_type") != "access_token" || form.Get("service") != login {
			acrErrors(w, 401, "UNAUTHORIZED", "token validation failed")
			return
		}
		reply(w, 200, map[string]any{"refresh_token": "rt-" + name})
		return
	case "/oauth2/token":
		ok := false
		switch form.Get("grant_type") {
		case "refresh_token":
			ok = form.Get("refresh_token") == "rt-"+name
		case "password":
			ok = (form.Get("username") == name && form.Get("password") == "adminpw") ||
				(form.Get("username") == client.RegistryNullGUID && form.Get("password") == "rt-"+name)
		}
		if !ok || form.Get("service") != login {
			acrErrors(w, 401, "UNAUTHORIZED", "invalid credentials")
			return
		}
		f.scopes = append(f.scopes, form.Get("scope"))
		reply(w, 200, map[string]any{"access_token": "at|" + name + "|" + form.Get("scope")})
		return
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer at|"+name+"|") {
		challenge()
		return
	}
	scope := strings.TrimPrefix(auth, "Bearer at|"+name+"|")
	need := func(s string) bool {
		if !strings.HasPrefix(scope, strings.Join(strings.Split(s, ":")[:2], ":")+":") || !strings.Contains(scope, strings.Split(s, ":")[2]) {
			acrErrors(w, 401, "UNAUTHORIZED", "insufficient scope "+scope+", need "+s)
			return false
		}
		return true
	}
	q := r.URL.Query()
	p := r.URL.Path
	if f.v2Only && strings.HasPrefix(p, "/acr/") {
		acrErrors(w, 404, "NOT_FOUND", "the requested resource is not part of the distribution API")
		return
	}
	switch {
	case p == "/v2/_catalog" && r.Method == http.MethodGet:
		if need("registry:catalog:*") {
			reply(w, 200, map[string]any{"repositories": []string{"hello", "world"}})
		}
	case p == "/v2/hello/tags/list" && r.Method == http.MethodGet:
		if need("repository:hello:pull") {
			reply(w, 200, map[string]any{"name": "hello", "tags": []string{"latest", "v1", "v2"}})
		}
	case p == "/v2/hello/manifests/v2" && r.Method == http.MethodDelete:
		if need("repository:hello:delete") {
			w.WriteHeader(202)
		}
	case p == "/acr/v1/_catalog" && r.Method == http.MethodGet:
		if !need("registry:catalog:*") {
			return
		}
		repos := []string{"hello", "world"}
		n, _ := strconv.Atoi(q.Get("n"))
		if last := q.Get("last"); last != "" {
			repos = slices.DeleteFunc(repos, func(s string) bool { return s <= last })
		}
		if n > 0 && len(repos) > n {
			repos = repos[:n]
			w.Header().Set("Link", fmt.Sprintf(`</acr/v1/_catalog?last=%s&n=%d>; rel="next"`, repos[n-1], n))
		}
		reply(w, 200, map[string]any{"repositories": repos})
	case p == "/acr/v1/hello/_tags" && r.Method == http.MethodGet:
		if !need("repository:hello:metadata_read") {
			return
		}
		tags := slices.Clone(f.tags)
		if q.Get("orderby") == "timedesc" {
			slices.SortFunc(tags, func(a, b map[string]any) int {
				return strings.Compare(b["lastUpdateTime"].(string), a["lastUpdateTime"].(string))
			})
		}
		if n, _ := strconv.Atoi(q.Get("n")); n > 0 && len(tags) > n {
			tags = tags[:n]
		}
		reply(w, 200, map[string]any{"registry": login, "imageName": "hello", "tags": tags})
	case strings.HasPrefix(p, "/acr/v1/hello/_manifests") && r.Method == http.MethodGet:
		if !need("repository:hello:metadata_read") {
			return
		}
		reply(w, 200, map[string]any{"registry": login, "imageName": "hello", "manifests": f.manifests})
	case p == "/acr/v1/hello" && r.Method == http.MethodGet:
		reply(w, 200, map[string]any{"registry": login, "imageName": "hello", "manifestCount": len(f.manifests), "tagCount": len(f.tags)})
	case p == "/acr/v1/hello" && r.Method == http.MethodDelete:
		if !need("repository:hello:delete") {
			return
		}
		reply(w, 202, map[string]any{"manifestsDeleted": []any{"sha256:aaa", "sha256:bbb"}, "tagsDeleted": []any{"latest", "v1", "v2"}})
	case strings.HasPrefix(p, "/acr/v1/hello/_tags/") && r.Method == http.MethodGet:
		tag := strings.TrimPrefix(p, "/acr/v1/hello/_tags/")
		for _, t := range f.tags {
			if t["name"] == tag {
				reply(w, 200, map[string]any{"registry": login, "imageName": "hello", "tag": t})
				return
			}
		}
		acrErrors(w, 404, "TAG_UNKNOWN", "the specified tag does not exist")
	case strings.HasPrefix(p, "/acr/v1/hello/_tags/") && r.Method == http.MethodDelete:
		if !need("repository:hello:delete") {
			return
		}
		w.WriteHeader(202)
	case p == "/v2/hello/manifests/v1" && r.Method == http.MethodHead:
		if !need("repository:hello:pull") {
			return
		}
		w.Header().Set("Docker-Content-Digest", "sha256:aaa")
		w.WriteHeader(200)
	case p == "/v2/hello/manifests/sha256:aaa" && r.Method == http.MethodDelete:
		if !need("repository:hello:delete") {
			return
		}
		w.WriteHeader(202)
	case p == "/v2/":
		challenge()
	default:
		http.NotFound(w, r)
	}
}

// acrHarness logs in to a fakeACR; login servers do not resolve, so the
// CLI reaches them through the metadata's registry address.
func newACRHarness(t *testing.T) (*harness, *fakeACR) {
	f := newFakeACR(t)
	h := &harness{t: t, dir: t.TempDir()}
	t.Setenv(client.EnvConfigDir, h.dir)
	t.Setenv(client.EnvEndpoint, "")
	t.Setenv(client.EnvCAFile, "")
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	t.Setenv("DOCKER_CONFIG", filepath.Join(t.TempDir(), "docker"))
	old := registryLookupHost
	registryLookupHost = func(_ context.Context, host string) ([]string, error) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	t.Cleanup(func() { registryLookupHost = old })
	h.ok("login", "-u", fakeUser, "-p", fakePassword, "--endpoint", f.srv.URL, "--ca-file", f.caFile)
	return h, f
}
