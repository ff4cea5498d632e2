package cli

import (
	"context"
	"net/http"
	"time"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

func newADSPCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "sp", Short: "Manage Microsoft Entra service principals."}
	cmd.AddCommand(
		newADSPCreateForRBACCommand(a),
		newADSPCreateCommand(a),
		newADSPShowCommand(a),
		newADSPDeleteCommand(a),
		newADSPListCommand(a),
	)
	return cmd
}

// credentialWarning is what az prints after showing a new secret.
const credentialWarning = "The output includes credentials that you must protect. Be sure that you do not include these credentials in your code or check the credentials into your source control. For more information, see https://aka.ms/azadsp-cli"

// roleAssignmentRetries bounds the retries of a role assignment whose new
// principal the authorization service does not know yet.
const roleAssignmentRetries = 5

func newADSPCreateForRBACCommand(a *app) *cobra.Command {
	var name, role string
	var scopes []string
	var years int
	cmd := a.command(spec{use: "create-for-rbac", short: "Create an application and its associated service principal, optionally configuring the service principal's RBAC role assignments.", example: "  az ad sp create-for-rbac -n MyApp --role AcrPull --scopes /subscriptions/{sub}/resourceGroups/{rg}\n" +
		"  az ad sp create-for-rbac", needs: local}, func(x *call) error {
		if (role == "") != (len(scopes) == 0) {
			return usageErrorf("Usage error: To create role assignments, specify both --role and --scopes.")
		}
		if years <= 0 {
			return usageErrorf("argument --years: the value must be a positive integer")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		ctx := x.ctx
		if name == "" {
			name = "azure-cli-" + time.Now().UTC().Format("2006-01-02-15-04-05")
		}
		res, err := a.createForRBAC(ctx, c, name, years)
		if err != nil {
			return err
		}
		if role != "" {
			sub, err := a.sub()
			if err != nil {
				return err
			}
			for _, scope := range scopes {
				a.warn("Creating '%s' role assignment under scope '%s'", role, scope)
				roleID, err := resolveRoleID(ctx, c, role, scope, sub.ID)
				if err != nil {
					return err
				}
				if err := a.assignWithRetry(ctx, c, scope, roleID, res.spID); err != nil {
					return err
				}
			}
		}
		a.warn("%s", credentialWarning)
		return a.print(map[string]any{"appId": res.appID, "displayName": name, "password": res.password, "tenant": res.tenant}, "")
	})
	f := cmd.Flags()
	f.StringVarP(&name, "name", "n", "", "Display name of the service principal. Defaults to azure-cli-%Y-%m-%d-%H-%M-%S.")
	f.StringVar(&name, "display-name", "", "Display name of the service principal (alias of --name).")
	f.StringVar(&role, "role", "", "Role of the service principal.")
	f.StringArrayVar(&scopes, "scopes", nil, "Space-separated list of scopes the service principal's role assignment applies to.")
	f.IntVar(&years, "years", 1, "Number of years for which the credentials will be valid.")
	return cmd
}

type rbacResult struct {
	appID, spID, password, tenant string
}

// createForRBAC finds or creates the application, adds a password and finds
// or creates the service principal.
func (a *app) createForRBAC(ctx context.Context, c *client.Client, name string, years int) (rbacResult, error) {
	var res rbacResult
	apps, err := lookup(ctx, c, "/applications", "displayName eq "+client.ODataString(name), false)
	if err != nil {
		return res, err
	}
	var app map[string]any
	if len(apps) > 0 {
		app = apps[0]
		a.warn("Found an existing application instance: (id) %s. We will patch it.", str(app, "id"))
	} else if err := c.Graph(ctx, http.MethodPost, "/applications", nil, map[string]any{"displayName": name}, &app); err != nil {
		return res, err
	}
	res.appID = str(app, "appId")
	end := time.Now().UTC().AddDate(years, 0, 0).Format(time.RFC3339)
	var pw map[string]any
	body := map[string]any{"passwordCredential": map[string]any{"displayName": "rbac", "endDateTime": end}}
	if err := c.Graph(ctx, http.MethodPost, "/applications/"+esc(str(app, "id"))+"/addPassword", nil, body, &pw); err != nil {
		return res, err
	}
	res.password = str(pw, "secretText")
	sps, err := lookup(ctx, c, "/servicePrincipals", "appId eq "+client.ODataString(res.appID), false)
	if err != nil {
		return res, err
	}
	var sp map[string]any
	if len(sps) > 0 {
		sp = sps[0]
	} else if err := c.Graph(ctx, http.MethodPost, "/servicePrincipals", nil, map[string]any{"appId": res.appID}, &sp); err != nil {
		return res, err
	}
	res.spID = str(sp, "id")
	res.tenant = str(sp, "appOwnerOrganizationId")
	if cr := c.Credentials(); cr != nil && cr.TenantID != "" {
		res.tenant = cr.TenantID
	}
	return res, nil
}

// assignWithRetry creates a role assignment for a new service principal,
// retrying while the authorization service does not know it yet.
func (a *app) assignWithRetry(ctx context.Context, c *client.Client, scope, roleID, principalID string) error {
	for attempt := 1; ; attempt++ {
		_, err := createRoleAssignment(ctx, c, scope, roleID, principalID, principalServicePrincipal, "")
		if client.HasCode(err, "RoleAssignmentExists") {
			a.warn("  Role assignment already exists.")
			return nil
		}
		if err == nil || !client.HasCode(err, "PrincipalNotFound") || attempt >= roleAssignmentRetries {
			return err
		}
		a.warn("  Retrying role assignment creation: %d/%d", attempt, roleAssignmentRetries)
		if err := a.sleep(ctx); err != nil {
			return err
		}
	}
}

func newADSPCreateCommand(a *app) *cobra.Command {
	var id string
	cmd := a.command(spec{use: "create", short: "Create a service principal for an application.", needs: signedIn, required: []string{"id"}}, func(x *call) error {
		c := x.c
		var sp map[string]any
		if err := c.Graph(x.ctx, http.MethodPost, "/servicePrincipals", nil, map[string]any{"appId": id}, &sp); err != nil {
			return err
		}
		return a.print(sp, "")
	})
	cmd.Flags().StringVar(&id, "id", "", "Identifier uri, application id, or object id of the associated application.")
	return cmd
}

func newADSPShowCommand(a *app) *cobra.Command {
	var id string
	cmd := a.command(spec{use: "show", short: "Get the details of a service principal.", needs: signedIn, required: []string{"id"}}, func(x *call) error {
		c := x.c
		oid, err := resolveServicePrincipal(x.ctx, c, id)
		if err != nil {
			return err
		}
		var sp map[string]any
		if err := c.Graph(x.ctx, http.MethodGet, "/servicePrincipals/"+esc(oid), nil, nil, &sp); err != nil {
			return err
		}
		return a.print(sp, "")
	})
	cmd.Flags().StringVar(&id, "id", "", "Service principal name, or object id.")
	return cmd
}

func newADSPDeleteCommand(a *app) *cobra.Command {
	var id string
	cmd := a.command(spec{use: "delete", short: "Delete a service principal.", needs: signedIn, required: []string{"id"}}, func(x *call) error {
		c := x.c
		oid, err := resolveServicePrincipal(x.ctx, c, id)
		if err != nil {
			return err
		}
		return c.Graph(x.ctx, http.MethodDelete, "/servicePrincipals/"+esc(oid), nil, nil, nil)
	})
	cmd.Flags().StringVar(&id, "id", "", "Service principal name, or object id.")
	return cmd
}

func newADSPListCommand(a *app) *cobra.Command {
	var displayName, spn, filter string
	var all bool
	cmd := a.command(spec{use: "list", short: "List service principals.", needs: signedIn}, func(x *call) error {
		c := x.c
		var clauses []string
		if filter != "" {
			clauses = append(clauses, filter)
		}
		if displayName != "" {
			clauses = append(clauses, "startswith(displayName,"+client.ODataString(displayName)+")")
		}
		if spn != "" {
			clauses = append(clauses, "servicePrincipalNames/any(c:c eq "+client.ODataString(spn)+")")
		}
		var q map[string][]string
		if len(clauses) > 0 {
			q = filterQuery(andFilter(clauses))
		} else if !all {
			a.warn("The result is not complete. You can still use '--all' to get all of them with long latency expected, or provide a filter through command arguments")
		}
		sps, _, err := c.GraphList(x.ctx, "/servicePrincipals", q, all || len(clauses) > 0)
		if err != nil {
			return err
		}
		return a.print(sps, "")
	})
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "Object's display name or its prefix.")
	f.StringVar(&spn, "spn", "", "Service principal name.")
	f.StringVar(&filter, "filter", "", "OData filter.")
	f.BoolVar(&all, "all", false, "List all entities, expect long delay if under a big organization.")
	return cmd
}
