package cli

import (
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

func newADGroupCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage Microsoft Entra groups."}
	member := &cobra.Command{Use: "member", Short: "Manage Microsoft Entra group membership."}
	member.AddCommand(
		newADGroupMemberAddCommand(a),
		newADGroupMemberRemoveCommand(a),
		newADGroupMemberListCommand(a),
		newADGroupMemberCheckCommand(a),
	)
	cmd.AddCommand(
		newADGroupCreateCommand(a),
		newADGroupShowCommand(a),
		newADGroupDeleteCommand(a),
		newADGroupListCommand(a),
		member,
	)
	return cmd
}

func groupFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVarP(v, "group", "g", "", "Group's object id or display name(prefix also works if there is a unique match).")
}

func memberIDFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "member-id", "", "The object ID of the contact, group, user, or service principal.")
}

func newADGroupCreateCommand(a *app) *cobra.Command {
	var displayName, mailNickname, description string
	cmd := a.command(spec{use: "create", short: "Create a group.", example: "  az ad group create --display-name MyDisplay --mail-nickname MyDisplay", needs: signedIn, required: []string{"display-name", "mail-nickname"}}, func(x *call) error {
		c := x.c
		body := map[string]any{"displayName": displayName, "mailNickname": mailNickname, "securityEnabled": true, "mailEnabled": false}
		if description != "" {
			body["description"] = description
		}
		var g map[string]any
		if err := c.Graph(x.ctx, http.MethodPost, "/groups", nil, body, &g); err != nil {
			return err
		}
		return a.print(g, "")
	})
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "Object's display name.")
	f.StringVar(&mailNickname, "mail-nickname", "", "Mail nickname.")
	f.StringVar(&description, "description", "", "Group description.")
	return cmd
}

func newADGroupShowCommand(a *app) *cobra.Command {
	var group string
	cmd := a.command(spec{use: "show", short: "Get the details of a group.", needs: signedIn, required: []string{"group"}}, func(x *call) error {
		c := x.c
		id, err := resolveGroup(x.ctx, c, group)
		if err != nil {
			return err
		}
		var g map[string]any
		if err := c.Graph(x.ctx, http.MethodGet, "/groups/"+esc(id), nil, nil, &g); err != nil {
			return err
		}
		return a.print(g, "")
	})
	groupFlag(cmd, &group)
	return cmd
}

func newADGroupDeleteCommand(a *app) *cobra.Command {
	var group string
	cmd := a.command(spec{use: "delete", short: "Delete a group.", needs: signedIn, required: []string{"group"}}, func(x *call) error {
		c := x.c
		id, err := resolveGroup(x.ctx, c, group)
		if err != nil {
			return err
		}
		return c.Graph(x.ctx, http.MethodDelete, "/groups/"+esc(id), nil, nil, nil)
	})
	groupFlag(cmd, &group)
	return cmd
}

func newADGroupListCommand(a *app) *cobra.Command {
	var displayName, filter string
	cmd := a.command(spec{use: "list", short: "List groups in the directory.", needs: signedIn}, func(x *call) error {
		c := x.c
		var clauses []string
		if filter != "" {
			clauses = append(clauses, filter)
		}
		if displayName != "" {
			clauses = append(clauses, "startswith(displayName,"+client.ODataString(displayName)+")")
		}
		var q map[string][]string
		if len(clauses) > 0 {
			q = filterQuery(andFilter(clauses))
		}
		groups, _, err := c.GraphList(x.ctx, "/groups", q, true)
		if err != nil {
			return err
		}
		return a.print(groups, "")
	})
	cmd.Flags().StringVar(&displayName, "display-name", "", "Object's display name or its prefix.")
	cmd.Flags().StringVar(&filter, "filter", "", "OData filter.")
	return cmd
}

func newADGroupMemberAddCommand(a *app) *cobra.Command {
	var group, member string
	cmd := a.command(spec{use: "add", short: "Add a member to a group.", needs: signedIn, required: []string{"group", "member-id"}}, func(x *call) error {
		c := x.c
		id, err := resolveGroup(x.ctx, c, group)
		if err != nil {
			return err
		}
		body := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + member}
		return c.Graph(x.ctx, http.MethodPost, "/groups/"+esc(id)+"/members/$ref", nil, body, nil)
	})
	groupFlag(cmd, &group)
	memberIDFlag(cmd, &member)
	return cmd
}

func newADGroupMemberRemoveCommand(a *app) *cobra.Command {
	var group, member string
	cmd := a.command(spec{use: "remove", short: "Remove a member from a group.", needs: signedIn, required: []string{"group", "member-id"}}, func(x *call) error {
		c := x.c
		id, err := resolveGroup(x.ctx, c, group)
		if err != nil {
			return err
		}
		return c.Graph(x.ctx, http.MethodDelete, "/groups/"+esc(id)+"/members/"+esc(member)+"/$ref", nil, nil, nil)
	})
	groupFlag(cmd, &group)
	memberIDFlag(cmd, &member)
	return cmd
}

func newADGroupMemberListCommand(a *app) *cobra.Command {
	var group string
	cmd := a.command(spec{use: "list", short: "Get the members of a group.", needs: signedIn, required: []string{"group"}}, func(x *call) error {
		c := x.c
		id, err := resolveGroup(x.ctx, c, group)
		if err != nil {
			return err
		}
		members, _, err := c.GraphList(x.ctx, "/groups/"+esc(id)+"/members", nil, true)
		if err != nil {
			return err
		}
		return a.print(members, "")
	})
	groupFlag(cmd, &group)
	return cmd
}

func newADGroupMemberCheckCommand(a *app) *cobra.Command {
	var group, member string
	cmd := a.command(spec{use: "check", short: "Check if a member is in a group.", needs: signedIn, required: []string{"group", "member-id"}}, func(x *call) error {
		c := x.c
		id, err := resolveGroup(x.ctx, c, group)
		if err != nil {
			return err
		}
		var res struct {
			Value []string `json:"value"`
		}
		body := map[string]any{"groupIds": []string{id}}
		if err := c.Graph(x.ctx, http.MethodPost, "/directoryObjects/"+esc(member)+"/checkMemberGroups", nil, body, &res); err != nil {
			return err
		}
		in := false
		for _, g := range res.Value {
			in = in || strings.EqualFold(g, id)
		}
		return a.print(map[string]any{"value": in}, "")
	})
	groupFlag(cmd, &group)
	memberIDFlag(cmd, &member)
	return cmd
}
