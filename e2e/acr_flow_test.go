package e2e

import (
	"strings"
	"testing"
)

// TestSeedFlow runs the container-registry walkthrough of the seed document
// (what is available before the registry data plane): sign in, resource
// group, registry, admin credentials, a managed identity given AcrPull and
// that grant explained, revoked and explained again.
func TestSeedFlow(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	az := s.newCLI(t)

	const (
		group    = "myContainerRegistryResourceGroup"
		registry = "mycontainerregistry"
	)

	// login prints the account's subscriptions, as az does.
	var accounts []map[string]any
	az.json(&accounts, "login", "-u", "admin@drydock.local", "-p", s.adminPassword)
	if len(accounts) != 1 {
		t.Fatalf("login listed %d subscriptions, want 1: %v", len(accounts), accounts)
	}
	sub := str(accounts[0], "id")
	expectFields(t, "login", accounts[0], map[string]any{
		"isDefault": true, "state": "Enabled", "tenantId": s.TenantID,
		"user.name": "admin@drydock.local", "user.type": "user",
	})
	if !isGUID(sub) {
		t.Fatalf("subscription id %q is not a GUID", sub)
	}
	if got := az.tsv("account", "show", "--query", "id"); got != sub {
		t.Errorf("account show --query id -o tsv = %q, want %q", got, sub)
	}

	rg := az.obj("group", "create", "--name", group, "--location", "eastus")
	expectFields(t, "group create", rg, map[string]any{
		"id":                           "/subscriptions/" + sub + "/resourceGroups/" + group,
		"name":                         group,
		"location":                     "eastus",
		"properties.provisioningState": "Succeeded",
		"type":                         "Microsoft.Resources/resourceGroups",
	})

	// az acr create prints the registry flattened: properties at the top level.
	acrID := "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.ContainerRegistry/registries/" + registry
	reg := az.obj("acr", "create", "--name", registry, "--resource-group", group, "--sku", "basic")
	expectFields(t, "acr create", reg, map[string]any{
		"id":                acrID,
		"name":              registry,
		"type":              "Microsoft.ContainerRegistry/registries",
		"location":          "eastus",
		"provisioningState": "Succeeded",
		"sku.name":          "Basic",
		"sku.tier":          "Basic",
		"resourceGroup":     group,
		"adminUserEnabled":  false,
	})
	loginServer := str(reg, "loginServer")
	if !loginServerRE(registry).MatchString(loginServer) {
		t.Errorf("acr create: loginServer %q, want %s.azurecr.io", loginServer, registry)
	}
	if _, nested := reg["properties"]; nested {
		t.Errorf("acr create output has a nested properties object; az flattens it: %v", reg)
	}

	shown := az.obj("acr", "show", "--name", registry)
	expectFields(t, "acr show", shown, map[string]any{"id": acrID, "loginServer": loginServer, "resourceGroup": group})
	if got := az.tsv("acr", "show", "-n", registry, "--query", "loginServer"); got != loginServer {
		t.Errorf("acr show --query loginServer -o tsv = %q", got)
	}
	if got := az.tsv("acr", "show", "-n", registry, "-g", group, "--query", "id"); got != acrID {
		t.Errorf("acr show -g --query id -o tsv = %q, want %q", got, acrID)
	}

	// -o table: az's header, a dashed rule, then the registry.
	table := strings.Split(strings.TrimRight(az.ok("acr", "list", "-g", group, "-o", "table"), "\n"), "\n")
	if len(table) != 3 {
		t.Fatalf("acr list -o table: want header, rule and one row, got:\n%s", strings.Join(table, "\n"))
	}
	if got := strings.Fields(table[0]); strings.Join(got, " ") != "NAME RESOURCE GROUP LOCATION SKU LOGIN SERVER CREATION DATE ADMIN ENABLED" {
		t.Errorf("acr list -o table header = %q", table[0])
	}
	if strings.Trim(table[1], "- ") != "" || !strings.HasPrefix(table[1], "---") {
		t.Errorf("acr list -o table rule = %q", table[1])
	}
	if f := strings.Fields(table[2]); len(f) != 7 || f[0] != registry || f[1] != group || f[3] != "Basic" || f[4] != loginServer || f[6] != "False" {
		t.Errorf("acr list -o table row = %q", table[2])
	}

	taken := az.obj("acr", "check-name", "--name", registry)
	expectFields(t, "check-name (taken)", taken, map[string]any{"nameAvailable": false, "reason": "AlreadyExists"})
	if !strings.Contains(str(taken, "message"), registry) {
		t.Errorf("check-name message = %q, want it to name the registry", str(taken, "message"))
	}
	free := az.obj("acr", "check-name", "--name", "seedflowfreename")
	expectFields(t, "check-name (free)", free, map[string]any{"nameAvailable": true, "reason": nil, "message": nil})

	// Admin user and its passwords.
	updated := az.obj("acr", "update", "-n", registry, "--admin-enabled", "true")
	expectFields(t, "acr update", updated, map[string]any{"adminUserEnabled": true, "id": acrID})
	creds := az.obj("acr", "credential", "show", "-n", registry)
	if str(creds, "username") != registry {
		t.Errorf("credential show username = %q, want %q", str(creds, "username"), registry)
	}
	before := passwords(t, creds)
	renewed := az.obj("acr", "credential", "renew", "-n", registry, "--password-name", "password2")
	after := passwords(t, renewed)
	if after["password2"] == before["password2"] {
		t.Errorf("renew --password-name password2 kept password2 %q", before["password2"])
	}
	if after["password"] != before["password"] {
		t.Errorf("renew --password-name password2 changed password: %q -> %q", before["password"], after["password"])
	}
	if again := passwords(t, az.obj("acr", "credential", "show", "-n", registry)); again["password2"] != after["password2"] {
		t.Errorf("credential show after renew: password2 = %q, want %q", again["password2"], after["password2"])
	}
	if got := az.tsv("acr", "credential", "show", "-n", registry, "--query", "passwords[?name=='password2'].value | [0]"); got != after["password2"] {
		t.Errorf("credential show --query password2 -o tsv = %q, want %q", got, after["password2"])
	}

	// A managed identity, given AcrPull on the registry.
	mi := az.obj("identity", "create", "--name", "kubelet", "--resource-group", group)
	principal := str(mi, "principalId")
	if !isGUID(principal) || !isGUID(str(mi, "clientId")) {
		t.Fatalf("identity create: principalId %q, clientId %q", principal, str(mi, "clientId"))
	}
	expectFields(t, "identity create", mi, map[string]any{"name": "kubelet", "resourceGroup": group, "tenantId": s.TenantID,
		"id": "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kubelet"})
	if got := az.tsv("identity", "show", "-n", "kubelet", "-g", group, "--query", "principalId"); got != principal {
		t.Errorf("identity show --query principalId -o tsv = %q, want %q", got, principal)
	}

	explain := []string{"role", "assignment", "explain", "--assignee", principal,
		"--action", "Microsoft.ContainerRegistry/registries/pull/read", "--scope", acrID}
	if denied := az.obj(explain...); denied["allowed"] != false {
		t.Errorf("explain before the assignment: allowed = %v", denied["allowed"])
	}

	ra := az.obj("role", "assignment", "create", "--role", "AcrPull", "--assignee-object-id", principal,
		"--assignee-principal-type", "ServicePrincipal", "--scope", acrID)
	expectFields(t, "role assignment create", ra, map[string]any{
		"principalId":      principal,
		"principalType":    "ServicePrincipal",
		"scope":            acrID,
		"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + acrPullGUID,
		"type":             "Microsoft.Authorization/roleAssignments",
	})
	raID := str(ra, "id")
	if !strings.HasPrefix(strings.ToLower(raID), strings.ToLower(acrID+"/providers/Microsoft.Authorization/roleAssignments/")) {
		t.Errorf("role assignment id %q is not below the registry", raID)
	}

	listed := az.list("role", "assignment", "list", "--scope", acrID)
	if len(listed) != 1 {
		t.Fatalf("role assignment list --scope: %d assignments, want 1: %v", len(listed), listed)
	}
	expectFields(t, "role assignment list", listed[0], map[string]any{
		"id": raID, "principalId": principal, "roleDefinitionName": "AcrPull", "scope": acrID,
	})
	if got := az.tsv("role", "assignment", "list", "--scope", acrID, "--query", "[0].roleDefinitionName"); got != "AcrPull" {
		t.Errorf("role assignment list --query [0].roleDefinitionName -o tsv = %q", got)
	}

	allowed := az.obj(explain...)
	if allowed["allowed"] != true {
		t.Fatalf("explain after the assignment: not allowed: %v", allowed)
	}
	granted, _ := allowed["granted"].([]any)
	if len(granted) != 1 || str(granted[0], "roleDefinitionName") != "AcrPull" || !strings.EqualFold(str(granted[0], "roleAssignmentId"), raID) {
		t.Errorf("explain granted = %v, want the AcrPull assignment %s", allowed["granted"], raID)
	}
	if !strings.Contains(str(allowed, "reason"), "AcrPull") {
		t.Errorf("explain reason %q does not name AcrPull", str(allowed, "reason"))
	}
	text := az.ok(append(explain, "-o", "table")...)
	if !strings.HasPrefix(text, "ALLOWED: ") || !strings.Contains(text, "Granted by:") || !strings.Contains(text, "AcrPull at "+acrID) {
		t.Errorf("explain -o table:\n%s", text)
	}
	// AcrPull grants registries/pull/read as a (control-plane) action, as in
	// Azure, not as a data action.
	if got := az.tsv(append(explain, "--data-action", "--query", "allowed")...); got != "false" {
		t.Errorf("explain --data-action for pull/read = %q, want false", got)
	}
	if got := az.tsv(append(explain, "--query", "allowed")...); got != "true" { // knack prints a lone boolean in lower case
		t.Errorf("explain --query allowed -o tsv = %q, want true", got)
	}

	if out := az.ok("role", "assignment", "delete", "--assignee", principal, "--role", "AcrPull", "--scope", acrID); out != "" {
		t.Errorf("role assignment delete printed %q", out)
	}
	if left := az.list("role", "assignment", "list", "--scope", acrID); len(left) != 0 {
		t.Errorf("role assignment list after delete: %v", left)
	}
	denied := az.obj(explain...)
	if denied["allowed"] != false {
		t.Errorf("explain after delete: allowed = %v", denied["allowed"])
	}
	if g, _ := denied["granted"].([]any); len(g) != 0 {
		t.Errorf("explain after delete: granted = %v", g)
	}
	if text := az.ok(append(explain, "-o", "table")...); !strings.HasPrefix(text, "DENIED: ") || strings.Contains(text, "Granted by:") {
		t.Errorf("explain -o table after delete:\n%s", text)
	}
	az.fails(1, `^ERROR: No matched assignments were found to delete$`,
		"role", "assignment", "delete", "--assignee", principal, "--role", "AcrPull", "--scope", acrID)

	// Deleting needs --yes when there is no terminal to ask on.
	az.ok("acr", "delete", "-n", registry, "--yes")
	az.fails(1, `^ERROR: \(ResourceNotFound\) .*'`+registry+`'`, "acr", "show", "-n", registry)
	if got := az.tsv("group", "exists", "-n", group); got != "true" {
		t.Errorf("group exists = %q", got)
	}
}

// passwords maps the password names of an acr credential result to values.
func passwords(t *testing.T, creds map[string]any) map[string]string {
	t.Helper()
	list, _ := creds["passwords"].([]any)
	out := map[string]string{}
	for _, p := range list {
		out[str(p, "name")] = str(p, "value")
	}
	if len(out) != 2 || out["password"] == "" || out["password2"] == "" {
		t.Fatalf("credential passwords = %v, want password and password2", creds["passwords"])
	}
	return out
}
