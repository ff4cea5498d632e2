package cli

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// loginRequest is what a login needs.
type loginRequest struct {
	endpoint, caFile   string
	tenant             string
	username, password string
	servicePrincipal   bool
}

func newLoginCommand(a *app) *cobra.Command {
	var r loginRequest
	var allowNoSubscriptions bool
	cmd := a.command(spec{use: "login", short: "Log in to drydock.", long: "Log in to drydock with a user name and password, or as a service principal with its application ID and secret.\n\n" +
		"The server is chosen by --endpoint/--ca-file, else $DRYDOCK_ENDPOINT/$DRYDOCK_CA_FILE, else the saved profile, else " + client.DefaultEndpoint + ".", example: "  az login -u alice@contoso.onmicrosoft.com -p 'P@ssw0rd'\n" +
		"  az login --service-principal -u <appId> -p <secret> --tenant <tenantId>", needs: noClient}, func(x *call) error {
		if r.servicePrincipal {
			if err := require(x.cmd, "username", "password", "tenant"); err != nil {
				return err
			}
		} else if err := require(x.cmd, "username", "password"); err != nil {
			return err
		}
		prof, err := a.login(x.ctx, r)
		if err != nil {
			return err
		}
		if len(prof.Subscriptions) == 0 {
			a.warn("No subscriptions found for %s. Run 'az account create --name <name>' to create one.", r.username)
		}
		return a.print(accountList(prof), "")
	})
	f := cmd.Flags()
	f.StringVarP(&r.username, "username", "u", "", "User name, or the application ID with --service-principal.")
	f.StringVarP(&r.password, "password", "p", "", "Password, or the client secret with --service-principal.")
	f.StringVarP(&r.tenant, "tenant", "t", "", "The Microsoft Entra tenant, required with --service-principal.")
	f.BoolVar(&r.servicePrincipal, "service-principal", false, "Log in as a service principal.")
	f.StringVar(&r.endpoint, "endpoint", "", "Base URL of the drydock server.")
	f.StringVar(&r.caFile, "ca-file", "", "PEM file with drydock's CA certificate.")
	f.BoolVar(&allowNoSubscriptions, "allow-no-subscriptions", false, "Allow logging in to an account without subscriptions (always allowed by drydock).")
	return cmd
}

// login acquires tokens, lists the account's subscriptions and saves the
// profile and tokens.
func (a *app) login(ctx context.Context, r loginRequest) (*client.Profile, error) {
	store, prof, err := a.loadStore()
	if err != nil {
		return nil, err
	}
	endpoint, caFile := serverConfig(r.endpoint, r.caFile, prof)
	if endpoint, err = client.NormalizeEndpoint(endpoint); err != nil {
		return nil, err
	}
	if caFile != "" {
		if caFile, err = filepath.Abs(caFile); err != nil {
			return nil, err
		}
	}
	c, err := a.newClient(endpoint, caFile)
	if err != nil {
		return nil, err
	}
	user := client.Account{Name: r.username, Type: client.UserTypeUser}
	var creds *client.Credentials
	if r.servicePrincipal {
		user.Type = client.UserTypeServicePrincipal
		creds, err = c.LoginServicePrincipal(ctx, r.tenant, r.username, r.password)
	} else {
		creds, err = c.LoginPassword(ctx, r.tenant, r.username, r.password)
	}
	if err != nil {
		return nil, err
	}
	items, err := c.ARMList(ctx, "/subscriptions", client.APIVersionResources, nil)
	if err != nil {
		return nil, err
	}
	if creds.TenantID == "" {
		for _, it := range items {
			if t := str(it, "tenantId"); t != "" {
				creds.TenantID = t
				break
			}
		}
	}
	if creds.TenantID == "" && !strings.EqualFold(r.tenant, client.OrganizationsTenant) {
		creds.TenantID = r.tenant
	}
	subs := subscriptionsFrom(items, creds.TenantID, user)
	if !strings.EqualFold(prof.Endpoint, endpoint) || prof.User == nil || !strings.EqualFold(prof.User.Name, user.Name) {
		prof.Subscriptions = nil // another account: do not keep its default
	}
	prof.Endpoint, prof.CAFile, prof.TenantID, prof.User = endpoint, caFile, creds.TenantID, &user
	prof.Replace(subs)
	if err := store.SaveCredentials(creds); err != nil {
		return nil, err
	}
	if err := store.SaveProfile(prof); err != nil {
		return nil, err
	}
	c.OnCredentialsChange = store.SaveCredentials
	a.api = c
	return prof, nil
}

// subscriptionsFrom converts ARM subscription objects to profile entries.
func subscriptionsFrom(items []map[string]any, tenant string, user client.Account) []client.Subscription {
	subs := make([]client.Subscription, 0, len(items))
	for _, it := range items {
		s := subscriptionFrom(it, tenant, user)
		if s.ID != "" {
			subs = append(subs, s)
		}
	}
	return subs
}

func subscriptionFrom(it map[string]any, tenant string, user client.Account) client.Subscription {
	s := client.Subscription{
		ID:       str(it, "subscriptionId"),
		Name:     str(it, "displayName"),
		TenantID: str(it, "tenantId"),
		State:    str(it, "state"),
		User:     user,
	}
	if s.ID == "" {
		s.ID = filepath.Base(str(it, "id"))
	}
	if s.TenantID == "" {
		s.TenantID = tenant
	}
	if s.State == "" {
		s.State = "Enabled"
	}
	return s
}

// loginWithPassword logs a user in to the drydock server at endpoint
// (trusting caFile) and saves the profile, printing nothing. The daemon's
// `up` command calls it.
func loginWithPassword(ctx context.Context, endpoint, caFile, tenant, username, password string) error {
	a := newApp(nil, io.Discard, io.Discard)
	_, err := a.login(ctx, loginRequest{endpoint: endpoint, caFile: caFile, tenant: tenant, username: username, password: password})
	return err
}

func newLogoutCommand(a *app) *cobra.Command {
	var username string
	cmd := a.command(spec{use: "logout", short: "Log out to remove access to drydock subscriptions.", needs: noClient}, func(x *call) error {
		return a.logout()
	})
	cmd.Flags().StringVar(&username, "username", "", "Account user; only the logged-in account is known to drydock.")
	return cmd
}

// logout forgets the account's tokens and subscriptions but keeps the
// server settings.
func (a *app) logout() error {
	store, prof, err := a.loadStore()
	if err != nil {
		return err
	}
	creds, err := store.LoadCredentials()
	if err != nil {
		return err
	}
	if creds == nil && len(prof.Subscriptions) == 0 {
		return errors.New("There are no active accounts.")
	}
	if err := store.RemoveCredentials(); err != nil {
		return err
	}
	prof.Subscriptions, prof.TenantID, prof.User = nil, "", nil
	return store.SaveProfile(prof)
}

// refreshSubscriptions re-reads the account's subscriptions from the server.
func (a *app) refreshSubscriptions(ctx context.Context) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	items, err := c.ARMList(ctx, "/subscriptions", client.APIVersionResources, nil)
	if err != nil {
		return err
	}
	prof := a.profile
	a.profile.Replace(subscriptionsFrom(items, prof.TenantID, a.currentUser()))
	return a.store.SaveProfile(prof)
}

// currentUser is the logged-in account as the profile records it.
func (a *app) currentUser() client.Account {
	if a.profile != nil && a.profile.User != nil {
		return *a.profile.User
	}
	if a.profile != nil {
		for _, s := range a.profile.Subscriptions {
			if s.User.Name != "" {
				return s.User
			}
		}
	}
	return client.Account{Type: client.UserTypeUser}
}
