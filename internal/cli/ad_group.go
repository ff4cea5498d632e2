package cli

import (
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// groupMemberCommands are az ad group member's commands.
func groupMemberCommands(a *app) []*cobra.Command {
	return []*cobra.Command{
		memberCmd(a, "add", "Add a member to a group.", func(x *call, id, member string) error {
			body := map[string]string{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + member}
			return x.c.Graph(x.ctx, http.MethodPost, "/groups/"+esc(id)+"/members/$ref", nil, body, nil)
		}),
		memberCmd(a, "remove", "Remove a member from a group.", func(x *call, id, member string) error {
			return x.c.Graph(x.ctx, http.MethodDelete, "/groups/"+esc(id)+"/members/"+esc(member)+"/$ref", nil, nil, nil)
		}),
		memberCmd(a, "list", "Get the members of a group.", func(x *call, id, _ string) error {
			members, _, err := client.ListPath[client.Principal](x.ctx, x.c, "/groups/"+esc(id)+"/members", nil, true)
			if err != nil {
				return err
			}
			return a.print(rawsOf(members), "")
		}),
		memberCmd(a, "check", "Check if a member is in a group.", func(x *call, id, member string) error {
			var res struct {
				Value []string `json:"value"`
			}
			body := map[string][]string{"groupIds": {id}}
			if err := x.c.Graph(x.ctx, http.MethodPost, "/directoryObjects/"+esc(member)+"/checkMemberGroups", nil, body, &res); err != nil {
				return err
			}
			in := false
			for _, g := range res.Value {
				in = in || strings.EqualFold(g, id)
			}
			return a.print(map[string]bool{"value": in}, "")
		}),
	}
}

// memberCmd is a command of az ad group member: --group, and --member-id
// except for list; fn gets the group's object id.
func memberCmd(a *app, use, short string, fn func(x *call, id, member string) error) *cobra.Command {
	var member string
	s := spec{use: use, short: short}
	if use != "list" {
		s.required = []string{"member-id"}
	}
	cmd := groups.objectCmd(a, s, func(x *call, id string) error { return fn(x, id, member) })
	if use != "list" {
		cmd.Flags().StringVar(&member, "member-id", "", "The object ID of the contact, group, user, or service principal.")
	}
	return cmd
}

func newADGroupCreateCommand(a *app) *cobra.Command {
	g := client.NewGroup{SecurityEnabled: true}
	cmd := a.command(spec{use: "create", short: "Create a group.", example: "  az ad group create --display-name MyDisplay --mail-nickname MyDisplay",
		needs: signedIn, required: []string{"display-name", "mail-nickname"}}, func(x *call) error {
		return a.printObject(x.c.Groups().Create(x.ctx, g))
	})
	f := cmd.Flags()
	f.StringVar(&g.DisplayName, "display-name", "", "Object's display name.")
	f.StringVar(&g.MailNickname, "mail-nickname", "", "Mail nickname.")
	f.StringVar(&g.Description, "description", "", "Group description.")
	return cmd
}
