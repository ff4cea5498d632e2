package e2e

import (
	"strings"
	"testing"
)

// TestSubscriptions: account create makes a subscription its creator owns;
// account set makes it the default for later commands.
func TestSubscriptions(t *testing.T) {
	t.Parallel()
	s := startServer(t) // subscription counts must not see other tests'
	az := s.admin(t)
	first := az.obj("account", "show")
	expectFields(t, "account show", first, map[string]any{"name": "drydock", "isDefault": true, "tenantId": s.TenantID, "user.name": "admin@drydock.local"})
	firstID := str(first, "id")

	second := az.obj("account", "create", "--name", "second")
	secondID := str(second, "id")
	expectFields(t, "account create", second, map[string]any{"name": "second", "isDefault": false, "state": "Enabled", "tenantId": s.TenantID})
	if !isGUID(secondID) || secondID == firstID {
		t.Fatalf("account create: id %q (first subscription %s)", secondID, firstID)
	}

	accounts := az.list("account", "list")
	if len(accounts) != 2 {
		t.Fatalf("account list: %d subscriptions, want 2: %v", len(accounts), accounts)
	}
	defaults := 0
	for _, a := range accounts {
		if a["isDefault"] == true {
			defaults++
			if str(a, "id") != firstID {
				t.Errorf("default subscription is %s, want %s", str(a, "id"), firstID)
			}
		}
	}
	if defaults != 1 {
		t.Errorf("account list: %d defaults", defaults)
	}
	table := strings.Split(strings.TrimSpace(az.ok("account", "list", "-o", "table")), "\n")
	if len(table) != 4 || strings.Join(strings.Fields(table[0]), " ") != "Name CloudName SubscriptionId TenantId State IsDefault" {
		t.Errorf("account list -o table:\n%s", strings.Join(table, "\n"))
	}

	az.ok("account", "set", "--subscription", "second")
	if got := az.tsv("account", "show", "--query", "id"); got != secondID {
		t.Errorf("account show after set: id %q, want %q", got, secondID)
	}
	rg := az.obj("group", "create", "--name", "in-second", "--location", "westus")
	if want := "/subscriptions/" + secondID + "/resourceGroups/in-second"; str(rg, "id") != want {
		t.Errorf("group create after account set: id %q, want %q", str(rg, "id"), want)
	}
	if got := az.tsv("group", "list", "--query", "[].name"); got != "in-second" {
		t.Errorf("group list in the second subscription = %q", got)
	}
	if got := az.tsv("group", "list", "--subscription", "drydock", "--query", "[?name=='in-second'].name"); got != "" {
		t.Errorf("the group is in the first subscription too: %q", got)
	}
	if got := az.tsv("group", "show", "-n", "in-second", "--subscription", secondID, "--query", "name"); got != "in-second" {
		t.Errorf("group show --subscription <id> = %q", got)
	}
	az.fails(1, `^ERROR: \(ResourceGroupNotFound\) `, "group", "show", "-n", "in-second", "--subscription", firstID)

	// The creator owns the new subscription; another user does not see it
	// until given a role there.
	owner := az.list("role", "assignment", "list", "--subscription", secondID, "--query", "[?roleDefinitionName=='Owner']")
	if len(owner) != 1 || str(owner[0], "scope") != "/subscriptions/"+secondID {
		t.Errorf("Owner assignments of the new subscription: %v", owner)
	}
	az.ok("ad", "user", "create", "--display-name", "Grace", "--user-principal-name", "grace@drydock.local", "--password", "Grace-Passw0rd!", "-o", "none")
	grace := s.login(t, "grace@drydock.local", "Grace-Passw0rd!")
	if got := grace.tsv("account", "list", "--query", "[].name"); got != "" {
		t.Errorf("grace sees subscriptions %q before any assignment", got)
	}
	az.ok("role", "assignment", "create", "--role", "Reader", "--assignee", "grace@drydock.local", "--scope", "/subscriptions/"+secondID, "-o", "none")
	grace.ok("account", "set", "--subscription", "second")
	if got := grace.tsv("group", "list", "--query", "[].name"); got != "in-second" {
		t.Errorf("grace's group list = %q", got)
	}

	// Back to the first one by id.
	az.ok("account", "set", "-s", firstID)
	if got := az.tsv("account", "show", "--query", "name"); got != "drydock" {
		t.Errorf("account set -s <id>: %q", got)
	}
	az.fails(1, `^ERROR: .*'nosuch'`, "account", "set", "--subscription", "nosuch")
}
