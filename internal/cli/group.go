package cli

import (
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

const groupTable = "{Name:name, Location:location, Status:properties.provisioningState}"

func newGroupCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage resource groups."}
	cmd.AddCommand(
		newGroupCreateCommand(a),
		newGroupShowCommand(a),
		newGroupDeleteCommand(a),
		newGroupListCommand(a),
		newGroupExistsCommand(a),
	)
	return cmd
}

// groupNameFlags adds --name/-n and its alias --resource-group/-g.
func groupNameFlags(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVarP(v, "name", "n", "", "Name of the resource group.")
	cmd.Flags().StringVarP(v, "resource-group", "g", "", "Name of the resource group (alias of --name).")
}

func newGroupCreateCommand(a *app) *cobra.Command {
	var name, location string
	var tags []string
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a new resource group.",
		Example: "  az group create -l westus -n MyResourceGroup",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, "name|resource-group", "location"); err != nil {
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
			body := map[string]any{"location": location}
			if t != nil {
				body["tags"] = t
			}
			var rg map[string]any
			err = c.ARM(cmd.Context(), client.Request{Method: http.MethodPut, Path: groupPath(sub.ID, name), APIVersion: client.APIVersionResources, Body: body}, &rg)
			if err != nil {
				return err
			}
			return a.print(azmodel.Render(azmodel.ResourceGroup, rg), groupTable)
		},
	}
	groupNameFlags(cmd, &name)
	cmd.Flags().StringVarP(&location, "location", "l", "", "Location, e.g. westus.")
	cmd.Flags().StringArrayVar(&tags, "tags", nil, "Space-separated tags: key[=value] [key[=value] ...].")
	return cmd
}

// parseTags parses az's "key[=value] ..." tags ("" clears them).
func parseTags(tags []string) (map[string]string, error) {
	if tags == nil {
		return nil, nil
	}
	out := map[string]string{}
	for _, t := range tags {
		if t == "" || t == `""` {
			continue
		}
		k, v, _ := strings.Cut(t, "=")
		if k == "" {
			return nil, usageErrorf("argument --tags: invalid tag '%s'", t)
		}
		out[k] = v
	}
	return out, nil
}

func newGroupShowCommand(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Gets a resource group.",
		RunE: a.withSub([]string{"name|resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			var rg map[string]any
			if err := c.ARM(cmd.Context(), client.Request{Method: http.MethodGet, Path: groupPath(sub.ID, name), APIVersion: client.APIVersionResources}, &rg); err != nil {
				return err
			}
			return a.print(azmodel.Render(azmodel.ResourceGroup, rg), groupTable)
		}),
	}
	groupNameFlags(cmd, &name)
	return cmd
}

func newGroupDeleteCommand(a *app) *cobra.Command {
	var name string
	var yes, noWait bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a resource group.",
		RunE: a.withSub([]string{"name|resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			ok, err := a.confirm("Are you sure you want to perform this operation?", yes)
			if err != nil || !ok {
				return err
			}
			return c.ARM(cmd.Context(), client.Request{Method: http.MethodDelete, Path: groupPath(sub.ID, name), APIVersion: client.APIVersionResources, NoWait: noWait}, nil)
		}),
	}
	groupNameFlags(cmd, &name)
	yesFlag(cmd.Flags(), &yes)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "Do not wait for the long-running operation to finish.")
	return cmd
}

func newGroupListCommand(a *app) *cobra.Command {
	var tag string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List resource groups.",
		RunE: a.withSub(nil, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			items, err := c.ARMList(cmd.Context(), subscriptionPath(sub.ID)+"/resourcegroups", client.APIVersionResources, nil)
			if err != nil {
				return err
			}
			out := make([]map[string]any, 0, len(items))
			for _, rg := range items {
				if tag != "" && !hasTag(rg, tag) {
					continue
				}
				out = append(out, azmodel.Render(azmodel.ResourceGroup, rg))
			}
			return a.print(out, "[]."+groupTable)
		}),
	}
	cmd.Flags().StringVar(&tag, "tag", "", "A single tag in 'key[=value]' format to filter by.")
	return cmd
}

func hasTag(m map[string]any, tag string) bool {
	k, v, withValue := strings.Cut(tag, "=")
	tags, _ := m["tags"].(map[string]any)
	got, ok := tags[k]
	if !ok {
		return false
	}
	s, _ := got.(string)
	return !withValue || s == v
}

func newGroupExistsCommand(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "exists",
		Short: "Check if a resource group exists.",
		RunE: a.withSub([]string{"name|resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			err := c.ARM(cmd.Context(), client.Request{Method: http.MethodHead, Path: groupPath(sub.ID, name), APIVersion: client.APIVersionResources}, nil)
			switch {
			case err == nil:
				return a.print(true, "")
			case client.IsNotFound(err):
				return a.print(false, "")
			}
			return err
		}),
	}
	groupNameFlags(cmd, &name)
	return cmd
}
