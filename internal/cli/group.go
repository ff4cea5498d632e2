package cli

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

const groupTable = "{Name:name, Location:location, Status:properties.provisioningState}"

// resourceGroups declares resource groups.
var resourceGroups = declare(&armResource{
	help:       verbs{show: "Gets a resource group.", del: "Delete a resource group."},
	apiVersion: client.APIVersionResources,
	required:   []string{"name|resource-group"},
	flags: func(cmd *cobra.Command, r *ref) {
		cmd.Flags().StringVarP(&r.name, "name", "n", "", "Name of the resource group.")
		cmd.Flags().StringVarP(&r.name, "resource-group", "g", "", "Name of the resource group (alias of --name).")
	},
	path:           func(sub string, r *ref) string { return groupPath(sub, r.name) },
	listPath:       func(sub, _ string) string { return subscriptionPath(sub) + "/resourcegroups" },
	render:         renderModel(azmodel.ResourceGroup),
	table:          groupTable,
	deleteQuestion: confirmOperation,
	deleteNoWait:   true,
	sdk: sdkOf(armresources.NewResourceGroupsClient,
		func(c *armresources.ResourceGroupsClient, ctx context.Context, _, name string, o *armresources.ResourceGroupsClientGetOptions) (armresources.ResourceGroupsClientGetResponse, error) {
			return c.Get(ctx, name, o)
		},
		(*armresources.ResourceGroupsClient).NewListPager,
		func(c *armresources.ResourceGroupsClient, _ string, o *armresources.ResourceGroupsClientListOptions) *runtime.Pager[armresources.ResourceGroupsClientListResponse] {
			return c.NewListPager(o)
		},
		func(ctx context.Context, c *armresources.ResourceGroupsClient, _, name string, _ map[string]any, noWait bool) error {
			p, err := c.BeginDelete(ctx, name, nil)
			return done(ctx, p, err, noWait)
		},
		func(ctx context.Context, c *armresources.ResourceGroupsClient, _, name string, body map[string]any, _ bool) error {
			m, err := model[armresources.ResourceGroup](body)
			if err == nil {
				_, err = c.CreateOrUpdate(ctx, name, m, nil)
			}
			return err
		}, nil),
})

// newGroupListCommand is the derived list with --tag.
func newGroupListCommand(a *app) *cobra.Command {
	var tag string
	list := resourceGroups.listCmd(a, "List resource groups.", func(rg map[string]any) bool { return tag == "" || hasTag(rg, tag) })
	list.Flags().StringVar(&tag, "tag", "", "A single tag in 'key[=value]' format to filter by.")
	return list
}

func newGroupCreateCommand(a *app) *cobra.Command {
	var r *ref
	var location string
	var tags []string
	var t map[string]string
	cmd := a.command(spec{use: "create", short: "Create a new resource group.", example: "  az group create -l westus -n MyResourceGroup",
		needs: inSubscription, required: []string{"name|resource-group", "location"},
		check: func() (err error) {
			t, err = parseTags(tags)
			return err
		}}, func(x *call) error {
		body := map[string]any{"location": location}
		if t != nil {
			body["tags"] = t
		}
		rg, err := r.put(x, body)
		if err != nil {
			return err
		}
		return resourceGroups.print(a, rg)
	})
	r = resourceGroups.ref(cmd)
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
	var r *ref
	cmd := a.command(spec{use: "exists", short: "Check if a resource group exists.", needs: inSubscription, required: resourceGroups.required}, func(x *call) error {
		s := x.c.SDK(x.sub.ID, resourceGroups.apiVersion)
		gc, err := armresources.NewResourceGroupsClient(s.Sub, s.Cred, s.Options)
		if err != nil {
			return err
		}
		var res armresources.ResourceGroupsClientCheckExistenceResponse
		if _, err := x.c.Raw(x.ctx, func(ctx context.Context) (err error) {
			res, err = gc.CheckExistence(ctx, r.name, nil)
			return err
		}); err != nil {
			return err
		}
		return a.print(res.Success, "")
	})
	r = resourceGroups.ref(cmd)
	return cmd
}
