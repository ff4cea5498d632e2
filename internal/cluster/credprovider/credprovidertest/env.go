// Package credprovidertest gives the tests of drydock's node-side programs
// (the kubelet credential provider, check-acr) what a node talks to:
// drydock's real server running in-process (servertest), with a kubelet
// identity assigned to a host whose host credential and drydock's CA are
// on disk next to the node's azure.json, and registries with images.
//
// Both of the node's peers are reached through TLS fronts that log every
// request and let a test inject what the server cannot be made to answer
// (a 500, a refusal, an unavailable identity endpoint): the identity
// endpoint through servertest's interceptor, the registry listener through
// a front at 127.0.0.2 on the listener's own port, so that a login server
// with that port, resolved to 127.0.0.2, reaches the front. Everything the
// fronts do not answer is the server's own answer.
package credprovidertest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/acrtoken"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/pki"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

// Suffix is the login-server suffix of the environments' registries: .test
// never resolves (RFC 6761), so login servers are reached through
// azure.json's registryAddress or a test's resolver.
const Suffix = "azurecr.test"

// FrontIP is the address of the registry front.
const FrontIP = "127.0.0.2"

// Identity is a managed identity.
type Identity struct {
	ID, Name, ClientID, PrincipalID string
}

// Registry is a registry of the environment.
type Registry struct {
	Name string
	// ID is its ARM resource ID (the RBAC scope).
	ID string
	// LoginServer is <name>.<suffix>:<registry listener port>.
	LoginServer string
	// Digests are the manifest digests of the repositories pushed.
	Digests map[string]string
}

// Interceptor sees a request (with its body) before the server: it answers
// it and returns true, or returns false to let it through.
type Interceptor func(w http.ResponseWriter, r *http.Request, body []byte) bool

// Env is a node's world: the server, the host and its kubelet identity.
type Env struct {
	*servertest.Server
	t   testing.TB
	arm string // the admin's ARM token

	// Group is the resource group of the host, its identity and the
	// registries.
	Group string
	// Dir holds ca.crt, host-credential and azure.json.
	Dir                string
	CAFile             string
	HostCredential     string
	HostCredentialFile string
	Kubelet            Identity
	// Front is the registry front's address (FrontIP and the registry
	// listener's port).
	Front string

	mu        sync.Mutex
	requests  []string
	intercept Interceptor
}

// New starts a server (with opts) and sets up a host holding the kubelet
// identity.
func New(t testing.TB, opts ...servertest.Option) *Env {
	t.Helper()
	e := &Env{t: t, Group: "rg"}
	opts = append([]servertest.Option{
		servertest.WithConfig(func(c *config.Config) { c.LoginServerSuffix = Suffix }),
		servertest.WithInterceptor(e.see),
	}, opts...)
	e.Server = servertest.Start(t, opts...)
	e.arm = e.AdminToken(t, servertest.ARMScope)
	e.Dir = t.TempDir()
	e.startFront()

	rg := e.rg()
	e.arm200(http.MethodPut, rg+"?api-version=2022-09-01", map[string]any{"location": "eastus"})
	e.Kubelet = e.NewIdentity("cluster-agentpool")
	vm := rg + "/providers/Microsoft.Compute/virtualMachines/aks-nodepool1-0"
	e.arm200(http.MethodPut, vm+"?api-version=2024-07-01", map[string]any{"location": "eastus",
		"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{e.Kubelet.ID: map[string]any{}}}})
	e.HostCredential = e.arm200(http.MethodPost, vm+"/issueHostCredential?api-version=2024-07-01", nil)["hostCredential"].(string)

	e.CAFile = filepath.Join(e.Dir, "ca.crt")
	ca, err := os.ReadFile(e.Server.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	e.write(e.CAFile, ca)
	e.HostCredentialFile = filepath.Join(e.Dir, "host-credential")
	e.write(e.HostCredentialFile, []byte(e.HostCredential+"\n"))
	return e
}

func (e *Env) rg() string {
	return "/subscriptions/" + e.SubscriptionID + "/resourceGroups/" + e.Group
}

// arm200 sends an ARM or Graph request as the admin and fails the test
// unless it succeeds.
func (e *Env) arm200(method, path string, body any) map[string]any {
	e.t.Helper()
	token := e.arm
	if strings.HasPrefix(path, "/v1.0/") {
		token = e.AdminToken(e.t, servertest.GraphScope)
	}
	code, out := e.Do(e.t, token, method, path, body)
	if code >= 300 {
		e.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// NewIdentity creates a user-assigned identity in Group.
func (e *Env) NewIdentity(identityName string) Identity {
	e.t.Helper()
	mi := e.arm200(http.MethodPut, e.rg()+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+identityName+"?api-version=2023-01-31",
		map[string]any{"location": "eastus"})
	props, _ := mi["properties"].(map[string]any)
	id := Identity{Name: identityName}
	id.ID, _ = mi["id"].(string)
	id.ClientID, _ = props["clientId"].(string)
	id.PrincipalID, _ = props["principalId"].(string)
	return id
}

// OtherCA writes the certificate of a CA that is not drydock's and
// returns its path.
func OtherCA(t testing.TB) string {
	dir := t.TempDir()
	if _, err := pki.LoadOrCreateCA(dir, "another CA"); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "ca.crt")
}

// Answer is an interceptor that answers the requests whose path starts
// with prefix with status and body.
func Answer(prefix string, status int, body string) Interceptor {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
		return true
	}
}

func (e *Env) write(path string, b []byte) {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// Config returns the node's azure.json, reaching the registries through
// the front.
func (e *Env) Config() *credprovider.AzureConfig {
	return &credprovider.AzureConfig{
		Cloud: "drydock", TenantID: e.TenantID, SubscriptionID: e.SubscriptionID, ResourceGroup: "MC_rg_cluster_eastus", Location: "eastus",
		AADClientID: "msi", AADClientSecret: "msi", UseManagedIdentityExtension: true, UserAssignedIdentityID: e.Kubelet.ClientID,
		ResourceManagerEndpoint: e.URL, IdentityEndpoint: e.URL + "/metadata/identity/oauth2/token",
		HostCredentialFile: e.HostCredentialFile, CAFile: e.CAFile, ContainerRegistryDNSSuffix: Suffix, RegistryAddress: e.Front,
	}
}

// WriteConfig writes cfg as azure.json in Dir and returns its path.
func (e *Env) WriteConfig(cfg *credprovider.AzureConfig) string {
	b, _ := json.MarshalIndent(cfg, "", "  ")
	p := filepath.Join(e.Dir, "azure.json")
	e.write(p, b)
	return p
}

// ResolveToFront is a resolver that sends every name to the front.
func ResolveToFront(context.Context, string) ([]string, error) { return []string{FrontIP}, nil }

// AddRegistry creates the registry name and pushes one image per
// repository, tagged with each of its tags (repos: repository → tags).
func (e *Env) AddRegistry(regName string, repos map[string][]string) *Registry {
	e.t.Helper()
	out := e.arm200(http.MethodPut, e.rg()+"/providers/Microsoft.ContainerRegistry/registries/"+regName+"?api-version=2023-07-01",
		map[string]any{"location": "eastus", "sku": map[string]any{"name": "Standard"}})
	reg := &Registry{Name: regName, ID: out["id"].(string), LoginServer: out["properties"].(map[string]any)["loginServer"].(string), Digests: map[string]string{}}
	if len(repos) == 0 {
		return reg
	}
	rt := e.registryTransport()
	tokens := &acrtoken.Client{HTTP: &http.Client{Transport: rt}}
	refresh, err := tokens.Exchange(context.Background(), acrtoken.ExchangeRequest{Origin: "https://" + reg.LoginServer, Service: reg.LoginServer, Tenant: e.TenantID, AccessToken: e.arm})
	if err != nil {
		e.t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: credprovider.AnonymousUser, Password: refresh})
	for repo, tags := range repos {
		img, err := random.Image(512, 1)
		if err != nil {
			e.t.Fatal(err)
		}
		d, _ := img.Digest()
		reg.Digests[repo] = d.String()
		for _, tag := range tags {
			ref, err := name.NewTag(reg.LoginServer + "/" + repo + ":" + tag)
			if err != nil {
				e.t.Fatal(err)
			}
			if err := remote.Write(ref, img, auth, remote.WithTransport(rt)); err != nil {
				e.t.Fatalf("pushing %s: %v", ref, err)
			}
		}
	}
	return reg
}

// registryTransport reaches the registry listener whatever the login
// server resolves to.
func (e *Env) registryTransport() *http.Transport {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, e.RegistryAddress)
		},
		TLSClientConfig: &tls.Config{RootCAs: e.CAPool},
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// Assign assigns role (by name) to principal at scope and returns the
// assignment's ID.
func (e *Env) Assign(role, principal, scope string) string {
	e.t.Helper()
	rd, ok := authz.RoleByName(role)
	if !ok {
		e.t.Fatalf("no role %s", role)
	}
	id := scope + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	e.arm200(http.MethodPut, id+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + rd.GUID, "principalId": principal}})
	return id
}

// Unassign deletes the role assignment id.
func (e *Env) Unassign(id string) {
	e.t.Helper()
	e.arm200(http.MethodDelete, id+"?api-version=2022-04-01", nil)
}

// NewGroup creates a security group and returns its object ID.
func (e *Env) NewGroup(displayName string) string {
	e.t.Helper()
	g := e.arm200(http.MethodPost, "/v1.0/groups", map[string]any{"displayName": displayName, "mailNickname": displayName, "securityEnabled": true, "mailEnabled": false})
	return g["id"].(string)
}

// AddMember makes principal a member of group (effective after the
// server's group propagation delay).
func (e *Env) AddMember(group, principal string) {
	e.t.Helper()
	e.arm200(http.MethodPost, "/v1.0/groups/"+group+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + principal})
}

// Intercept sets what the fronts show requests to (nil: nobody).
func (e *Env) Intercept(f Interceptor) {
	e.mu.Lock()
	e.intercept = f
	e.mu.Unlock()
}

// Requests lists "METHOD host path" of the requests the fronts saw (the
// identity endpoint's and the registries'), in order.
func (e *Env) Requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// Reset forgets the requests seen so far.
func (e *Env) Reset() {
	e.mu.Lock()
	e.requests = nil
	e.mu.Unlock()
}

// see logs a request of the node (not the test's own API calls) and shows
// it to the interceptor.
func (e *Env) see(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/metadata/identity/") && !strings.HasPrefix(r.URL.Path, "/v2/") && !strings.HasPrefix(r.URL.Path, "/oauth2/") {
		return false
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	e.mu.Lock()
	e.requests = append(e.requests, r.Method+" "+r.Host+" "+r.URL.Path)
	f := e.intercept
	e.mu.Unlock()
	if f == nil {
		return false
	}
	handled := f(w, r, body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return handled
}

// startFront serves the registry front on FrontIP at the registry
// listener's port.
func (e *Env) startFront() {
	_, port, _ := net.SplitHostPort(e.RegistryAddress)
	ln, err := net.Listen("tcp", net.JoinHostPort(FrontIP, port))
	if err != nil {
		e.t.Fatalf("registry front: %v", err)
	}
	e.Front = ln.Addr().String()
	cert, err := tls.LoadX509KeyPair(filepath.Join(e.DataDir, "pki", "registry.crt"), filepath.Join(e.DataDir, "pki", "registry.key"))
	if err != nil {
		e.t.Fatal(err)
	}
	target, _ := url.Parse("https://" + e.RegistryAddress)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport: e.registryTransport(),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !e.see(w, r) {
				proxy.ServeHTTP(w, r)
			}
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	e.t.Cleanup(func() { srv.Close() })
}
