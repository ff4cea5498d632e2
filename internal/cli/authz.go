package cli

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/google/uuid"
)

// The role definitions and role assignments the CLI reads and writes, through
// the Azure SDK for Go's armauthorization clients; results are the raw ARM
// JSON az renders. scope is a resource ID without a trailing slash
// (scopePrefix).

// listRoleDefinitions lists the role definitions visible at scope,
// filtered by an OData filter when not empty.
func listRoleDefinitions(ctx context.Context, c *client.Client, scope, filter string) ([]map[string]any, error) {
	s := c.SDK("", client.APIVersionAuthorization)
	defs, err := armauthorization.NewRoleDefinitionsClient(s.Cred, s.Options)
	if err != nil {
		return nil, err
	}
	o := &armauthorization.RoleDefinitionsClientListOptions{}
	if filter != "" {
		o.Filter = to.Ptr(filter)
	}
	return client.RawPages(ctx, c, defs.NewListPager(scopePrefix(scope), o))
}

// getRoleDefinition reads a role definition by GUID at scope.
func getRoleDefinition(ctx context.Context, c *client.Client, scope, id string) (map[string]any, error) {
	s := c.SDK("", client.APIVersionAuthorization)
	defs, err := armauthorization.NewRoleDefinitionsClient(s.Cred, s.Options)
	if err != nil {
		return nil, err
	}
	return c.Raw(ctx, func(ctx context.Context) error { _, err := defs.Get(ctx, scopePrefix(scope), id, nil); return err })
}

// roleAssignments is the SDK client of a subscription's role assignments.
func roleAssignments(c *client.Client, sub string) (*armauthorization.RoleAssignmentsClient, error) {
	s := c.SDK(sub, client.APIVersionAuthorization)
	return armauthorization.NewRoleAssignmentsClient(s.Sub, s.Cred, s.Options)
}

// createRoleAssignment creates a role assignment with a new name.
func createRoleAssignment(ctx context.Context, c *client.Client, scope, roleID, principalID, principalType, description string) (map[string]any, error) {
	ras, err := roleAssignments(c, "")
	if err != nil {
		return nil, err
	}
	props := &armauthorization.RoleAssignmentProperties{RoleDefinitionID: to.Ptr(roleID), PrincipalID: to.Ptr(principalID)}
	if principalType != "" {
		props.PrincipalType = to.Ptr(armauthorization.PrincipalType(principalType))
	}
	if description != "" {
		props.Description = to.Ptr(description)
	}
	return c.Raw(ctx, func(ctx context.Context) error {
		_, err := ras.Create(ctx, scopePrefix(scope), uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: props}, nil)
		return err
	})
}

// deleteRoleAssignment deletes a role assignment by ID.
func deleteRoleAssignment(ctx context.Context, c *client.Client, id string) error {
	ras, err := roleAssignments(c, "")
	if err == nil {
		_, err = c.Raw(ctx, func(ctx context.Context) error { _, err := ras.DeleteByID(ctx, id, nil); return err })
	}
	return err
}

// listRoleAssignments lists the role assignments at and above scope (those
// of the subscription sub when scope is empty), filtered by an OData filter
// when not empty.
func listRoleAssignments(ctx context.Context, c *client.Client, sub, scope, filter string) ([]map[string]any, error) {
	ras, err := roleAssignments(c, sub)
	if err != nil {
		return nil, err
	}
	var f *string
	if filter != "" {
		f = to.Ptr(filter)
	}
	if scope == "" {
		return client.RawPages(ctx, c, ras.NewListForSubscriptionPager(&armauthorization.RoleAssignmentsClientListForSubscriptionOptions{Filter: f}))
	}
	return client.RawPages(ctx, c, ras.NewListForScopePager(scopePrefix(scope), &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: f}))
}
