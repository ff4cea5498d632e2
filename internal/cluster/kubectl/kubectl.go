// Package kubectl runs the upstream kubectl linked into drydock, so that
// `drydock kubectl ...` works on machines without a kubectl of their own.
// Like the control plane, it lives outside internal/cli so that the CLI's
// unit tests do not link Kubernetes.
package kubectl

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

// Run executes kubectl with args (without the program name) and returns
// its exit code.
func Run(args []string) int {
	os.Args = append([]string{"kubectl"}, args...)
	command := cmd.NewDefaultKubectlCommand()
	return cli.Run(command)
}
