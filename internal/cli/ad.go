package cli

import (
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

func newADCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "ad", Short: "Manage Microsoft Entra ID (drydock's directory) entities needed for role-based access control."}
	user := &cobra.Command{Use: "user", Short: "Manage Microsoft Entra users."}
	user.AddCommand(newADUserCreateCommand(a), newADUserShowCommand(a), newADUserDeleteCommand(a), newADUserListCommand(a))
	signedIn := &cobra.Command{Use: "signed-in-user", Short: "Show graph information about the currently logged-in user."}
	signedIn.AddCommand(newADSignedInUserShowCommand(a))
	cmd.AddCommand(user, signedIn, newADSPCommand(a), newADGroupCommand(a))
	return cmd
}

// andFilter joins OData filter clauses.
func andFilter(clauses []string) string { return strings.Join(clauses, " and ") }

func newADUserCreateCommand(a *app) *cobra.Command {
	var displayName, upn, password, mailNickname string
	var forceChange triBool
	cmd := a.command(spec{use: "create", short: "Create a user.", example: "  az ad user create --display-name Alice --user-principal-name alice@contoso.onmicrosoft.com --password 'P@ssw0rd1'", needs: signedIn, required: []string{"display-name", "password", "user-principal-name"}}, func(x *call) error {
		c := x.c
		if mailNickname == "" {
			mailNickname, _, _ = strings.Cut(upn, "@")
		}
		body := map[string]any{
			"accountEnabled":    true,
			"displayName":       displayName,
			"userPrincipalName": upn,
			"mailNickname":      mailNickname,
			"passwordProfile":   map[string]any{"password": password, "forceChangePasswordNextSignIn": forceChange.set && forceChange.val},
		}
		var user map[string]any
		if err := c.Graph(x.ctx, http.MethodPost, "/users", nil, body, &user); err != nil {
			return err
		}
		return a.print(user, "")
	})
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "Object's display name or its prefix.")
	f.StringVar(&upn, "user-principal-name", "", "The user principal name (someuser@contoso.com).")
	f.StringVar(&password, "password", "", "The password for the user.")
	f.StringVar(&mailNickname, "mail-nickname", "", "Mail alias. Defaults to user principal name.")
	addTriBool(f, &forceChange, "force-change-password-next-sign-in", "Marks this user as needing to update their password the next time they authenticate.")
	return cmd
}

func newADUserShowCommand(a *app) *cobra.Command {
	var id string
	cmd := a.command(spec{use: "show", short: "Get the details of a user.", needs: signedIn, required: []string{"id"}}, func(x *call) error {
		c := x.c
		var user map[string]any
		if err := c.Graph(x.ctx, http.MethodGet, "/users/"+esc(id), nil, nil, &user); err != nil {
			return err
		}
		return a.print(user, "")
	})
	cmd.Flags().StringVar(&id, "id", "", "User's object id or principal name.")
	return cmd
}

func newADUserDeleteCommand(a *app) *cobra.Command {
	var id string
	cmd := a.command(spec{use: "delete", short: "Delete a user.", needs: signedIn, required: []string{"id"}}, func(x *call) error {
		c := x.c
		return c.Graph(x.ctx, http.MethodDelete, "/users/"+esc(id), nil, nil, nil)
	})
	cmd.Flags().StringVar(&id, "id", "", "User's object id or principal name.")
	return cmd
}

func newADUserListCommand(a *app) *cobra.Command {
	var displayName, upn, filter string
	cmd := a.command(spec{use: "list", short: "List users.", needs: signedIn}, func(x *call) error {
		c := x.c
		var clauses []string
		if filter != "" {
			clauses = append(clauses, filter)
		}
		if displayName != "" {
			clauses = append(clauses, "startswith(displayName,"+client.ODataString(displayName)+")")
		}
		if upn != "" {
			clauses = append(clauses, "userPrincipalName eq "+client.ODataString(upn))
		}
		var q map[string][]string
		if len(clauses) > 0 {
			q = filterQuery(andFilter(clauses))
		}
		users, _, err := c.GraphList(x.ctx, "/users", q, true)
		if err != nil {
			return err
		}
		return a.print(users, "")
	})
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "Object's display name or its prefix.")
	f.StringVar(&upn, "upn", "", "User principal name.")
	f.StringVar(&filter, "filter", "", "OData filter, e.g. --filter \"displayname eq 'test' and servicePrincipalType eq 'Application'\".")
	return cmd
}

func newADSignedInUserShowCommand(a *app) *cobra.Command {
	return a.command(spec{use: "show", short: "Get the details for the currently logged-in user.", needs: signedIn}, func(x *call) error {
		c := x.c
		var me map[string]any
		if err := c.Graph(x.ctx, http.MethodGet, "/me", nil, nil, &me); err != nil {
			return err
		}
		return a.print(me, "")
	})
}
