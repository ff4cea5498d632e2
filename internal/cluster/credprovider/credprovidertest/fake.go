// Package credprovidertest is a fake of what a drydock node talks to: the
// managed-identity endpoint and registries' login servers with ACR's token
// protocol, on one TLS test server whose certificate chains to a test CA.
// Pull permissions are decided by drydock's RBAC engine (internal/authz),
// and refusals carry the registry token service's wording, so checks that
// read them see what a real drydock says.
package credprovidertest

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
	"github.com/drydock-dev/drydock/internal/pki"
)

// Identity is a managed identity of the fake directory.
type Identity struct {
	ClientID, PrincipalID, Name string
}

// Registry is a fake registry: its repositories and tags.
type Registry struct {
	Name  string
	ID    string              // ARM resource ID (the RBAC scope)
	Repos map[string][]string // repository → tags
}

// Fake is the identity endpoint plus registries.
type Fake struct {
	t      testing.TB
	Server *httptest.Server
	Suffix string
	Tenant string
	// SubscriptionID is the cluster's subscription (azure.json) and the
	// registries'.
	SubscriptionID string
	Dir            string // temp dir holding ca.crt, host-credential, azure.json

	CA                 *pki.CA
	CAFile             string
	HostCredential     string
	HostCredentialFile string
	Kubelet            Identity

	// RBAC: the engine and each principal's group memberships.
	Engine *authz.Engine
	Groups map[string][]authz.Membership
	Now    func() time.Time

	mu         sync.Mutex
	identities []Identity           // assigned to the host
	registries map[string]*Registry // lower-case name → registry
	access     map[string]grant     // access token → grant
	refresh    map[string]string    // refresh token → principal
	requests   []string

	// Knobs for failure paths.
	IMDSStatus      int                              // answer the identity endpoint with this status
	ChallengeWriter func(w http.ResponseWriter)      // replace the /v2/ challenge
	ExchangeStatus  int                              // refuse /oauth2/exchange with this status
	TokenHook       func(w http.ResponseWriter) bool // intercept /oauth2/token (true: handled)
	V2Hook          func(w http.ResponseWriter, r *http.Request) bool
}

type grant struct {
	principal string
	scopes    []string // "repository:x:pull", "registry:catalog:*"
}

// New starts a fake for registries under suffix (use a suffix that does
// not resolve, such as "azurecr.test"). The host holds the kubelet
// identity.
func New(t testing.TB, suffix string) *Fake {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "pki"), "drydock test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer("*."+suffix, []string{"*." + suffix, "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{
		t: t, Suffix: suffix, Tenant: uuid.NewString(), SubscriptionID: uuid.NewString(), Dir: dir,
		Kubelet:    Identity{ClientID: uuid.NewString(), PrincipalID: uuid.NewString(), Name: "cluster-agentpool"},
		Engine:     authz.NewEngine(authz.BuiltInRoles()),
		Groups:     map[string][]authz.Membership{},
		Now:        time.Now,
		registries: map[string]*Registry{},
		access:     map[string]grant{},
		refresh:    map[string]string{},
	}
	f.identities = []Identity{f.Kubelet}
	f.HostCredential = "dhc_" + strings.ReplaceAll(uuid.NewString(), "-", "") + ".secret"
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.Server.StartTLS()
	t.Cleanup(f.Server.Close)

	f.CAFile = filepath.Join(dir, "ca.crt")
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	f.write(f.CAFile, caPEM)
	f.CA = ca
	f.HostCredentialFile = filepath.Join(dir, "host-credential")
	f.write(f.HostCredentialFile, []byte(f.HostCredential+"\n"))
	return f
}

func (f *Fake) write(path string, b []byte) {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// Addr is the server's host:port (the registry listener and the identity
// endpoint's address).
func (f *Fake) Addr() string { return f.Server.Listener.Addr().String() }

// Port is the server's port.
func (f *Fake) Port() string { _, p, _ := net.SplitHostPort(f.Addr()); return p }

// Config returns the node's azure.json for this fake.
func (f *Fake) Config() *credprovider.AzureConfig {
	return &credprovider.AzureConfig{
		Cloud: "drydock", TenantID: f.Tenant, SubscriptionID: f.SubscriptionID, ResourceGroup: "MC_rg_cluster_eastus", Location: "eastus",
		AADClientID: "msi", AADClientSecret: "msi", UseManagedIdentityExtension: true, UserAssignedIdentityID: f.Kubelet.ClientID,
		ResourceManagerEndpoint: "https://" + f.Addr(), IdentityEndpoint: "https://" + f.Addr() + "/metadata/identity/oauth2/token",
		HostCredentialFile: f.HostCredentialFile, CAFile: f.CAFile, ContainerRegistryDNSSuffix: f.Suffix, RegistryAddress: f.Addr(),
	}
}

// WriteConfig writes cfg as azure.json in the fake's directory and returns
// its path.
func (f *Fake) WriteConfig(cfg *credprovider.AzureConfig) string {
	b, _ := json.MarshalIndent(cfg, "", "  ")
	p := filepath.Join(f.Dir, "azure.json")
	f.write(p, b)
	return p
}

// AddRegistry adds a registry named name with repositories (repo → tags).
func (f *Fake) AddRegistry(name string, repos map[string][]string) *Registry {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &Registry{Name: name, ID: "/subscriptions/" + f.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/" + name, Repos: repos}
	f.registries[strings.ToLower(name)] = r
	return r
}

// Assign adds a role assignment (role name) of principal at scope.
func (f *Fake) Assign(role, principal, principalType, scope string) authz.Assignment {
	rd, ok := authz.RoleByName(role)
	if !ok {
		f.t.Fatalf("no role %s", role)
	}
	a := authz.Assignment{Name: uuid.NewString(), Scope: scope, RoleDefinitionID: rd.GUID, PrincipalID: principal, PrincipalType: principalType, CreatedOn: time.Now()}
	f.Engine.Add(a)
	return a
}

// AddMember makes principal a member of group from effectiveAt on.
func (f *Fake) AddMember(group, principal string, effectiveAt time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Groups[principal] = append(f.Groups[principal], authz.Membership{GroupID: group, EffectiveAt: effectiveAt})
}

// SetHostIdentities replaces the identities assigned to the host.
func (f *Fake) SetHostIdentities(ids ...Identity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.identities = ids
}

// Requests lists "METHOD host path" of every request served so far.
func (f *Fake) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// ---- tokens ----

// DirectoryToken is a JWT-shaped (unsigned) directory access token.
func (f *Fake) DirectoryToken(id Identity, aud string) string {
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"aud": aud, "tid": f.Tenant, "oid": id.PrincipalID, "appid": id.ClientID, "exp": time.Now().Add(time.Hour).Unix()})
	return enc(h) + "." + enc(c) + ".c2ln"
}

func (f *Fake) parseDirectoryToken(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "c2ln" {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m) == nil
}

// ---- HTTP ----

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.Host+" "+r.URL.Path)
	f.mu.Unlock()
	if r.URL.Path == "/metadata/identity/oauth2/token" {
		f.serveIMDS(w, r)
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	name, domain, _ := strings.Cut(strings.ToLower(host), ".")
	f.mu.Lock()
	reg := f.registries[name]
	f.mu.Unlock()
	if domain != strings.ToLower(f.Suffix) || reg == nil {
		http.Error(w, "no registry at "+r.Host, http.StatusNotFound)
		return
	}
	switch {
	case r.URL.Path == "/oauth2/exchange":
		f.serveExchange(w, r, reg)
	case r.URL.Path == "/oauth2/token":
		f.serveToken(w, r, reg)
	case r.URL.Path == "/v2/" || strings.HasPrefix(r.URL.Path, "/v2/"):
		f.serveV2(w, r, reg)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) serveIMDS(w http.ResponseWriter, r *http.Request) {
	imdsErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if f.IMDSStatus != 0 {
		imdsErr(f.IMDSStatus, "unknown", "the identity endpoint is unavailable")
		return
	}
	q := r.URL.Query()
	if !strings.EqualFold(r.Header.Get("Metadata"), "true") && r.Header.Get(credprovider.HostCredentialHeader) == "" {
		imdsErr(400, "invalid_request", "Required metadata header not specified")
		return
	}
	if q.Get("api-version") == "" || q.Get("resource") == "" {
		imdsErr(400, "invalid_request", "Required query variable is missing")
		return
	}
	if r.Header.Get(credprovider.HostCredentialHeader) != f.HostCredential {
		imdsErr(401, "unauthorized_client", "The host credential is not valid")
		return
	}
	f.mu.Lock()
	ids := append([]Identity(nil), f.identities...)
	f.mu.Unlock()
	var id *Identity
	for i := range ids {
		if cid := q.Get("client_id"); cid == "" || strings.EqualFold(cid, ids[i].ClientID) {
			id = &ids[i]
			break
		}
	}
	if id == nil {
		imdsErr(400, "invalid_request", "Identity not found")
		return
	}
	now := time.Now()
	writeJSON(w, 200, map[string]string{
		"access_token": f.DirectoryToken(*id, q.Get("resource")), "refresh_token": "",
		"expires_in": "3599", "expires_on": fmt.Sprint(now.Add(time.Hour).Unix()), "not_before": fmt.Sprint(now.Unix()),
		"resource": q.Get("resource"), "token_type": "Bearer", "client_id": id.ClientID,
	})
}

func registryErrors(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func (f *Fake) challenge(w http.ResponseWriter, r *http.Request, scope string, insufficient bool) {
	h := fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, r.Host, r.Host)
	if scope != "" {
		h += fmt.Sprintf(`,scope="%s"`, scope)
	}
	if insufficient {
		h += `,error="insufficient_scope"`
	}
	w.Header().Set("WWW-Authenticate", h)
	registryErrors(w, 401, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.")
}

func (f *Fake) serveExchange(w http.ResponseWriter, r *http.Request, reg *Registry) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		registryErrors(w, 400, "BAD_REQUEST", "use POST with a form body")
		return
	}
	if f.ExchangeStatus != 0 {
		registryErrors(w, f.ExchangeStatus, "UNAUTHORIZED", "token validation failed: the exchange is refused by the test")
		return
	}
	form := r.PostForm
	switch form.Get("grant_type") {
	case "access_token", "access_token_refresh_token":
	default:
		registryErrors(w, 400, "BAD_REQUEST", fmt.Sprintf("unsupported grant_type %q", form.Get("grant_type")))
		return
	}
	if !strings.EqualFold(form.Get("service"), r.Host) {
		registryErrors(w, 400, "BAD_REQUEST", fmt.Sprintf("service %q does not match this registry's login server %q", form.Get("service"), r.Host))
		return
	}
	claims, ok := f.parseDirectoryToken(form.Get("access_token"))
	if !ok {
		registryErrors(w, 401, "UNAUTHORIZED", "token validation failed: malformed token")
		return
	}
	if t := form.Get("tenant"); t != "" && !strings.EqualFold(t, f.Tenant) {
		registryErrors(w, 401, "UNAUTHORIZED", fmt.Sprintf("the access token is for tenant %q, not %q", f.Tenant, t))
		return
	}
	rt := "rt-" + uuid.NewString()
	f.mu.Lock()
	f.refresh[rt] = fmt.Sprint(claims["oid"])
	f.mu.Unlock()
	writeJSON(w, 200, map[string]string{"refresh_token": rt})
}

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request, reg *Registry) {
	if f.TokenHook != nil && f.TokenHook(w) {
		return
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		registryErrors(w, 400, "BAD_REQUEST", "use POST with a form body")
		return
	}
	form := r.PostForm
	if form.Get("grant_type") != "refresh_token" {
		registryErrors(w, 400, "BAD_REQUEST", "unsupported grant_type")
		return
	}
	if !strings.EqualFold(form.Get("service"), r.Host) {
		registryErrors(w, 400, "BAD_REQUEST", "service does not match")
		return
	}
	f.mu.Lock()
	principal, ok := f.refresh[form.Get("refresh_token")]
	groups := append([]authz.Membership(nil), f.Groups[principal]...)
	f.mu.Unlock()
	if !ok {
		registryErrors(w, 401, "UNAUTHORIZED", "invalid refresh token: token is malformed")
		return
	}
	var granted, reasons []string
	for _, s := range form["scope"] {
		parts := strings.Split(s, ":")
		if len(parts) != 3 {
			registryErrors(w, 400, "BAD_REQUEST", "invalid scope "+s)
			return
		}
		d := f.Engine.Decide(authz.Request{PrincipalID: principal, Groups: groups, Action: "Microsoft.ContainerRegistry/registries/pull/read", Scope: reg.ID, Now: f.Now()})
		if d.Allowed {
			granted = append(granted, s)
		} else {
			reasons = append(reasons, d.Reason)
		}
	}
	if len(form["scope"]) > 0 && len(granted) == 0 {
		// The registry token service's refusal: "<name> is not authorized
		// for <scopes> on <login server>: <why>".
		registryErrors(w, 401, "UNAUTHORIZED", fmt.Sprintf("%s is not authorized for %s on %s: %s", f.nameOf(principal), strings.Join(form["scope"], " "), r.Host, strings.Join(reasons, "; ")))
		return
	}
	at := "at-" + uuid.NewString()
	f.mu.Lock()
	f.access[at] = grant{principal: principal, scopes: granted}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": at, "expires_in": 600})
}

func (f *Fake) nameOf(principal string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.identities {
		if id.PrincipalID == principal {
			return id.Name
		}
	}
	return principal
}

func (f *Fake) allowed(r *http.Request, scope string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	f.mu.Lock()
	g, ok := f.access[tok]
	f.mu.Unlock()
	if !ok {
		return false
	}
	for _, s := range g.scopes {
		if s == scope {
			return true
		}
	}
	return false
}

func (f *Fake) serveV2(w http.ResponseWriter, r *http.Request, reg *Registry) {
	if f.V2Hook != nil && f.V2Hook(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p == "" {
		if f.ChallengeWriter != nil {
			f.ChallengeWriter(w)
			return
		}
		f.challenge(w, r, "", false)
		return
	}
	if p == "_catalog" {
		if !f.allowed(r, "registry:catalog:*") {
			f.challenge(w, r, "registry:catalog:*", r.Header.Get("Authorization") != "")
			return
		}
		var names []string
		for n := range reg.Repos {
			names = append(names, n)
		}
		sort.Strings(names)
		writeJSON(w, 200, map[string]any{"repositories": names})
		return
	}
	var repo, kind, ref string
	if i := strings.LastIndex(p, "/manifests/"); i > 0 {
		repo, kind, ref = p[:i], "manifests", p[i+len("/manifests/"):]
	} else if strings.HasSuffix(p, "/tags/list") {
		repo, kind = strings.TrimSuffix(p, "/tags/list"), "tags"
	} else {
		http.NotFound(w, r)
		return
	}
	scope := "repository:" + repo + ":pull"
	if !f.allowed(r, scope) {
		f.challenge(w, r, scope, r.Header.Get("Authorization") != "")
		return
	}
	tags, exists := reg.Repos[repo]
	if !exists {
		registryErrors(w, 404, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	if kind == "tags" {
		writeJSON(w, 200, map[string]any{"name": repo, "tags": tags})
		return
	}
	for _, t := range tags {
		if t == ref || strings.HasPrefix(ref, "sha256:") {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))
			w.WriteHeader(200)
			return
		}
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(404)
		return
	}
	registryErrors(w, 404, "MANIFEST_UNKNOWN", "manifest unknown")
}
