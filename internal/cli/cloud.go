package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

func newCloudShowCommand(a *app) *cobra.Command {
	var name string
	cmd := a.command(spec{use: "show", short: "Get the details of the drydock cloud: its endpoints as read from the server's metadata.", needs: noClient}, func(x *call) error {
		if name != "" && name != cloudName {
			return &cliError{"The cloud '" + name + "' is not registered."}
		}
		_, prof, err := a.loadStore()
		if err != nil {
			return err
		}
		endpoint, caFile := serverConfig("", "", prof)
		c, err := a.newClient(endpoint, caFile)
		if err != nil {
			return err
		}
		md, err := c.Metadata(x.ctx)
		if err != nil {
			return err
		}
		out := cloudJSON(md)
		if out["caFile"] == nil && caFile != "" {
			out["caFile"] = caFile
		}
		return a.print(out, "")
	})
	cmd.Flags().StringVarP(&name, "name", "n", "", "Name of a registered cloud.")
	return cmd
}

// azCloudEndpoints and azCloudSuffixes are the keys of az's CloudEndpoints
// and CloudSuffixes (azure-cli's core/cloud.py), which `az cloud show`
// prints, null when unset.
var (
	azCloudEndpoints = []string{
		"activeDirectory", "activeDirectoryDataLakeResourceId", "activeDirectoryGraphResourceId", "activeDirectoryResourceId",
		"appInsightsResourceId", "appInsightsTelemetryChannelResourceId", "attestationResourceId", "azmirrorStorageAccountResourceId",
		"batchResourceId", "gallery", "logAnalyticsResourceId", "management", "mediaResourceId", "microsoftGraphResourceId",
		"ossrdbmsResourceId", "portal", "resourceManager", "sqlManagement", "synapseAnalyticsResourceId", "vmImageAliasDoc",
	}
	azCloudSuffixes = []string{
		"acrLoginServerEndpoint", "attestationEndpoint", "azureDatalakeAnalyticsCatalogAndJobEndpoint",
		"azureDatalakeStoreFileSystemEndpoint", "keyvaultDns", "mariadbServerEndpoint", "mhsmDns", "mysqlServerEndpoint",
		"postgresqlServerEndpoint", "sqlServerHostname", "storageEndpoint", "storageSyncEndpoint", "synapseAnalyticsEndpoint",
	}
)

// cloudJSON converts ARM cloud metadata into what `az cloud show` prints
// once the real az registered drydock with the command `drydock up`
// prints: the endpoints az 2.45 reads from <resourceManager>/metadata/
// endpoints (active directory, its resource ID, the AD Graph resource ID,
// the gallery; management defaults to the resource manager), the two the
// cloud config carries (Microsoft Graph, the ACR suffix), null for the
// rest. drydock adds caFile and registryAddress.
func cloudJSON(md map[string]any) map[string]any {
	orNil := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var audience string
	if auth, ok := md["authentication"].(map[string]any); ok {
		if auds, ok := auth["audiences"].([]any); ok && len(auds) > 0 {
			audience, _ = auds[0].(string)
		}
	}
	endpoints := map[string]any{}
	for _, k := range azCloudEndpoints {
		endpoints[k] = nil
	}
	for k, v := range map[string]string{
		"activeDirectory":                str(md, "authentication", "loginEndpoint"),
		"activeDirectoryGraphResourceId": str(md, "graph"),
		"activeDirectoryResourceId":      audience,
		"gallery":                        str(md, "gallery"),
		"management":                     str(md, "resourceManager"),
		"microsoftGraphResourceId":       str(md, "microsoftGraphResourceId"),
		"resourceManager":                str(md, "resourceManager"),
	} {
		endpoints[k] = orNil(v)
	}
	suffixes := map[string]any{}
	for _, k := range azCloudSuffixes {
		suffixes[k] = nil
	}
	if sfx := str(md, "suffixes", "acrLoginServer"); sfx != "" {
		suffixes["acrLoginServerEndpoint"] = "." + strings.TrimPrefix(sfx, ".")
	}
	name := str(md, "name")
	if name == "" {
		name = cloudName
	}
	return map[string]any{
		"name":      name,
		"isActive":  true,
		"profile":   "latest",
		"endpoints": endpoints,
		"suffixes":  suffixes,
		// drydock's own: its CA, and where every registry's login server is served.
		"caFile":          orNil(str(md, "drydock", "caFile")),
		"registryAddress": orNil(str(md, "drydock", "registryAddress")),
	}
}
