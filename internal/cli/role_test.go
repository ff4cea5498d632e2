package cli

import (
	"errors"
	"testing"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
)

func TestBuildRoleScope(t *testing.T) {
	tests := []struct {
		group, scope, want string
		usage              bool
	}{
		{"", "", "/subscriptions/s", false},
		{"rg", "", "/subscriptions/s/resourceGroups/rg", false},
		{"", "/subscriptions/s/resourceGroups/rg/providers/P/t/n", "/subscriptions/s/resourceGroups/rg/providers/P/t/n", false},
		{"", "/", "/", false},
		{"rg", "/subscriptions/s", "", true},
		{"", "subscriptions/s", "", true},
	}
	for _, tt := range tests {
		got, err := buildRoleScope(tt.group, tt.scope, "s")
		var ue *usageError
		if got != tt.want || errors.As(err, &ue) != tt.usage {
			t.Errorf("buildRoleScope(%q, %q) = %q, %v", tt.group, tt.scope, got, err)
		}
	}
	if scopePrefix("/") != "" || scopePrefix("/subscriptions/s/") != "/subscriptions/s" {
		t.Error("scopePrefix")
	}
}

func TestAssigneeInputValidate(t *testing.T) {
	tests := []struct {
		in       assigneeInput
		wantType string
		err      string
	}{
		{assigneeInput{assignee: "a"}, "", ""},
		{assigneeInput{objectID: "o", principalType: "serviceprincipal"}, "ServicePrincipal", ""},
		{assigneeInput{}, "", "usage error: --assignee STRING | --assignee-object-id GUID"},
		{assigneeInput{assignee: "a", objectID: "o"}, "", "usage error: --assignee STRING | --assignee-object-id GUID"},
		{assigneeInput{assignee: "a", principalType: "User"}, "", "usage error: --assignee-principal-type must be used with --assignee-object-id"},
		{assigneeInput{objectID: "o", principalType: "Robot"}, "", "'Robot' is not a valid value for '--assignee-principal-type'. Allowed values: ForeignGroup, Group, ServicePrincipal, User."},
	}
	for _, tt := range tests {
		in := tt.in
		err := in.validate()
		if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) || (err == nil && in.principalType != tt.wantType) {
			t.Errorf("validate(%+v) = %v (type %q)", tt.in, err, in.principalType)
		}
	}
}

func TestRoleAssignmentShape(t *testing.T) {
	got := azmodel.Render(azmodel.RoleAssignment, map[string]any{"id": "i", "name": "n", "type": "Microsoft.Authorization/roleAssignments",
		"properties": map[string]any{"principalId": "p", "roleDefinitionId": "r", "scope": "/"}})
	for _, k := range []string{"principalId", "roleDefinitionId", "scope", "condition", "conditionVersion", "description", "delegatedManagedIdentityResourceId", "createdOn"} {
		if _, ok := got[k]; !ok {
			t.Errorf("missing %s in %v", k, got)
		}
	}
	if _, ok := got["properties"]; ok {
		t.Error("properties not flattened")
	}
	if _, ok := got["tags"]; ok {
		t.Error("role assignment got tags")
	}
}
