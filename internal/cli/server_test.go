package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

// Built-in roles the tests assign.
const (
	acrPullGUID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	readerGUID  = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

// harness runs CLI command lines against drydock's real server, running
// in-process, with a private configuration directory. The server is
// fronted (servertest.WithInterceptor) so tests can read the requests the
// CLI sent and make the next few of a kind fail as the server would under
// a condition a test cannot otherwise cause (a principal not replicated
// yet).
type harness struct {
	t   *testing.T
	srv *servertest.Server
	dir string

	mu       sync.Mutex
	requests []string                    // "METHOD path[?$filter=…]"
	bodies   map[string][]map[string]any // JSON bodies sent, by "METHOD path"
	faults   []*fault
	// seam, when set, answers what it takes (returning true) in front of
	// the server: the managed clusters the server cannot run here.
	seam func(w http.ResponseWriter, r *http.Request) bool
}

// fault answers the next n requests whose "METHOD path" starts with prefix
// with status and body.
type fault struct {
	prefix string
	n      int
	status int
	body   any
}

func newHarness(t *testing.T, opts ...servertest.Option) *harness {
	h := &harness{t: t, dir: t.TempDir()}
	h.srv = servertest.Start(t, append(opts, servertest.WithInterceptor(h.intercept))...)
	t.Setenv(client.EnvConfigDir, h.dir)
	t.Setenv(client.EnvEndpoint, "")
	t.Setenv(client.EnvCAFile, "")
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	old := defaultRetryDelay
	defaultRetryDelay = 0
	t.Cleanup(func() { defaultRetryDelay = old })
	return h
}

func (h *harness) intercept(w http.ResponseWriter, r *http.Request) bool {
	line := r.Method + " " + r.URL.Path
	entry := line
	if fl := r.URL.Query().Get("$filter"); fl != "" {
		entry += "?$filter=" + fl
	}
	raw, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	h.mu.Lock()
	h.requests = append(h.requests, entry)
	var sent map[string]any
	if json.Unmarshal(raw, &sent) == nil && sent != nil {
		if h.bodies == nil {
			h.bodies = map[string][]map[string]any{}
		}
		h.bodies[line] = append(h.bodies[line], sent)
	}
	for _, f := range h.faults {
		if f.n > 0 && strings.HasPrefix(strings.ToLower(line), strings.ToLower(f.prefix)) {
			f.n--
			h.mu.Unlock()
			if f.status == http.StatusOK {
				w.Header().Set("Retry-After", "0") // an injected poll answer
			}
			httpjson.Write(w, f.status, f.body)
			return true
		}
	}
	seam := h.seam
	h.mu.Unlock()
	return seam != nil && seam(w, r)
}

// failNext makes the next n requests starting with prefix ("METHOD
// /path…") answer an ARM error.
func (h *harness) failNext(n int, prefix string, status int, code, message string) {
	h.answerNext(n, prefix, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

// answerNext makes the next n requests starting with prefix answer status
// and body: what the server cannot be brought to say.
func (h *harness) answerNext(n int, prefix string, status int, body any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, &fault{prefix: prefix, n: n, status: status, body: body})
}

// resetLog forgets the requests and bodies seen so far.
func (h *harness) resetLog() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests, h.bodies = nil, nil
}

// count counts logged requests with a prefix.
func (h *harness) count(prefix string) int {
	n := 0
	for _, r := range h.log() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// lastBody is the last JSON body sent to "METHOD path".
func (h *harness) lastBody(key string) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.bodies[key]
	if len(b) == 0 {
		return nil
	}
	return b[len(b)-1]
}

// log is the requests the CLI sent so far.
func (h *harness) log() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.requests...)
}

// login signs the server's admin in.
func (h *harness) login() {
	h.t.Helper()
	h.ok(h.srv.LoginArgs()...)
}

// adminID is the admin's object ID.
func (h *harness) adminID() string {
	h.t.Helper()
	id, _ := obj(h.ok("ad", "signed-in-user", "show"))["id"].(string)
	return id
}

// newUser creates a user in the directory and returns its object ID.
func (h *harness) newUser(upn, name string) string {
	h.t.Helper()
	id, _ := obj(h.ok("ad", "user", "create", "--display-name", name, "--user-principal-name", upn, "--password", "Str0ng-P@ssword"))["id"].(string)
	return id
}

// withoutOwner drops the admin's Owner assignment on the subscription (made
// by the server's bootstrap) from a role assignment list.
func withoutOwner(ras []any) []any {
	return slices.DeleteFunc(ras, func(ra any) bool { return obj(ra)["roleDefinitionName"] == "Owner" })
}

// refreshToken is the refresh token the CLI saved.
func refreshToken(t *testing.T, h *harness) string {
	t.Helper()
	creds, err := (&client.Store{Dir: h.dir}).LoadCredentials()
	if err != nil || creds.RefreshToken == "" {
		t.Fatalf("no refresh token saved: %v", err)
	}
	return creds.RefreshToken
}

// newRegistryHarness signs the admin in to a real server holding the
// registries myacr (admin user disabled) and adminacr (enabled) in group
// rg, with a private Docker configuration. Login servers do not resolve:
// the CLI reaches them through the cloud metadata's registry address.
func newRegistryHarness(t *testing.T) *harness {
	h := newHarness(t)
	t.Setenv("DOCKER_CONFIG", filepath.Join(t.TempDir(), "docker"))
	old := registryLookupHost
	registryLookupHost = func(_ context.Context, host string) ([]string, error) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	t.Cleanup(func() { registryLookupHost = old })
	h.login()
	h.ok("group", "create", "-n", "rg", "-l", "westus")
	h.ok("acr", "create", "-n", "myacr", "-g", "rg", "--sku", "Basic")
	h.ok("acr", "create", "-n", "adminacr", "-g", "rg", "--sku", "Basic", "--admin-enabled", "true")
	return h
}

// adminPassword is the first admin password of the registry name.
func (h *harness) adminPassword(name string) string {
	h.t.Helper()
	pw, _ := obj(list(obj(h.ok("acr", "credential", "show", "-n", name))["passwords"])[0])["value"].(string)
	return pw
}

// registryHTTP is an HTTP client that reaches every login server at the
// server's registry listener.
func (h *harness) registryHTTP() *http.Client {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.srv.CAPool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, h.srv.RegistryAddress)
		}}}
	h.t.Cleanup(c.CloseIdleConnections)
	return c
}

// registryForm posts a form to the registry name's path and decodes the
// JSON answer.
func (h *harness) registryForm(name, path string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	resp, err := h.registryHTTP().PostForm("https://"+h.srv.LoginServer(name)+path, form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// acrRefreshTokenWorks reports whether the registry name issues an access
// token for the ACR refresh token rt.
func (h *harness) acrRefreshTokenWorks(name, rt string) bool {
	h.t.Helper()
	code, out := h.registryForm(name, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {h.srv.LoginServer(name)},
		"scope": {"repository:hello:pull"}, "refresh_token": {rt}})
	return code == http.StatusOK && out["access_token"] != nil
}

// registryToken is an access token of the admin for scope at the registry
// name: its AAD token exchanged for a refresh token, then redeemed.
func (h *harness) registryToken(name, scope string) string {
	h.t.Helper()
	login := h.srv.LoginServer(name)
	code, out := h.registryForm(name, "/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {login}, "tenant": {h.srv.TenantID},
		"access_token": {h.srv.AdminToken(h.t, servertest.ARMScope)}})
	rt, _ := out["refresh_token"].(string)
	if code != http.StatusOK || rt == "" {
		h.t.Fatalf("exchange: %d %v", code, out)
	}
	code, out = h.registryForm(name, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {login}, "scope": {scope}, "refresh_token": {rt}})
	at, _ := out["access_token"].(string)
	if code != http.StatusOK || at == "" {
		h.t.Fatalf("token for %s: %d %v", scope, code, out)
	}
	return at
}

// registryDo sends a request to the registry name with a bearer token.
func (h *harness) registryDo(name, token, method, path, ctype string, body []byte) *http.Response {
	h.t.Helper()
	u := path
	if !strings.HasPrefix(u, "https://") {
		u = "https://" + h.srv.LoginServer(name) + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := h.registryHTTP().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// push uploads a one-layer linux/amd64 image whose layer holds layer to
// repo in the registry name under tags, in order, and returns its
// manifest's digest.
func (h *harness) push(name, repo, layer string, tags ...string) string {
	h.t.Helper()
	tok := h.registryToken(name, "repository:"+repo+":push,pull")
	blob := func(b []byte) map[string]any {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
		resp := h.registryDo(name, tok, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", "", nil)
		resp.Body.Close()
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusAccepted || err != nil {
			h.t.Fatalf("start upload: %d %v", resp.StatusCode, err)
		}
		q := loc.Query()
		q.Set("digest", d)
		loc.RawQuery = q.Encode()
		resp = h.registryDo(name, tok, http.MethodPut, loc.String(), "application/octet-stream", b)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			h.t.Fatalf("upload %s: %d", d, resp.StatusCode)
		}
		return map[string]any{"digest": d, "size": len(b)}
	}
	config := blob([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`))
	config["mediaType"] = "application/vnd.oci.image.config.v1+json"
	l := blob([]byte(layer))
	l["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
	manifest, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": []any{l}})
	for _, tag := range tags {
		resp := h.registryDo(name, tok, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", manifest)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			h.t.Fatalf("push %s:%s: %d", repo, tag, resp.StatusCode)
		}
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256(manifest))
}

// setProfileTenant makes the saved profile's subscriptions name tenant, as
// after a subscription moved: registries then refuse to exchange the
// user's token for that tenant (the token is for the server's).
func (h *harness) setProfileTenant(tenant string) {
	h.t.Helper()
	store := &client.Store{Dir: h.dir}
	prof, err := store.LoadProfile()
	if err != nil {
		h.t.Fatal(err)
	}
	for i := range prof.Subscriptions {
		prof.Subscriptions[i].TenantID = tenant
	}
	if err := store.SaveProfile(prof); err != nil {
		h.t.Fatal(err)
	}
}
