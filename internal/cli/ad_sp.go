package cli

import (
	"context"
	"time"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

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
		"  az ad sp create-for-rbac", needs: signedIn, check: func() error {
		if (role == "") != (len(scopes) == 0) {
			return usageErrorf("Usage error: To create role assignments, specify both --role and --scopes.")
		}
		if years <= 0 {
			return usageErrorf("argument --years: the value must be a positive integer")
		}
		return nil
	}}, func(x *call) error {
		ctx, c := x.ctx, x.c
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
	apps, _, err := c.Applications().List(ctx, "displayName eq "+client.ODataString(name), true)
	if err != nil {
		return res, err
	}
	var app *client.Application
	if len(apps) > 0 {
		app = apps[0]
		a.warn("Found an existing application instance: (id) %s. We will patch it.", app.ID)
	} else if app, err = c.Applications().Create(ctx, map[string]string{"displayName": name}); err != nil {
		return res, err
	}
	res.appID = app.AppID
	end := time.Now().UTC().AddDate(years, 0, 0).Format(time.RFC3339)
	pw, err := c.AddPassword(ctx, app.ID, client.PasswordCredential{DisplayName: "rbac", EndDateTime: end})
	if err != nil {
		return res, err
	}
	res.password = pw.SecretText
	sps, _, err := c.ServicePrincipals().List(ctx, "appId eq "+client.ODataString(res.appID), true)
	if err != nil {
		return res, err
	}
	var sp *client.ServicePrincipal
	if len(sps) > 0 {
		sp = sps[0]
	} else if sp, err = c.ServicePrincipals().Create(ctx, map[string]string{"appId": res.appID}); err != nil {
		return res, err
	}
	res.spID = sp.ID
	res.tenant = sp.AppOwnerOrganizationID
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
		return a.printObject(x.c.ServicePrincipals().Create(x.ctx, map[string]string{"appId": id}))
	})
	cmd.Flags().StringVar(&id, "id", "", "Identifier uri, application id, or object id of the associated application.")
	return cmd
}
