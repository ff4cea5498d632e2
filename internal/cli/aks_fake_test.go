package cli

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
)

// fakeAKS is an in-memory ARM with managed clusters, agent pools,
// registries, user-assigned identities and role assignments, shaped as the
// drydock server answers them (api-version 2025-01-01 for clusters, LROs
// through Azure-AsyncOperation).
type fakeAKS struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string

	mu          sync.Mutex
	log         []string // "METHOD path" (query in log only for $filter)
	bodies      map[string][]map[string]any
	groups      map[string]string // lower-case group ID → location
	registries  []map[string]any
	identities  map[string]map[string]any // lower-case ID → identity
	clusters    map[string]map[string]any // lower-case ID → cluster
	pools       map[string]map[string]any // lower-case ID → agent pool
	assignments map[string]map[string]any // lower-case ID → role assignment
	seq         int

	// principalNotFound makes the next n role assignment PUTs fail as if the
	// principal had not replicated yet.
	principalNotFound int
	// denied scopes (lower case) refuse role assignment writes and deletes.
	denied map[string]bool
	// noKubelet creates clusters without identityProfile.kubeletidentity.
	noKubelet bool
	// kubeServer is the API server URL the credentials name.
	kubeServer string
	// checkResult answers checkAcr; checkLRO makes it a 202 with Location.
	checkResult map[string]any
	checkLRO    bool
}

const (
	otherSub       = "99999999-8888-7777-6666-555555555555"
	fakeSubName    = "Dev"
	aksRG          = "/subscriptions/" + fakeSub + "/resourceGroups/rg"
	myACRID        = aksRG + "/providers/Microsoft.ContainerRegistry/registries/myacr"
	otherACRID     = "/subscriptions/" + otherSub + "/resourceGroups/shared/providers/Microsoft.ContainerRegistry/registries/otheracr"
	controlPlaneID = aksRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cp"
	kubeletMIID    = aksRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kubelet"
	cpPrincipal    = "cccccccc-0000-0000-0000-000000000001"
	byoKubeletOID  = "dddddddd-0000-0000-0000-000000000002"
	readerRoleGUID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

func newFakeAKS(t *testing.T) *fakeAKS {
	f := &fakeAKS{
		t: t, bodies: map[string][]map[string]any{},
		groups:      map[string]string{strings.ToLower(aksRG): "westus", "/subscriptions/" + otherSub + "/resourcegroups/shared": "eastus"},
		identities:  map[string]map[string]any{},
		clusters:    map[string]map[string]any{},
		pools:       map[string]map[string]any{},
		assignments: map[string]map[string]any{},
		denied:      map[string]bool{},
		kubeServer:  "https://c1.hcp.westus.azmk8s.test:443",
		checkResult: map[string]any{"output": "[2025-01-01T00:00:00Z] Checking host name resolution (myacr.azurecr.test): SUCCEEDED\n\nYour cluster can pull images from myacr.azurecr.test!", "succeeded": true, "exitCode": 0},
	}
	for _, id := range []string{myACRID, otherACRID} {
		f.addRegistry(id)
	}
	f.identities[strings.ToLower(controlPlaneID)] = map[string]any{"id": controlPlaneID, "name": "cp", "properties": map[string]any{"principalId": cpPrincipal, "clientId": "cccccccc-1111-0000-0000-000000000001"}}
	f.identities[strings.ToLower(kubeletMIID)] = map[string]any{"id": kubeletMIID, "name": "kubelet", "properties": map[string]any{"principalId": byoKubeletOID, "clientId": "dddddddd-1111-0000-0000-000000000002"}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeAKS) addRegistry(id string) {
	name := id[strings.LastIndex(id, "/")+1:]
	f.registries = append(f.registries, map[string]any{"id": id, "name": name, "type": "Microsoft.ContainerRegistry/registries", "location": "westus",
		"properties": map[string]any{"loginServer": name + ".azurecr.test"}})
}

// newAKSHarness logs in to a fakeAKS with private configuration and home
// directories.
func newAKSHarness(t *testing.T) (*harness, *fakeAKS) {
	f := newFakeAKS(t)
	h := &harness{t: t, dir: t.TempDir()}
	t.Setenv(client.EnvConfigDir, h.dir)
	t.Setenv(client.EnvEndpoint, "")
	t.Setenv(client.EnvCAFile, "")
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	old := defaultRetryDelay
	defaultRetryDelay = 0
	t.Cleanup(func() { defaultRetryDelay = old })
	h.ok("login", "-u", fakeUser, "-p", fakePassword, "--endpoint", f.srv.URL, "--ca-file", f.caFile)
	f.mu.Lock()
	f.log = nil
	f.mu.Unlock()
	return h, f
}

// requests returns the request log since login.
func (f *fakeAKS) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeAKS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = nil
	f.bodies = map[string][]map[string]any{}
}

// count counts logged requests with a prefix.
func (f *fakeAKS) count(prefix string) int {
	n := 0
	for _, r := range f.requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// lastBody is the last JSON body sent to "METHOD path".
func (f *fakeAKS) lastBody(key string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bodies[key]
	if len(b) == 0 {
		return nil
	}
	return b[len(b)-1]
}

// assignmentList returns the role assignments sorted by ID.
func (f *fakeAKS) assignmentList() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.assignments))
	for k := range f.assignments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, f.assignments[k])
	}
	return out
}

// seedAssignment stores an assignment as if made earlier.
func (f *fakeAKS) seedAssignment(name, scope, roleGUID, principal string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := strings.TrimRight(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + name
	f.assignments[strings.ToLower(id)] = map[string]any{"id": id, "name": name, "type": "Microsoft.Authorization/roleAssignments",
		"properties": map[string]any{"scope": scope, "principalId": principal, "principalType": "ServicePrincipal",
			"roleDefinitionId": "/subscriptions/" + fakeSub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleGUID}}
	return id
}

func (f *fakeAKS) kubeconfig(cluster, group, kind string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: %[4]s
  name: %[1]s
contexts:
- context:
    cluster: %[1]s
    user: %[3]s_%[2]s_%[1]s
  name: %[1]s
current-context: %[1]s
preferences: {}
users:
- name: %[3]s_%[2]s_%[1]s
  user:
    token: %[3]s-token
`, cluster, group, kind, f.kubeServer)
}

func (f *fakeAKS) lro(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Azure-AsyncOperation", f.srv.URL+"/operations/op?api-version="+client.APIVersionContainerService)
	w.Header().Set("Retry-After", "0")
	reply(w, status, body)
}

var (
	roleNameFilter   = regexp.MustCompile(`^roleName eq '(.*)'$`)
	principalFilter  = regexp.MustCompile(`principalId eq '(.*)'`)
	assignmentSuffix = "/providers/microsoft.authorization/roleassignments"
)

func (f *fakeAKS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := r.URL.Path
	lp := strings.ToLower(strings.TrimRight(p, "/"))
	entry := r.Method + " " + p
	if fl := r.URL.Query().Get("$filter"); fl != "" {
		entry += "?$filter=" + fl
	}
	f.log = append(f.log, entry)
	raw, _ := io.ReadAll(r.Body)
	var in, sent map[string]any
	if json.Unmarshal(raw, &sent) == nil && sent != nil {
		f.bodies[r.Method+" "+p] = append(f.bodies[r.Method+" "+p], sent)
		_ = json.Unmarshal(raw, &in)
	}
	switch {
	case strings.HasSuffix(lp, "/oauth2/v2.0/token"):
		tok := fakeJWT(map[string]any{"tid": fakeTenant, "oid": fakeUserID, "upn": fakeUser})
		reply(w, 200, map[string]any{"token_type": "Bearer", "access_token": tok, "expires_in": 3600, "refresh_token": "rt"})
		return
	case lp == "/metadata/endpoints":
		reply(w, 200, []any{map[string]any{"suffixes": map[string]any{"acrLoginServer": "azurecr.test"}}})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		armError(w, 401, "AuthenticationFailed", "no token")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	s := segs(lp)
	switch {
	case lp == "/subscriptions":
		reply(w, 200, map[string]any{"value": []any{
			map[string]any{"id": "/subscriptions/" + fakeSub, "subscriptionId": fakeSub, "tenantId": fakeTenant, "displayName": fakeSubName, "state": "Enabled"},
			map[string]any{"id": "/subscriptions/" + otherSub, "subscriptionId": otherSub, "tenantId": fakeTenant, "displayName": "Shared", "state": "Enabled"},
		}})
	case strings.HasPrefix(lp, "/operations/"):
		reply(w, 200, map[string]any{"status": "Succeeded"})
	case strings.HasPrefix(lp, "/results/checkacr"):
		reply(w, 200, f.checkResult)
	case strings.HasSuffix(lp, "/providers/microsoft.authorization/roledefinitions"):
		f.roleDefinitions(w, r, s)
	case strings.HasSuffix(lp, assignmentSuffix) && r.Method == http.MethodGet:
		f.listAssignments(w, r, strings.TrimSuffix(lp, assignmentSuffix))
	case strings.Contains(lp, assignmentSuffix+"/"):
		f.assignment(w, r, p, in)
	case len(s) == 4 && s[2] == "resourcegroups" && r.Method == http.MethodGet:
		loc, ok := f.groups[lp]
		if !ok {
			armError(w, 404, "ResourceGroupNotFound", "Resource group '"+s[3]+"' could not be found.")
			return
		}
		reply(w, 200, map[string]any{"id": p, "name": s[3], "location": loc})
	case strings.HasSuffix(lp, "/providers/microsoft.containerregistry/registries") && r.Method == http.MethodGet:
		out := []any{}
		for _, reg := range f.registries {
			if strings.HasPrefix(strings.ToLower(reg["id"].(string)), strings.TrimSuffix(lp, "/providers/microsoft.containerregistry/registries")+"/") {
				out = append(out, reg)
			}
		}
		reply(w, 200, map[string]any{"value": out})
	case strings.Contains(lp, "/providers/microsoft.containerregistry/registries/") && r.Method == http.MethodGet:
		for _, reg := range f.registries {
			if strings.EqualFold(reg["id"].(string), p) {
				reply(w, 200, reg)
				return
			}
		}
		armError(w, 404, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+s[len(s)-1]+"' under resource group '"+s[3]+"' was not found.")
	case strings.Contains(lp, "/providers/microsoft.managedidentity/userassignedidentities/") && r.Method == http.MethodGet:
		mi, ok := f.identities[lp]
		if !ok {
			armError(w, 404, "ResourceNotFound", "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/"+s[len(s)-1]+"' under resource group '"+s[3]+"' was not found.")
			return
		}
		reply(w, 200, mi)
	case strings.Contains(lp, "/providers/microsoft.containerservice/managedclusters"):
		if r.URL.Query().Get("api-version") != client.APIVersionContainerService {
			armError(w, 400, "InvalidApiVersionParameter", "api-version")
			return
		}
		f.managedClusters(w, r, p, lp, in)
	default:
		armError(w, 404, "NotFound", "no route "+r.Method+" "+p)
	}
}

func (f *fakeAKS) roleDefinitions(w http.ResponseWriter, r *http.Request, s []string) {
	sub := fakeSub
	if len(s) > 1 && s[0] == "subscriptions" {
		sub = s[1]
	}
	out := []any{}
	for _, d := range []struct{ guid, name string }{{acrPullGUID, "AcrPull"}, {readerRoleGUID, "Reader"}, {managedIdentityOperatorGUID, "Managed Identity Operator"}} {
		if m := roleNameFilter.FindStringSubmatch(r.URL.Query().Get("$filter")); m != nil && !strings.EqualFold(m[1], d.name) {
			continue
		}
		out = append(out, map[string]any{"id": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + d.guid, "name": d.guid,
			"properties": map[string]any{"roleName": d.name, "type": "BuiltInRole"}})
	}
	reply(w, 200, map[string]any{"value": out})
}

func (f *fakeAKS) listAssignments(w http.ResponseWriter, r *http.Request, scope string) {
	filter := r.URL.Query().Get("$filter")
	out := []any{}
	keys := make([]string, 0, len(f.assignments))
	for k := range f.assignments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ra := f.assignments[k]
		props := ra["properties"].(map[string]any)
		raScope := strings.ToLower(strings.TrimRight(props["scope"].(string), "/"))
		// atScope(): assignments at the scope or above it.
		if strings.Contains(filter, "atScope()") && !strings.HasPrefix(scope+"/", raScope+"/") {
			continue
		}
		if m := principalFilter.FindStringSubmatch(filter); m != nil && !strings.EqualFold(props["principalId"].(string), m[1]) {
			continue
		}
		out = append(out, ra)
	}
	reply(w, 200, map[string]any{"value": out})
}

func (f *fakeAKS) authorizationFailed(w http.ResponseWriter, action, scope string) {
	armError(w, 403, "AuthorizationFailed", fmt.Sprintf("The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		fakeUser, fakeUserID, action, scope))
}

func (f *fakeAKS) assignment(w http.ResponseWriter, r *http.Request, p string, in map[string]any) {
	i := strings.Index(strings.ToLower(p), assignmentSuffix+"/")
	scope := p[:i]
	lid := strings.ToLower(p)
	switch r.Method {
	case http.MethodDelete:
		if f.denied[strings.ToLower(scope)] {
			f.authorizationFailed(w, "Microsoft.Authorization/roleAssignments/delete", scope)
			return
		}
		ra, ok := f.assignments[lid]
		if !ok {
			reply(w, 204, nil)
			return
		}
		delete(f.assignments, lid)
		reply(w, 200, ra)
	case http.MethodPut:
		if f.principalNotFound > 0 {
			f.principalNotFound--
			armError(w, 400, "PrincipalNotFound", "Principal does not exist in the directory "+fakeTenant+".")
			return
		}
		if f.denied[strings.ToLower(scope)] {
			f.authorizationFailed(w, "Microsoft.Authorization/roleAssignments/write", scope)
			return
		}
		props, _ := in["properties"].(map[string]any)
		role := lastSegment(fmt.Sprint(props["roleDefinitionId"]))
		for _, ra := range f.assignments {
			rp := ra["properties"].(map[string]any)
			if strings.EqualFold(rp["scope"].(string), scope) && lastSegment(rp["roleDefinitionId"].(string)) == role && strings.EqualFold(rp["principalId"].(string), fmt.Sprint(props["principalId"])) {
				armError(w, 409, "RoleAssignmentExists", "The role assignment already exists.")
				return
			}
		}
		props["scope"] = scope
		ra := map[string]any{"id": p, "name": p[strings.LastIndex(p, "/")+1:], "type": "Microsoft.Authorization/roleAssignments", "properties": props}
		f.assignments[lid] = ra
		reply(w, 201, ra)
	default:
		armError(w, 405, "MethodNotAllowed", r.Method)
	}
}

func (f *fakeAKS) managedClusters(w http.ResponseWriter, r *http.Request, p, lp string, in map[string]any) {
	s := segs(p)
	// Collections: per subscription (5 segments) or per group (7).
	if r.Method == http.MethodGet && (len(s) == 5 || len(s) == 7) && strings.HasSuffix(lp, "/managedclusters") {
		prefix := strings.TrimSuffix(lp, "/providers/microsoft.containerservice/managedclusters") + "/"
		keys := make([]string, 0)
		for k := range f.clusters {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		out := []any{}
		for _, k := range keys {
			out = append(out, f.clusters[k])
		}
		reply(w, 200, map[string]any{"value": out})
		return
	}
	if len(s) < 8 {
		armError(w, 404, "NotFound", p)
		return
	}
	clusterKey := strings.ToLower("/" + strings.Join(s[:8], "/"))
	mc, exists := f.clusters[clusterKey]
	notFound := func() {
		armError(w, 404, "ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/"+s[7]+"' under resource group '"+s[3]+"' was not found.")
	}
	rest := s[8:]
	switch {
	case len(rest) == 0 && r.Method == http.MethodPut:
		f.putCluster(w, p, s, in)
	case !exists:
		notFound()
	case len(rest) == 0 && r.Method == http.MethodGet:
		reply(w, 200, mc)
	case len(rest) == 0 && r.Method == http.MethodDelete:
		delete(f.clusters, clusterKey)
		f.lro(w, 202, nil)
	case len(rest) == 1 && r.Method == http.MethodPost && (rest[0] == "stop" || rest[0] == "start"):
		code := map[string]string{"stop": "Stopped", "start": "Running"}[rest[0]]
		mc["properties"].(map[string]any)["powerState"] = map[string]any{"code": code}
		f.lro(w, 202, nil)
	case len(rest) == 1 && r.Method == http.MethodPost && (rest[0] == "listClusterUserCredential" || rest[0] == "listClusterAdminCredential"):
		kind := "clusterUser"
		if rest[0] == "listClusterAdminCredential" {
			kind = "clusterAdmin"
		}
		v := base64.StdEncoding.EncodeToString([]byte(f.kubeconfig(s[7], s[3], kind)))
		reply(w, 200, map[string]any{"kubeconfigs": []any{map[string]any{"name": kind, "value": v}}})
	case len(rest) == 1 && r.Method == http.MethodPost && rest[0] == "checkAcr":
		if f.checkLRO {
			w.Header().Set("Location", f.srv.URL+"/results/checkacr?api-version="+client.APIVersionContainerService)
			f.lro(w, 202, nil)
			return
		}
		reply(w, 200, f.checkResult)
	case len(rest) >= 1 && rest[0] == "agentPools":
		f.agentPools(w, r, clusterKey, p, rest, in)
	default:
		armError(w, 405, "MethodNotAllowed", r.Method+" "+p)
	}
}

func (f *fakeAKS) putCluster(w http.ResponseWriter, p string, s []string, in map[string]any) {
	f.seq++
	name, group := s[7], s[3]
	props, _ := in["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	location := fmt.Sprint(in["location"])
	props["provisioningState"] = "Succeeded"
	props["powerState"] = map[string]any{"code": "Running"}
	props["fqdn"] = fmt.Sprint(props["dnsPrefix"]) + ".hcp." + location + ".azmk8s.test"
	if props["kubernetesVersion"] == nil {
		props["kubernetesVersion"] = "1.37.2"
	}
	props["currentKubernetesVersion"] = props["kubernetesVersion"]
	if props["nodeResourceGroup"] == nil {
		props["nodeResourceGroup"] = "MC_" + group + "_" + name + "_" + location
	}
	props["servicePrincipalProfile"] = map[string]any{"clientId": "msi"}
	if ip, ok := props["identityProfile"].(map[string]any); ok {
		k := ip["kubeletidentity"].(map[string]any)
		mi := f.identities[strings.ToLower(fmt.Sprint(k["resourceId"]))]
		k["objectId"] = str(mi, "properties", "principalId")
		k["clientId"] = str(mi, "properties", "clientId")
	} else if !f.noKubelet {
		props["identityProfile"] = map[string]any{"kubeletidentity": map[string]any{
			"resourceId": "/subscriptions/" + s[1] + "/resourcegroups/" + fmt.Sprint(props["nodeResourceGroup"]) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name + "-agentpool",
			"clientId":   fmt.Sprintf("eeeeeeee-1111-0000-0000-%012d", f.seq),
			"objectId":   fmt.Sprintf("eeeeeeee-0000-0000-0000-%012d", f.seq),
		}}
	}
	identity, _ := in["identity"].(map[string]any)
	if identity == nil {
		identity = map[string]any{}
	}
	identity["tenantId"] = fakeTenant
	if identity["type"] == "SystemAssigned" {
		identity["principalId"] = fmt.Sprintf("ffffffff-0000-0000-0000-%012d", f.seq)
	}
	mc := map[string]any{"id": p, "name": name, "type": "Microsoft.ContainerService/ManagedClusters", "location": location,
		"identity": identity, "sku": map[string]any{"name": "Base", "tier": "Free"}, "properties": props}
	if in["tags"] != nil {
		mc["tags"] = in["tags"]
	}
	f.clusters[strings.ToLower(p)] = mc
	for _, ap := range props["agentPoolProfiles"].([]any) {
		pool := ap.(map[string]any)
		pp := map[string]any{}
		for k, v := range pool {
			if k != "name" {
				pp[k] = v
			}
		}
		pp["provisioningState"] = "Succeeded"
		id := p + "/agentPools/" + fmt.Sprint(pool["name"])
		f.pools[strings.ToLower(id)] = map[string]any{"id": id, "name": pool["name"], "type": "Microsoft.ContainerService/managedClusters/agentPools", "properties": pp}
	}
	pending := map[string]any{}
	for k, v := range mc {
		pending[k] = v
	}
	pending["properties"] = map[string]any{"provisioningState": "Creating"}
	f.lro(w, 201, pending)
}

func (f *fakeAKS) agentPools(w http.ResponseWriter, r *http.Request, clusterKey, p string, rest []string, in map[string]any) {
	if len(rest) == 1 && r.Method == http.MethodGet {
		keys := make([]string, 0)
		for k := range f.pools {
			if strings.HasPrefix(k, clusterKey+"/agentpools/") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		out := []any{}
		for _, k := range keys {
			out = append(out, f.pools[k])
		}
		reply(w, 200, map[string]any{"value": out})
		return
	}
	if len(rest) != 2 {
		armError(w, 404, "NotFound", p)
		return
	}
	key := strings.ToLower(p)
	pool, ok := f.pools[key]
	switch r.Method {
	case http.MethodGet:
		if !ok {
			armError(w, 404, "NotFound", "Could not find agentpool "+rest[1])
			return
		}
		reply(w, 200, pool)
	case http.MethodPut:
		props, _ := in["properties"].(map[string]any)
		props["provisioningState"] = "Succeeded"
		pool = map[string]any{"id": p, "name": rest[1], "type": "Microsoft.ContainerService/managedClusters/agentPools", "properties": props}
		f.pools[key] = pool
		f.lro(w, 201, pool)
	case http.MethodDelete:
		delete(f.pools, key)
		f.lro(w, 202, nil)
	}
}
