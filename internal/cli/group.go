package cli

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/spf13/cobra"
)

const groupTable = "{Name:name, Location:location, Status:properties.provisioningState}"

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
