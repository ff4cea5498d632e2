package cli

import (
	"io"
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

// TestResourcePaths: where each declared type lives, for one resource and
// for list in a group or the subscription.
func TestResourcePaths(t *testing.T) {
	const sub = "s"
	tests := []struct {
		res                 *armResource
		group, parent, name string
		item, inGroup, all  string
	}{
		{registries, "rg", "", "reg", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg",
			"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries",
			"/subscriptions/s/providers/Microsoft.ContainerRegistry/registries"},
		{agentPools, "rg", "mc", "np 1", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/mc/agentPools/np%201",
			"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/mc/agentPools", ""},
		{resourceGroups, "", "", "rg", "/subscriptions/s/resourceGroups/rg",
			"/subscriptions/s/resourcegroups", "/subscriptions/s/resourcegroups"},
	}
	for _, tt := range tests {
		item := tt.res.itemPath(sub, tt.group, tt.parent, tt.name)
		if tt.res.path != nil {
			item = tt.res.path(sub, &ref{res: tt.res, name: tt.name})
		}
		if item != tt.item {
			t.Errorf("%s item %q, want %q", tt.res.typ, item, tt.item)
		}
		if got := tt.res.collection(sub, tt.group, tt.parent); got != tt.inGroup {
			t.Errorf("%s in group %q, want %q", tt.res.typ, got, tt.inGroup)
		}
		if got := tt.res.collection(sub, "", tt.parent); tt.all != "" && got != tt.all {
			t.Errorf("%s in subscription %q, want %q", tt.res.typ, got, tt.all)
		}
	}
}

// TestDerivedCommands: a declaration yields the commands it gives help for,
// with az's flags.
func TestDerivedCommands(t *testing.T) {
	a := newApp(nil, io.Discard, io.Discard)
	tests := []struct {
		res   *armResource
		uses  []string
		flags map[string][]string
	}{
		{registries, []string{"show", "list", "delete"}, map[string][]string{
			"show": {"name", "resource-group"}, "list": {"resource-group"}, "delete": {"name", "resource-group", "yes"}}},
		{resourceGroups, []string{"show", "delete"}, map[string][]string{
			"show": {"name", "resource-group"}, "delete": {"name", "resource-group", "yes", "no-wait"}}},
		{agentPools, []string{"show", "list", "delete"}, map[string][]string{
			"list": {"cluster-name", "resource-group"}, "delete": {"cluster-name", "name", "resource-group", "no-wait"}}},
		{identities, []string{"show", "list", "delete"}, map[string][]string{"delete": {"name", "resource-group"}}},
	}
	for _, tt := range tests {
		var uses []string
		for _, c := range tt.res.commands(a) {
			uses = append(uses, c.Use)
			if want, ok := tt.flags[c.Use]; ok {
				var got []string
				c.Flags().VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s %s flags %v, want %v", tt.res.typ, c.Use, got, want)
				}
			}
		}
		if !slices.Equal(uses, tt.uses) {
			t.Errorf("%s commands %v, want %v", tt.res.typ, uses, tt.uses)
		}
	}
}
