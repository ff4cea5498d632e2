package cli

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// cloudName is the name drydock's cloud goes by in az's account output.
const cloudName = "drydock"

// accountJSON is a subscription as az account show prints it.
func accountJSON(s client.Subscription) map[string]any {
	return map[string]any{
		"environmentName":  cloudName,
		"homeTenantId":     s.TenantID,
		"id":               s.ID,
		"isDefault":        s.IsDefault,
		"managedByTenants": []any{},
		"name":             s.Name,
		"state":            s.State,
		"tenantId":         s.TenantID,
		"user":             map[string]any{"name": s.User.Name, "type": s.User.Type},
	}
}

// accountList is the profile's subscriptions as az account list and az
// login print them (with "cloudName"; "environmentName" is kept as well).
func accountList(p *client.Profile) []map[string]any {
	out := make([]map[string]any, 0, len(p.Subscriptions))
	for _, s := range p.Subscriptions {
		m := accountJSON(s)
		m["cloudName"] = cloudName
		out = append(out, m)
	}
	return out
}

const accountListTable = "[].{Name:name, CloudName:cloudName, SubscriptionId:id, TenantId:tenantId, State:state, IsDefault:isDefault}"

// subscriptionFlags adds account commands' own --subscription/-s and its
// alias --name/-n; they take precedence over the global --subscription.
func subscriptionFlags(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVarP(v, "subscription", "s", "", "Name or ID of subscription.")
	cmd.Flags().StringVarP(v, "name", "n", "", "Name or ID of subscription (alias of --subscription).")
}

func newAccountShowCommand(a *app) *cobra.Command {
	var name string
	cmd := a.command(spec{use: "show", short: "Get the details of a subscription.", needs: noClient}, func(x *call) error {
		if name != "" {
			a.subscription = name
		}
		s, err := a.sub()
		if err != nil {
			return err
		}
		return a.print(accountJSON(s), "")
	})
	subscriptionFlags(cmd, &name)
	return cmd
}

func newAccountListCommand(a *app) *cobra.Command {
	var all, refresh bool
	cmd := a.command(spec{use: "list", short: "Get a list of subscriptions for the logged in account.", needs: noClient}, func(x *call) error {
		if _, _, err := a.loadStore(); err != nil {
			return err
		}
		if refresh {
			if err := a.refreshSubscriptions(x.ctx); err != nil {
				return err
			}
		}
		if len(a.profile.Subscriptions) == 0 {
			a.warn("Please run \"az login\" to access your accounts.")
		}
		return a.print(accountList(a.profile), accountListTable)
	})
	cmd.Flags().BoolVar(&all, "all", false, "List all subscriptions (drydock has no disabled ones to hide).")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "Retrieve up-to-date subscriptions from the server.")
	return cmd
}

func newAccountSetCommand(a *app) *cobra.Command {
	var name string
	cmd := a.command(spec{use: "set", short: "Set a subscription to be the current active subscription.", needs: noClient, required: []string{"subscription|name"}}, func(x *call) error {
		store, prof, err := a.loadStore()
		if err != nil {
			return err
		}
		if prof.Find(name) == nil {
			// A subscription created or shared since login.
			if err := a.refreshSubscriptions(x.ctx); err != nil && err != client.ErrNotLoggedIn {
				return err
			}
		}
		if err := prof.SetDefault(name); err != nil {
			return err
		}
		return store.SaveProfile(prof)
	})
	subscriptionFlags(cmd, &name)
	return cmd
}

func newAccountClearCommand(a *app) *cobra.Command {
	return a.command(spec{use: "clear", short: "Clear all subscriptions from the CLI's local cache.", needs: noClient}, func(x *call) error {
		if err := a.logout(); err != nil && err.Error() != "There are no active accounts." {
			return err
		}
		return nil
	})
}

func newAccountCreateCommand(a *app) *cobra.Command {
	var name, workload string
	cmd := a.command(spec{use: "create", short: "Create a subscription (drydock: through a Microsoft.Subscription alias); the caller becomes its Owner.", example: "  az account create --name dev", needs: signedIn, required: []string{"name|display-name"}, check: func() error {
		if _, err := choice("--workload", workload, "Production", "DevTest"); err != nil {
			return err
		}
		return nil
	}}, func(x *call) error {
		ctx, c := x.ctx, x.c
		var alias map[string]any
		err := c.ARM(ctx, client.Request{
			Method:     http.MethodPut,
			Path:       "/providers/Microsoft.Subscription/aliases/" + uuid.NewString(),
			APIVersion: client.APIVersionSubscriptionAlias,
			Body:       map[string]any{"properties": map[string]any{"displayName": name, "workload": workload}},
		}, &alias)
		if err != nil {
			return err
		}
		id := str(alias, "properties", "subscriptionId")
		if id == "" {
			return fmt.Errorf("the server created no subscription (alias %s)", str(alias, "name"))
		}
		var sub map[string]any
		err = c.ARM(ctx, client.Request{Method: http.MethodGet, Path: subscriptionPath(id), APIVersion: client.APIVersionResources}, &sub)
		if err != nil {
			return err
		}
		prof := a.profile
		s := subscriptionFrom(sub, prof.TenantID, a.currentUser())
		prof.Add(s)
		if err := a.store.SaveProfile(prof); err != nil {
			return err
		}
		return a.print(accountJSON(*prof.Find(s.ID)), "")
	})
	cmd.Flags().StringVarP(&name, "name", "n", "", "Display name of the subscription.")
	cmd.Flags().StringVar(&name, "display-name", "", "Display name of the subscription (alias of --name).")
	cmd.Flags().StringVar(&workload, "workload", "Production", "Workload of the subscription. Allowed values: DevTest, Production.")
	return cmd
}

func newGetAccessTokenCommand(a *app) *cobra.Command {
	var resource, resourceType, tenant string
	var scopes []string
	var cmd *cobra.Command
	scope := client.ARMScope
	cmd = a.command(spec{use: "get-access-token", short: "Get a token for utilities to access drydock.", needs: signedIn, check: func() error {
		given := 0
		for _, f := range []string{"resource", "resource-type", "scope"} {
			if cmd.Flags().Changed(f) {
				given++
			}
		}
		if given > 1 {
			return usageErrorf("usage error: --resource/--resource-type/--scope are mutually exclusive")
		}
		switch {
		case resource != "":
			scope = client.ScopeFor(resource)
		case resourceType != "":
			rt, err := choice("--resource-type", resourceType, "arm", "ms-graph")
			if err != nil {
				return err
			}
			if rt == "ms-graph" {
				scope = client.GraphScope
			}
		case len(scopes) > 0:
			scope = strings.Join(scopes, " ")
		}
		return nil
	}}, func(x *call) error {
		tok, err := x.c.Token(x.ctx, scope)
		if err != nil {
			return err
		}
		out := map[string]any{
			"accessToken": tok.Token,
			"expiresOn":   tok.ExpiresOn.In(time.Local).Format("2006-01-02 15:04:05.000000"),
			"expires_on":  tok.ExpiresOn.Unix(),
			"tokenType":   "Bearer",
			"tenant":      x.c.Credentials().TenantID,
		}
		if tenant != "" {
			out["tenant"] = tenant
		} else if s, err := a.sub(); err == nil {
			out["subscription"] = s.ID
			if s.TenantID != "" {
				out["tenant"] = s.TenantID
			}
		}
		return a.print(out, "")
	})
	f := cmd.Flags()
	f.StringVar(&resource, "resource", "", "Azure resource endpoints (audience) to get the token for.")
	f.StringVar(&resourceType, "resource-type", "", "Type of well-known resource. Allowed values: arm, ms-graph.")
	f.StringArrayVar(&scopes, "scope", nil, "AAD scope to get the token for (repeatable).")
	f.StringVarP(&tenant, "tenant", "t", "", "Tenant ID for which the token is acquired.")
	return cmd
}
