package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestContributorCannotAssignRoles: a user who is Contributor of a resource
// group manages resources in it but may not grant access.
func TestContributorCannotAssignRoles(t *testing.T) {
	s, admin := sharedAdmin(t)
	const group = "contrib-rg"
	groupID := admin.tsv("group", "create", "-n", group, "-l", "eastus", "--query", "id")
	admin.ok("group", "create", "-n", "contrib-elsewhere", "-l", "eastus", "-o", "none")

	carol := admin.obj("ad", "user", "create", "--display-name", "Carol", "--user-principal-name", "carol@drydock.local",
		"--password", "Carol-Passw0rd!")
	carolID := str(carol, "id")
	expectFields(t, "ad user create", carol, map[string]any{"userPrincipalName": "carol@drydock.local", "displayName": "Carol"})
	if !isGUID(carolID) {
		t.Fatalf("ad user create: id %q", carolID)
	}
	ra := admin.obj("role", "assignment", "create", "--role", "Contributor", "--assignee", "carol@drydock.local", "--resource-group", group)
	expectFields(t, "role assignment create", ra, map[string]any{
		"principalId": carolID, "principalType": "User", "scope": groupID,
		"roleDefinitionId": "/subscriptions/" + strings.Split(groupID, "/")[2] + "/providers/Microsoft.Authorization/roleDefinitions/" + contributorGUID,
	})
	if got := admin.tsv("role", "assignment", "list", "-g", group, "--assignee", "carol@drydock.local", "--query", "[].roleDefinitionName"); got != "Contributor" {
		t.Errorf("role assignment list --assignee carol = %q", got)
	}

	az := s.login(t, "carol@drydock.local", "Carol-Passw0rd!")
	if got := az.tsv("account", "show", "--query", "user.name"); got != "carol@drydock.local" {
		t.Errorf("carol's account show user.name = %q", got)
	}
	// She sees her group only.
	if got := az.tsv("group", "list", "--query", "[].name"); got != group {
		t.Errorf("carol's group list = %q, want only %s", got, group)
	}
	reg := az.obj("acr", "create", "-n", "carolsregistry", "-g", group, "--sku", "Standard")
	expectFields(t, "carol's acr create", reg, map[string]any{"provisioningState": "Succeeded", "sku.name": "Standard", "resourceGroup": group})
	acrID := str(reg, "id")
	az.ok("identity", "create", "-n", "carol-mi", "-g", group, "-o", "none")

	line := az.fails(1, `^ERROR: \(AuthorizationFailed\) `, "role", "assignment", "create", "--role", "AcrPull",
		"--assignee-object-id", carolID, "--assignee-principal-type", "User", "--scope", acrID)
	for _, want := range []string{
		"'carol@drydock.local'", carolID,
		"does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write'",
		"over scope '" + acrID,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("AuthorizationFailed message does not contain %q:\n%s", want, line)
		}
	}
	// Nor may she act outside her group.
	az.fails(1, `^ERROR: \(AuthorizationFailed\) .*'Microsoft\.ContainerRegistry/registries/write'`,
		"acr", "create", "-n", "carolsother", "-g", "contrib-elsewhere", "--sku", "Basic", "-l", "eastus")

	// explain agrees with what happened.
	explain := admin.obj("role", "assignment", "explain", "--assignee", "carol@drydock.local",
		"--action", "Microsoft.Authorization/roleAssignments/write", "--scope", acrID)
	if explain["allowed"] != false {
		t.Errorf("explain roleAssignments/write for carol: %v", explain)
	}
	explain = admin.obj("role", "assignment", "explain", "--assignee", "carol@drydock.local",
		"--action", "Microsoft.ContainerRegistry/registries/write", "--scope", acrID)
	if g, _ := explain["granted"].([]any); explain["allowed"] != true || len(g) != 1 || str(g[0], "roleDefinitionName") != "Contributor" {
		t.Errorf("explain registries/write for carol: %v", explain)
	}
	// The admin (Owner) can make the same assignment.
	admin.ok("role", "assignment", "create", "--role", "AcrPull", "--assignee-object-id", carolID,
		"--assignee-principal-type", "User", "--scope", acrID, "-o", "none")
}

// TestServicePrincipal: create-for-rbac prints credentials that log in, and
// the principal sees what its role assignment covers.
func TestServicePrincipal(t *testing.T) {
	s, admin := sharedAdmin(t)
	const group = "sp-rg"
	groupID := admin.tsv("group", "create", "-n", group, "-l", "eastus", "--query", "id")
	admin.ok("acr", "create", "-n", "spregistry", "-g", group, "--sku", "Basic", "-o", "none")
	admin.ok("group", "create", "-n", "sp-unrelated", "-l", "eastus", "-o", "none")
	admin.ok("acr", "create", "-n", "spunrelated", "-g", "sp-unrelated", "--sku", "Basic", "-o", "none")

	r := admin.run("ad", "sp", "create-for-rbac", "--name", "ci", "--role", "Contributor", "--scopes", groupID)
	if r.Code != 0 {
		t.Fatalf("create-for-rbac failed:\n%s", r)
	}
	if !strings.Contains(r.Stderr, "WARNING: Creating 'Contributor' role assignment under scope '"+groupID+"'") ||
		!strings.Contains(r.Stderr, "WARNING: The output includes credentials that you must protect.") {
		t.Errorf("create-for-rbac warnings:\n%s", r.Stderr)
	}
	var sp map[string]string
	if err := jsonUnmarshal(r.Stdout, &sp); err != nil {
		t.Fatalf("create-for-rbac output: %v\n%s", err, r.Stdout)
	}
	if len(sp) != 4 || !isGUID(sp["appId"]) || sp["displayName"] != "ci" || sp["password"] == "" || sp["tenant"] != s.TenantID {
		t.Fatalf("create-for-rbac printed %v, want appId, displayName ci, password, tenant %s", sp, s.TenantID)
	}
	if got := admin.tsv("ad", "sp", "show", "--id", sp["appId"], "--query", "appId"); got != sp["appId"] {
		t.Errorf("ad sp show --id <appId> --query appId = %q", got)
	}
	if got := admin.tsv("role", "assignment", "list", "--assignee", sp["appId"], "-g", group, "--query", "[].roleDefinitionName"); got != "Contributor" {
		t.Errorf("role assignment list --assignee <appId> -g %s = %q", group, got)
	}

	ci := s.newCLI(t)
	accounts := ci.list("login", "--service-principal", "-u", sp["appId"], "-p", sp["password"], "--tenant", sp["tenant"])
	if len(accounts) != 1 {
		t.Fatalf("service principal login listed %v", accounts)
	}
	expectFields(t, "service principal login", accounts[0], map[string]any{
		"user.name": sp["appId"], "user.type": "servicePrincipal", "tenantId": s.TenantID, "isDefault": true,
	})
	if got := ci.tsv("acr", "list", "--query", "[].name"); got != "spregistry" {
		t.Errorf("the service principal's acr list = %q, want spregistry only", got)
	}
	if got := ci.tsv("acr", "show", "-n", "spregistry", "--query", "loginServer"); !loginServerRE("spregistry").MatchString(got) {
		t.Errorf("the service principal's acr show = %q", got)
	}
	ci.ok("acr", "create", "-n", "spcreated", "-g", group, "--sku", "Basic", "-o", "none")
	ci.fails(1, `^ERROR: \(AuthorizationFailed\) The client '`+sp["appId"]+`' with object id '`,
		"acr", "show", "-n", "spunrelated", "-g", "sp-unrelated")

	other := s.newCLI(t)
	other.fails(1, `^ERROR: AADSTS7000215: Invalid client secret provided\.`,
		"login", "--service-principal", "-u", sp["appId"], "-p", "not-the-secret", "--tenant", sp["tenant"])
	other.fails(1, `^ERROR: Please run 'az login' to setup account\.$`, "acr", "list")
	other.fails(2, `^ERROR: the following arguments are required: --tenant/-t$`,
		"login", "--service-principal", "-u", sp["appId"], "-p", sp["password"])
}

// TestDirectoryGroups: group membership commands.
func TestDirectoryGroups(t *testing.T) {
	s, az := sharedAdmin(t)
	g := az.obj("ad", "group", "create", "--display-name", "acr-pullers", "--mail-nickname", "acr-pullers")
	gid := str(g, "id")
	expectFields(t, "ad group create", g, map[string]any{"displayName": "acr-pullers", "mailNickname": "acr-pullers", "securityEnabled": true})
	if !isGUID(gid) {
		t.Fatalf("ad group create: id %q", gid)
	}
	if got := az.tsv("ad", "group", "show", "-g", "acr-pullers", "--query", "id"); got != gid {
		t.Errorf("ad group show -g <name> --query id = %q, want %q", got, gid)
	}
	erin := az.tsv("ad", "user", "create", "--display-name", "Erin", "--user-principal-name", "erin@drydock.local",
		"--password", "Erin-Passw0rd!", "--query", "id")
	mi := s.admin(t) // a second admin session works side by side
	mi.ok("group", "create", "-n", "groups-rg", "-l", "eastus", "-o", "none")
	miID := mi.tsv("identity", "create", "-n", "groups-mi", "-g", "groups-rg", "--query", "principalId")

	az.ok("ad", "group", "member", "add", "-g", "acr-pullers", "--member-id", erin)
	az.ok("ad", "group", "member", "add", "-g", gid, "--member-id", miID)
	members := az.list("ad", "group", "member", "list", "-g", "acr-pullers")
	if len(members) != 2 {
		t.Fatalf("ad group member list: %v", members)
	}
	for _, m := range members {
		if str(m, "id") != erin && str(m, "id") != miID {
			t.Errorf("unexpected member %v", m)
		}
		eff, err := time.Parse(time.RFC3339, str(m, "effectiveDateTime"))
		if err != nil {
			t.Errorf("member %s: effectiveDateTime %q: %v", str(m, "id"), str(m, "effectiveDateTime"), err)
		}
		added, err := time.Parse(time.RFC3339, str(m, "addedDateTime"))
		if err == nil && eff.Before(added) {
			t.Errorf("member %s: effective %v before added %v", str(m, "id"), eff, added)
		}
	}
	if got := az.obj("ad", "group", "member", "check", "-g", "acr-pullers", "--member-id", erin); got["value"] != true {
		t.Errorf("member check (member) = %v", got)
	}
	az.ok("ad", "group", "member", "remove", "-g", "acr-pullers", "--member-id", erin)
	if got := az.obj("ad", "group", "member", "check", "-g", "acr-pullers", "--member-id", erin); got["value"] != false {
		t.Errorf("member check (removed) = %v", got)
	}
	if got := az.tsv("ad", "group", "member", "list", "-g", "acr-pullers", "--query", "[].id"); got != miID {
		t.Errorf("member list after remove = %q, want %s", got, miID)
	}
	az.fails(1, `^ERROR: Group no-such-group is not found in Graph$`, "ad", "group", "member", "list", "-g", "no-such-group")
	az.fails(2, `^ERROR: the following arguments are required: --member-id$`, "ad", "group", "member", "add", "-g", "acr-pullers")

	// A role assigned to the group reaches its members (no propagation delay
	// on this server).
	az.ok("role", "assignment", "create", "--role", "Reader", "--assignee", "acr-pullers", "-g", "groups-rg", "-o", "none")
	ex := az.obj("role", "assignment", "explain", "--assignee-object-id", miID,
		"--action", "Microsoft.Resources/subscriptions/resourceGroups/read", "-g", "groups-rg")
	if g, _ := ex["granted"].([]any); ex["allowed"] != true || len(g) != 1 || str(g[0], "viaGroup") != gid || str(g[0], "roleDefinitionName") != "Reader" {
		t.Errorf("explain via group: %v", ex)
	}
}

// TestGroupPropagationDelay: with DRYDOCK_GROUP_PROPAGATION_DELAY, a new
// member does not get the group's roles until the delay has passed, and
// explain says when.
func TestGroupPropagationDelay(t *testing.T) {
	t.Parallel()
	s := startServer(t, "DRYDOCK_GROUP_PROPAGATION_DELAY=10m")
	admin := s.admin(t)
	sub := admin.tsv("account", "show", "--query", "id")
	admin.ok("group", "create", "-n", "rg", "-l", "eastus", "-o", "none")
	gid := admin.tsv("ad", "group", "create", "--display-name", "readers", "--mail-nickname", "readers", "--query", "id")
	admin.ok("ad", "user", "create", "--display-name", "Dave", "--user-principal-name", "dave@drydock.local",
		"--password", "Dave-Passw0rd!", "-o", "none")
	dave := admin.tsv("ad", "user", "show", "--id", "dave@drydock.local", "--query", "id")
	ra := admin.obj("role", "assignment", "create", "--role", "Reader", "--assignee", "readers", "-g", "rg")
	expectFields(t, "role assignment to the group", ra, map[string]any{
		"principalId": gid, "principalType": "Group",
		"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + readerGUID,
	})
	// Dave signs in before he is added: a principal that already holds
	// tokens sees a new membership only after the propagation delay (one
	// that never had a token would see it at once).
	az := s.login(t, "dave@drydock.local", "Dave-Passw0rd!")
	admin.ok("ad", "group", "member", "add", "-g", "readers", "--member-id", dave)

	members := admin.list("ad", "group", "member", "list", "-g", "readers")
	if len(members) != 1 || str(members[0], "id") != dave {
		t.Fatalf("member list: %v", members)
	}
	added, err1 := time.Parse(time.RFC3339, str(members[0], "addedDateTime"))
	effective, err2 := time.Parse(time.RFC3339, str(members[0], "effectiveDateTime"))
	if err1 != nil || err2 != nil || !effective.After(added) {
		t.Errorf("member list: addedDateTime %q, effectiveDateTime %q: want the membership effective after it was added",
			str(members[0], "addedDateTime"), str(members[0], "effectiveDateTime"))
	}

	// Dave cannot read the group yet.
	line := az.fails(1, `^ERROR: \(AuthorizationFailed\) The client 'dave@drydock\.local' with object id '`+dave+`' `,
		"group", "show", "-n", "rg", "--subscription", sub)
	if !strings.Contains(line, "over scope '/subscriptions/"+sub+"/resourceGroups/rg'") {
		t.Errorf("AuthorizationFailed does not name the scope: %s", line)
	}

	explain := []string{"role", "assignment", "explain", "--assignee", "dave@drydock.local",
		"--action", "Microsoft.Resources/subscriptions/resourceGroups/read", "-g", "rg"}
	ex := admin.obj(explain...)
	if ex["allowed"] != false {
		t.Fatalf("explain: allowed before the membership is effective: %v", ex)
	}
	pending, _ := ex["pending"].([]any)
	if len(pending) != 1 {
		t.Fatalf("explain: pending = %v, want the group's Reader assignment", ex["pending"])
	}
	p := pending[0]
	if str(p, "roleDefinitionName") != "Reader" || str(p, "viaGroup") != gid || !strings.EqualFold(str(p, "roleAssignmentId"), str(ra, "id")) {
		t.Errorf("explain: pending = %v", p)
	}
	at, err := time.Parse(time.RFC3339Nano, str(p, "effectiveAt"))
	if err != nil || at.Before(effective) {
		t.Errorf("explain: effectiveAt %q (%v), want the membership's effective time %v", str(p, "effectiveAt"), err, effective)
	}
	if !strings.Contains(str(ex, "reason"), "becomes effective at") {
		t.Errorf("explain reason does not say when access becomes effective: %q", str(ex, "reason"))
	}
	text := admin.ok(append(explain, "-o", "table")...)
	if !strings.HasPrefix(text, "DENIED: dave@drydock.local") || !strings.Contains(text, "Pending (not effective yet):") ||
		!strings.Contains(text, "via group "+gid) || !strings.Contains(text, "effective from ") {
		t.Errorf("explain -o table:\n%s", text)
	}
	// A direct assignment is effective at once.
	admin.ok("role", "assignment", "create", "--role", "Reader", "--assignee", "dave@drydock.local", "-g", "rg", "-o", "none")
	if got := az.tsv("group", "show", "-n", "rg", "--subscription", sub, "--query", "name"); got != "rg" {
		t.Errorf("group show after a direct assignment = %q", got)
	}
}

// TestResourceGroupReadAction: reading a resource group is the action
// Microsoft.Resources/subscriptions/resourceGroups/read, which built-in
// roles such as Managed Identity Operator grant explicitly.
func TestResourceGroupReadAction(t *testing.T) {
	s, admin := sharedAdmin(t)
	sub := admin.tsv("account", "show", "--query", "id")
	admin.ok("group", "create", "-n", "mio-rg", "-l", "eastus", "-o", "none")
	admin.ok("ad", "user", "create", "--display-name", "Frank", "--user-principal-name", "frank@drydock.local",
		"--password", "Frank-Passw0rd!", "-o", "none")
	admin.ok("role", "assignment", "create", "--role", "Managed Identity Operator", "--assignee", "frank@drydock.local", "-g", "mio-rg", "-o", "none")
	ex := admin.obj("role", "assignment", "explain", "--assignee", "frank@drydock.local",
		"--action", "Microsoft.Resources/subscriptions/resourceGroups/read", "-g", "mio-rg")
	if ex["allowed"] != true {
		t.Fatalf("explain: Managed Identity Operator does not grant resourceGroups/read: %v", ex)
	}

	frank := s.login(t, "frank@drydock.local", "Frank-Passw0rd!")
	if got := frank.tsv("group", "show", "-n", "mio-rg", "--subscription", sub, "--query", "name"); got != "mio-rg" {
		t.Errorf("group show = %q", got)
	}
}

// TestDeleteWithoutTerminal: without a terminal to ask on, a delete that
// would prompt fails and asks for --yes, as az does.
func TestDeleteWithoutTerminal(t *testing.T) {
	_, az := sharedAdmin(t)
	az.ok("group", "create", "-n", "notty-rg", "-l", "eastus", "-o", "none")
	az.ok("acr", "create", "-n", "nottyregistry", "-g", "notty-rg", "--sku", "Basic", "-o", "none")
	az.fails(1, `^ERROR: Unable to prompt for confirmation as no tty available\. Use --yes\.$`, "acr", "delete", "-n", "nottyregistry")
	az.ok("acr", "show", "-n", "nottyregistry", "-o", "none")
	az.fails(1, `^ERROR: Unable to prompt for confirmation as no tty available\. Use --yes\.$`, "group", "delete", "-n", "notty-rg")
	az.ok("group", "show", "-n", "notty-rg", "-o", "none")
}
