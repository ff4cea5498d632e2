package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

// clusterSeam answers managed clusters (their agent pools, credentials
// and checkAcr) in front of the real server, which serves everything else
// the aks commands call: groups, registries, identities, role definitions
// and assignments. The server's own clusters run upstream Kubernetes
// control planes and nodes under containerd, which a unit test cannot
// start, and it has no setting that leaves them stopped. The seam keeps
// the clusters' ARM shapes as the server answers them (api-version
// 2025-01-01, LROs through Azure-AsyncOperation) and makes each cluster's
// kubelet identity a real user-assigned identity on the server, so role
// assignments to it are the server's.
type clusterSeam struct {
	h      *harness
	direct servertest.Server // the server, bypassing the front
	arm    string            // the admin's ARM token for it

	mu       sync.Mutex
	clusters map[string]map[string]any // lower-case ID → cluster
	pools    map[string]map[string]any // lower-case ID → agent pool
	seq      int
	// noKubelet creates clusters without identityProfile.kubeletidentity.
	noKubelet bool
	// kubeServer is the API server URL the credentials name.
	kubeServer string
	// checkResult answers checkAcr; checkLRO makes it a 202 with Location.
	checkResult map[string]any
	checkLRO    bool
}

// aksEnv names what newAKSHarness created on the server.
type aksEnv struct {
	sub, subName, otherSub, tenant string
	rg                             string // the group rg (westus) of sub
	cluster                        string // rg's cluster c1 (not created)
	myACR, otherACR                string // myacr in rg; otheracr in otherSub's group shared
	cpID, kubeletID                string // identities cp-id and kubelet in rg
	cpPrincipal, kubeletOID        string
	kubeletClientID                string
	dev, devID                     string // a Contributor of both subscriptions, who may not assign roles
}

// newAKSHarness signs the admin in to a real server, behind the cluster
// seam, with private configuration and home directories, and creates what
// the aks tests use.
func newAKSHarness(t *testing.T) (*harness, *clusterSeam, *aksEnv) {
	h := newHarness(t, servertest.WithConfig(func(c *config.Config) { c.LoginServerSuffix = "azurecr.test" }))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	f := &clusterSeam{h: h, direct: *h.srv, clusters: map[string]map[string]any{}, pools: map[string]map[string]any{},
		kubeServer:  "https://c1.hcp.westus.azmk8s.test:443",
		checkResult: map[string]any{"output": "[2025-01-01T00:00:00Z] Checking host name resolution (myacr.azurecr.test): SUCCEEDED\n\nYour cluster can pull images from myacr.azurecr.test!", "succeeded": true, "exitCode": 0},
	}
	f.direct.URL = h.srv.Direct
	f.arm = h.srv.AdminToken(t, servertest.ARMScope)
	h.seam = f.serve
	h.login()
	e := &aksEnv{sub: h.srv.SubscriptionID, subName: h.srv.SubscriptionName, tenant: h.srv.TenantID}
	e.rg = "/subscriptions/" + e.sub + "/resourceGroups/rg"
	e.cluster = e.rg + "/providers/Microsoft.ContainerService/managedClusters/c1"
	h.ok("group", "create", "-n", "rg", "-l", "westus")
	e.myACR = obj(h.ok("acr", "create", "-n", "myacr", "-g", "rg", "--sku", "Basic"))["id"].(string)
	e.otherSub = obj(h.ok("account", "create", "--name", "Shared"))["id"].(string)
	h.ok("group", "create", "-n", "shared", "-l", "eastus", "--subscription", "Shared")
	e.otherACR = obj(h.ok("acr", "create", "-n", "otheracr", "-g", "shared", "--sku", "Basic", "--subscription", "Shared"))["id"].(string)
	cp := obj(h.ok("identity", "create", "-n", "cp-id", "-g", "rg"))
	kubelet := obj(h.ok("identity", "create", "-n", "kubelet", "-g", "rg"))
	e.cpID, e.cpPrincipal = cp["id"].(string), cp["principalId"].(string)
	e.kubeletID, e.kubeletOID, e.kubeletClientID = kubelet["id"].(string), kubelet["principalId"].(string), kubelet["clientId"].(string)
	e.dev, e.devID = "dev@drydock.local", h.newUser("dev@drydock.local", "Dev")
	for _, sub := range []string{e.sub, e.otherSub} {
		h.ok("role", "assignment", "create", "--assignee", e.dev, "--role", "Contributor", "--scope", "/subscriptions/"+sub)
	}
	h.resetLog()
	return h, f, e
}

// as signs user in (the admin when user is "").
func (h *harness) as(user string) {
	h.t.Helper()
	if user == "" {
		h.login()
	} else {
		h.ok("login", "-u", user, "-p", "Str0ng-P@ssword")
	}
}

// authzFailed is the error line of a refused role assignment write or
// delete at scope by the dev user, with drydock's hint.
func (e *aksEnv) authzFailed(action, scope, verb string) string {
	return fmt.Sprintf("ERROR: (AuthorizationFailed) The client '%s' with object id '%s' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/%s' over scope '%s' or the scope is invalid. "+
		"If access was recently granted, please refresh your credentials. You need Owner, User Access Administrator or Role Based Access Control Administrator on the registry to %s it.",
		e.dev, e.devID, action, scope, verb)
}

// assignments lists the server's role assignments in both subscriptions
// but the fixture's (the admin's Owner, dev's Contributor), sorted by ID.
func (e *aksEnv) assignments(h *harness) []map[string]any {
	h.t.Helper()
	tok := h.srv.AdminToken(h.t, servertest.ARMScope)
	seen := map[string]bool{}
	var out []map[string]any
	for _, sub := range []string{e.sub, e.otherSub} {
		code, body := h.srv.Do(h.t, tok, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleAssignments?api-version="+client.APIVersionAuthorization, nil)
		if code != http.StatusOK {
			h.t.Fatalf("list assignments: %d %v", code, body)
		}
		for _, ra := range list(body["value"]) {
			m := obj(ra)
			fixture := strings.HasSuffix(str(m, "properties", "roleDefinitionId"), "8e3af657-a8ff-443c-a75c-2fe8c4bcb635") || str(m, "properties", "principalId") == e.devID
			if id := str(m, "id"); !seen[strings.ToLower(id)] && !fixture {
				seen[strings.ToLower(id)] = true
				out = append(out, m)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return str(out[i], "id") < str(out[j], "id") })
	return out
}

// assign makes a role assignment on the server as if made earlier and
// returns its ID as the server spells it.
func (e *aksEnv) assign(h *harness, name, scope, roleGUID, principal string) string {
	h.t.Helper()
	sub := strings.Split(strings.TrimPrefix(scope, "/"), "/")[1]
	code, body := h.srv.Do(h.t, h.srv.AdminToken(h.t, servertest.ARMScope), http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+name+"?api-version="+client.APIVersionAuthorization,
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleGUID,
			"principalId": principal, "principalType": "ServicePrincipal"}})
	if code != http.StatusCreated && code != http.StatusOK {
		h.t.Fatalf("assign %s: %d %v", name, code, body)
	}
	return str(body, "id")
}

// unassignAll deletes every assignment assignments lists.
func (e *aksEnv) unassignAll(h *harness) {
	h.t.Helper()
	tok := h.srv.AdminToken(h.t, servertest.ARMScope)
	for _, ra := range e.assignments(h) {
		if code, body := h.srv.Do(h.t, tok, http.MethodDelete, str(ra, "id")+"?api-version="+client.APIVersionAuthorization, nil); code/100 != 2 {
			h.t.Fatalf("delete %s: %d %v", str(ra, "id"), code, body)
		}
	}
}

func (f *clusterSeam) kubeconfig(cluster, group, kind string) string {
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

func (f *clusterSeam) lro(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Azure-AsyncOperation", f.h.srv.URL+"/operations/op?api-version="+client.APIVersionContainerService)
	w.Header().Set("Retry-After", "0")
	httpjson.Write(w, status, body)
}

// serve takes the requests of managed clusters and of the seam's own
// operations.
func (f *clusterSeam) serve(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	lp := strings.ToLower(strings.TrimRight(p, "/"))
	switch {
	case strings.HasPrefix(lp, "/operations/"):
		httpjson.Write(w, 200, map[string]any{"status": "Succeeded"})
	case strings.HasPrefix(lp, "/results/checkacr"):
		f.mu.Lock()
		defer f.mu.Unlock()
		httpjson.Write(w, 200, f.checkResult)
	case strings.Contains(lp, "/providers/microsoft.containerservice/managedclusters"):
		if r.URL.Query().Get("api-version") != client.APIVersionContainerService {
			armError(w, 400, "InvalidApiVersionParameter", "api-version")
			return true
		}
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		f.managedClusters(w, r, p, lp, in)
	default:
		return false
	}
	return true
}

func (f *clusterSeam) managedClusters(w http.ResponseWriter, r *http.Request, p, lp string, in map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := segs(p)
	// Collections: per subscription (5 segments) or per group (7).
	if r.Method == http.MethodGet && (len(s) == 5 || len(s) == 7) && strings.HasSuffix(lp, "/managedclusters") {
		httpjson.Write(w, 200, map[string]any{"value": under(f.clusters, strings.TrimSuffix(lp, "/providers/microsoft.containerservice/managedclusters")+"/")})
		return
	}
	if len(s) < 8 {
		armError(w, 404, "NotFound", p)
		return
	}
	clusterKey := strings.ToLower("/" + strings.Join(s[:8], "/"))
	mc, exists := f.clusters[clusterKey]
	rest := s[8:]
	switch {
	case len(rest) == 0 && r.Method == http.MethodPut:
		f.putCluster(w, p, s, in)
	case !exists:
		armError(w, 404, "ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/"+s[7]+"' under resource group '"+s[3]+"' was not found.")
	case len(rest) == 0 && r.Method == http.MethodGet:
		httpjson.Write(w, 200, mc)
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
		httpjson.Write(w, 200, map[string]any{"kubeconfigs": []any{map[string]any{"name": kind, "value": v}}})
	case len(rest) == 1 && r.Method == http.MethodPost && rest[0] == "checkAcr":
		if f.checkLRO {
			w.Header().Set("Location", f.h.srv.URL+"/results/checkacr?api-version="+client.APIVersionContainerService)
			f.lro(w, 202, nil)
			return
		}
		httpjson.Write(w, 200, f.checkResult)
	case len(rest) >= 1 && rest[0] == "agentPools":
		f.agentPools(w, r, clusterKey, p, rest, in)
	default:
		armError(w, 405, "MethodNotAllowed", r.Method+" "+p)
	}
}

// under lists the values of m whose keys start with prefix, by key.
func under(m map[string]map[string]any, prefix string) []any {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := []any{}
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// identity reads or creates a user-assigned identity on the server.
func (f *clusterSeam) identity(method, id string, body any) map[string]any {
	code, out := f.direct.Do(f.h.t, f.arm, method, id+"?api-version="+client.APIVersionManagedIdentity, body)
	if code/100 != 2 {
		f.h.t.Errorf("%s %s: %d %v", method, id, code, out)
	}
	return out
}

func (f *clusterSeam) putCluster(w http.ResponseWriter, p string, s []string, in map[string]any) {
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
		mi := f.identity(http.MethodGet, fmt.Sprint(k["resourceId"]), nil)
		k["objectId"] = str(mi, "properties", "principalId")
		k["clientId"] = str(mi, "properties", "clientId")
	} else if !f.noKubelet {
		// As the server does: the kubelet's identity in the node group.
		nodeRG := "/subscriptions/" + s[1] + "/resourceGroups/" + fmt.Sprint(props["nodeResourceGroup"])
		if code, out := f.direct.Do(f.h.t, f.arm, http.MethodPut, nodeRG+"?api-version="+client.APIVersionResources, map[string]any{"location": location}); code/100 != 2 {
			f.h.t.Errorf("node group: %d %v", code, out)
		}
		id := nodeRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name + "-agentpool"
		mi := f.identity(http.MethodPut, id, map[string]any{"location": location})
		props["identityProfile"] = map[string]any{"kubeletidentity": map[string]any{
			"resourceId": id, "clientId": str(mi, "properties", "clientId"), "objectId": str(mi, "properties", "principalId"),
		}}
	}
	identity, _ := in["identity"].(map[string]any)
	if identity == nil {
		identity = map[string]any{}
	}
	identity["tenantId"] = f.h.srv.TenantID
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

func (f *clusterSeam) agentPools(w http.ResponseWriter, r *http.Request, clusterKey, p string, rest []string, in map[string]any) {
	if len(rest) == 1 && r.Method == http.MethodGet {
		httpjson.Write(w, 200, map[string]any{"value": under(f.pools, clusterKey+"/agentpools/")})
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
		httpjson.Write(w, 200, pool)
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

func armError(w http.ResponseWriter, status int, code, msg string) {
	httpjson.Write(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// segs splits a path, dropping the leading slash.
func segs(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }
