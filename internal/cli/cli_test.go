package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/server/servertest"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/client"
)

func (h *harness) run(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs a command that must succeed and decodes its JSON output.
func (h *harness) ok(args ...string) any {
	h.t.Helper()
	out, errOut, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("%v: exit %d\nstderr: %s", args, code, errOut)
	}
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		h.t.Fatalf("%v: output is not JSON: %v\n%s", args, err, out)
	}
	return v
}

// fails runs a command that must fail with code and an exact stderr line.
func (h *harness) fails(code int, wantErr string, args ...string) {
	h.t.Helper()
	out, errOut, got := h.run(args...)
	if got != code || strings.TrimSpace(errOut) != wantErr || out != "" {
		h.t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", args, got, out, errOut, code, wantErr)
	}
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

func TestLoginAndAccounts(t *testing.T) {
	h := newHarness(t)
	h.fails(1, "ERROR: Please run 'az login' to setup account.", "group", "list")
	h.fails(1, "ERROR: AADSTS50126: Error validating credentials due to invalid username or password.",
		"login", "-u", h.srv.Admin, "-p", "wrong", "--endpoint", h.srv.URL, "--ca-file", h.srv.CAFile)
	h.fails(2, "ERROR: the following arguments are required: --password/-p", "login", "-u", h.srv.Admin)

	subs := list(h.ok("login", "-u", h.srv.Admin, "-p", h.srv.AdminPassword, "--endpoint", h.srv.URL, "--ca-file", h.srv.CAFile))
	if len(subs) != 1 {
		t.Fatalf("login printed %v", subs)
	}
	s := obj(subs[0])
	want := map[string]any{"id": h.srv.SubscriptionID, "name": h.srv.SubscriptionName, "tenantId": h.srv.TenantID, "homeTenantId": h.srv.TenantID, "state": "Enabled", "isDefault": true, "cloudName": "drydock", "environmentName": "drydock"}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("login output %s = %v, want %v", k, s[k], v)
		}
	}
	if u := obj(s["user"]); u["name"] != h.srv.Admin || u["type"] != "user" {
		t.Errorf("user = %v", u)
	}
	for _, f := range []string{"profile.json", "tokens.json"} {
		st, err := os.Stat(filepath.Join(h.dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
	prof, _ := (&client.Store{Dir: h.dir}).LoadProfile()
	if prof.Endpoint != h.srv.URL || prof.CAFile != h.srv.CAFile || prof.TenantID != h.srv.TenantID {
		t.Errorf("profile = %+v", prof)
	}

	show := obj(h.ok("account", "show"))
	if show["id"] != h.srv.SubscriptionID || show["environmentName"] != "drydock" || show["cloudName"] != nil {
		t.Errorf("account show = %v", show)
	}
	created := obj(h.ok("account", "create", "--name", "Prod"))
	if created["name"] != "Prod" || created["isDefault"] != false {
		t.Errorf("account create = %v", created)
	}
	h.ok("account", "set", "-s", "prod")
	if obj(h.ok("account", "show"))["name"] != "Prod" {
		t.Error("account set did not change the default")
	}
	if obj(h.ok("account", "show", "--subscription", h.srv.SubscriptionName))["name"] != h.srv.SubscriptionName {
		t.Error("account show --subscription")
	}
	h.fails(1, "ERROR: The subscription of 'Nope' doesn't exist in cloud 'drydock'.", "account", "set", "--subscription", "Nope")
	h.fails(1, "ERROR: Subscription 'Nope' not found. Check the spelling and casing and try again.", "group", "list", "--subscription", "Nope")
	if n := len(list(h.ok("account", "list"))); n != 2 {
		t.Errorf("account list has %d entries", n)
	}
	out, _, _ := h.run("account", "list", "-o", "table")
	if !strings.HasPrefix(out, "Name     CloudName    SubscriptionId") {
		t.Errorf("account list table:\n%s", out)
	}

	tok := obj(h.ok("account", "get-access-token"))
	if tok["tokenType"] != "Bearer" || tok["tenant"] != h.srv.TenantID || tok["subscription"] == nil || tok["accessToken"] == "" || tok["expires_on"] == nil || tok["expiresOn"] == nil {
		t.Errorf("get-access-token = %v", tok)
	}
	claims, _ := client.ParseClaims(obj(h.ok("account", "get-access-token", "--resource-type", "ms-graph"))["accessToken"].(string))
	if claims.TenantID != h.srv.TenantID {
		t.Errorf("graph token claims %+v", claims)
	}
	h.fails(2, "ERROR: usage error: --resource/--resource-type/--scope are mutually exclusive", "account", "get-access-token", "--resource", "x", "--resource-type", "arm")

	h.ok("logout")
	h.fails(1, "ERROR: Please run 'az login' to setup account.", "group", "list")
	h.fails(1, "ERROR: There are no active accounts.", "logout")
}

func TestGroupsAndRegistries(t *testing.T) {
	h := newHarness(t)
	h.login()
	rg := obj(h.ok("group", "create", "-n", "rg1", "-l", "westus"))
	if rg["name"] != "rg1" || rg["location"] != "westus" || rg["resourceGroup"] != nil {
		t.Errorf("group create = %v", rg)
	}
	if _, ok := rg["managedBy"]; !ok {
		t.Error("group output lacks managedBy")
	}
	if h.ok("group", "exists", "-n", "rg1") != true || h.ok("group", "exists", "--name", "nope") != false {
		t.Error("group exists")
	}
	h.fails(1, "ERROR: (ResourceGroupNotFound) Resource group 'nope' could not be found.", "group", "show", "-g", "nope")

	reg := obj(h.ok("acr", "create", "-n", "MyReg", "-g", "rg1", "--sku", "standard", "--admin-enabled", "false"))
	want := map[string]any{"name": "MyReg", "loginServer": h.srv.LoginServer("myreg"), "adminUserEnabled": false, "provisioningState": "Succeeded",
		"resourceGroup": "rg1", "location": "westus", "type": "Microsoft.ContainerRegistry/registries"}
	for k, v := range want {
		if reg[k] != v {
			t.Errorf("acr create %s = %v, want %v", k, reg[k], v)
		}
	}
	if _, ok := reg["tags"]; obj(reg["sku"])["name"] != "Standard" || reg["properties"] != nil || !ok || !strings.HasSuffix(fmt.Sprint(reg["creationDate"]), "+00:00") {
		t.Errorf("acr create = %v", reg)
	}
	if got := obj(h.ok("acr", "show", "-n", "myreg")); got["loginServer"] != h.srv.LoginServer("myreg") {
		t.Errorf("acr show without -g = %v", got)
	}
	h.fails(1, "ERROR: (ResourceNotFound) The resource with name 'nope' and type 'Microsoft.ContainerRegistry/registries' could not be found in subscription '"+h.srv.SubscriptionName+" ("+h.srv.SubscriptionID+")'.",
		"acr", "show", "-n", "nope")
	if got := obj(h.ok("acr", "update", "-n", "MyReg", "--admin-enabled", "true", "--anonymous-pull-enabled")); got["adminUserEnabled"] != true || got["anonymousPullEnabled"] != true {
		t.Errorf("acr update = %v", got)
	}
	if got := obj(h.ok("acr", "update", "-n", "MyReg", "--tags", "drydock-throttling=on", "team=a")); !maps.Equal(obj(got["tags"]), map[string]any{"drydock-throttling": "on", "team": "a"}) {
		t.Errorf("acr update --tags = %v", got["tags"])
	}
	if got := obj(h.ok("acr", "update", "-n", "MyReg", "--tags", "")); len(obj(got["tags"])) != 0 || got["adminUserEnabled"] != true {
		t.Errorf("acr update --tags \"\" = %v", got)
	}
	cred := obj(h.ok("acr", "credential", "show", "-n", "MyReg", "-g", "rg1"))
	if cred["username"] != "MyReg" || len(list(cred["passwords"])) != 2 {
		t.Errorf("credential show = %v", cred)
	}
	renewed := obj(h.ok("acr", "credential", "renew", "-n", "MyReg", "--password-name", "password"))
	if p := list(renewed["passwords"]); len(p) != 2 || obj(p[0])["value"] == obj(list(cred["passwords"])[0])["value"] || obj(p[1])["value"] != obj(list(cred["passwords"])[1])["value"] {
		t.Errorf("credential renew = %v", renewed)
	}
	h.fails(2, "ERROR: 'pwd' is not a valid value for '--password-name'. Allowed values: password, password2.", "acr", "credential", "renew", "-n", "MyReg", "--password-name", "pwd")
	if got := obj(h.ok("acr", "check-name", "-n", "myreg")); got["nameAvailable"] != false || got["reason"] != "AlreadyExists" {
		t.Errorf("check-name = %v", got)
	}
	if got := obj(h.ok("acr", "check-name", "-n", "other")); got["nameAvailable"] != true || !hasKeyFold(got, "message") {
		t.Errorf("check-name = %v", got)
	}
	out, _, _ := h.run("acr", "list", "-o", "table")
	if !strings.HasPrefix(out, "NAME    RESOURCE GROUP    LOCATION    SKU       LOGIN SERVER") || !strings.Contains(out, h.srv.LoginServer("myreg")) {
		t.Errorf("acr list table:\n%s", out)
	}
	out, _, _ = h.run("acr", "list", "-g", "rg1", "--query", "[].name", "-o", "tsv")
	if out != "MyReg\n" {
		t.Errorf("acr list tsv = %q", out)
	}
	h.fails(1, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.", "acr", "delete", "-n", "MyReg")
	if h.ok("acr", "delete", "-n", "MyReg", "--yes") != nil {
		t.Error("acr delete printed output")
	}
	if n := len(list(h.ok("acr", "list"))); n != 0 {
		t.Errorf("%d registries after delete", n)
	}
	h.ok("group", "delete", "-n", "rg1", "-y")
	if !slices.ContainsFunc(h.log(), func(r string) bool {
		return strings.HasPrefix(r, "GET /subscriptions/"+h.srv.SubscriptionID+"/providers/Microsoft.Resources/operationStatuses/")
	}) {
		t.Errorf("group delete did not poll its operation: %v", h.log())
	}
	if h.ok("group", "exists", "-n", "rg1") != false {
		t.Error("group still exists")
	}
}

func TestIdentitiesVMsAndRoleAssignments(t *testing.T) {
	// Group memberships take an hour to count, for explain's pending list.
	h := newHarness(t, servertest.WithConfig(func(c *config.Config) { c.GroupPropagationDelay.Duration = time.Hour }))
	h.login()
	alice := h.newUser("alice@drydock.local", "Alice")
	h.ok("group", "create", "-n", "rg", "-l", "eastus")
	mi := obj(h.ok("identity", "create", "-n", "app-id", "-g", "rg"))
	if mi["principalId"] == nil || mi["clientId"] == nil || mi["tenantId"] != h.srv.TenantID || mi["resourceGroup"] != "rg" || mi["location"] != "eastus" {
		t.Errorf("identity create = %v", mi)
	}
	if n := len(list(h.ok("identity", "list"))); n != 1 {
		t.Errorf("identity list: %d", n)
	}
	vm := obj(h.ok("vm", "create", "-n", "host", "-g", "rg", "--image", "Ubuntu2204", "--assign-identity", "app-id"))
	ua := obj(obj(vm["identity"])["userAssignedIdentities"])
	if _, ok := ua[mi["id"].(string)]; !ok || vm["powerState"] != "VM running" || vm["resourceGroup"] != "rg" {
		t.Errorf("vm create = %v", vm)
	}
	hc := obj(h.ok("vm", "host-credential", "-n", "host", "-g", "rg"))
	if !strings.HasPrefix(fmt.Sprint(hc["hostCredential"]), "dhc_") || hc["identityEndpoint"] == nil {
		t.Errorf("host-credential = %v", hc)
	}

	reg := obj(h.ok("acr", "create", "-n", "appreg", "-g", "rg", "--sku", "Standard"))
	acrID := reg["id"].(string)
	ra := obj(h.ok("role", "assignment", "create", "--assignee", "app-id", "--role", "AcrPull", "--scope", acrID))
	if ra["principalId"] != mi["principalId"] || ra["principalType"] != "ServicePrincipal" || ra["scope"] != acrID || ra["resourceGroup"] != "rg" ||
		!strings.HasSuffix(ra["roleDefinitionId"].(string), acrPullGUID) {
		t.Errorf("role assignment create = %v", ra)
	}
	h.ok("role", "assignment", "create", "--assignee", "alice@drydock.local", "--role", readerGUID)
	h.ok("role", "assignment", "create", "--assignee-object-id", alice, "--assignee-principal-type", "user", "--role", "Reader", "-g", "rg")

	// The admin is Owner of the subscription since the bootstrap: one more
	// assignment in each list that reaches the subscription.
	atSub := withoutOwner(list(h.ok("role", "assignment", "list")))
	if len(atSub) != 1 || obj(atSub[0])["principalName"] != "alice@drydock.local" || obj(atSub[0])["roleDefinitionName"] != "Reader" || obj(atSub[0])["principalType"] != "User" {
		t.Errorf("role assignment list = %v", atSub)
	}
	if n := len(list(h.ok("role", "assignment", "list", "--all"))); n != 3+1 {
		t.Errorf("--all listed %d", n)
	}
	if n := len(list(h.ok("role", "assignment", "list", "--scope", acrID))); n != 1 {
		t.Errorf("--scope listed %d", n)
	}
	if n := len(list(h.ok("role", "assignment", "list", "--scope", acrID, "--include-inherited"))); n != 3+1 {
		t.Errorf("--include-inherited listed %d", n)
	}
	if got := list(h.ok("role", "assignment", "list", "--all", "--assignee", "alice@drydock.local", "--role", "Reader")); len(got) != 2 {
		t.Errorf("--assignee --role listed %v", got)
	}
	out, _, _ := h.run("role", "assignment", "list", "--scope", acrID, "-o", "table")
	if !strings.HasPrefix(out, "Principal") || !strings.Contains(out, "AcrPull") {
		t.Errorf("role assignment table:\n%s", out)
	}

	h.fails(1, "ERROR: Cannot find user or service principal in graph database for 'bob@contoso.com'. If the assignee is an appId, make sure the corresponding service principal is created with 'az ad sp create --id bob@contoso.com'.",
		"role", "assignment", "create", "--assignee", "bob@contoso.com", "--role", "Reader")
	h.fails(1, "ERROR: Role 'Nope' doesn't exist.", "role", "assignment", "create", "--assignee", "alice@drydock.local", "--role", "Nope")
	h.fails(2, "ERROR: usage error: --assignee STRING | --assignee-object-id GUID", "role", "assignment", "create", "--role", "Reader")
	h.fails(2, "ERROR: Resource group 'rg' is redundant because 'scope' is supplied", "role", "assignment", "list", "-g", "rg", "--scope", acrID)

	h.ok("role", "assignment", "delete", "--assignee", "app-id", "--role", "AcrPull", "--scope", acrID)
	h.fails(1, "ERROR: No matched assignments were found to delete", "role", "assignment", "delete", "--assignee", "app-id", "--scope", acrID)
	h.ok("role", "assignment", "delete", "--ids", obj(atSub[0])["id"].(string))
	if n := len(list(h.ok("role", "assignment", "list", "--all"))); n != 1+1 {
		t.Errorf("%d assignments left", n)
	}

	defs := list(h.ok("role", "definition", "list", "--name", "acrpull"))
	if len(defs) != 1 || obj(defs[0])["roleName"] != "AcrPull" || obj(defs[0])["roleType"] != "BuiltInRole" || obj(defs[0])["type"] != "Microsoft.Authorization/roleDefinitions" {
		t.Errorf("role definition list = %v", defs)
	}
	if n := len(list(h.ok("role", "definition", "list", "--custom-role-only", "true"))); n != 0 {
		t.Errorf("custom roles: %d", n)
	}

	// Alice reads the registry through Reader on rg; Reader on the
	// subscription through the group devs is not effective yet.
	devs := obj(h.ok("ad", "group", "create", "--display-name", "devs", "--mail-nickname", "devs"))["id"].(string)
	h.srv.UserToken(t, "alice@drydock.local", "Str0ng-P@ssword", servertest.ARMScope) // signed in before: memberships propagate
	h.ok("ad", "group", "member", "add", "-g", "devs", "--member-id", alice)
	h.ok("role", "assignment", "create", "--assignee", "devs", "--role", "Reader", "--scope", "/subscriptions/"+h.srv.SubscriptionID)
	out, _, code := h.run("role", "assignment", "explain", "--assignee", "alice@drydock.local", "--action", "Microsoft.ContainerRegistry/registries/read", "--scope", acrID, "-o", "table")
	if code != 0 || !strings.HasPrefix(out, "ALLOWED: alice@drydock.local ("+alice+")") || !strings.Contains(out, "Pending (not effective yet):\n  - Reader at /subscriptions/"+h.srv.SubscriptionID+", via group "+devs+", effective from ") {
		t.Errorf("explain table (%d):\n%s", code, out)
	}
	ex := obj(h.ok("role", "assignment", "explain", "--assignee", "alice@drydock.local", "--action", "Microsoft.ContainerRegistry/registries/read", "--scope", acrID))
	if ex["allowed"] != true || ex["dataAction"] != false || ex["principalId"] != alice {
		t.Errorf("explain json = %v", ex)
	}

	h.ok("vm", "delete", "-n", "host", "-g", "rg", "--yes")
	h.ok("identity", "delete", "-n", "app-id", "-g", "rg")
	h.fails(1, "ERROR: (ResourceNotFound) The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/app-id' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", "identity", "show", "-n", "app-id", "-g", "rg")
}

func TestCreateForRBACAndServicePrincipalLogin(t *testing.T) {
	h := newHarness(t)
	h.login()
	// The new service principal not replicated yet, twice.
	h.failNext(2, "PUT /subscriptions/"+h.srv.SubscriptionID+"/providers/Microsoft.Authorization/roleAssignments/", http.StatusBadRequest,
		"PrincipalNotFound", "Principal does not exist in the directory.")
	out, errOut, code := h.run("ad", "sp", "create-for-rbac", "-n", "ci", "--role", "Reader", "--scopes", "/subscriptions/"+h.srv.SubscriptionID)
	if code != 0 {
		t.Fatalf("create-for-rbac: %d %s", code, errOut)
	}
	var res map[string]any
	_ = json.Unmarshal([]byte(out), &res)
	if res["displayName"] != "ci" || res["password"] == "" || res["tenant"] != h.srv.TenantID || res["appId"] == nil || len(res) != 4 {
		t.Errorf("create-for-rbac = %v", res)
	}
	for _, w := range []string{
		"WARNING: Creating 'Reader' role assignment under scope '/subscriptions/" + h.srv.SubscriptionID + "'",
		"WARNING:   Retrying role assignment creation: 2/5",
		"WARNING: " + credentialWarning,
	} {
		if !strings.Contains(errOut, w+"\n") {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	appID, secret := res["appId"].(string), res["password"].(string)
	sp := obj(h.ok("ad", "sp", "show", "--id", appID))
	if sp["appId"] != appID || sp["displayName"] != "ci" {
		t.Errorf("sp show = %v", sp)
	}
	if n := len(list(h.ok("ad", "sp", "list", "--display-name", "c"))); n != 1 {
		t.Errorf("sp list --display-name: %d", n)
	}
	if got := list(h.ok("role", "assignment", "list", "--assignee", appID)); len(got) != 1 || obj(got[0])["principalName"] != appID {
		t.Errorf("assignments of the new sp = %v", got)
	}
	h.fails(2, "ERROR: Usage error: To create role assignments, specify both --role and --scopes.", "ad", "sp", "create-for-rbac", "--role", "Reader")

	subs := list(h.ok("login", "--service-principal", "-u", appID, "-p", secret, "--tenant", h.srv.TenantID))
	if u := obj(obj(subs[0])["user"]); u["name"] != appID || u["type"] != "servicePrincipal" {
		t.Errorf("service principal login user = %v", u)
	}
	creds, _ := (&client.Store{Dir: h.dir}).LoadCredentials()
	if creds.ServicePrincipal == nil || creds.ServicePrincipal.Secret != secret || creds.RefreshToken != "" {
		t.Errorf("credentials = %+v", creds)
	}
	h.ok("ad", "sp", "list", "--all")
	h.login() // a Reader may not delete principals: back to the admin
	h.ok("ad", "sp", "delete", "--id", appID)
	h.fails(1, "ERROR: Service principal 'http://nope' doesn't exist", "ad", "sp", "show", "--id", "http://nope")
}

func TestDirectoryGroupsAndUsers(t *testing.T) {
	h := newHarness(t)
	h.login()
	admin := h.adminID()
	g := obj(h.ok("ad", "group", "create", "--display-name", "devs", "--mail-nickname", "devs"))
	gid := g["id"].(string)
	h.ok("ad", "group", "member", "add", "-g", "devs", "--member-id", admin)
	if got := obj(h.ok("ad", "group", "member", "check", "--group", gid, "--member-id", admin)); got["value"] != true {
		t.Errorf("member check = %v", got)
	}
	members := list(h.ok("ad", "group", "member", "list", "-g", "devs"))
	if len(members) != 1 || obj(members[0])["effectiveDateTime"] == nil {
		t.Errorf("member list = %v", members)
	}
	h.ok("role", "assignment", "create", "--assignee", "devs", "--role", "Reader")
	if got := withoutOwner(list(h.ok("role", "assignment", "list"))); len(got) != 1 || obj(got[0])["principalType"] != "Group" || obj(got[0])["principalName"] != "devs" {
		t.Errorf("group assignment = %v", got)
	}
	h.ok("ad", "group", "member", "remove", "-g", "devs", "--member-id", admin)
	if got := obj(h.ok("ad", "group", "member", "check", "-g", "devs", "--member-id", admin)); got["value"] != false {
		t.Errorf("member check after remove = %v", got)
	}
	h.fails(1, "ERROR: Group nope is not found in Graph", "ad", "group", "show", "-g", "nope")
	if obj(h.ok("ad", "group", "show", "-g", "devs"))["id"] != gid {
		t.Error("group show by name")
	}
	h.ok("ad", "group", "delete", "-g", gid)

	u := obj(h.ok("ad", "user", "create", "--display-name", "Bob", "--user-principal-name", "bob@contoso.com", "--password", "Bob-P@ssw0rd"))
	if u["userPrincipalName"] != "bob@contoso.com" {
		t.Errorf("user create = %v", u)
	}
	if obj(h.ok("ad", "user", "show", "--id", "bob@contoso.com"))["id"] != u["id"] {
		t.Error("user show by UPN")
	}
	if n := len(list(h.ok("ad", "user", "list"))); n != 2 {
		t.Errorf("user list: %d", n)
	}
	h.ok("ad", "user", "delete", "--id", u["id"].(string))
	h.fails(1, "ERROR: (Request_ResourceNotFound) Resource 'bob@contoso.com' does not exist or one of its queried reference-property objects are not present.", "ad", "user", "show", "--id", "bob@contoso.com")
	if obj(h.ok("ad", "signed-in-user", "show"))["userPrincipalName"] != h.srv.Admin {
		t.Error("signed-in-user show")
	}
}

func TestCloudShowAndDebug(t *testing.T) {
	h := newHarness(t)
	h.login()
	c := obj(h.ok("cloud", "show"))
	ep := obj(c["endpoints"])
	if c["name"] != "drydock" || c["isActive"] != true || ep["resourceManager"] != h.srv.URL+"/" || ep["activeDirectoryResourceId"] != "https://management.core.windows.net/" ||
		ep["microsoftGraphResourceId"] != h.srv.URL+"/graph/" || ep["activeDirectory"] != h.srv.URL+"/adfs" || ep["management"] != h.srv.URL+"/" ||
		ep["portal"] != nil || obj(c["suffixes"])["acrLoginServerEndpoint"] != "."+h.srv.LoginServerSuffix || c["caFile"] != h.srv.CAFile {
		t.Errorf("cloud show = %v", c)
	}
	out, errOut, code := h.run("group", "list", "--debug", "--verbose", "-o", "none")
	if code != 0 || out != "" || !strings.Contains(errOut, "DEBUG: Request URL: '"+h.srv.URL+"/subscriptions/"+h.srv.SubscriptionID+"/resourcegroups?api-version=2022-09-01'") ||
		!strings.Contains(errOut, "'Authorization': '*****'") || !strings.Contains(errOut, "INFO: Command ran in") {
		t.Errorf("debug output (%d):\n%s", code, errOut)
	}
	_, errOut, _ = h.run("login", "-u", h.srv.Admin, "-p", h.srv.AdminPassword, "--debug", "-o", "none")
	if strings.Contains(errOut, h.srv.AdminPassword) || strings.Contains(errOut, refreshToken(t, h)) {
		t.Errorf("debug output leaks secrets:\n%s", errOut)
	}
}

func TestTokenRefreshPersists(t *testing.T) {
	h := newHarness(t)
	h.login()
	store := &client.Store{Dir: h.dir}
	creds, _ := store.LoadCredentials()
	delete(creds.AccessTokens, client.ARMScope)
	if err := store.SaveCredentials(creds); err != nil {
		t.Fatal(err)
	}
	h.ok("group", "list")
	creds, _ = store.LoadCredentials()
	if _, ok := creds.AccessTokens[client.ARMScope]; !ok {
		t.Error("refreshed ARM token was not saved")
	}
	h.ok("ad", "user", "list")
	creds, _ = store.LoadCredentials()
	if _, ok := creds.AccessTokens[client.GraphScope]; !ok {
		t.Error("Graph token was not saved")
	}
}

func TestLoginWithPassword(t *testing.T) {
	h := newHarness(t)
	if err := loginWithPassword(t.Context(), h.srv.URL, h.srv.CAFile, "", h.srv.Admin, h.srv.AdminPassword); err != nil {
		t.Fatal(err)
	}
	if obj(h.ok("account", "show"))["id"] != h.srv.SubscriptionID {
		t.Error("loginWithPassword did not save the profile")
	}
	if err := loginWithPassword(t.Context(), h.srv.URL, h.srv.CAFile, "", h.srv.Admin, "bad"); err == nil {
		t.Error("bad password accepted")
	}
}

func TestEnvironmentOverridesProfile(t *testing.T) {
	h := newHarness(t)
	h.login()
	t.Setenv(client.EnvEndpoint, "https://127.0.0.1:1")
	_, errOut, code := h.run("group", "list")
	if code != 1 || !strings.HasPrefix(errOut, "ERROR: cannot connect to drydock at https://127.0.0.1:1:") {
		t.Errorf("DRYDOCK_ENDPOINT ignored: %d %s", code, errOut)
	}
	t.Setenv(client.EnvEndpoint, "")
	t.Setenv(client.EnvCAFile, filepath.Join(t.TempDir(), "missing.pem"))
	if _, errOut, code := h.run("group", "list"); code != 1 || !strings.Contains(errOut, "cannot read CA file") {
		t.Errorf("DRYDOCK_CA_FILE ignored: %d %s", code, errOut)
	}
}
