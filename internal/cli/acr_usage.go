package cli

import (
	"github.com/drydock-dev/drydock/internal/client"
	"net/http"

	"github.com/spf13/cobra"
)

// acrUsageTable is az's usage_output_format.
const acrUsageTable = `value[].{NAME:name, LIMIT:limit, "CURRENT VALUE":currentValue, UNIT:unit}`

func newACRShowUsageCommand(a *app) *cobra.Command {
	var r registryRef
	cmd := &cobra.Command{
		Use:     "show-usage",
		Short:   "Get the storage usage for an Azure Container Registry.",
		Example: "  az acr show-usage -n myregistry",
		RunE: a.withSub([]string{"name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			r.name = a.registryName(r.name)
			path, _, err := r.resolve(cmd.Context(), c, sub)
			if err != nil {
				return err
			}
			var res map[string]any
			if err := c.ARM(cmd.Context(), acrRequest(http.MethodGet, path+"/listUsages", nil), &res); err != nil {
				return err
			}
			return a.print(res, acrUsageTable)
		}),
	}
	r.flags(cmd)
	return cmd
}
