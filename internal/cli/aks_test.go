package cli

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// newTestCluster creates c1 in rg without SSH keys and returns its kubelet
// identity's object ID.
func newTestCluster(h *harness, args ...string) string {
	h.t.Helper()
	mc := obj(h.ok(append([]string{"aks", "create", "-g", "rg", "-n", "c1", "--no-ssh-key", "--only-show-errors"}, args...)...))
	return str(mc, "identityProfile", "kubeletidentity", "objectId")
}

func TestAKSCreateShowListDelete(t *testing.T) {
	h, _, e := newAKSHarness(t)
	out, errOut, code := h.run("aks", "create", "-g", "rg", "-n", "c1", "--generate-ssh-keys", "-c", "2", "--tags", "env=dev")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	home := os.Getenv("HOME")
	priv, pub := filepath.Join(home, ".ssh", "id_rsa"), filepath.Join(home, ".ssh", "id_rsa.pub")
	if want := "WARNING: SSH key files '" + priv + "' and '" + pub + "' have been generated under ~/.ssh"; !strings.HasPrefix(errOut, want) {
		t.Errorf("stderr %q", errOut)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key: %v %v", st, err)
	}
	pubKey, _ := os.ReadFile(pub)
	if !isSSHPublicKey(string(pubKey)) {
		t.Errorf("public key %q", pubKey)
	}

	body := h.lastBody("PUT " + e.cluster)
	props := obj(body["properties"])
	pool := obj(list(props["agentPoolProfiles"])[0])
	if body["location"] != "westus" || obj(body["identity"])["type"] != "SystemAssigned" || obj(body["tags"])["env"] != "dev" ||
		props["dnsPrefix"] != "c1-rg-"+e.sub[:6] || props["enableRBAC"] != true || props["kubernetesVersion"] != nil || props["identityProfile"] != nil ||
		pool["name"] != "nodepool1" || pool["count"] != 2.0 || pool["vmSize"] != "Standard_DS2_v2" || pool["mode"] != "System" || pool["osType"] != "Linux" {
		t.Errorf("PUT body %v", body)
	}
	ssh := obj(obj(props["linuxProfile"])["ssh"])
	if key := obj(list(ssh["publicKeys"])[0])["keyData"]; key != strings.TrimSpace(string(pubKey)) || obj(props["linuxProfile"])["adminUsername"] != "azureuser" {
		t.Errorf("linuxProfile %v", props["linuxProfile"])
	}
	var mc map[string]any
	if err := json.Unmarshal([]byte(out), &mc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "c1", "resourceGroup": "rg", "provisioningState": "Succeeded", "nodeResourceGroup": "MC_rg_c1_westus",
		"kubernetesVersion": "1.37.2", "fqdn": "c1-rg-" + e.sub[:6] + ".hcp.westus.azmk8s.test"}
	for k, v := range want {
		if mc[k] != v {
			t.Errorf("create output %s = %v, want %v", k, mc[k], v)
		}
	}
	if mc["properties"] != nil || str(mc, "powerState", "code") != "Running" || str(mc, "identityProfile", "kubeletidentity", "objectId") == "" {
		t.Errorf("create output %v", mc)
	}
	// The key now exists: a second create uses it without generating.
	_, errOut, code = h.run("aks", "create", "-g", "rg", "-n", "c2", "-k", "v1.36", "--node-resource-group", "nodes", "--no-wait")
	if code != 0 || errOut != "" {
		t.Fatalf("create --no-wait: %d %q", code, errOut)
	}
	props = obj(h.lastBody("PUT " + e.rg + "/providers/Microsoft.ContainerService/managedClusters/c2")["properties"])
	if props["kubernetesVersion"] != "1.36" || props["nodeResourceGroup"] != "nodes" || obj(list(props["agentPoolProfiles"])[0])["orchestratorVersion"] != "1.36" {
		t.Errorf("c2 properties %v", props)
	}
	if n := h.count("GET /operations/"); n != 1 {
		t.Errorf("--no-wait polled: %d polls in %v", n, h.log())
	}

	if got := obj(h.ok("aks", "show", "-g", "rg", "-n", "c1")); got["name"] != "c1" || got["resourceGroup"] != "rg" {
		t.Errorf("show %v", got)
	}
	h.fails(1, "ERROR: (ResourceNotFound) The Resource 'Microsoft.ContainerService/managedClusters/nope' under resource group 'rg' was not found.", "aks", "show", "-g", "rg", "-n", "nope")
	if n := len(list(h.ok("aks", "list"))); n != 2 {
		t.Errorf("list: %d clusters", n)
	}
	if n := len(list(h.ok("aks", "list", "-g", "other"))); n != 0 {
		t.Errorf("list -g other: %d clusters", n)
	}
	table, _, _ := h.run("aks", "list", "-o", "table")
	if !strings.HasPrefix(table, "Name    Location    ResourceGroup    KubernetesVersion    CurrentKubernetesVersion    ProvisioningState    Fqdn") {
		t.Errorf("table:\n%s", table)
	}

	for _, verb := range []string{"stop", "start"} {
		h.resetLog()
		if out, errOut, code := h.run("aks", verb, "-g", "rg", "-n", "c1"); code != 0 || out != "" || errOut != "" {
			t.Errorf("%s: %d %q %q", verb, code, out, errOut)
		}
		if !slices.Contains(h.log(), "POST "+e.cluster+"/"+verb) || h.count("GET /operations/") != 1 {
			t.Errorf("%s requests %v", verb, h.log())
		}
	}
	h.fails(1, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.", "aks", "delete", "-g", "rg", "-n", "c1")
	if out, errOut, code := h.run("aks", "delete", "-g", "rg", "-n", "c1", "--yes"); code != 0 || out != "" || errOut != "" {
		t.Errorf("delete: %d %q %q", code, out, errOut)
	}
	if n := len(list(h.ok("aks", "list", "-g", "rg"))); n != 1 {
		t.Errorf("after delete: %d clusters", n)
	}
}

func TestAKSCreateValidation(t *testing.T) {
	h, _, e := newAKSHarness(t)
	base := []string{"aks", "create", "-g", "rg", "-n", "c1", "--no-ssh-key"}
	for _, tc := range []struct {
		code int
		err  string
		args []string
	}{
		{2, "the following arguments are required: --name/-n", []string{"aks", "create", "-g", "rg"}},
		{1, "--assign-kubelet-identity can only be specified when --assign-identity is specified", append(base, "--assign-kubelet-identity", e.kubeletID)},
		{1, "--assign-identity can only be specified when --enable-managed-identity is specified", append(base, "--enable-managed-identity=false", "--assign-identity", e.cpID)},
		{1, "When --attach-acr and --enable-managed-identity are both specified, --no-wait is not allowed, please wait until the whole operation succeeds.", append(base, "--attach-acr", "myacr", "--no-wait")},
		{2, "--assign-identity is not a valid Azure resource ID.", append(base, "--assign-identity", "cp")},
		{2, "argument --assign-identity: expected one argument", append(base, "--assign-identity")},
		{2, "--assign-kubelet-identity is not a valid Azure resource ID.", append(base, "--assign-identity", e.cpID, "--assign-kubelet-identity", "/subscriptions/x")},
		{2, `--kubernetes-version should be the full version number or alias minor version, such as "1.7.12" or "1.7"`, append(base, "--kubernetes-version", "latest")},
		{2, "--nodepool-name can contain at most 12 characters", append(base, "--nodepool-name", "averylongpoolname")},
		{2, "--nodepool-name should contain only alphanumeric characters", append(base, "--nodepool-name", "pool-1")},
		{2, "An RSA key file or key value must be supplied to SSH Key Value. You can use --generate-ssh-keys to let CLI generate one for you", []string{"aks", "create", "-g", "rg", "-n", "c1"}},
		{1, "drydock clusters use managed identities: --enable-managed-identity false (a service principal cluster) is not supported.", append(base, "--enable-managed-identity=false")},
		{1, "The resource with name 'nope' and type 'Microsoft.ContainerRegistry/registries' could not be found in subscription '" + e.subName + " (" + e.sub + ")'.", append(base, "--attach-acr", "nope")},
	} {
		h.fails(tc.code, "ERROR: "+tc.err, tc.args...)
	}
	for _, r := range h.log() {
		if strings.HasPrefix(r, "PUT ") {
			t.Errorf("a failed validation wrote: %s", r)
		}
	}
	// An SSH key given as a value.
	blob := append([]byte{0, 0, 0, 11}, "ssh-ed25519"...)
	blob = append(append(blob, 0, 0, 0, 32), make([]byte, 32)...)
	key := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " me@host"
	h.ok("aks", "create", "-g", "rg", "-n", "c1", "--ssh-key-value", key)
	ssh := obj(obj(obj(h.lastBody("PUT " + e.cluster)["properties"])["linuxProfile"])["ssh"])
	if got := obj(list(ssh["publicKeys"])[0])["keyData"]; got != key {
		t.Errorf("keyData %v", got)
	}
	h.fails(2, "ERROR: An RSA key file or key value must be supplied to SSH Key Value. You can use --generate-ssh-keys to let CLI generate one for you",
		"aks", "create", "-g", "rg", "-n", "c1", "--ssh-key-value", "ssh-rsa bm90IGEga2V5")
}

func TestAKSAttachACR(t *testing.T) {
	h, _, e := newAKSHarness(t)
	kubelet := newTestCluster(h, "--attach-acr", "MyACR")
	reqs := h.log()
	lookup := slices.Index(reqs, "GET /subscriptions/"+e.sub+"/providers/Microsoft.ContainerRegistry/registries")
	put := slices.Index(reqs, "PUT "+e.cluster)
	if lookup < 0 || put < 0 || lookup > put {
		t.Errorf("the registry must be resolved before the cluster is created: %v", reqs)
	}
	ras := e.assignments(h)
	if len(ras) != 1 {
		t.Fatalf("assignments %v", ras)
	}
	p := obj(ras[0]["properties"])
	if p["scope"] != e.myACR || p["principalId"] != kubelet || p["principalType"] != "ServicePrincipal" ||
		p["roleDefinitionId"] != "/subscriptions/"+e.sub+"/providers/Microsoft.Authorization/roleDefinitions/"+acrPullGUID {
		t.Errorf("assignment %v", ras[0])
	}
	if !slices.Contains(reqs, "GET "+e.myACR+"/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName eq 'acrpull'") {
		t.Errorf("AcrPull not resolved at the registry: %v", reqs)
	}

	// Attaching again: the server answers RoleAssignmentExists, a success.
	h.resetLog()
	mc := obj(h.ok("aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "myacr"))
	if mc["name"] != "c1" || h.count("PUT "+e.myACR+"/providers/Microsoft.Authorization/roleAssignments/") != 1 || len(e.assignments(h)) != 1 {
		t.Errorf("re-attach: %v %v", mc, h.log())
	}

	// Another subscription's registry, by resource ID, with the caller's
	// token in that subscription.
	h.resetLog()
	h.ok("aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", e.otherACR)
	reqs = h.log()
	if !slices.Contains(reqs, "GET "+e.otherACR) || h.count("PUT "+e.otherACR+"/providers/Microsoft.Authorization/roleAssignments/") != 1 {
		t.Errorf("cross-subscription attach: %v", reqs)
	}
	var cross map[string]any
	for _, ra := range e.assignments(h) {
		if str(ra, "properties", "scope") == e.otherACR {
			cross = ra
		}
	}
	if str(cross, "properties", "roleDefinitionId") != "/subscriptions/"+e.otherSub+"/providers/Microsoft.Authorization/roleDefinitions/"+acrPullGUID || str(cross, "properties", "principalId") != kubelet {
		t.Errorf("cross-subscription assignment %v", cross)
	}
	// By name only the current subscription is searched.
	h.fails(1, "ERROR: The resource with name 'otheracr' and type 'Microsoft.ContainerRegistry/registries' could not be found in subscription '"+e.subName+" ("+e.sub+")'.",
		"aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "otheracr")
	h.fails(1, "ERROR: (ResourceNotFound) The Resource 'Microsoft.ContainerRegistry/registries/gone' under resource group 'shared' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		"aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "/subscriptions/"+e.otherSub+"/resourceGroups/shared/providers/Microsoft.ContainerRegistry/registries/gone")
	h.fails(1, "ERROR: '"+e.cpID+"' is not the resource ID of a container registry (Microsoft.ContainerRegistry/registries).",
		"aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", e.cpID)
	// Registry names are unique, so the server never lists two of one
	// name; ARM's generic lookup can, and the CLI refuses to guess.
	regs := "GET /subscriptions/" + e.sub + "/providers/Microsoft.ContainerRegistry/registries"
	twin := map[string]any{"id": e.rg + "2/providers/Microsoft.ContainerRegistry/registries/MYACR", "name": "MYACR", "type": "Microsoft.ContainerRegistry/registries"}
	h.answerNext(1, regs, http.StatusOK, map[string]any{"value": []any{map[string]any{"id": e.myACR, "name": "myacr", "type": "Microsoft.ContainerRegistry/registries"}, twin}})
	h.fails(1, "ERROR: More than one resources with type 'Microsoft.ContainerRegistry/registries' are found with name 'myacr'.",
		"aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "myacr")

	h.fails(2, `ERROR: Cannot specify "--attach-acr" and "--detach-acr" at the same time.`, "aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "a", "--detach-acr", "b")
	h.fails(1, `ERROR: Please specify "--attach-acr" or "--detach-acr".`, "aks", "update", "-g", "rg", "-n", "c1")
}

func TestAKSAttachRetriesAndErrors(t *testing.T) {
	h, f, e := newAKSHarness(t)
	newTestCluster(h)

	// A kubelet identity the directory does not know yet: retried.
	assignments := "PUT " + e.myACR + "/providers/Microsoft.Authorization/roleAssignments/"
	notReplicated := "Principal does not exist in the directory " + e.tenant + "."
	h.failNext(2, assignments, http.StatusBadRequest, "PrincipalNotFound", notReplicated)
	h.resetLog()
	h.ok("aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "myacr")
	if n := h.count("PUT " + e.myACR + "/providers/Microsoft.Authorization/roleAssignments/"); n != 3 || len(e.assignments(h)) != 1 {
		t.Errorf("%d attempts, assignments %v", n, e.assignments(h))
	}
	h.failNext(100, assignments, http.StatusBadRequest, "PrincipalNotFound", notReplicated)
	e.unassignAll(h)
	h.resetLog()
	h.fails(1, "ERROR: (PrincipalNotFound) Principal does not exist in the directory "+e.tenant+".", "aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "myacr")
	if n := h.count("PUT " + e.myACR + "/providers/Microsoft.Authorization/roleAssignments/"); n != roleAssignmentRetries {
		t.Errorf("%d attempts", n)
	}

	// No permission to assign roles on the registry: the server's reason,
	// not az's "Are you an Owner on this subscription?".
	h.mu.Lock()
	h.faults = nil
	h.mu.Unlock()
	h.as(e.dev)
	h.resetLog()
	h.fails(1, e.authzFailed("write", e.myACR, "attach"),
		"aks", "update", "-g", "rg", "-n", "c1", "--attach-acr", "myacr")
	if n := h.count("PUT " + e.myACR + "/providers/Microsoft.Authorization/roleAssignments/"); n != 1 {
		t.Errorf("AuthorizationFailed was retried: %d attempts", n)
	}

	// A cluster without a kubelet identity.
	h.as("")
	f.mu.Lock()
	f.noKubelet = true
	f.mu.Unlock()
	mc := obj(h.ok("aks", "create", "-g", "rg", "-n", "c3", "--no-ssh-key", "--attach-acr", "myacr", "--only-show-errors"))
	if mc["name"] != "c3" {
		t.Errorf("create without kubelet identity: %v", mc)
	}
	_, errOut, code := h.run("aks", "create", "-g", "rg", "-n", "c3", "--no-ssh-key", "--attach-acr", "myacr")
	if code != 0 || errOut != "WARNING: Your cluster is successfully created, but we failed to attach acr to it, you can manually grant permission to the identity named <ClUSTER_NAME>-agentpool in MC_ resource group to give it permission to pull from ACR.\n" {
		t.Errorf("create without kubelet identity: %d %q", code, errOut)
	}
	h.fails(1, "ERROR: Unexpected error getting kubelet's identity for the cluster. Please do not set --attach-acr or --detach-acr. "+
		"You can manually grant or revoke permission to the identity named <ClUSTER_NAME>-agentpool in MC_ resource group to access ACR.",
		"aks", "update", "-g", "rg", "-n", "c3", "--detach-acr", "myacr")
}

func TestAKSAttachFailureAfterCreate(t *testing.T) {
	h, _, e := newAKSHarness(t)
	h.as(e.dev)
	out, errOut, code := h.run("aks", "create", "-g", "rg", "-n", "c1", "--no-ssh-key", "--attach-acr", "myacr")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 1 || out != "" || len(lines) != 2 ||
		lines[0] != "WARNING: The cluster 'c1' was created, but the registry could not be attached. Fix the cause and run 'az aks update -n c1 -g rg --attach-acr myacr'." ||
		!strings.HasSuffix(lines[1], "on the registry to attach it.") {
		t.Errorf("create: %d %q %q", code, out, errOut)
	}
}

func TestAKSDetachACR(t *testing.T) {
	h, _, e := newAKSHarness(t)
	kubelet := newTestCluster(h)
	other := e.cpPrincipal
	// (The server keeps one assignment per scope, role and principal, in
	// its own spelling: no second one in other letter case.)
	drop1 := e.assign(h, "00000000-0000-0000-0000-00000000000a", e.myACR, acrPullGUID, kubelet)
	keep := []string{
		e.assign(h, "00000000-0000-0000-0000-00000000000c", e.rg, acrPullGUID, kubelet),       // inherited from the group
		e.assign(h, "00000000-0000-0000-0000-00000000000d", e.myACR, readerGUID, kubelet),     // another role
		e.assign(h, "00000000-0000-0000-0000-00000000000e", e.myACR, acrPullGUID, other),      // another principal
		e.assign(h, "00000000-0000-0000-0000-00000000000f", e.otherACR, acrPullGUID, kubelet), // another registry
	}
	h.resetLog()
	if mc := obj(h.ok("aks", "update", "-g", "rg", "-n", "c1", "--detach-acr", "myacr")); mc["name"] != "c1" {
		t.Errorf("detach output %v", mc)
	}
	reqs := h.log()
	if !slices.Contains(reqs, "GET "+e.myACR+"/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()") {
		t.Errorf("requests %v", reqs)
	}
	var deleted []string
	for _, r := range reqs {
		if id, ok := strings.CutPrefix(r, "DELETE "); ok {
			deleted = append(deleted, id)
		}
	}
	if !slices.Equal(deleted, []string{drop1}) {
		t.Errorf("deleted %v, want %v", deleted, []string{drop1})
	}
	var left []string
	for _, ra := range e.assignments(h) {
		left = append(left, str(ra, "id"))
	}
	slices.Sort(keep)
	if !slices.Equal(left, keep) {
		t.Errorf("left %v, want %v", left, keep)
	}
	// Nothing left to detach is a success.
	h.ok("aks", "update", "-g", "rg", "-n", "c1", "--detach-acr", "myacr")

	id := e.assign(h, "00000000-0000-0000-0000-000000000010", e.myACR, acrPullGUID, kubelet)
	h.as(e.dev)
	h.fails(1, e.authzFailed("delete", e.myACR, "detach"), "aks", "update", "-g", "rg", "-n", "c1", "--detach-acr", e.myACR)
	if len(e.assignments(h)) != len(keep)+1 {
		t.Errorf("assignment %s deleted despite the refusal", id)
	}
}

func TestAKSCreateWithKubeletIdentity(t *testing.T) {
	h, _, e := newAKSHarness(t)
	byo := []string{"--assign-identity", e.cpID, "--assign-kubelet-identity", e.kubeletID}

	// No permission on the kubelet identity: nothing is created.
	h.as(e.dev)
	_, errOut, code := h.run(append([]string{"aks", "create", "-g", "rg", "-n", "c1", "--no-ssh-key"}, byo...)...)
	if code != 1 || !strings.HasPrefix(errOut, "ERROR: Could not grant Managed Identity Operator permission to cluster identity at scope "+e.kubeletID+": (AuthorizationFailed) ") {
		t.Errorf("denied: %d %q", code, errOut)
	}
	if h.count("PUT "+e.cluster) != 0 {
		t.Error("the cluster was created without the permission")
	}
	h.as("")

	h.resetLog()
	kubelet := newTestCluster(h, append(byo, "--attach-acr", "myacr")...)
	if kubelet != e.kubeletOID {
		t.Errorf("kubelet object ID %s", kubelet)
	}
	reqs := h.log()
	mio := slices.IndexFunc(reqs, func(r string) bool {
		return strings.HasPrefix(r, "PUT "+e.kubeletID+"/providers/Microsoft.Authorization/roleAssignments/")
	})
	put := slices.Index(reqs, "PUT "+e.cluster)
	if mio < 0 || put < mio {
		t.Errorf("Managed Identity Operator must be granted before the cluster PUT: %v", reqs)
	}
	var grant, pull map[string]any
	for _, ra := range e.assignments(h) {
		switch lastSegment(str(ra, "properties", "roleDefinitionId")) {
		case managedIdentityOperatorGUID:
			grant = ra
		case acrPullGUID:
			pull = ra
		}
	}
	if str(grant, "properties", "scope") != e.kubeletID || str(grant, "properties", "principalId") != e.cpPrincipal || str(grant, "properties", "principalType") != "ServicePrincipal" {
		t.Errorf("Managed Identity Operator assignment %v", grant)
	}
	if str(pull, "properties", "principalId") != e.kubeletOID || str(pull, "properties", "scope") != e.myACR {
		t.Errorf("AcrPull assignment %v", pull)
	}
	body := h.lastBody("PUT " + e.cluster)
	id := obj(body["identity"])
	ki := obj(obj(obj(body["properties"])["identityProfile"])["kubeletidentity"])
	if id["type"] != "UserAssigned" || obj(id["userAssignedIdentities"])[e.cpID] == nil ||
		ki["resourceId"] != e.kubeletID || ki["objectId"] != e.kubeletOID || ki["clientId"] != e.kubeletClientID {
		t.Errorf("PUT body %v", body)
	}

	// The grant exists now: it is not made twice.
	h.resetLog()
	newTestCluster(h, byo...)
	if n := h.count("PUT " + e.kubeletID + "/providers/Microsoft.Authorization/roleAssignments/"); n != 0 {
		t.Errorf("granted again: %v", h.log())
	}
	missing := e.rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope"
	h.fails(1, "ERROR: Identity "+missing+" not found.", "aks", "create", "-g", "rg", "-n", "c1", "--no-ssh-key", "--assign-identity", e.cpID, "--assign-kubelet-identity", missing)
}

func TestAKSNodepool(t *testing.T) {
	h, _, e := newAKSHarness(t)
	newTestCluster(h)
	pools := list(h.ok("aks", "nodepool", "list", "-g", "rg", "--cluster-name", "c1"))
	if len(pools) != 1 || obj(pools[0])["name"] != "nodepool1" || obj(pools[0])["resourceGroup"] != "rg" || obj(pools[0])["count"] != 3.0 {
		t.Errorf("list %v", pools)
	}
	h.fails(1, "ERROR: Node pool nodepool1 already exists, please try a different name, use 'aks nodepool list' to get current list of node pool",
		"aks", "nodepool", "add", "-g", "rg", "--cluster-name", "c1", "-n", "nodepool1")
	h.fails(2, "ERROR: --nodepool-name should contain only alphanumeric characters", "aks", "nodepool", "add", "-g", "rg", "--cluster-name", "c1", "-n", "user_pool")
	h.fails(2, "ERROR: the following arguments are required: --cluster-name", "aks", "nodepool", "list", "-g", "rg")
	added := obj(h.ok("aks", "nodepool", "add", "-g", "rg", "--cluster-name", "c1", "-n", "user1", "-c", "1", "-s", "Standard_D4s_v5"))
	body := obj(h.lastBody("PUT " + e.cluster + "/agentPools/user1")["properties"])
	if added["name"] != "user1" || added["count"] != 1.0 || body["mode"] != "User" || body["osType"] != "Linux" || body["vmSize"] != "Standard_D4s_v5" || body["count"] != 1.0 {
		t.Errorf("add: %v, body %v", added, body)
	}
	h.fails(1, "ERROR: The new node count is the same as the current node count.", "aks", "nodepool", "scale", "-g", "rg", "--cluster-name", "c1", "-n", "user1", "-c", "1")
	scaled := obj(h.ok("aks", "nodepool", "scale", "-g", "rg", "--cluster-name", "c1", "-n", "user1", "--node-count", "4"))
	body = obj(h.lastBody("PUT " + e.cluster + "/agentPools/user1")["properties"])
	if scaled["count"] != 4.0 || body["count"] != 4.0 || body["vmSize"] != "Standard_D4s_v5" || body["provisioningState"] != nil {
		t.Errorf("scale: %v, body %v", scaled, body)
	}
	if got := obj(h.ok("aks", "nodepool", "show", "-g", "rg", "--cluster-name", "c1", "-n", "user1")); got["count"] != 4.0 {
		t.Errorf("show %v", got)
	}
	if out, errOut, code := h.run("aks", "nodepool", "delete", "-g", "rg", "--cluster-name", "c1", "-n", "user1"); code != 0 || out != "" || errOut != "" {
		t.Errorf("delete: %d %q %q", code, out, errOut)
	}
	if n := len(list(h.ok("aks", "nodepool", "list", "-g", "rg", "--cluster-name", "c1"))); n != 1 {
		t.Errorf("%d pools after delete", n)
	}
}

func TestAKSCheckACR(t *testing.T) {
	h, f, e := newAKSHarness(t)
	newTestCluster(h)
	h.resetLog()
	out, errOut, code := h.run("aks", "check-acr", "-g", "rg", "-n", "c1", "--acr", "myacr", "--node-name", "aks-nodepool1-0", "--repository", "app")
	want := str(f.checkResult, "output") + "\n"
	if code != 0 || out != want || errOut != "WARNING: The login server endpoint suffix '.azurecr.test' is automatically appended.\n" {
		t.Errorf("check-acr: %d %q %q", code, out, errOut)
	}
	body := h.lastBody("POST " + e.cluster + "/checkAcr")
	if body["acr"] != h.srv.LoginServer("myacr") || body["nodeName"] != "aks-nodepool1-0" || body["repository"] != "app" {
		t.Errorf("checkAcr body %v", body)
	}

	// The cluster cannot pull: the output, then an error.
	f.mu.Lock()
	f.checkResult = map[string]any{"output": "[2025-01-01T00:00:00Z] Validating image pull permission: FAILED\n", "succeeded": false, "exitCode": 60}
	f.checkLRO = true
	f.mu.Unlock()
	out, errOut, code = h.run("aks", "check-acr", "-g", "rg", "-n", "c1", "--acr", "otheracr.azurecr.test")
	if code != 60 || out != "[2025-01-01T00:00:00Z] Validating image pull permission: FAILED\n" ||
		errOut != "WARNING: The registry 'otheracr.azurecr.test' is not in subscription '"+e.subName+" ("+e.sub+")'. If it is in another subscription, attach it by resource ID: "+
			"az aks update -n c1 -g rg --attach-acr /subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>\n"+
			"ERROR: Failed to check the ACR: the check exited with status 60.\n" {
		t.Errorf("failing check-acr: %d %q %q", code, out, errOut)
	}
	if err := (&checkACRFailed{code: 60}); err.ExitCode() != 60 {
		t.Error("ExitCode")
	}
	f.mu.Lock()
	f.checkResult = map[string]any{"output": "", "succeeded": false, "exitCode": 1}
	f.mu.Unlock()
	h.fails(1, "ERROR: Failed to check the ACR.", "aks", "check-acr", "-g", "rg", "-n", "c1", "--acr", "myacr.azurecr.test")
	h.fails(2, "ERROR: the following arguments are required: --acr", "aks", "check-acr", "-g", "rg", "-n", "c1")
}

func TestAKSHelp(t *testing.T) {
	h, _, _ := newAKSHarness(t)
	for _, args := range [][]string{{"aks", "--help"}, {"aks", "create", "--help"}, {"aks", "nodepool", "--help"}, {"aks", "get-credentials", "-h"}} {
		out, errOut, code := h.run(args...)
		if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
			t.Errorf("%v: %d %q %q", args, code, out, errOut)
		}
	}
	h.fails(2, "ERROR: 'frobnicate' is misspelled or not recognized by the system.", "aks", "frobnicate")
}

func TestDefaultDNSPrefix(t *testing.T) {
	for _, tc := range []struct{ name, group, want string }{
		{"c1", "rg", "c1-rg-111111"},
		{"myAKSCluster", "myResourceGroup", "myAKSClust-myResourceGroup-111111"},
		{"1cluster", "my_group.x", "a1cluster-mygroupx-111111"},
		{"123456789012", "a-very-long-resource-group-name", "a123456789-a-very-long-reso-111111"},
	} {
		if got := defaultDNSPrefix(tc.name, tc.group, "11111111-2222"); got != tc.want {
			t.Errorf("defaultDNSPrefix(%q, %q) = %q, want %q", tc.name, tc.group, got, tc.want)
		}
	}
}
