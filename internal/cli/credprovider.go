package cli

import (
	"github.com/spf13/cobra"

	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
)

// newCredentialProviderCommand is `drydock acr-credential-provider`: the
// kubelet's image credential provider exec plugin. The kubelet runs it with
// the args of its CredentialProviderConfig, so it parses no flags (not even
// the global ones): everything after the command name goes to the plugin.
func newCredentialProviderCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "acr-credential-provider [--] [azure.json]",
		Short: "The kubelet image credential provider exec plugin for drydock's registries.",
		Long: `The kubelet image credential provider exec plugin (credentialprovider.kubelet.k8s.io/v1), as
cloud-provider-azure's acr-credential-provider on AKS nodes. The kubelet writes a
CredentialProviderRequest to standard input; for an image of a registry under the node's
containerRegistryDNSSuffix the plugin gets a token for the kubelet identity from the
managed-identity endpoint (with the node's host credential), exchanges it at the registry for an
ACR refresh token and writes a CredentialProviderResponse to standard output: user
00000000-0000-0000-0000-000000000000 with the refresh token as password, cached per registry for
one hour. Other images get an empty answer. Errors go to standard error with a non-zero exit.

The only argument is the node's azure.json (default /etc/kubernetes/azure.json). The kubelet's
--image-credential-provider-bin-dir must hold an executable named acr-credential-provider that runs
'drydock acr-credential-provider -- "$@"'.`,
		Args:               cobra.ArbitraryArgs,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
				return cmd.Help()
			}
			return credprovider.Run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), args)
		},
	}
}
