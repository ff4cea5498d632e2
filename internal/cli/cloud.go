package cli

import (
	"github.com/spf13/cobra"
)

func newCloudCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "cloud", Short: "Manage registered clouds (drydock has one: itself)."}
	cmd.AddCommand(newCloudShowCommand(a))
	return cmd
}

func newCloudShowCommand(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Get the details of the drydock cloud: its endpoints as read from the server's metadata.",
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			md, err := c.Metadata(cmd.Context())
			if err != nil {
				return err
			}
			out := cloudJSON(md)
			if out["caFile"] == nil && caFile != "" {
				out["caFile"] = caFile
			}
			return a.print(out, "")
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "Name of a registered cloud.")
	return cmd
}

// cloudJSON converts ARM cloud metadata into az cloud show's shape.
func cloudJSON(md map[string]any) map[string]any {
	auth, _ := md["authentication"].(map[string]any)
	var audience any
	if auds, ok := auth["audiences"].([]any); ok && len(auds) > 0 {
		audience = auds[0]
	}
	orNil := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	graph := str(md, "graph")
	graphAudience := str(md, "graphAudience")
	if graphAudience == "" {
		graphAudience = graph
	}
	name := str(md, "name")
	if name == "" {
		name = cloudName
	}
	out := map[string]any{
		"name":     name,
		"isActive": true,
		"profile":  "latest",
		"endpoints": map[string]any{
			"resourceManager":                orNil(str(md, "resourceManager")),
			"activeDirectory":                orNil(str(auth, "loginEndpoint")),
			"activeDirectoryResourceId":      audience,
			"management":                     audience,
			"activeDirectoryGraphResourceId": orNil(graph),
			"microsoftGraphResourceId":       orNil(graphAudience),
			"containerRegistryAudience":      orNil(str(md, "drydock", "containerRegistryAudience")),
		},
		"suffixes": map[string]any{
			"acrLoginServerEndpoint": orNil(str(md, "suffixes", "acrLoginServer")),
		},
		"caFile": orNil(str(md, "drydock", "caFile")),
		// drydock's own: where every registry's login server is served.
		"registryAddress": orNil(str(md, "drydock", "registryAddress")),
	}
	return out
}
