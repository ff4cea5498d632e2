package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The real Azure CLI against drydock: Debian's azure-cli 2.45 registers
// drydock as a cloud, signs in every way az signs in, and replays the
// document unmodified. They need the az command (apt-get install -y
// azure-cli); without it they are skipped, unless DRYDOCK_E2E_REQUIRE_AZ=1
// (set by scripts/test.sh), which turns its absence into a failure.
//
// Every az user has its own AZURE_CONFIG_DIR and HOME, trusts drydock's CA
// through REQUESTS_CA_BUNDLE (az's HTTP client is Python requests), and
// runs with internal/cli/azcompat on PYTHONPATH (what `drydock up` installs): that shim mends a
// packaging mismatch between Debian's azure-cli and its python3-azure that
// breaks `az role` and `--attach-acr` before any request is sent (see the
// shim's header); nothing else of az is changed.

// azCompatDir is the shim's directory, relative to the module root.
const azCompatDir = "internal/cli/azcompat"

// needRealAz returns the path of the real az, or skips (fails, under
// DRYDOCK_E2E_REQUIRE_AZ=1) the test.
func needRealAz(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("az")
	if err == nil {
		return path
	}
	const problem = "the real Azure CLI is not installed (apt-get install -y azure-cli)"
	if os.Getenv("DRYDOCK_E2E_REQUIRE_AZ") == "1" {
		t.Fatal(problem)
	}
	t.Skip(problem + " (set DRYDOCK_E2E_REQUIRE_AZ=1 to make this a failure)")
	return ""
}

// newRealAz returns a user of the real az that has no cloud registered
// yet. env adds variables. Its PATH starts with a directory holding
// `kubectl`, the upstream kubectl drydock embeds (`drydock kubectl`), which
// the document's kubectl steps and `az aks check-acr` run.
func (s *server) newRealAz(t *testing.T, env ...string) *cli {
	t.Helper()
	azPath := needRealAz(t)
	dir := t.TempDir()
	home, cfg, binDir := filepath.Join(dir, "home"), filepath.Join(dir, "azure"), filepath.Join(dir, "bin")
	for _, d := range []string{home, cfg, binDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	kubectl := fmt.Sprintf("#!/bin/sh\nexec %q kubectl \"$@\"\n", bin)
	if err := os.WriteFile(filepath.Join(binDir, "kubectl"), []byte(kubectl), 0o755); err != nil {
		t.Fatal(err)
	}
	compat, err := filepath.Abs(filepath.Join("..", azCompatDir))
	if err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, prog: azPath, env: baseEnv(home, append([]string{
		"AZURE_CONFIG_DIR=" + cfg,
		"REQUESTS_CA_BUNDLE=" + s.CAFile,
		"PYTHONPATH=" + compat,
		"AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CORE_NO_COLOR=true",
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
	}, env...)...)}
}

// realAzWithClusters is how a test of the real az against clusters begins
// (skipped without az or a container runtime): a server of its own that
// can run clusters, drydock's CLI as its admin (dd) and the real az (az,
// not signed in yet).
func realAzWithClusters(t *testing.T) (s *server, dd, az *cli) {
	t.Helper()
	needRealAz(t)
	needContainerRuntime(t)
	s = startServer(t, aksEnv...)
	return s, s.admin(t), s.realAz(t)
}

// realAz returns a user of the real az with drydock registered as its
// active cloud the way `drydock up` says: `az cloud register
// --cloud-config` with the resource manager, Microsoft Graph's resource ID
// and the ACR suffix, the rest read by az from the cloud metadata.
func (s *server) realAz(t *testing.T, env ...string) *cli {
	t.Helper()
	az := s.newRealAz(t, env...)
	az.ok("cloud", "register", "-n", "drydock", "--cloud-config", s.azCloudConfig(t), "-o", "none")
	az.ok("cloud", "set", "-n", "drydock", "-o", "none")
	return az
}

// azCloudConfig is the cloud config `drydock up` prints, from `drydock
// cloud show`.
func (s *server) azCloudConfig(t *testing.T) string {
	t.Helper()
	cloud := s.newCLI(t).obj("cloud", "show")
	return fmt.Sprintf(`{"endpoints":{"resourceManager":%q,"microsoftGraphResourceId":%q},"suffixes":{"acrLoginServerEndpoint":%q}}`,
		str(cloud, "endpoints", "resourceManager"), str(cloud, "endpoints", "microsoftGraphResourceId"), str(cloud, "suffixes", "acrLoginServerEndpoint"))
}

// getenv returns the value of a variable in the user's environment.
func (c *cli) getenv(key string) string {
	for i := len(c.env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(c.env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// TestRealAzSignIn: the real az registers drydock as a cloud and signs in
// as a user, a service principal and a managed identity; tokens for the
// resource manager and the registry audience; az refreshes tokens itself.
func TestRealAzSignIn(t *testing.T) {
	needRealAz(t)
	t.Parallel()
	// Access tokens of one minute: MSAL renews a token that expires within
	// five minutes, so every az command below signs in again with its
	// refresh token (or its secret, or the managed-identity endpoint).
	s := startServer(t, "DRYDOCK_ACCESS_TOKEN_LIFETIME=1m")
	dd := s.admin(t)
	subID := dd.tsv("account", "show", "--query", "id")

	// `az cloud register --endpoint-resource-manager` alone: what az reads
	// from the cloud metadata.
	bare := s.newRealAz(t)
	bare.ok("cloud", "register", "-n", "drydock-arm", "--endpoint-resource-manager", s.Endpoint+"/", "-o", "none")
	expectFields(t, "az cloud show (registered with --endpoint-resource-manager)", bare.obj("cloud", "show", "-n", "drydock-arm"), map[string]any{
		"endpoints.resourceManager":                s.Endpoint + "/",
		"endpoints.activeDirectory":                s.Endpoint + "/adfs",
		"endpoints.activeDirectoryResourceId":      "https://management.core.windows.net/",
		"endpoints.activeDirectoryGraphResourceId": s.Endpoint + "/graph/",
		"endpoints.gallery":                        s.Endpoint + "/",
	})

	// Registered as `drydock up` says: az cloud show is drydock cloud show
	// (which adds caFile and registryAddress).
	az := s.realAz(t)
	azCloud, ddCloud := az.obj("cloud", "show"), dd.obj("cloud", "show")
	delete(ddCloud, "caFile")
	delete(ddCloud, "registryAddress")
	if !reflect.DeepEqual(azCloud, ddCloud) {
		t.Errorf("az cloud show and drydock cloud show differ:\naz:      %v\ndrydock: %v", azCloud, ddCloud)
	}

	// A wrong password reads as it does on Azure.
	if r := az.run("login", "-u", s.Admin, "-p", "not-the-password"); r.Code == 0 || !strings.Contains(r.Stderr, "AADSTS50126") ||
		!strings.Contains(r.Stderr, "invalid username or password") || strings.Contains(r.Stderr, "Traceback") {
		t.Errorf("az login with a wrong password: want AADSTS50126 ... invalid username or password, no traceback:\n%s", r)
	}

	// A user.
	subs := az.list("login", "-u", s.Admin, "-p", s.adminPassword)
	if len(subs) != 1 || str(subs[0], "id") != subID || str(subs[0], "user", "name") != s.Admin || str(subs[0], "tenantId") != s.TenantID || str(subs[0], "cloudName") != "drydock" {
		t.Errorf("az login -u: %v", subs)
	}
	expectFields(t, "az account show", az.obj("account", "show"), map[string]any{"id": subID, "user.name": s.Admin, "user.type": "user", "tenantId": s.TenantID, "isDefault": true})
	if l := az.list("account", "list"); len(l) != 1 || str(l[0], "id") != subID {
		t.Errorf("az account list: %v", l)
	}
	az.ok("account", "set", "--subscription", subID)
	issuer := s.Endpoint + "/" + s.TenantID + "/v2.0"
	token := func(user *cli, args ...string) (string, map[string]any) {
		t.Helper()
		tok := user.obj(append([]string{"account", "get-access-token"}, args...)...)
		c := jwtClaims(t, str(tok, "accessToken"))
		if str(c, "iss") != issuer || str(tok, "tokenType") != "Bearer" {
			t.Errorf("az account get-access-token %v: iss %v, want %s: %v", args, c["iss"], issuer, tok)
		}
		return str(tok, "accessToken"), c
	}
	audience := func(c map[string]any) string { // one string, or a list of one
		if l, ok := c["aud"].([]any); ok && len(l) == 1 {
			return fmt.Sprint(l[0])
		}
		return str(c, "aud")
	}
	arm1, c := token(az)
	if aud := audience(c); aud != "https://management.core.windows.net/" || str(c, "upn") != s.Admin {
		t.Errorf("ARM token: aud %q upn %v", aud, c["upn"])
	}
	if _, c := token(az, "--resource", "https://containerregistry.azure.net"); audience(c) != "https://containerregistry.azure.net" {
		t.Errorf("registry-audience token: aud %v", c["aud"])
	}
	if arm2, _ := token(az); arm2 == arm1 {
		t.Errorf("az did not renew a token that expires within a minute (it still serves the first one)")
	}
	az.ok("group", "create", "-n", "realaz-rg", "-l", "eastus", "-o", "none")

	// A service principal, made with the real az (the document's
	// create-for-rbac), Reader on the subscription.
	sp := az.obj("ad", "sp", "create-for-rbac", "--name", "realaz-sp", "--role", "Reader", "--scopes", "/subscriptions/"+subID)
	spAz := s.realAz(t)
	subs = spAz.list("login", "--service-principal", "-u", str(sp, "appId"), "-p", str(sp, "password"), "--tenant", str(sp, "tenant"))
	if len(subs) != 1 || str(subs[0], "id") != subID || str(subs[0], "user", "type") != "servicePrincipal" || str(subs[0], "user", "name") != str(sp, "appId") {
		t.Errorf("az login --service-principal: %v", subs)
	}
	if groups := spAz.tsv("group", "list", "--query", "[].name"); groups != "realaz-rg" {
		t.Errorf("az group list as the service principal (Reader): %q", groups)
	}
	if _, c := token(spAz, "--resource", "https://containerregistry.azure.net"); str(c, "appid") != str(sp, "appId") {
		t.Errorf("service principal's registry token: appid %v, want %s", c["appid"], str(sp, "appId"))
	}

	// A managed identity, on a drydock VM host, through the App Service
	// managed-identity protocol az speaks (MSI_ENDPOINT + MSI_SECRET).
	id := dd.obj("identity", "create", "-n", "realaz-mi", "-g", "realaz-rg")
	dd.ok("role", "assignment", "create", "--role", "Reader", "--assignee", str(id, "principalId"), "--scope", "/subscriptions/"+subID, "-o", "none")
	dd.ok("vm", "create", "-n", "realaz-vm", "-g", "realaz-rg", "--assign-identity", "realaz-mi", "-o", "none")
	hc := dd.obj("vm", "host-credential", "-n", "realaz-vm", "-g", "realaz-rg")
	miAz := s.realAz(t, "APPSETTING_WEBSITE_SITE_NAME=drydock", "MSI_ENDPOINT="+str(hc, "identityEndpoint"), "MSI_SECRET="+str(hc, "hostCredential"))
	subs = miAz.list("login", "--identity", "-u", str(id, "clientId"))
	if len(subs) != 1 || str(subs[0], "id") != subID || str(subs[0], "user", "name") != "userAssignedIdentity" {
		t.Errorf("az login --identity: %v", subs)
	}
	if _, c := token(miAz, "--resource", "https://containerregistry.azure.net"); str(c, "oid") != str(id, "principalId") {
		t.Errorf("managed identity's registry token: oid %v, want %s", c["oid"], str(id, "principalId"))
	}
	if groups := miAz.tsv("group", "list", "--query", "[].name"); groups != "realaz-rg" {
		t.Errorf("az group list as the managed identity (Reader): %q", groups)
	}
	// A host without the credential gets nothing.
	noCred := s.realAz(t, "APPSETTING_WEBSITE_SITE_NAME=drydock", "MSI_ENDPOINT="+str(hc, "identityEndpoint"), "MSI_SECRET=dhc_forged.secret")
	if r := noCred.run("login", "--identity"); r.Code == 0 {
		t.Errorf("az login --identity with a forged host credential succeeded:\n%s", r)
	}
}

// testRegistryRealAz: the real az on a registry served as `drydock up`
// serves it (login server <name>.azurecr.io on 443): acr login
// --expose-token, repository list and show-tags, and check-health, whose
// DNS check takes the login server for a host name. az looks for docker
// and helm first (missing, or no daemon: --ignore-errors goes on).
func testRegistryRealAz(t *testing.T, e *regEnv) {
	az := e.s.realAz(t)
	az.ok("login", "-u", e.s.Admin, "-p", e.s.adminPassword, "-o", "none")
	login, _ := e.registry(t, "e2erealaz")
	if tok := az.obj("acr", "login", "-n", "e2erealaz", "--expose-token"); str(tok, "loginServer") != login || str(tok, "accessToken") == "" {
		t.Errorf("az acr login --expose-token: %v", tok)
	}
	// The token az exposes pushes (the admin is Owner).
	img, err := random.Image(8<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustTag(t, login+"/nginx:v1"), img, e.ggcr(t.Context(), bearerAuth(refreshToken(t, az, "e2erealaz")))...); err != nil {
		t.Fatalf("push with az's token: %v", err)
	}
	if repos := az.strList("acr", "repository", "list", "-n", "e2erealaz"); !slices.Equal(repos, []string{"nginx"}) {
		t.Errorf("az acr repository list: %v", repos)
	}
	if tags := az.strList("acr", "repository", "show-tags", "-n", "e2erealaz", "--repository", "nginx"); !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("az acr repository show-tags: %v", tags)
	}
	health := az.run("acr", "check-health", "-n", "e2erealaz", "--yes", "--ignore-errors")
	for _, want := range []string{
		"DNS lookup to " + login + " at IP 127.0.0.1 : OK",
		"Challenge endpoint https://" + login + "/v2/ : OK",
		"Fetch refresh token for registry '" + login + "' : OK",
		"Fetch access token for registry '" + login + "' : OK",
	} {
		if !strings.Contains(health.Stderr, want) {
			t.Errorf("az acr check-health: no %q:\n%s", want, health)
		}
	}
}

// TestRealAzDocument replays the document with the real az, unmodified but
// for the registry's name, the import source and the image: create the
// groups, the registry and a cluster attached to it, import an image, get
// credentials and run acr-nginx.yaml with kubectl, read the kubelet
// identity, detach (a new pull is refused with 401) and attach again by
// name and by resource ID, the identity, role assignment, group and
// service principal commands and the registry's data-plane commands
// (check-health is testRegistryRealAz's: its DNS check needs a login
// server without a port); a Contributor's --attach-acr is refused with
// AuthorizationFailed; and show prints through az what it prints through
// drydock's CLI.
func TestRealAzDocument(t *testing.T) {
	s, dd, az := realAzWithClusters(t)
	src := startDistribution(t, "", "")
	pushTestServerImage(t, src.addr+"/library/nginx:latest", 0)

	began := time.Now()
	az.ok("login", "-u", s.Admin, "-p", s.adminPassword, "-o", "none")
	subID := az.tsv("account", "show", "--query", "id")
	myacr := fmt.Sprintf("realazacr%08x", rand.Uint32())
	const (
		rg        = "myResourceGroup"
		acrGroup  = "myContainerRegistryResourceGroup"
		cluster   = "myAKSCluster"
		acrPullID = "/providers/Microsoft.Authorization/roleDefinitions/" + acrPullGUID
	)
	az.ok("group", "create", "--name", rg, "--location", "eastus", "-o", "none")
	az.ok("group", "create", "--name", acrGroup, "--location", "eastus", "-o", "none")
	az.ok("acr", "create", "--name", myacr, "--resource-group", acrGroup, "--sku", "basic", "-o", "none")
	acrID := az.tsv("acr", "show", "-n", myacr, "--query", "id")
	login := az.tsv("acr", "show", "-n", myacr, "--query", "loginServer")

	mc := az.obj("aks", "create", "--name", cluster, "--resource-group", rg, "--generate-ssh-keys", "--attach-acr", myacr)
	deleteClusterAtCleanup(t, dd, rg, cluster)
	if str(mc, "provisioningState") != "Succeeded" {
		t.Fatalf("az aks create: %v", mc)
	}
	kubeletClientID := az.tsv("aks", "show", "--resource-group", rg, "--name", cluster, "--query", "identityProfile.kubeletidentity.clientId")
	kubeletObjectID := az.tsv("aks", "show", "--resource-group", rg, "--name", cluster, "--query", "identityProfile.kubeletidentity.objectId")
	if want := dd.tsv("aks", "show", "-g", rg, "-n", cluster, "--query", "identityProfile.kubeletidentity.clientId"); kubeletClientID != want || !isGUID(kubeletClientID) {
		t.Errorf("az aks show --query identityProfile.kubeletidentity.clientId: %q, drydock's CLI says %q", kubeletClientID, want)
	}
	// attached: the kubelet identity holds AcrPull on the registry, and only that.
	attached := func() bool {
		t.Helper()
		for _, a := range az.list("role", "assignment", "list", "--scope", acrID, "--assignee", kubeletObjectID) {
			if strings.HasSuffix(str(a, "roleDefinitionId"), acrPullID) {
				return true
			}
		}
		return false
	}
	if !attached() {
		t.Fatalf("after az aks create --attach-acr %s the kubelet identity has no AcrPull on %s", myacr, acrID)
	}

	az.ok("acr", "import", "--name", myacr, "--source", src.addr+"/library/nginx:latest", "--image", "nginx:v1", "-o", "none")
	if repos := az.strList("acr", "repository", "list", "-n", myacr); !slices.Contains(repos, "nginx") {
		t.Errorf("az acr repository list: %v", repos)
	}
	if tags := az.strList("acr", "repository", "show-tags", "-n", myacr, "--repository", "nginx"); !slices.Contains(tags, "v1") {
		t.Errorf("az acr repository show-tags: %v", tags)
	}
	if tok := az.obj("acr", "login", "-n", myacr, "--expose-token"); str(tok, "loginServer") != login || str(tok, "accessToken") == "" {
		t.Errorf("az acr login --expose-token: %v", tok)
	}
	// get-credentials, then the document's kubectl apply and get pods.
	az.ok("aks", "get-credentials", "--resource-group", rg, "--name", cluster, "-o", "none")
	kubeconfig := filepath.Join(az.getenv("HOME"), ".kube", "config")
	k := &podsKubectl{t: t, az: dd, kubeconfig: kubeconfig, s: s, clusterDir: podsClusterDir(t, s)}
	manifest := filepath.Join(t.TempDir(), "acr-nginx.yaml")
	if err := os.WriteFile(manifest, []byte(acrNginxYAML(login)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The kubectl on the az user's PATH (exec resolves a bare name on the
	// test's own PATH).
	binDir, _, _ := strings.Cut(az.getenv("PATH"), string(os.PathListSeparator))
	kubectl := &cli{t: t, env: az.env, prog: filepath.Join(binDir, "kubectl")}
	kubectl.ok("apply", "-f", manifest)
	k.eventually("2 pods of nginx0-deployment Running", podsDeadline, func() string {
		pods, msg := k.pods("-l", "app=nginx0")
		if msg != "" {
			return msg
		}
		running := 0
		for _, p := range pods {
			if p.runningAndReady() {
				running++
			}
		}
		if running != 2 {
			return podsSummary(pods)
		}
		return ""
	})
	t.Logf("kubectl get pods:\n%s", kubectl.ok("get", "pods"))
	t.Logf("timing: the document with the real az, from az login to 2 pods Running: %s", time.Since(began).Round(time.Millisecond))

	// Detach by name: a new pull is refused with 401. Attach by resource
	// ID: the pod recovers. Then the other way round.
	az.ok("aks", "update", "--name", cluster, "--resource-group", rg, "--detach-acr", myacr, "-o", "none")
	if attached() {
		t.Errorf("after --detach-acr %s the kubelet identity still holds AcrPull", myacr)
	}
	kubectl.ok("run", "after-detach", "--image="+login+"/nginx:v1", "--image-pull-policy=Always", "--restart=Never")
	k.waitPullRefused("after-detach")
	az.ok("aks", "update", "--name", cluster, "--resource-group", rg, "--attach-acr", acrID, "-o", "none")
	if !attached() {
		t.Errorf("after --attach-acr <resource ID> the kubelet identity has no AcrPull")
	}
	k.eventually("pod after-detach Running after --attach-acr", podsRecoveryDeadline, func() string {
		p, msg := k.pod("after-detach")
		if msg != "" {
			return msg
		}
		if !p.runningAndReady() {
			return podsSummary([]podsPod{p})
		}
		return ""
	})
	az.ok("aks", "update", "--name", cluster, "--resource-group", rg, "--detach-acr", acrID, "-o", "none")
	if attached() {
		t.Errorf("after --detach-acr <resource ID> the kubelet identity still holds AcrPull")
	}
	az.ok("aks", "update", "--name", cluster, "--resource-group", rg, "--attach-acr", myacr, "-o", "none")
	if !attached() {
		t.Errorf("after --attach-acr <name> again the kubelet identity has no AcrPull")
	}

	// Identities, role assignments (assignee as object ID, appId and UPN),
	// groups and service principals.
	id := az.obj("identity", "create", "--name", "kubelet-byo", "--resource-group", rg)
	if shown := az.obj("identity", "show", "--name", "kubelet-byo", "--resource-group", rg); str(shown, "principalId") != str(id, "principalId") || !isGUID(str(id, "clientId")) {
		t.Errorf("az identity show: %v, created %v", shown, id)
	}
	group := az.obj("ad", "group", "create", "--display-name", "acr-pullers", "--mail-nickname", "acr-pullers")
	az.ok("ad", "group", "member", "add", "--group", "acr-pullers", "--member-id", str(id, "principalId"))
	if members := az.tsv("ad", "group", "member", "list", "--group", "acr-pullers", "--query", "[].id"); members != str(id, "principalId") {
		t.Errorf("az ad group member list: %q, want %s", members, str(id, "principalId"))
	}
	sp := az.obj("ad", "sp", "create-for-rbac", "--name", "realaz-pusher")
	az.ok("ad", "user", "create", "--display-name", "dev", "--user-principal-name", "dev@drydock.local", "--password", "Passw0rd!realaz", "-o", "none")
	for _, c := range []struct{ role, assignee string }{
		{"AcrPull", str(group, "id")},   // an object ID
		{"AcrPush", str(sp, "appId")},   // an appId
		{"Reader", "dev@drydock.local"}, // a UPN
	} {
		a := az.obj("role", "assignment", "create", "--role", c.role, "--assignee", c.assignee, "--scope", acrID)
		if !strings.EqualFold(str(a, "scope"), acrID) || !isGUID(str(a, "principalId")) {
			t.Errorf("az role assignment create --role %s --assignee %s: %v", c.role, c.assignee, a)
		}
		if l := az.list("role", "assignment", "list", "--scope", acrID, "--assignee", c.assignee, "--role", c.role); len(l) != 1 {
			t.Errorf("az role assignment list --assignee %s --role %s: %v", c.assignee, c.role, l)
		}
		az.ok("role", "assignment", "delete", "--assignee", c.assignee, "--role", c.role, "--scope", acrID)
		if l := az.list("role", "assignment", "list", "--scope", acrID, "--assignee", c.assignee, "--role", c.role); len(l) != 0 {
			t.Errorf("after az role assignment delete --assignee %s: %v", c.assignee, l)
		}
	}

	// A Contributor may not attach: ARM's AuthorizationFailed names the
	// permission. (az 2.45 retries the assignment for two minutes and
	// shows the error with --verbose.)
	dd.ok("ad", "user", "create", "--display-name", "contrib", "--user-principal-name", "contrib@drydock.local", "--password", "Passw0rd!contrib", "-o", "none")
	dd.ok("role", "assignment", "create", "--role", "Contributor", "--assignee", "contrib@drydock.local", "--scope", "/subscriptions/"+subID, "-o", "none")
	contrib := s.realAz(t)
	contrib.ok("login", "-u", "contrib@drydock.local", "-p", "Passw0rd!contrib", "-o", "none")
	refused := contrib.run("role", "assignment", "create", "--role", "AcrPull", "--assignee", kubeletObjectID, "--scope", acrID)
	if refused.Code == 0 || !strings.Contains(refused.Stderr, "AuthorizationFailed") || !strings.Contains(refused.Stderr, "Microsoft.Authorization/roleAssignments/write") {
		t.Errorf("a Contributor's role assignment: want AuthorizationFailed naming Microsoft.Authorization/roleAssignments/write:\n%s", refused)
	}
	refused = contrib.run("aks", "update", "--name", cluster, "--resource-group", rg, "--attach-acr", acrID, "--verbose")
	if refused.Code == 0 || !strings.Contains(refused.Stderr, "does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '"+acrID+"'") ||
		!strings.Contains(refused.Stderr, "Could not create a role assignment for ACR. Are you an Owner on this subscription?") {
		t.Errorf("a Contributor's --attach-acr: want ARM's AuthorizationFailed message naming Microsoft.Authorization/roleAssignments/write, then az's error:\n%s", refused)
	}

	// show through az prints what it prints through drydock's CLI.
	for _, args := range [][]string{
		{"group", "show", "--name", rg},
		{"acr", "show", "--name", myacr},
		{"identity", "show", "--name", "kubelet-byo", "--resource-group", rg},
		{"aks", "show", "--name", cluster, "--resource-group", rg},
		{"role", "assignment", "list", "--scope", acrID},
	} {
		var viaAz, viaDrydock any
		az.json(&viaAz, args...)
		dd.json(&viaDrydock, args...)
		if !reflect.DeepEqual(viaAz, viaDrydock) {
			t.Errorf("%s: az and drydock's CLI differ:\naz:      %v\ndrydock: %v", strings.Join(args, " "), viaAz, viaDrydock)
		}
	}
}

// strList runs a command whose output is a JSON array of strings.
func (c *cli) strList(args ...string) []string {
	c.t.Helper()
	var l []string
	c.json(&l, args...)
	return l
}
