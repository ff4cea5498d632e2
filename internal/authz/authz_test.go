package authz

import (
	"encoding/json"
	"strings"
	"testing"
)

// roleActionCase is a built-in role, an action or data action, and
// whether the role grants it.
type roleActionCase struct {
	role   string
	action string
	data   bool
	want   bool
}

func TestActionMatches(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.ContainerRegistry/registries/write", true},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/pull/read", true},
		{"Microsoft.ContainerRegistry/registries/pull/read", "microsoft.containerregistry/REGISTRIES/Pull/Read", true},
		{"microsoft.containerregistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/pull/read", true},
		{"Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/pull/readx", false},
		{"Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/pull", false},
		{"Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/push/write", false},
		// '*' spans '/'.
		{"*/read", "Microsoft.X/y/read", true},
		{"*/read", "Microsoft.ContainerRegistry/registries/pull/read", true},
		{"*/read", "Microsoft.ContainerRegistry/registries/pull/READ", true},
		{"*/read", "Microsoft.X/y/write", false},
		{"*/read", "Microsoft.X/y/readme", false},
		{"*/read", "read", false},
		{"*/read", "/read", true},
		{"Microsoft.Authorization/*", "Microsoft.Authorization/roleAssignments/write", true},
		{"Microsoft.Authorization/*", "microsoft.authorization/roleassignments/delete", true},
		{"Microsoft.Authorization/*", "Microsoft.AuthorizationX/roleAssignments/write", false},
		{"Microsoft.Authorization/*", "Microsoft.Authorization", false},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/policy/assignments/write", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", false},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/write", true}, // a whole-segment "*" may stand for no segment, as in Azure
		{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/roleAssignments/delete", true},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/roleDefinitions/read", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/x/assign/action", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", true}, // what Managed Identity Operator exists to grant
		// Several stars and backtracking.
		{"a*b*c", "abc", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "abcbc", true},
		{"a*b*c", "acb", false},
		{"a**c", "ac", true},
		{"*a*", "bab", true},
		{"*a*", "bbb", false},
		{"*ab", "aab", true},
		{"*ab", "aaba", false},
	}
	for _, tc := range tests {
		if got := ActionMatches(tc.pattern, tc.action); got != tc.want {
			t.Errorf("ActionMatches(%q, %q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}

func TestBuiltInRolesWellFormed(t *testing.T) {
	roles := BuiltInRoles()
	if len(roles) != 17 {
		t.Fatalf("got %d built-in roles, want 17", len(roles))
	}
	seenName, seenGUID := map[string]bool{}, map[string]bool{}
	for _, r := range roles {
		if r.GUID == "" || r.Name == "" || r.Description == "" {
			t.Errorf("role %+v is missing a field", r)
		}
		if r.GUID != strings.ToLower(r.GUID) || len(r.GUID) != 36 {
			t.Errorf("role %s: bad GUID %q", r.Name, r.GUID)
		}
		if r.RoleType != "BuiltInRole" {
			t.Errorf("role %s: RoleType %q", r.Name, r.RoleType)
		}
		if len(r.AssignableScopes) != 1 || r.AssignableScopes[0] != "/" {
			t.Errorf("role %s: AssignableScopes %v", r.Name, r.AssignableScopes)
		}
		if seenName[strings.ToLower(r.Name)] || seenGUID[r.GUID] {
			t.Errorf("duplicate role %s %s", r.Name, r.GUID)
		}
		seenName[strings.ToLower(r.Name)], seenGUID[r.GUID] = true, true
		if len(r.Permissions) == 0 {
			t.Errorf("role %s has no permissions", r.Name)
		}
		b, err := json.Marshal(r.Permissions)
		if err != nil || strings.Contains(string(b), "null") {
			t.Errorf("role %s permissions JSON %s (%v): want [] for empty lists", r.Name, b, err)
		}
	}
}

func TestBuiltInRoleGUIDs(t *testing.T) {
	want := map[string]string{
		"Owner":                     "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
		"Contributor":               "b24988ac-6180-42a0-ab88-20f7382dd24c",
		"Reader":                    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
		"User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
		"Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
		"AcrPull":                                          "7f951dda-4ed3-4680-a7ca-43fe172d538d",
		"AcrPush":                                          "8311e382-0749-4cb8-b61a-304f252e45ec",
		"AcrDelete":                                        "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
		"AcrImageSigner":                                   "6cef56e8-d556-48e5-a04f-b8e64114680f",
		"AcrQuarantineReader":                              "cdda3590-29a3-44f6-95f2-9f980659eb04",
		"AcrQuarantineWriter":                              "c8d4ff99-41c3-41a8-9f60-21dfdad59608",
		"Container Registry Repository Reader":             "b93aa761-3e63-49ed-ac28-beffa264f7ac",
		"Container Registry Repository Writer":             "2a1e307c-b015-4ebd-883e-5b7698a07328",
		"Container Registry Repository Contributor":        "2efddaa5-3f1f-4df3-97df-af3f13818f4c",
		"Container Registry Repository Catalog Lister":     "bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7",
		"Container Registry Data Importer and Data Reader": "577a9874-89fd-4f24-9dbd-b5034d0ad23a",
		"Managed Identity Operator":                        "f1a07417-d97a-45cb-824c-7a7467783830",
	}
	for name, guid := range want {
		r, ok := RoleByName(name)
		if !ok || r.GUID != guid {
			t.Errorf("RoleByName(%q) = %q, %v; want GUID %s", name, r.GUID, ok, guid)
		}
	}
}

func TestRoleLookup(t *testing.T) {
	byName := []struct {
		name string
		want string
		ok   bool
	}{
		{"AcrPull", AcrPullGUID, true},
		{"acrpull", AcrPullGUID, true},
		{"ACRPUSH", AcrPushGUID, true},
		{"user access administrator", UserAccessAdministratorGUID, true},
		{" Reader ", ReaderGUID, true},
		{"AcrPul", "", false},
		{"", "", false},
	}
	for _, tc := range byName {
		r, ok := RoleByName(tc.name)
		if ok != tc.ok || r.GUID != tc.want {
			t.Errorf("RoleByName(%q) = %q, %v; want %q, %v", tc.name, r.GUID, ok, tc.want, tc.ok)
		}
	}
	byID := []struct {
		id   string
		want string
		ok   bool
	}{
		{"7f951dda-4ed3-4680-a7ca-43fe172d538d", AcrPullGUID, true},
		{"7F951DDA-4ED3-4680-A7CA-43FE172D538D", AcrPullGUID, true},
		{"/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d", AcrPullGUID, true},
		{"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c", ContributorGUID, true},
		{"/SUBSCRIPTIONS/s/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEDEFINITIONS/B24988AC-6180-42A0-AB88-20F7382DD24C/", ContributorGUID, true},
		{"/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/7f951dda-4ed3-4680-a7ca-43fe172d538d", "", false},
		{"/providers/Microsoft.Authorization/roleDefinitions/", "", false},
		{"00000000-0000-0000-0000-000000000000", "", false},
		{"", "", false},
	}
	for _, tc := range byID {
		r, ok := RoleByID(tc.id)
		if ok != tc.ok || r.GUID != tc.want {
			t.Errorf("RoleByID(%q) = %q, %v; want %q, %v", tc.id, r.GUID, ok, tc.want, tc.ok)
		}
	}
	if r, _ := RoleByName("AcrPull"); r.ID() != "/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d" {
		t.Errorf("ID() = %q", r.ID())
	}
}

func TestBuiltInRolesAreCopies(t *testing.T) {
	r, _ := RoleByName("AcrPull")
	r.Permissions[0].Actions[0] = "*"
	r.Name = "changed"
	all := BuiltInRoles()
	all[0].Permissions[0].Actions[0] = "nothing"
	if again, _ := RoleByName("AcrPull"); again.Allows(ActionRegistryPush, false) {
		t.Fatal("modifying a returned role changed the built-in AcrPull")
	}
	if owner, _ := RoleByName("Owner"); !owner.Allows(ActionRegistryPush, false) {
		t.Fatal("modifying BuiltInRoles() changed the built-in Owner")
	}
}

func TestRoleAllows(t *testing.T) {
	const (
		ctl  = false
		data = true
	)
	tests := []roleActionCase{
		// Owner
		{"Owner", ActionRoleAssignmentsWrite, ctl, true},
		{"Owner", ActionRoleAssignmentsDelete, ctl, true},
		{"Owner", ActionRegistryWrite, ctl, true},
		{"Owner", ActionRegistryPull, ctl, true},
		{"Owner", DataActionRepositoryContentRead, data, false},
		// Contributor
		{"Contributor", ActionRegistryWrite, ctl, true},
		{"Contributor", ActionRegistryPull, ctl, true},
		{"Contributor", ActionRegistryPush, ctl, true},
		{"Contributor", ActionRoleAssignmentsRead, ctl, true},
		{"Contributor", ActionRoleAssignmentsWrite, ctl, false},
		{"Contributor", ActionRoleAssignmentsDelete, ctl, false},
		{"Contributor", "microsoft.authorization/roleassignments/WRITE", ctl, false},
		{"Contributor", "Microsoft.Authorization/roleDefinitions/write", ctl, false},
		{"Contributor", "Microsoft.Authorization/elevateAccess/Action", ctl, false},
		{"Contributor", "Microsoft.Blueprint/blueprintAssignments/write", ctl, false},
		{"Contributor", "Microsoft.Compute/galleries/share/action", ctl, false},
		{"Contributor", "Microsoft.Subscription/cancel/action", ctl, false},
		{"Contributor", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", ctl, true},
		{"Contributor", DataActionRepositoryContentRead, data, false},
		// Reader
		{"Reader", ActionRegistryPull, ctl, true},
		{"Reader", ActionRegistryRead, ctl, true},
		{"Reader", ActionRoleAssignmentsRead, ctl, true},
		{"Reader", ActionRegistryPush, ctl, false},
		{"Reader", ActionRegistryWrite, ctl, false},
		{"Reader", ActionRoleAssignmentsWrite, ctl, false},
		{"Reader", DataActionRepositoryContentRead, data, false},
		// User Access Administrator
		{"User Access Administrator", ActionRoleAssignmentsWrite, ctl, true},
		{"User Access Administrator", ActionRoleAssignmentsDelete, ctl, true},
		{"User Access Administrator", "Microsoft.Authorization/roleDefinitions/write", ctl, true},
		{"User Access Administrator", "Microsoft.Support/supportTickets/write", ctl, true},
		{"User Access Administrator", ActionRegistryRead, ctl, true},
		{"User Access Administrator", ActionRegistryWrite, ctl, false},
		{"User Access Administrator", ActionRegistryPush, ctl, false},
		// RBAC Administrator
		{"Role Based Access Control Administrator", ActionRoleAssignmentsWrite, ctl, true},
		{"Role Based Access Control Administrator", ActionRoleAssignmentsDelete, ctl, true},
		{"Role Based Access Control Administrator", ActionRoleAssignmentsRead, ctl, true},
		{"Role Based Access Control Administrator", "Microsoft.Authorization/roleDefinitions/write", ctl, false},
		{"Role Based Access Control Administrator", ActionRegistryWrite, ctl, false},
		// AcrPull
		{"AcrPull", ActionRegistryPull, ctl, true},
		{"AcrPull", "MICROSOFT.CONTAINERREGISTRY/registries/PULL/read", ctl, true},
		{"AcrPull", ActionRegistryPush, ctl, false},
		{"AcrPull", ActionRegistryWrite, ctl, false},
		{"AcrPull", ActionRegistryRead, ctl, false},
		{"AcrPull", ActionRegistryPull, data, false},
		// AcrPush
		{"AcrPush", ActionRegistryPull, ctl, true},
		{"AcrPush", ActionRegistryPush, ctl, true},
		{"AcrPush", ActionRegistryArtifactsDel, ctl, false},
		{"AcrPush", ActionRegistryWrite, ctl, false},
		// AcrDelete
		{"AcrDelete", ActionRegistryArtifactsDel, ctl, true},
		{"AcrDelete", ActionRegistryPull, ctl, false},
		// AcrImageSigner
		{"AcrImageSigner", "Microsoft.ContainerRegistry/registries/sign/write", ctl, true},
		{"AcrImageSigner", "Microsoft.ContainerRegistry/registries/trustedCollections/write", data, true},
		{"AcrImageSigner", "Microsoft.ContainerRegistry/registries/trustedCollections/write", ctl, false},
		{"AcrImageSigner", "Microsoft.ContainerRegistry/registries/sign/write", data, false},
		// Quarantine
		{"AcrQuarantineReader", "Microsoft.ContainerRegistry/registries/quarantine/read", ctl, true},
		{"AcrQuarantineReader", "Microsoft.ContainerRegistry/registries/quarantinedArtifacts/read", data, true},
		{"AcrQuarantineReader", "Microsoft.ContainerRegistry/registries/quarantine/write", ctl, false},
		{"AcrQuarantineReader", "Microsoft.ContainerRegistry/registries/quarantinedArtifacts/write", data, false},
		{"AcrQuarantineWriter", "Microsoft.ContainerRegistry/registries/quarantine/write", ctl, true},
		{"AcrQuarantineWriter", "Microsoft.ContainerRegistry/registries/quarantinedArtifacts/write", data, true},
		{"AcrQuarantineWriter", ActionRegistryPull, ctl, false},
		// Repository roles: data actions only.
		{"Container Registry Repository Reader", DataActionRepositoryContentRead, data, true},
		{"Container Registry Repository Reader", DataActionRepositoryMetaRead, data, true},
		{"Container Registry Repository Reader", DataActionRepositoryContentRead, ctl, false},
		{"Container Registry Repository Reader", DataActionRepositoryContentWrite, data, false},
		{"Container Registry Repository Reader", DataActionCatalogRead, data, false},
		{"Container Registry Repository Reader", ActionRegistryPull, ctl, false},
		{"Container Registry Repository Writer", DataActionRepositoryContentRead, data, true},
		{"Container Registry Repository Writer", DataActionRepositoryContentWrite, data, true},
		{"Container Registry Repository Writer", DataActionRepositoryMetaWrite, data, true},
		{"Container Registry Repository Writer", DataActionRepositoryContentWrite, ctl, false},
		{"Container Registry Repository Writer", DataActionRepositoryContentDelete, data, false},
		{"Container Registry Repository Contributor", DataActionRepositoryContentDelete, data, true},
		{"Container Registry Repository Contributor", DataActionRepositoryMetaDelete, data, true},
		{"Container Registry Repository Contributor", DataActionRepositoryContentRead, data, true},
		{"Container Registry Repository Contributor", DataActionRepositoryContentDelete, ctl, false},
		{"Container Registry Repository Contributor", DataActionCatalogRead, data, false},
		{"Container Registry Repository Catalog Lister", DataActionCatalogRead, data, true},
		{"Container Registry Repository Catalog Lister", DataActionCatalogRead, ctl, false},
		{"Container Registry Repository Catalog Lister", DataActionRepositoryContentRead, data, false},
		// Data importer
		{"Container Registry Data Importer and Data Reader", "Microsoft.ContainerRegistry/registries/importImage/action", ctl, true},
		{"Container Registry Data Importer and Data Reader", ActionRegistryRead, ctl, true},
		{"Container Registry Data Importer and Data Reader", ActionRegistryPull, ctl, true},
		{"Container Registry Data Importer and Data Reader", ActionRegistryPush, ctl, false},
		{"Container Registry Data Importer and Data Reader", DataActionRepositoryContentRead, data, true},
		{"Container Registry Data Importer and Data Reader", DataActionCatalogRead, data, true},
		{"Container Registry Data Importer and Data Reader", DataActionRepositoryContentWrite, data, false},
		// Managed Identity Operator
		{"Managed Identity Operator", "Microsoft.ManagedIdentity/userAssignedIdentities/id1/assign/action", ctl, true},
		{"Managed Identity Operator", "Microsoft.ManagedIdentity/userAssignedIdentities/id1/read", ctl, true},
		{"Managed Identity Operator", "Microsoft.Resources/subscriptions/resourceGroups/read", ctl, true},
		{"Managed Identity Operator", "Microsoft.Authorization/roleAssignments/read", ctl, true},
		{"Managed Identity Operator", ActionRoleAssignmentsWrite, ctl, false},
		{"Managed Identity Operator", "Microsoft.ManagedIdentity/userAssignedIdentities/write", ctl, false},
		// Empty action is never allowed.
		{"Owner", "", ctl, false},
	}
	for _, tc := range tests {
		r, ok := RoleByName(tc.role)
		if !ok {
			t.Fatalf("no role %q", tc.role)
		}
		if got := r.Allows(tc.action, tc.data); got != tc.want {
			t.Errorf("%s.Allows(%q, data=%v) = %v, want %v", tc.role, tc.action, tc.data, got, tc.want)
		}
	}
}

func TestAllowsPerPermissionBlock(t *testing.T) {
	// NotActions apply to their own block only: another block may still
	// grant the action.
	r := RoleDefinition{Permissions: []Permission{
		{Actions: []string{"*"}, NotActions: []string{"Microsoft.Authorization/*"}},
		{Actions: []string{"Microsoft.Authorization/roleAssignments/read"}},
		{DataActions: []string{"Microsoft.Storage/*"}, NotDataActions: []string{"Microsoft.Storage/*/delete"}},
	}}
	tests := []struct {
		action string
		data   bool
		want   bool
	}{
		{"Microsoft.Authorization/roleAssignments/read", false, true},
		{"Microsoft.Authorization/roleAssignments/write", false, false},
		{"Microsoft.Compute/virtualMachines/write", false, true},
		{"Microsoft.Storage/blobs/read", true, true},
		{"Microsoft.Storage/blobs/delete", true, false},
		{"Microsoft.Compute/virtualMachines/write", true, false},
	}
	for _, tc := range tests {
		if got := r.Allows(tc.action, tc.data); got != tc.want {
			t.Errorf("Allows(%q, %v) = %v, want %v", tc.action, tc.data, got, tc.want)
		}
	}
}
