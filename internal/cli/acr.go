package cli

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/cli/output"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

var acrSKUs = []string{"Basic", "Standard", "Premium"}

// renderRegistry renders a registry as az does.
func renderRegistry(a *app, reg map[string]any) map[string]any {
	out := azmodel.Render(azmodel.Registry, reg)
	a.acrTableDate(out)
	return out
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

// registryRef is a registry named on the command line; group may be empty.
type registryRef struct {
	name, group string
}

func (r *registryRef) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&r.name, "name", "n", "", registries.nameHelp)
	cmd.Flags().StringVarP(&r.group, "resource-group", "g", "", registries.groupHelp)
}

// resolve returns the registry's resource path, looking its resource group
// up by name when none was given; found is the listed registry in that case.
func (r *registryRef) resolve(ctx context.Context, c *client.Client, sub client.Subscription) (path string, found map[string]any, err error) {
	return registries.resolve(ctx, c, sub, r.group, "", r.name)
}

func newACRCreateCommand(a *app) *cobra.Command {
	var sku string
	var admin triBool
	return createCmd(a, registries, creation{
		spec: spec{short: "Create an Azure Container Registry.", example: "  az acr create -n myregistry -g MyResourceGroup --sku Standard",
			required: []string{"name", "resource-group", "sku"},
			check: func() (err error) {
				sku, err = choice("--sku", sku, acrSKUs...)
				return err
			}},
		tagsHelp: acrTagsHelp,
		flags: func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&sku, "sku", "", "The SKU of the container registry. Allowed values: Basic, Premium, Standard.")
			addTriBool(cmd.Flags(), &admin, "admin-enabled", "Indicates whether the admin user is enabled.")
		},
		body: func(_ *call, _ *ref, b map[string]any) error {
			b["sku"] = map[string]any{"name": sku}
			b["properties"] = map[string]any{"adminUserEnabled": admin.set && admin.val}
			return nil
		},
	})
}

// acrTagsHelp is the help of az's --tags; drydock itself reads one tag,
// drydock-throttling.
const acrTagsHelp = `Space-separated tags: key[=value] [key[=value] ...]. Use "" to clear existing tags. ` +
	"drydock-throttling=on|off turns ACR's per-SKU request limits on or off for this registry."

func newACRUpdateCommand(a *app) *cobra.Command {
	var r registryRef
	var sku string
	var admin, anonymous triBool
	var tags []string
	body := map[string]any{}
	cmd := a.command(spec{use: "update", short: "Update an Azure Container Registry.", needs: inSubscription, required: []string{"name"},
		check: func() error {
			t, err := parseTags(tags)
			if err != nil {
				return err
			}
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
			return nil
		}}, func(x *call) error {
		return r.act(x, http.MethodPatch, "", body, func(reg map[string]any) error { return registries.print(a, reg) })
	})
	r.flags(cmd)
	cmd.Flags().StringVar(&sku, "sku", "", "The SKU of the container registry. Allowed values: Basic, Premium, Standard.")
	addTriBool(cmd.Flags(), &admin, "admin-enabled", "Indicates whether the admin user is enabled.")
	addTriBool(cmd.Flags(), &anonymous, "anonymous-pull-enabled", "Enable registry-wide pull from unauthenticated clients.")
	cmd.Flags().StringArrayVar(&tags, "tags", nil, acrTagsHelp)
	return cmd
}

// act resolves the registry and sends method to it or its action.
func (r *registryRef) act(x *call, method, action string, body map[string]any, done func(map[string]any) error) error {
	return (&ref{res: registries, name: r.name, group: r.group}).act(x, method, action, body, false, done)
}

func newACRCheckNameCommand(a *app) *cobra.Command {
	var name string
	cmd := a.command(spec{use: "check-name", short: "Checks if an Azure Container Registry name is valid and available for use.",
		needs: inSubscription, required: []string{"name"}}, func(x *call) error {
		s := x.c.SDK(x.sub.ID, registries.apiVersion)
		rc, err := armcontainerregistry.NewRegistriesClient(s.Sub, s.Cred, s.Options)
		if err != nil {
			return err
		}
		res, err := x.c.Raw(x.ctx, func(ctx context.Context) error {
			_, err := rc.CheckNameAvailability(ctx, armcontainerregistry.RegistryNameCheckRequest{Name: &name, Type: to.Ptr(registries.typeName())}, nil)
			return err
		})
		if err != nil {
			return err
		}
		for _, k := range []string{"message", "reason"} {
			if _, ok := res[k]; !ok {
				res[k] = nil
			}
		}
		return a.print(res, "")
	})
	cmd.Flags().StringVarP(&name, "name", "n", "", registries.nameHelp)
	return cmd
}

const acrCredentialTable = "{USERNAME:username, PASSWORD:passwords[0].value, PASSWORD2:passwords[1].value}"

func newACRCredentialShowCommand(a *app) *cobra.Command {
	var r registryRef
	cmd := a.command(spec{use: "show", short: "Get the login credentials for an Azure Container Registry.",
		needs: inSubscription, required: []string{"name"}}, func(x *call) error {
		return r.act(x, http.MethodPost, "/listCredentials", nil, func(res map[string]any) error { return a.print(res, acrCredentialTable) })
	})
	r.flags(cmd)
	return cmd
}

func newACRCredentialRenewCommand(a *app) *cobra.Command {
	var r registryRef
	var passwordName string
	cmd := a.command(spec{use: "renew", short: "Regenerate login credentials for an Azure Container Registry.",
		needs: inSubscription, required: []string{"name", "password-name"},
		check: func() (err error) {
			passwordName, err = choice("--password-name", passwordName, "password", "password2")
			return err
		}}, func(x *call) error {
		return r.act(x, http.MethodPost, "/regenerateCredential", map[string]any{"name": passwordName},
			func(res map[string]any) error { return a.print(res, acrCredentialTable) })
	})
	r.flags(cmd)
	cmd.Flags().StringVar(&passwordName, "password-name", "", "The name of password to regenerate. Allowed values: password, password2.")
	return cmd
}
