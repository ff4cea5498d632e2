package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// aksEnv lets a cluster's nodes resolve login servers as real nodes do:
// the server keeps its own block in /etc/hosts (registries still listen on
// a port of their own, so tests can run side by side).
var aksEnv = []string{"DRYDOCK_MANAGE_HOSTS_FILE=true", "DRYDOCK_HOSTS_FILE=/etc/hosts"}

// registryOpts reaches a server's registry listener whatever the login
// server resolves to (the isolated test servers keep /etc/hosts untouched).
func registryOpts(t *testing.T, s *server, az *cli, auth authn.Authenticator) []remote.Option {
	t.Helper()
	addr := az.tsv("cloud", "show", "--query", "registryAddress")
	if addr == "" {
		meta := az.obj("cloud", "show")
		t.Fatalf("cloud show has no registry address: %v", meta)
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}
	return []remote.Option{remote.WithTransport(tr), remote.WithAuth(auth)}
}

// pushImage puts a small image into a registry with its admin user.
func pushImage(t *testing.T, s *server, az *cli, acr, ref string) {
	t.Helper()
	login, auth := acrAdmin(t, az, acr)
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(login + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, registryOpts(t, s, az, auth)...); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
}

// TestAKSDocumentFlow replays the seed document's commands: create a
// registry, a cluster attached to it, get credentials, use kubectl, check
// the cluster can pull, detach (check-acr says why it cannot), attach by
// resource ID, stop, start and delete.
func TestAKSDocumentFlow(t *testing.T) {
	s := startServer(t, aksEnv...)
	az := s.admin(t)
	az.ok("group", "create", "--name", "myResourceGroup", "--location", "eastus", "-o", "none")
	az.ok("group", "create", "--name", "myContainerRegistryResourceGroup", "--location", "eastus", "-o", "none")
	az.ok("acr", "create", "--name", "mycontainerregistry", "--resource-group", "myContainerRegistryResourceGroup", "--sku", "basic", "-o", "none")
	acrID := az.tsv("acr", "show", "-n", "mycontainerregistry", "--query", "id")
	login := az.tsv("acr", "show", "-n", "mycontainerregistry", "--query", "loginServer")
	pushImage(t, s, az, "mycontainerregistry", "nginx:v1")

	mc := az.obj("aks", "create", "--name", "myAKSCluster", "--resource-group", "myResourceGroup", "--generate-ssh-keys",
		"--attach-acr", "mycontainerregistry", "--node-count", "2")
	expectFields(t, "aks create", mc, map[string]any{"name": "myAKSCluster", "provisioningState": "Succeeded", "nodeResourceGroup": "MC_myResourceGroup_myAKSCluster_eastus"})
	kubelet := str(mc, "identityProfile", "kubeletidentity", "objectId")
	if !isGUID(kubelet) || !strings.HasSuffix(str(mc, "identityProfile", "kubeletidentity", "resourceId"), "/userAssignedIdentities/myAKSCluster-agentpool") {
		t.Fatalf("kubelet identity: %v", get(mc, "identityProfile"))
	}
	if str(mc, "powerState", "code") != "Running" || str(mc, "kubernetesVersion") != "1.37.2" {
		t.Fatalf("cluster: %v", mc)
	}
	assigned := az.list("role", "assignment", "list", "--scope", acrID, "--assignee", kubelet)
	if len(assigned) != 1 || str(assigned[0], "roleDefinitionName") != "AcrPull" {
		t.Fatalf("--attach-acr did not assign AcrPull to the kubelet identity: %v", assigned)
	}

	// get-credentials merges a kubeconfig; kubectl works with it.
	kubeconfig := filepath.Join(t.TempDir(), "config")
	out := az.ok("aks", "get-credentials", "--resource-group", "myResourceGroup", "--name", "myAKSCluster", "--file", kubeconfig)
	if !strings.Contains(out+az.run("aks", "get-credentials", "-g", "myResourceGroup", "-n", "myAKSCluster", "--file", kubeconfig, "--overwrite-existing").Stderr, "myAKSCluster") {
		t.Errorf("get-credentials output: %q", out)
	}
	ns := az.ok("kubectl", "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	if !strings.Contains(ns, "namespace/kube-system") {
		t.Fatalf("kubectl get namespaces: %q", ns)
	}
	ver := az.ok("kubectl", "--kubeconfig", kubeconfig, "version", "-o", "json")
	if !strings.Contains(ver, `"gitVersion": "v1.37.2"`) {
		t.Errorf("server version: %s", ver)
	}

	// check-acr passes while attached...
	r := az.run("aks", "check-acr", "-g", "myResourceGroup", "-n", "myAKSCluster", "--acr", login)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Your cluster can pull images from "+login) {
		t.Fatalf("check-acr while attached:\n%s", r)
	}
	// ...fails after --detach-acr, saying how to fix it...
	az.ok("aks", "update", "-n", "myAKSCluster", "-g", "myResourceGroup", "--detach-acr", "mycontainerregistry", "-o", "none")
	if left := az.list("role", "assignment", "list", "--scope", acrID, "--assignee", kubelet); len(left) != 0 {
		t.Fatalf("--detach-acr left assignments: %v", left)
	}
	r = az.run("aks", "check-acr", "-g", "myResourceGroup", "-n", "myAKSCluster", "--acr", login)
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "--attach-acr") {
		t.Fatalf("check-acr after detach must fail and point at --attach-acr:\n%s", r)
	}
	// ...and passes again after attaching by resource ID.
	az.ok("aks", "update", "-n", "myAKSCluster", "-g", "myResourceGroup", "--attach-acr", acrID, "-o", "none")
	r = az.run("aks", "check-acr", "-g", "myResourceGroup", "-n", "myAKSCluster", "--acr", login)
	if r.Code != 0 {
		t.Fatalf("check-acr after attach by resource ID:\n%s", r)
	}

	// The kubelet image credential provider, executed exactly as a kubelet
	// executes it: the request on stdin, the node's azure.json as argument.
	nodes, _ := filepath.Glob(filepath.Join(s.dataDir, "clusters", "*", "nodes", "*", "etc-kubernetes", "azure.json"))
	if len(nodes) != 2 {
		t.Fatalf("want the azure.json of 2 nodes, found %v", nodes)
	}
	plugin := exec.Command(bin, "acr-credential-provider", nodes[0])
	plugin.Env = baseEnv(t.TempDir())
	plugin.Stdin = strings.NewReader(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"` + login + `/nginx:v1"}`)
	resp, err := plugin.Output()
	if err != nil {
		t.Fatalf("acr-credential-provider: %v", err)
	}
	var cp struct {
		Kind, CacheKeyType string
		Auth               map[string]struct{ Username, Password string }
	}
	if err := jsonUnmarshal(string(resp), &cp); err != nil || cp.Kind != "CredentialProviderResponse" || cp.CacheKeyType != "Registry" ||
		cp.Auth[login].Username != "00000000-0000-0000-0000-000000000000" || cp.Auth[login].Password == "" {
		t.Fatalf("credential provider response: %s (%v)", resp, err)
	}
	// The refresh token it returns pulls the image, as containerd would.
	tag, _ := name.NewTag(login + "/nginx:v1")
	if _, err := remote.Image(tag, registryOpts(t, s, az, &authn.Basic{Username: cp.Auth[login].Username, Password: cp.Auth[login].Password})...); err != nil {
		t.Fatalf("pull with the credential provider's answer: %v", err)
	}

	// A Contributor cannot attach: the error names the permission and scope.
	az.ok("ad", "user", "create", "--display-name", "carol", "--user-principal-name", "carol@drydock.local", "--password", "Carol-Passw0rd", "-o", "none")
	carolID := az.tsv("ad", "user", "show", "--id", "carol@drydock.local", "--query", "id")
	subID := az.tsv("account", "show", "--query", "id")
	az.ok("role", "assignment", "create", "--role", "Contributor", "--assignee-object-id", carolID, "--assignee-principal-type", "User", "--scope", "/subscriptions/"+subID, "-o", "none")
	carol := s.login(t, "carol@drydock.local", "Carol-Passw0rd")
	az.ok("aks", "update", "-n", "myAKSCluster", "-g", "myResourceGroup", "--detach-acr", "mycontainerregistry", "-o", "none")
	line := carol.fails(1, "Microsoft.Authorization/roleAssignments/write", "aks", "update", "-n", "myAKSCluster", "-g", "myResourceGroup", "--attach-acr", "mycontainerregistry")
	if !strings.Contains(line, acrID) || strings.Contains(line, "Are you an Owner") {
		t.Errorf("attach error must name the scope and not az's misleading text: %s", line)
	}

	// stop frees the control plane; start brings it back with its objects.
	az.ok("aks", "stop", "-n", "myAKSCluster", "-g", "myResourceGroup")
	if st := az.tsv("aks", "show", "-n", "myAKSCluster", "-g", "myResourceGroup", "--query", "powerState.code"); st != "Stopped" {
		t.Fatalf("after stop: %s", st)
	}
	az.ok("aks", "start", "-n", "myAKSCluster", "-g", "myResourceGroup")
	ns = az.ok("kubectl", "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	if !strings.Contains(ns, "namespace/default") {
		t.Fatalf("kubectl after start: %q", ns)
	}

	az.ok("aks", "delete", "-n", "myAKSCluster", "-g", "myResourceGroup", "--yes")
	if r := az.run("group", "exists", "-n", "MC_myResourceGroup_myAKSCluster_eastus"); strings.TrimSpace(r.Stdout) != "false" {
		t.Errorf("node resource group after delete:\n%s", r)
	}
}

// TestAKSGroupsBYOKubeletAndCrossSubscription covers the document's
// warnings: AcrPull through a group reaches an identity already in use only
// after the propagation delay (check-acr says when), a pre-created kubelet
// identity added to the group first pulls at once (the workaround), and a
// registry in another subscription is attached by resource ID.
func TestAKSGroupsBYOKubeletAndCrossSubscription(t *testing.T) {
	s := startServer(t, append(aksEnv, "DRYDOCK_GROUP_PROPAGATION_DELAY=10m")...)
	az := s.admin(t)
	az.ok("group", "create", "-n", "rg", "-l", "eastus", "-o", "none")
	az.ok("acr", "create", "-n", "groupacr01", "-g", "rg", "--sku", "basic", "-o", "none")
	acrID := az.tsv("acr", "show", "-n", "groupacr01", "--query", "id")
	login := az.tsv("acr", "show", "-n", "groupacr01", "--query", "loginServer")
	pushImage(t, s, az, "groupacr01", "app:v1")
	groupID := az.tsv("ad", "group", "create", "--display-name", "acr-pullers", "--mail-nickname", "acr-pullers", "--query", "id")
	az.ok("role", "assignment", "create", "--role", "AcrPull", "--assignee-object-id", groupID, "--assignee-principal-type", "Group", "--scope", acrID, "-o", "none")

	// A cluster whose kubelet identity has already been used joins late.
	mc := az.obj("aks", "create", "-n", "late", "-g", "rg", "--node-count", "1", "--generate-ssh-keys")
	kubelet := str(mc, "identityProfile", "kubeletidentity", "objectId")
	if r := az.run("aks", "check-acr", "-g", "rg", "-n", "late", "--acr", login); r.Code == 0 {
		t.Fatalf("check-acr without any role must fail:\n%s", r)
	}
	az.ok("ad", "group", "member", "add", "--group", groupID, "--member-id", kubelet)
	r := az.run("aks", "check-acr", "-g", "rg", "-n", "late", "--acr", login)
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "becomes effective at") {
		t.Fatalf("check-acr must report the pending group membership:\n%s", r)
	}

	// The workaround: pre-create the kubelet identity, add it to the group,
	// then bring it to the cluster.
	cp := az.obj("identity", "create", "-n", "cp-identity", "-g", "rg")
	byo := az.obj("identity", "create", "-n", "byo-kubelet", "-g", "rg")
	az.ok("ad", "group", "member", "add", "--group", groupID, "--member-id", str(byo, "principalId"))
	mc = az.obj("aks", "create", "-n", "byo", "-g", "rg", "--node-count", "1", "--generate-ssh-keys", "--enable-managed-identity",
		"--assign-identity", str(cp, "id"), "--assign-kubelet-identity", str(byo, "id"))
	if got := str(mc, "identityProfile", "kubeletidentity", "objectId"); got != str(byo, "principalId") {
		t.Fatalf("kubelet identity %s, want the brought one %s", got, str(byo, "principalId"))
	}
	if r := az.run("aks", "check-acr", "-g", "rg", "-n", "byo", "--acr", login); r.Code != 0 {
		t.Fatalf("a pre-created kubelet identity in the group must pull at once:\n%s", r)
	}

	// Cross-subscription attach by resource ID.
	az.ok("account", "create", "--name", "second", "-o", "none")
	az.ok("group", "create", "-n", "other-rg", "-l", "eastus", "--subscription", "second", "-o", "none")
	az.ok("acr", "create", "-n", "otheracr01", "-g", "other-rg", "--sku", "basic", "--subscription", "second", "-o", "none")
	otherID := az.tsv("acr", "show", "-n", "otheracr01", "-g", "other-rg", "--subscription", "second", "--query", "id")
	otherLogin := az.tsv("acr", "show", "-n", "otheracr01", "-g", "other-rg", "--subscription", "second", "--query", "loginServer")
	az.fails(1, "could not be found in subscription", "aks", "update", "-n", "late", "-g", "rg", "--attach-acr", "otheracr01")
	az.ok("aks", "update", "-n", "late", "-g", "rg", "--attach-acr", otherID, "-o", "none")
	first := az.tsv("account", "show", "--query", "id")
	az.ok("account", "set", "--subscription", "second")
	pushImage(t, s, az, "otheracr01", "app:v1")
	az.ok("account", "set", "--subscription", first)
	// The server's resolver caches /etc/hosts for a few seconds, so a
	// registry created a moment ago may not resolve yet: retry a few times.
	var r2 result
	for attempt := 0; attempt < 10; attempt++ {
		if r2 = az.run("aks", "check-acr", "-g", "rg", "-n", "late", "--acr", otherLogin); r2.Code != 52 {
			break
		}
		time.Sleep(time.Second)
	}
	if r2.Code != 0 {
		t.Fatalf("check-acr after cross-subscription attach:\n%s", r2)
	}
}

// relaunch starts `drydock server` again on a stopped server's data dir and
// addresses, stopped (and checked for a graceful exit) when the test ends.
func relaunch(t *testing.T, old *server, env []string) *server {
	t.Helper()
	s, err := relaunchServer(old, env)
	return stopAtEnd(t, s, err)
}

// relaunchServer starts `drydock server` again on the data dir and
// addresses of a server that stopped, or was killed, and waits until it is
// ready. Its log is the old one's name with the next number (server.log.2,
// server.log.3, ...).
func relaunchServer(old *server, env []string) (*server, error) {
	logFile, n := old.logFile, 2
	if base, num, ok := strings.Cut(filepath.Base(logFile), ".log."); ok {
		fmt.Sscan(num, &n)
		n++
		logFile = filepath.Join(filepath.Dir(logFile), base+".log")
	}
	s := &server{dataDir: old.dataDir, home: old.home, logFile: fmt.Sprintf("%s.%d", logFile, n), adminPassword: old.adminPassword}
	if err := s.spawn(strings.TrimPrefix(old.Endpoint, "https://"), env); err != nil {
		return nil, err
	}
	return s, nil
}

// TestAKSSurvivesRestart: a running cluster (its objects, and its pods'
// containers, untouched) comes back when drydock restarts, and a stopped
// one stays stopped.
func TestAKSSurvivesRestart(t *testing.T) {
	regAddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	env := append(isolationEnv(root), "DRYDOCK_REGISTRY_LISTEN="+regAddr)
	s, err := launchServer(root, env...)
	if err != nil {
		t.Fatal(err)
	}
	az := s.admin(t)
	az.ok("group", "create", "-n", "rg", "-l", "eastus", "-o", "none")
	az.ok("aks", "create", "-n", "kept", "-g", "rg", "--node-count", "1", "--generate-ssh-keys", "-o", "none")
	az.ok("aks", "create", "-n", "parked", "-g", "rg", "--node-count", "1", "--generate-ssh-keys", "-o", "none")
	az.ok("aks", "stop", "-n", "parked", "-g", "rg")
	kubeconfig := filepath.Join(t.TempDir(), "config")
	az.ok("aks", "get-credentials", "-g", "rg", "-n", "kept", "--file", kubeconfig)
	az.ok("kubectl", "--kubeconfig", kubeconfig, "create", "configmap", "survivor", "--from-literal=a=b")
	// A pod that needs no registry: the node's own sandbox image.
	az.ok("kubectl", "--kubeconfig", kubeconfig, "run", "sleeper", "--image=drydock.local/pause:3.10", "--image-pull-policy=Never", "--restart=Never")
	before := waitContainer(t, az, kubeconfig, "sleeper")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s2 := relaunch(t, s, env)
	az2 := s2.admin(t)
	keptDeleted := deleteClusterAtCleanup(t, az2, "rg", "kept")
	parkedDeleted := deleteClusterAtCleanup(t, az2, "rg", "parked")
	// The control plane restarts in the background; wait for it (bounded).
	var out result
	for attempt := 0; attempt < 60; attempt++ {
		if out = az2.run("kubectl", "--kubeconfig", kubeconfig, "get", "configmap", "survivor", "-o", "name"); out.Code == 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out.Code != 0 || !strings.Contains(out.Stdout, "configmap/survivor") {
		t.Fatalf("the cluster did not come back with its objects:\n%s", out)
	}
	if st := az2.tsv("aks", "show", "-n", "kept", "-g", "rg", "--query", "powerState.code"); st != "Running" {
		t.Errorf("kept: %s", st)
	}
	if st := az2.tsv("aks", "show", "-n", "parked", "-g", "rg", "--query", "powerState.code"); st != "Stopped" {
		t.Errorf("parked: %s", st)
	}
	// The pod's container kept running while drydock was down, and the
	// restarted node agent adopted it (its log says so) rather than
	// starting it again: same container, no restart.
	logs, _ := filepath.Glob(filepath.Join(s2.dataDir, "clusters", "*", "nodes", "*", "agent.log"))
	for attempt := 0; ; attempt++ {
		adopted := false
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil && strings.Contains(string(b), `msg="adopted a running pod"`) && strings.Contains(string(b), "pod=default/sleeper") {
				adopted = true
			}
		}
		if adopted {
			break
		}
		if attempt == 120 {
			t.Fatalf("no node agent adopted the pod sleeper (agent logs %q)", logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if after := waitContainer(t, az2, kubeconfig, "sleeper"); after != before {
		t.Errorf("the pod's container changed across the restart: %s, then %s", before, after)
	}
	az2.ok("aks", "delete", "-n", "kept", "-g", "rg", "--yes")
	*keptDeleted = true
	az2.ok("aks", "delete", "-n", "parked", "-g", "rg", "--yes")
	*parkedDeleted = true
}

// waitContainer waits until pod runs (bounded) and returns its container's
// ID and restart count.
func waitContainer(t *testing.T, az *cli, kubeconfig, pod string) string {
	t.Helper()
	var out result
	for attempt := 0; attempt < 120; attempt++ {
		out = az.run("kubectl", "--kubeconfig", kubeconfig, "get", "pod", pod, "-o",
			"jsonpath={.status.phase} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}")
		if f := strings.Fields(out.Stdout); out.Code == 0 && len(f) == 3 && f[0] == "Running" && f[1] != "" {
			return f[1] + " restarts=" + f[2]
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("pod %s is not running:\n%s\n%s", pod, out, az.run("kubectl", "--kubeconfig", kubeconfig, "describe", "pod", pod))
	return ""
}
