package cli

import (
	"context"
	"net/http"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/cli/output"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

const (
	acrProvider = "Microsoft.ContainerRegistry"
	acrType     = "registries"
	acrTable    = `{NAME:name, "RESOURCE GROUP":resourceGroup, LOCATION:location, SKU:sku.name, "LOGIN SERVER":loginServer, "CREATION DATE":creationDate, "ADMIN ENABLED":adminUserEnabled}`
)

var acrSKUs = []string{"Basic", "Standard", "Premium"}

// printRegistry prints a registry as az does.
func (a *app) printRegistry(reg map[string]any) error {
	out := azmodel.Render(azmodel.Registry, reg)
	a.acrTableDate(out)
	return a.print(out, acrTable)
}

// printRegistries prints a list of registries as az does.
func (a *app) printRegistries(items []map[string]any) error {
	out := azmodel.RenderAll(azmodel.Registry, items)
	for _, reg := range out {
		a.acrTableDate(reg)
	}
	return a.print(out, "[]."+acrTable)
}

// acrTableDate gives a registry's creationDate, for -o table without
// --query only, the form az's acr table shows (_format_datetime:
// "%Y-%m-%dT%H:%M:%SZ", the fraction and the offset dropped).
func (a *app) acrTableDate(reg map[string]any) {
	if a.format != output.Table || a.query != "" || reg == nil {
		return
	}
	if s, ok := reg["creationDate"].(string); ok && len(s) >= 19 && s[10] == 'T' {
		reg["creationDate"] = s[:19] + "Z"
	}
}

func newACRCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "acr", Short: "Manage private registries with Azure Container Registries."}
	cred := &cobra.Command{Use: "credential", Short: "Manage login credentials for Azure Container Registries."}
	cred.AddCommand(newACRCredentialShowCommand(a), newACRCredentialRenewCommand(a))
	cmd.AddCommand(
		newACRCreateCommand(a),
		newACRShowCommand(a),
		newACRListCommand(a),
		newACRUpdateCommand(a),
		newACRDeleteCommand(a),
		newACRCheckNameCommand(a),
		cred,
	)
	cmd.AddCommand(
		newACRLoginCommand(a),
		newACRRepositoryCommand(a),
		newACRImportCommand(a),
		newACRCheckHealthCommand(a),
		newACRShowUsageCommand(a),
	)
	return cmd
}

// registryRef is a registry named on the command line; group may be empty.
type registryRef struct {
	name, group string
}

func (r *registryRef) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&r.name, "name", "n", "", "The name of the container registry.")
	cmd.Flags().StringVarP(&r.group, "resource-group", "g", "", "Name of resource group. Found by the registry's name when omitted.")
}

// resolve returns the registry's resource path, looking its resource group
// up by name when none was given; found is the listed registry in that case.
func (r *registryRef) resolve(ctx context.Context, c *client.Client, sub client.Subscription) (path string, found map[string]any, err error) {
	if r.group != "" {
		return resourcePath(sub.ID, r.group, acrProvider, acrType, r.name), nil, nil
	}
	found, err = findByName(ctx, c, sub, acrProvider, acrType, client.APIVersionContainerRegistry, r.name)
	if err != nil {
		return "", nil, err
	}
	return str(found, "id"), found, nil
}

func acrRequest(method, path string, body any) client.Request {
	return client.Request{Method: method, Path: path, APIVersion: client.APIVersionContainerRegistry, Body: body}
}

func newACRCreateCommand(a *app) *cobra.Command {
	var r registryRef
	var sku, location string
	var admin triBool
	var tags []string
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create an Azure Container Registry.",
		Example: "  az acr create -n myregistry -g MyResourceGroup --sku Standard",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, "name", "resource-group", "sku"); err != nil {
				return err
			}
			canonical, err := choice("--sku", sku, acrSKUs...)
			if err != nil {
				return err
			}
			t, err := parseTags(tags)
			if err != nil {
				return err
			}
			c, sub, err := a.clientAndSub()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if location == "" {
				if location, err = groupLocation(ctx, c, sub.ID, r.group); err != nil {
					return err
				}
			}
			body := map[string]any{
				"location":   location,
				"sku":        map[string]any{"name": canonical},
				"properties": map[string]any{"adminUserEnabled": admin.set && admin.val},
			}
			if t != nil {
				body["tags"] = t
			}
			var reg map[string]any
			if err := c.ARM(ctx, acrRequest(http.MethodPut, resourcePath(sub.ID, r.group, acrProvider, acrType, r.name), body), &reg); err != nil {
				return err
			}
			return a.printRegistry(reg)
		},
	}
	r.flags(cmd)
	cmd.Flags().StringVar(&sku, "sku", "", "The SKU of the container registry. Allowed values: Basic, Premium, Standard.")
	cmd.Flags().StringVarP(&location, "location", "l", "", "Location. Defaults to the location of the resource group.")
	addTriBool(cmd.Flags(), &admin, "admin-enabled", "Indicates whether the admin user is enabled.")
	acrTagsFlag(cmd, &tags)
	return cmd
}

// acrTagsFlag adds az's --tags; drydock itself reads one tag, drydock-throttling.
func acrTagsFlag(cmd *cobra.Command, tags *[]string) {
	cmd.Flags().StringArrayVar(tags, "tags", nil, `Space-separated tags: key[=value] [key[=value] ...]. Use "" to clear existing tags. `+
		"drydock-throttling=on|off turns ACR's per-SKU request limits on or off for this registry.")
}

func newACRShowCommand(a *app) *cobra.Command {
	var r registryRef
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Get the details of an Azure Container Registry.",
		RunE: a.withSub([]string{"name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			path, reg, err := r.resolve(cmd.Context(), c, sub)
			if err != nil {
				return err
			}
			if reg == nil {
				if err := c.ARM(cmd.Context(), acrRequest(http.MethodGet, path, nil), &reg); err != nil {
					return err
				}
			}
			return a.printRegistry(reg)
		}),
	}
	r.flags(cmd)
	return cmd
}

func newACRListCommand(a *app) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List container registries.",
		RunE: a.withSub(nil, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			path := subscriptionPath(sub.ID)
			if group != "" {
				path = groupPath(sub.ID, group)
			}
			items, err := c.ARMList(cmd.Context(), path+"/providers/"+acrProvider+"/"+acrType, client.APIVersionContainerRegistry, nil)
			if err != nil {
				return err
			}
			return a.printRegistries(items)
		}),
	}
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "Name of resource group.")
	return cmd
}

func newACRUpdateCommand(a *app) *cobra.Command {
	var r registryRef
	var sku string
	var admin, anonymous triBool
	var tags []string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update an Azure Container Registry.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, "name"); err != nil {
				return err
			}
			t, err := parseTags(tags)
			if err != nil {
				return err
			}
			body := map[string]any{}
			if t != nil {
				body["tags"] = t
			}
			props := map[string]any{}
			if admin.set {
				props["adminUserEnabled"] = admin.val
			}
			if anonymous.set {
				props["anonymousPullEnabled"] = anonymous.val
			}
			if len(props) > 0 {
				body["properties"] = props
			}
			if sku != "" {
				canonical, err := choice("--sku", sku, acrSKUs...)
				if err != nil {
					return err
				}
				body["sku"] = map[string]any{"name": canonical}
			}
			c, sub, err := a.clientAndSub()
			if err != nil {
				return err
			}
			path, _, err := r.resolve(cmd.Context(), c, sub)
			if err != nil {
				return err
			}
			var reg map[string]any
			if err := c.ARM(cmd.Context(), acrRequest(http.MethodPatch, path, body), &reg); err != nil {
				return err
			}
			return a.printRegistry(reg)
		},
	}
	r.flags(cmd)
	cmd.Flags().StringVar(&sku, "sku", "", "The SKU of the container registry. Allowed values: Basic, Premium, Standard.")
	addTriBool(cmd.Flags(), &admin, "admin-enabled", "Indicates whether the admin user is enabled.")
	addTriBool(cmd.Flags(), &anonymous, "anonymous-pull-enabled", "Enable registry-wide pull from unauthenticated clients.")
	acrTagsFlag(cmd, &tags)
	return cmd
}

func newACRDeleteCommand(a *app) *cobra.Command {
	var r registryRef
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete an Azure Container Registry.",
		RunE: a.withSub([]string{"name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			path, _, err := r.resolve(cmd.Context(), c, sub)
			if err != nil {
				return err
			}
			ok, err := a.confirm("Are you sure you want to delete the registry '"+r.name+"'?", yes)
			if err != nil || !ok {
				return err
			}
			return c.ARM(cmd.Context(), acrRequest(http.MethodDelete, path, nil), nil)
		}),
	}
	r.flags(cmd)
	yesFlag(cmd.Flags(), &yes)
	return cmd
}

func newACRCheckNameCommand(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "check-name",
		Short: "Checks if an Azure Container Registry name is valid and available for use.",
		RunE: a.withSub([]string{"name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			var res map[string]any
			body := map[string]any{"name": name, "type": acrProvider + "/" + acrType}
			if err := c.ARM(cmd.Context(), acrRequest(http.MethodPost, subscriptionPath(sub.ID)+"/providers/"+acrProvider+"/checkNameAvailability", body), &res); err != nil {
				return err
			}
			for _, k := range []string{"message", "reason"} {
				if _, ok := res[k]; !ok {
					res[k] = nil
				}
			}
			return a.print(res, "")
		}),
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "The name of the container registry.")
	return cmd
}

const acrCredentialTable = "{USERNAME:username, PASSWORD:passwords[0].value, PASSWORD2:passwords[1].value}"

func newACRCredentialShowCommand(a *app) *cobra.Command {
	var r registryRef
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Get the login credentials for an Azure Container Registry.",
		RunE: a.withSub([]string{"name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			path, _, err := r.resolve(cmd.Context(), c, sub)
			if err != nil {
				return err
			}
			var res map[string]any
			if err := c.ARM(cmd.Context(), acrRequest(http.MethodPost, path+"/listCredentials", nil), &res); err != nil {
				return err
			}
			return a.print(res, acrCredentialTable)
		}),
	}
	r.flags(cmd)
	return cmd
}

func newACRCredentialRenewCommand(a *app) *cobra.Command {
	var r registryRef
	var passwordName string
	cmd := &cobra.Command{
		Use:   "renew",
		Short: "Regenerate login credentials for an Azure Container Registry.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, "name", "password-name"); err != nil {
				return err
			}
			pn, err := choice("--password-name", passwordName, "password", "password2")
			if err != nil {
				return err
			}
			c, sub, err := a.clientAndSub()
			if err != nil {
				return err
			}
			path, _, err := r.resolve(cmd.Context(), c, sub)
			if err != nil {
				return err
			}
			var res map[string]any
			if err := c.ARM(cmd.Context(), acrRequest(http.MethodPost, path+"/regenerateCredential", map[string]any{"name": pn}), &res); err != nil {
				return err
			}
			return a.print(res, acrCredentialTable)
		},
	}
	r.flags(cmd)
	cmd.Flags().StringVar(&passwordName, "password-name", "", "The name of password to regenerate. Allowed values: password, password2.")
	return cmd
}
