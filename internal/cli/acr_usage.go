package cli

import (
	"net/http"

	"github.com/spf13/cobra"
)

// acrUsageTable is az's usage_output_format.
const acrUsageTable = `value[].{NAME:name, LIMIT:limit, "CURRENT VALUE":currentValue, UNIT:unit}`

func newACRShowUsageCommand(a *app) *cobra.Command {
	var r registryRef
	cmd := a.command(spec{use: "show-usage", short: "Get the storage usage for an Azure Container Registry.",
		example: "  az acr show-usage -n myregistry", needs: inSubscription, required: []string{"name"}}, func(x *call) error {
		r.name = a.registryName(r.name)
		return r.act(x, http.MethodGet, "/listUsages", nil, func(res map[string]any) error { return a.print(res, acrUsageTable) })
	})
	r.flags(cmd)
	return cmd
}
