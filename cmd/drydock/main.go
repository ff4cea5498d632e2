// Command drydock is a single-binary emulator of Azure Container Registry,
// AKS, Entra ID and Azure RBAC, with a command line that mirrors az.
package main

import (
	"os"

	"github.com/drydock-dev/drydock/internal/cli"
	"github.com/drydock-dev/drydock/internal/cluster/checkacr"
	"github.com/drydock-dev/drydock/internal/cluster/controlplane"
	"github.com/drydock-dev/drydock/internal/cluster/kubectl"
	"github.com/drydock-dev/drydock/internal/cluster/nodeagent"
)

func main() {
	// `drydock kubectl ...` hands every argument to the upstream kubectl
	// unchanged (its flags would clash with drydock's global ones).
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "kubectl":
			os.Exit(kubectl.Run(os.Args[2:]))
		case "cluster-controlplane":
			// The child process the server runs for each running cluster.
			os.Exit(controlplane.Main(os.Args[2:]))
		case "cluster-node":
			// The node agent the server runs for each node of a cluster.
			os.Exit(nodeagent.Main(os.Args[2:]))
		case "canipull":
			// The program of the canipull image on drydock's nodes, which
			// `az aks check-acr` runs in a pod.
			os.Exit(checkacr.Main(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(cli.Execute())
}
