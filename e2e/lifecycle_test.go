package e2e

import (
	"strings"
	"testing"
)

// TestGroupDeleteCascades: deleting a resource group deletes what is in it —
// registries, identities (and their service principals) and the role
// assignments at or below it — and frees the registry's name.
func TestGroupDeleteCascades(t *testing.T) {
	_, az := sharedAdmin(t)
	groupID := az.tsv("group", "create", "-n", "cascade-rg", "-l", "eastus", "--query", "id")
	acrID := az.tsv("acr", "create", "-n", "cascaderegistry", "-g", "cascade-rg", "--sku", "Premium", "--query", "id")
	mi := az.obj("identity", "create", "-n", "cascade-mi", "-g", "cascade-rg")
	az.ok("role", "assignment", "create", "--role", "AcrPush", "--assignee", str(mi, "principalId"), "--scope", acrID, "-o", "none")
	az.ok("role", "assignment", "create", "--role", "Reader", "--assignee", str(mi, "principalId"), "-g", "cascade-rg", "-o", "none")
	if got := az.tsv("ad", "sp", "show", "--id", str(mi, "clientId"), "--query", "id"); got != str(mi, "principalId") {
		t.Errorf("the identity's service principal: %q, want %s", got, str(mi, "principalId"))
	}
	if n := len(az.list("role", "assignment", "list", "--all", "--assignee", str(mi, "principalId"))); n != 2 {
		t.Fatalf("%d assignments before the delete, want 2", n)
	}

	if out := az.ok("group", "delete", "-n", "cascade-rg", "--yes"); out != "" {
		t.Errorf("group delete printed %q", out)
	}
	if got := az.tsv("group", "exists", "-n", "cascade-rg"); got != "false" {
		t.Errorf("group exists after delete = %q", got)
	}
	az.fails(1, `^ERROR: \(ResourceNotFound\) `, "acr", "show", "-n", "cascaderegistry")
	az.fails(1, `^ERROR: \(ResourceGroupNotFound\) `, "identity", "show", "-n", "cascade-mi", "-g", "cascade-rg")
	if got := az.tsv("acr", "check-name", "-n", "cascaderegistry", "--query", "nameAvailable"); got != "true" {
		t.Errorf("the registry name is not free again: %q", got)
	}
	if got := az.tsv("role", "assignment", "list", "--all", "--query", "[?starts_with(scope, '"+groupID+"')].id"); got != "" {
		t.Errorf("role assignments left below the deleted group: %q", got)
	}
	if r := az.run("ad", "sp", "show", "--id", str(mi, "clientId")); r.Code == 0 {
		t.Errorf("the deleted identity's service principal still exists:\n%s", r)
	}
	// The name can be used again, in another group.
	az.ok("group", "create", "-n", "cascade-rg2", "-l", "eastus", "-o", "none")
	az.ok("acr", "create", "-n", "cascaderegistry", "-g", "cascade-rg2", "--sku", "Basic", "-o", "none")
}

// TestDeletedPrincipalName: an assignment whose principal was deleted keeps
// listing, with an empty principalName as az prints it (so that -o table
// keeps its columns).
func TestDeletedPrincipalName(t *testing.T) {
	_, az := sharedAdmin(t)
	az.ok("group", "create", "-n", "orphan-rg", "-l", "eastus", "-o", "none")
	az.ok("ad", "user", "create", "--display-name", "Ivan", "--user-principal-name", "ivan@drydock.local", "--password", "Ivan-Passw0rd!", "-o", "none")
	ivan := az.tsv("ad", "user", "show", "--id", "ivan@drydock.local", "--query", "id")
	az.ok("role", "assignment", "create", "--role", "Reader", "--assignee", "ivan@drydock.local", "-g", "orphan-rg", "-o", "none")
	az.ok("ad", "user", "delete", "--id", "ivan@drydock.local")
	az.fails(1, `^ERROR: \(Request_ResourceNotFound\) `, "ad", "user", "show", "--id", "ivan@drydock.local")
	listed := az.list("role", "assignment", "list", "-g", "orphan-rg")
	if len(listed) != 1 || str(listed[0], "principalId") != ivan || str(listed[0], "roleDefinitionName") != "Reader" {
		t.Fatalf("assignments of the deleted user: %v", listed)
	}

	if v, ok := listed[0]["principalName"]; !ok || v != "" {
		t.Errorf("principalName = %v (present: %v), want \"\"", v, ok)
	}
	header := strings.Fields(strings.SplitN(az.ok("role", "assignment", "list", "-g", "orphan-rg", "-o", "table"), "\n", 2)[0])
	if strings.Join(header, " ") != "Principal Role Scope" {
		t.Errorf("role assignment list -o table header: %v", header)
	}
}

// TestCreateForRBACAgain: running create-for-rbac again for an existing app
// whose role assignment exists patches the app, warns that the assignment
// exists, and prints the new secret (az's behaviour).
func TestCreateForRBACAgain(t *testing.T) {
	s, az := sharedAdmin(t)
	scope := az.tsv("group", "create", "-n", "rerun-rg", "-l", "eastus", "--query", "id")
	first := az.obj("ad", "sp", "create-for-rbac", "--name", "rerun-app", "--role", "Reader", "--scopes", scope)
	r := az.run("ad", "sp", "create-for-rbac", "--name", "rerun-app", "--role", "Reader", "--scopes", scope)
	if r.Code != 0 || !strings.Contains(r.Stderr, "Role assignment already exists.") {
		t.Fatalf("second create-for-rbac:\n%s", r)
	}
	var second map[string]string
	if err := jsonUnmarshal(r.Stdout, &second); err != nil || second["appId"] != str(first, "appId") || second["password"] == "" || second["password"] == str(first, "password") {
		t.Errorf("second create-for-rbac printed %v (%v); first %v", second, err, first)
	}
	s.newCLI(t).ok("login", "--service-principal", "-u", second["appId"], "-p", second["password"], "--tenant", s.TenantID, "-o", "none")
}
