package cli

import (
	"net/http"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

const (
	identityProvider = "Microsoft.ManagedIdentity"
	identityType     = "userAssignedIdentities"
)

func newIdentityCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Manage Managed Identities."}
	cmd.AddCommand(
		newIdentityCreateCommand(a),
		newIdentityShowCommand(a),
		newIdentityDeleteCommand(a),
		newIdentityListCommand(a),
	)
	return cmd
}

func identityRequest(method, path string, body any) client.Request {
	return client.Request{Method: method, Path: path, APIVersion: client.APIVersionManagedIdentity, Body: body}
}

// identityFlags adds the --name/-n and --resource-group/-g of an identity.
func identityFlags(cmd *cobra.Command, name, group *string) {
	cmd.Flags().StringVarP(name, "name", "n", "", "The name of the identity resource.")
	cmd.Flags().StringVarP(group, "resource-group", "g", "", "Name of resource group.")
}

func newIdentityCreateCommand(a *app) *cobra.Command {
	var name, group, location string
	var tags []string
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create an identity.",
		Example: "  az identity create -n MyIdentity -g MyResourceGroup",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, "name", "resource-group"); err != nil {
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
				if location, err = groupLocation(ctx, c, sub.ID, group); err != nil {
					return err
				}
			}
			body := map[string]any{"location": location}
			if t != nil {
				body["tags"] = t
			}
			var mi map[string]any
			if err := c.ARM(ctx, identityRequest(http.MethodPut, resourcePath(sub.ID, group, identityProvider, identityType, name), body), &mi); err != nil {
				return err
			}
			return a.print(azmodel.Render(azmodel.Identity, mi), "")
		},
	}
	identityFlags(cmd, &name, &group)
	cmd.Flags().StringVarP(&location, "location", "l", "", "Location. Defaults to the location of the resource group.")
	cmd.Flags().StringArrayVar(&tags, "tags", nil, "Space-separated tags: key[=value] [key[=value] ...].")
	return cmd
}

func newIdentityShowCommand(a *app) *cobra.Command {
	var name, group string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show an identity.",
		RunE: a.withSub([]string{"name", "resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			var mi map[string]any
			if err := c.ARM(cmd.Context(), identityRequest(http.MethodGet, resourcePath(sub.ID, group, identityProvider, identityType, name), nil), &mi); err != nil {
				return err
			}
			return a.print(azmodel.Render(azmodel.Identity, mi), "")
		}),
	}
	identityFlags(cmd, &name, &group)
	return cmd
}

func newIdentityDeleteCommand(a *app) *cobra.Command {
	var name, group string
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete an identity.",
		RunE: a.withSub([]string{"name", "resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			return c.ARM(cmd.Context(), identityRequest(http.MethodDelete, resourcePath(sub.ID, group, identityProvider, identityType, name), nil), nil)
		}),
	}
	identityFlags(cmd, &name, &group)
	return cmd
}

func newIdentityListCommand(a *app) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List identities.",
		RunE: a.withSub(nil, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			path := subscriptionPath(sub.ID)
			if group != "" {
				path = groupPath(sub.ID, group)
			}
			items, err := c.ARMList(cmd.Context(), path+"/providers/"+identityProvider+"/"+identityType, client.APIVersionManagedIdentity, nil)
			if err != nil {
				return err
			}
			return a.print(azmodel.RenderAll(azmodel.Identity, items), "")
		}),
	}
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "Name of resource group.")
	return cmd
}
