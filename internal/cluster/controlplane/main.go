package controlplane

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/drydock-dev/drydock/internal/cluster/cpconfig"
)

// Main is `drydock cluster-controlplane --config <file>`: the process the
// server starts for each running cluster (users do not run it themselves).
// It runs the control plane described by the JSON file until SIGINT or
// SIGTERM, then stops gracefully, and returns the exit code. It is
// dispatched from cmd/drydock rather than the CLI package, so that the CLI's
// unit tests do not link Kubernetes.
func Main(args []string) int {
	fs := flag.NewFlagSet("cluster-controlplane", flag.ContinueOnError)
	configFile := fs.String("config", "", `JSON file describing the control plane: {"name", "dataDir", "apiServerAddress", "apiServerPort", "fqdn", "serviceCIDR", "podCIDR", "dnsServiceIP", "kubernetesVersion"}`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configFile == "" {
		fmt.Fprintln(os.Stderr, "ERROR: the following arguments are required: --config")
		return 2
	}
	cfg, err := cpconfig.Load(*configFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal stops gracefully; a second one ends the process.
	context.AfterFunc(ctx, stop)
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		return 1
	}
	return 0
}
