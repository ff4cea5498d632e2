package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

const (
	authzProvider         = "/providers/Microsoft.Authorization"
	roleDefinitionsSuffix = authzProvider + "/roleDefinitions"
	roleAssignmentsSuffix = authzProvider + "/roleAssignments"
	roleDefinitionTable   = "[].{Name:roleName, Type:type, Description:description}"
)

// scopePrefix turns a scope into the path prefix extension resources hang
// below ("/" becomes "").
func scopePrefix(scope string) string { return strings.TrimRight(scope, "/") }

// buildRoleScope is az's _build_role_scope: --scope, else the resource
// group, else the subscription.
func buildRoleScope(group, scope, sub string) (string, error) {
	switch {
	case scope != "" && group != "":
		return "", usageErrorf("Resource group '%s' is redundant because 'scope' is supplied", group)
	case scope != "":
		if !strings.HasPrefix(scope, "/") {
			return "", usageErrorf("Invalid scope '%s'. A scope must start with '/'.", scope)
		}
		return scope, nil
	case group != "":
		return groupPath(sub, group), nil
	}
	return subscriptionPath(sub), nil
}

func authzRequest(method, path string, body any) client.Request {
	return client.Request{Method: method, Path: path, APIVersion: client.APIVersionAuthorization, Body: body}
}

var roleDefinitionIDRE = regexp.MustCompile(`(?i)^/subscriptions/.+/providers/Microsoft\.Authorization/roleDefinitions/`)

// resolveRoleID is az's _resolve_role_id: a role definition ID as is, a
// GUID as a definition of the subscription, otherwise a role name looked up
// at scope.
func resolveRoleID(ctx context.Context, c *client.Client, role, scope, sub string) (string, error) {
	if roleDefinitionIDRE.MatchString(role) || strings.HasPrefix(strings.ToLower(role), strings.ToLower(roleDefinitionsSuffix)+"/") {
		return role, nil
	}
	if isGUID(role) {
		return subscriptionPath(sub) + roleDefinitionsSuffix + "/" + role, nil
	}
	defs, err := listRoleDefinitions(ctx, c, scope, "roleName eq "+client.ODataString(role))
	if err != nil {
		return "", err
	}
	def, err := single(defs, fmt.Errorf("Role '%s' doesn't exist.", role), func() error {
		ids := make([]string, 0, len(defs))
		for _, d := range defs {
			ids = append(ids, str(d, "id"))
		}
		return fmt.Errorf("More than one role matches the given name '%s'. Please pick an id from '%s'", role, strings.Join(ids, "', '"))
	})
	return str(def, "id"), err
}

func newRoleDefinitionListCommand(a *app) *cobra.Command {
	var name, scope string
	var customOnly triBool
	cmd := a.command(spec{use: "list", short: "List role definitions.", needs: inSubscription}, func(x *call) error {
		ctx, c, sub := x.ctx, x.c, x.sub
		if scope == "" {
			scope = subscriptionPath(sub.ID)
		}
		var defs []map[string]any
		var err error
		switch {
		case isGUID(name):
			d, err := getRoleDefinition(ctx, c, scope, name)
			if err != nil {
				return err
			}
			defs = []map[string]any{d}
		default:
			var filter string
			if name != "" {
				filter = "roleName eq " + client.ODataString(name)
			}
			if defs, err = listRoleDefinitions(ctx, c, scope, filter); err != nil {
				return err
			}
		}
		out := make([]map[string]any, 0, len(defs))
		for _, d := range defs {
			if customOnly.set && customOnly.val && !strings.EqualFold(str(d, "properties", "type"), "CustomRole") {
				continue
			}
			out = append(out, azmodel.Render(azmodel.RoleDefinition, d))
		}
		return a.print(out, roleDefinitionTable)
	})
	f := cmd.Flags()
	f.StringVarP(&name, "name", "n", "", "A role's name or id, e.g. 'Reader'.")
	f.StringVar(&scope, "scope", "", "Scope at which the role definitions are listed. Defaults to the subscription.")
	addTriBool(f, &customOnly, "custom-role-only", "Custom roles only (vs. built-in ones).")
	return cmd
}
