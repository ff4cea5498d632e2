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
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a group.",
		Example: "  az ad group create --display-name MyDisplay --mail-nickname MyDisplay",
		RunE: a.withClient([]string{"display-name", "mail-nickname"}, func(cmd *cobra.Command, c *client.Client) error {
			body := map[string]any{"displayName": displayName, "mailNickname": mailNickname, "securityEnabled": true, "mailEnabled": false}
			if description != "" {
				body["description"] = description
			}
			var g map[string]any
			if err := c.Graph(cmd.Context(), http.MethodPost, "/groups", nil, body, &g); err != nil {
				return err
			}
			return a.print(g, "")
		}),
	}
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "Object's display name.")
	f.StringVar(&mailNickname, "mail-nickname", "", "Mail nickname.")
	f.StringVar(&description, "description", "", "Group description.")
	return cmd
}

func newADGroupShowCommand(a *app) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Get the details of a group.",
		RunE: a.withClient([]string{"group"}, func(cmd *cobra.Command, c *client.Client) error {
			id, err := resolveGroup(cmd.Context(), c, group)
			if err != nil {
				return err
			}
			var g map[string]any
			if err := c.Graph(cmd.Context(), http.MethodGet, "/groups/"+esc(id), nil, nil, &g); err != nil {
				return err
			}
			return a.print(g, "")
		}),
	}
	groupFlag(cmd, &group)
	return cmd
}

func newADGroupDeleteCommand(a *app) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a group.",
		RunE: a.withClient([]string{"group"}, func(cmd *cobra.Command, c *client.Client) error {
			id, err := resolveGroup(cmd.Context(), c, group)
			if err != nil {
				return err
			}
			return c.Graph(cmd.Context(), http.MethodDelete, "/groups/"+esc(id), nil, nil, nil)
		}),
	}
	groupFlag(cmd, &group)
	return cmd
}

func newADGroupListCommand(a *app) *cobra.Command {
	var displayName, filter string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List groups in the directory.",
		RunE: a.withClient(nil, func(cmd *cobra.Command, c *client.Client) error {
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
			groups, _, err := c.GraphList(cmd.Context(), "/groups", q, true)
			if err != nil {
				return err
			}
			return a.print(groups, "")
		}),
	}
	cmd.Flags().StringVar(&displayName, "display-name", "", "Object's display name or its prefix.")
	cmd.Flags().StringVar(&filter, "filter", "", "OData filter.")
	return cmd
}

func newADGroupMemberAddCommand(a *app) *cobra.Command {
	var group, member string
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a member to a group.",
		RunE: a.withClient([]string{"group", "member-id"}, func(cmd *cobra.Command, c *client.Client) error {
			id, err := resolveGroup(cmd.Context(), c, group)
			if err != nil {
				return err
			}
			body := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + member}
			return c.Graph(cmd.Context(), http.MethodPost, "/groups/"+esc(id)+"/members/$ref", nil, body, nil)
		}),
	}
	groupFlag(cmd, &group)
	memberIDFlag(cmd, &member)
	return cmd
}

func newADGroupMemberRemoveCommand(a *app) *cobra.Command {
	var group, member string
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove a member from a group.",
		RunE: a.withClient([]string{"group", "member-id"}, func(cmd *cobra.Command, c *client.Client) error {
			id, err := resolveGroup(cmd.Context(), c, group)
			if err != nil {
				return err
			}
			return c.Graph(cmd.Context(), http.MethodDelete, "/groups/"+esc(id)+"/members/"+esc(member)+"/$ref", nil, nil, nil)
		}),
	}
	groupFlag(cmd, &group)
	memberIDFlag(cmd, &member)
	return cmd
}

func newADGroupMemberListCommand(a *app) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Get the members of a group.",
		RunE: a.withClient([]string{"group"}, func(cmd *cobra.Command, c *client.Client) error {
			id, err := resolveGroup(cmd.Context(), c, group)
			if err != nil {
				return err
			}
			members, _, err := c.GraphList(cmd.Context(), "/groups/"+esc(id)+"/members", nil, true)
			if err != nil {
				return err
			}
			return a.print(members, "")
		}),
	}
	groupFlag(cmd, &group)
	return cmd
}

func newADGroupMemberCheckCommand(a *app) *cobra.Command {
	var group, member string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check if a member is in a group.",
		RunE: a.withClient([]string{"group", "member-id"}, func(cmd *cobra.Command, c *client.Client) error {
			id, err := resolveGroup(cmd.Context(), c, group)
			if err != nil {
				return err
			}
			var res struct {
				Value []string `json:"value"`
			}
			body := map[string]any{"groupIds": []string{id}}
			if err := c.Graph(cmd.Context(), http.MethodPost, "/directoryObjects/"+esc(member)+"/checkMemberGroups", nil, body, &res); err != nil {
				return err
			}
			in := false
			for _, g := range res.Value {
				in = in || strings.EqualFold(g, id)
			}
			return a.print(map[string]any{"value": in}, "")
		}),
	}
	groupFlag(cmd, &group)
	memberIDFlag(cmd, &member)
	return cmd
}
