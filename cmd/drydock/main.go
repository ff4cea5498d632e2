// Command drydock is a single-binary emulator of Azure Container Registry,
// AKS, Entra ID and Azure RBAC, with a command line that mirrors az.
package main

import (
	"os"

	"github.com/drydock-dev/drydock/internal/cli"
)

func main() {
	os.Exit(cli.Execute())
}
