package cli

import (
	"context"
	"path"
	"strings"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/spf13/cobra"
)

const roleAssignmentTable = "[].{Principal:principalName, Role:roleDefinitionName, Scope:scope}"

// scopeFlags adds --scope and --resource-group/-g.
func scopeFlags(cmd *cobra.Command, scope, group *string) {
	cmd.Flags().StringVar(scope, "scope", "", "Scope at which the role assignment applies to, e.g. /subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/myGroup. Defaults to the subscription.")
	cmd.Flags().StringVarP(group, "resource-group", "g", "", "Use it only if the role or assignment was added at the level of a resource group.")
}

// assigneeInput is how a command names a principal.
type assigneeInput struct {
	assignee, objectID, principalType string
}

func (in *assigneeInput) flags(cmd *cobra.Command, withObjectID bool) {
	cmd.Flags().StringVar(&in.assignee, "assignee", "", "Represent a user, group, or service principal. Supported format: object id, user sign-in name, or service principal name.")
	if withObjectID {
		cmd.Flags().StringVar(&in.objectID, "assignee-object-id", "", "Use this parameter instead of '--assignee' to bypass Graph API invocation in case of insufficient privileges.")
		cmd.Flags().StringVar(&in.principalType, "assignee-principal-type", "", "Use with --assignee-object-id to avoid errors caused by propagation latency in Microsoft Graph. Allowed values: ForeignGroup, Group, ServicePrincipal, User.")
	}
}

// validate applies az's usage rules for the assignee arguments.
func (in *assigneeInput) validate() error {
	if (in.assignee == "") == (in.objectID == "") {
		return usageErrorf("usage error: --assignee STRING | --assignee-object-id GUID")
	}
	if in.principalType != "" {
		if in.objectID == "" {
			return usageErrorf("usage error: --assignee-principal-type must be used with --assignee-object-id")
		}
		t, err := choice("--assignee-principal-type", in.principalType, "ForeignGroup", principalGroup, principalServicePrincipal, principalUser)
		if err != nil {
			return err
		}
		in.principalType = t
	}
	return nil
}

// resolve returns the principal the arguments name.
func (in *assigneeInput) resolve(ctx context.Context, g graphAPI) (principal, error) {
	if in.objectID != "" {
		t := in.principalType
		if t == "" {
			t = principalTypeByID(ctx, g, in.objectID)
		}
		return principal{ID: in.objectID, Type: t}, nil
	}
	return resolveAssignee(ctx, g, in.assignee)
}

func newRoleAssignmentCreateCommand(a *app) *cobra.Command {
	var in assigneeInput
	var role, scope, group, description string
	cmd := a.command(spec{use: "create", short: "Create a new role assignment for a user, group, or service principal.", example: "  az role assignment create --assignee sp_name --role a_role --scope /subscriptions/{sub}/resourceGroups/{rg}\n" +
		"  az role assignment create --assignee-object-id 00000000-0000-0000-0000-000000000000 --assignee-principal-type ServicePrincipal --role AcrPull --scope {acrId}", needs: inSubscription, required: []string{"role"}, check: in.validate}, func(x *call) error {
		ctx, c, sub := x.ctx, x.c, x.sub
		sc, err := buildRoleScope(group, scope, sub.ID)
		if err != nil {
			return err
		}
		roleID, err := resolveRoleID(ctx, c, role, sc, sub.ID)
		if err != nil {
			return err
		}
		p, err := in.resolve(ctx, c)
		if err != nil {
			return err
		}
		ra, err := createRoleAssignment(ctx, c, sc, roleID, p.ID, p.Type, description)
		if err != nil {
			return err
		}
		return a.print(azmodel.Render(azmodel.RoleAssignment, ra), "")
	})
	in.flags(cmd, true)
	cmd.Flags().StringVar(&role, "role", "", "Role name or id.")
	cmd.Flags().StringVar(&description, "description", "", "Description of role assignment.")
	scopeFlags(cmd, &scope, &group)
	return cmd
}

// assignmentSearch is what az's _search_role_assignments filters on.
type assignmentSearch struct {
	sub              string
	scope            string // "" with --all
	assigneeID       string
	role             string
	includeInherited bool
	includeGroups    bool
}

// narrow sets the search's scope (none with all) and assignee from the
// command line.
func (s *assignmentSearch) narrow(ctx context.Context, c *client.Client, all bool, group, scope, assignee string) (err error) {
	if !all {
		if s.scope, err = buildRoleScope(group, scope, s.sub); err != nil {
			return err
		}
	}
	if assignee != "" {
		s.assigneeID, err = resolveAssigneeOrID(ctx, c, assignee)
	}
	return err
}

// lastSegment is the GUID at the end of a role definition ID.
func lastSegment(id string) string { return strings.ToLower(path.Base(id)) }

// search lists the role assignments matching s, as az does.
func (s assignmentSearch) run(ctx context.Context, c *client.Client) ([]map[string]any, error) {
	var filter string
	switch {
	case s.scope != "":
		filter = "atScope()"
		if s.assigneeID != "" && s.includeGroups {
			filter += " and assignedTo('" + s.assigneeID + "')"
		}
	case s.assigneeID != "" && s.includeGroups:
		filter = "assignedTo('" + s.assigneeID + "')"
	case s.assigneeID != "":
		filter = "principalId eq '" + s.assigneeID + "'"
	}
	items, err := listRoleAssignments(ctx, c, s.sub, s.scope, filter)
	if err != nil {
		return nil, err
	}
	roleGUID := ""
	if s.role != "" {
		roleScope := s.scope
		if roleScope == "" {
			roleScope = subscriptionPath(s.sub)
		}
		id, err := resolveRoleID(ctx, c, s.role, roleScope, s.sub)
		if err != nil {
			return nil, err
		}
		roleGUID = lastSegment(id)
	}
	out := []map[string]any{}
	for _, ra := range items {
		raScope := str(ra, "properties", "scope")
		if s.scope != "" && !strings.EqualFold(strings.TrimRight(raScope, "/"), strings.TrimRight(s.scope, "/")) &&
			!(s.includeInherited && resourceid.Within(raScope, s.scope)) {
			continue
		}
		if roleGUID != "" && lastSegment(str(ra, "properties", "roleDefinitionId")) != roleGUID {
			continue
		}
		if s.assigneeID != "" && !s.includeGroups && !strings.EqualFold(str(ra, "properties", "principalId"), s.assigneeID) {
			continue
		}
		out = append(out, ra)
	}
	return out, nil
}

// describeAssignments flattens assignments and adds az's roleDefinitionName
// and principalName.
func describeAssignments(ctx context.Context, c *client.Client, items []map[string]any, defScope string) []map[string]any {
	roleNames := map[string]string{}
	if defs, err := listRoleDefinitions(ctx, c, defScope, ""); err == nil {
		for _, d := range defs {
			roleNames[lastSegment(str(d, "id"))] = str(d, "properties", "roleName")
		}
	}
	var ids []string
	seen := map[string]bool{}
	for _, ra := range items {
		if id := str(ra, "properties", "principalId"); id != "" && !seen[strings.ToLower(id)] {
			seen[strings.ToLower(id)] = true
			ids = append(ids, id)
		}
	}
	names := map[string]string{}
	for start := 0; start < len(ids); start += 1000 {
		batch := ids[start:min(start+1000, len(ids))]
		objs, err := c.GetByIDs(ctx, batch)
		if err != nil {
			break
		}
		for _, o := range objs {
			names[strings.ToLower(o.ID)] = displayableName(o)
		}
	}
	out := make([]map[string]any, 0, len(items))
	for _, ra := range items {
		m := azmodel.Render(azmodel.RoleAssignment, ra)
		if n, ok := roleNames[lastSegment(str(ra, "properties", "roleDefinitionId"))]; ok {
			m["roleDefinitionName"] = n
		} else {
			m["roleDefinitionName"] = nil
		}
		// az prints "" for a principal that no longer exists.
		m["principalName"] = names[strings.ToLower(str(ra, "properties", "principalId"))]
		out = append(out, m)
	}
	return out
}

func newRoleAssignmentListCommand(a *app) *cobra.Command {
	var assignee, role, scope, group string
	var all, inherited, groups, classic bool
	cmd := a.command(spec{use: "list", short: "List role assignments.", long: "List role assignments. By default, only assignments scoped to the subscription are displayed. To view assignments scoped by resource or group, use `--all`.", needs: inSubscription}, func(x *call) error {
		ctx, c, sub := x.ctx, x.c, x.sub
		s := assignmentSearch{sub: sub.ID, role: role, includeInherited: inherited, includeGroups: groups}
		if all && (group != "" || scope != "") {
			return usageErrorf("group or scope are not required when --all is used")
		}
		if err := s.narrow(ctx, c, all, group, scope, assignee); err != nil {
			return err
		}
		items, err := s.run(ctx, c)
		if err != nil {
			return err
		}
		defScope := s.scope
		if defScope == "" {
			defScope = subscriptionPath(sub.ID)
		}
		return a.print(describeAssignments(ctx, c, items, defScope), roleAssignmentTable)
	})
	f := cmd.Flags()
	f.StringVar(&assignee, "assignee", "", "Represent a user, group, or service principal. Supported format: object id, user sign-in name, or service principal name.")
	f.StringVar(&role, "role", "", "Role name or id.")
	scopeFlags(cmd, &scope, &group)
	f.BoolVar(&all, "all", false, "Show all assignments under the current subscription.")
	f.BoolVar(&inherited, "include-inherited", false, "Include assignments applied on parent scopes.")
	f.BoolVar(&groups, "include-groups", false, "Include extra assignments to the groups of which the user is a member (transitively).")
	f.BoolVar(&classic, "include-classic-administrators", false, "Not supported by drydock; accepted and ignored.")
	return cmd
}

func newRoleAssignmentDeleteCommand(a *app) *cobra.Command {
	var ids []string
	var assignee, role, scope, group string
	var inherited, yes bool
	cmd := a.command(spec{use: "delete", short: "Delete role assignments.", needs: signedIn, check: func() error {
		if len(ids) > 0 && (assignee != "" || role != "" || group != "" || scope != "" || inherited) {
			return usageErrorf("When assignment ids are used, other parameter values are not required")
		}
		return nil
	}}, func(x *call) error {
		ctx, c := x.ctx, x.c
		if len(ids) > 0 {
			for _, id := range ids {
				if err := deleteRoleAssignment(ctx, c, id); err != nil {
					return err
				}
			}
			return nil
		}
		sub, err := a.sub()
		if err != nil {
			return err
		}
		if assignee == "" && role == "" && group == "" && scope == "" && !yes {
			ok, err := a.confirm("This will delete all role assignments under the subscription. Are you sure?", false)
			if err != nil || !ok {
				return err
			}
		}
		s := assignmentSearch{sub: sub.ID, role: role, includeInherited: inherited}
		if err = s.narrow(ctx, c, false, group, scope, assignee); err != nil {
			return err
		}
		items, err := s.run(ctx, c)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return errNoMatchedAssignments
		}
		for _, ra := range items {
			if err := deleteRoleAssignment(ctx, c, str(ra, "id")); err != nil {
				return err
			}
		}
		return nil
	})
	f := cmd.Flags()
	f.StringArrayVar(&ids, "ids", nil, "Space-separated role assignment ids.")
	f.StringVar(&assignee, "assignee", "", "Represent a user, group, or service principal. Supported format: object id, user sign-in name, or service principal name.")
	f.StringVar(&role, "role", "", "Role name or id.")
	scopeFlags(cmd, &scope, &group)
	f.BoolVar(&inherited, "include-inherited", false, "Include assignments applied on parent scopes.")
	yesFlag(f, &yes)
	return cmd
}

var errNoMatchedAssignments = &cliError{"No matched assignments were found to delete"}

// cliError is a plain error message, printed as is.
type cliError struct{ msg string }

func (e *cliError) Error() string { return e.msg }
