package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
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

// acrRefreshTokenWorks reports whether the registry name issues an access
// token for the ACR refresh token rt.
func (h *harness) acrRefreshTokenWorks(name, rt string) bool {
	h.t.Helper()
	login := h.srv.LoginServer(name)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.srv.CAPool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, h.srv.RegistryAddress)
		}}}
	defer c.CloseIdleConnections()
	resp, err := c.PostForm("https://"+login+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {login},
		"scope": {"repository:hello:pull"}, "refresh_token": {rt}})
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode == http.StatusOK && out["access_token"] != nil
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
