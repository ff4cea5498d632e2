package cli

import (
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/spf13/cobra"
)

const nodepoolTable = `{Name:name, OsType:osType, KubernetesVersion:currentOrchestratorVersion || orchestratorVersion, VmSize:vmSize, OsDiskSizeGB:osDiskSizeGB, Count:count, MaxPods:maxPods, ProvisioningState:provisioningState, Mode:mode}`

// agentPoolReadOnly are the properties of an agent pool the service sets;
// they are left out when a read pool is written back.
var agentPoolReadOnly = []string{"provisioningState", "powerState", "currentOrchestratorVersion", "nodeImageVersion"}

// putPool writes a node pool and prints it unless noWait.
func putPool(x *call, r *ref, props map[string]any, noWait bool) error {
	return r.act(x, http.MethodPut, "", map[string]any{"properties": props}, noWait, func(pool map[string]any) error {
		if noWait {
			return nil
		}
		return agentPools.print(x.app, pool)
	})
}

// agentPoolsCall runs fn with the SDK's agent pools client.
func agentPoolsCall(s client.SDK, fn func(c *armcontainerservice.AgentPoolsClient) error) error {
	c, err := armcontainerservice.NewAgentPoolsClient(s.Sub, s.Cred, s.Options)
	if err != nil {
		return err
	}
	return fn(c)
}

func newNodepoolAddCommand(a *app) *cobra.Command {
	var r *ref
	var count int
	var vmSize, mode, osType, version string
	var noWait bool
	cmd := a.command(spec{use: "add", short: "Add a node pool to the managed Kubernetes cluster.",
		example: "  az aks nodepool add -g MyResourceGroup --cluster-name MyManagedCluster -n mynodepool -c 2",
		needs:   inSubscription, required: agentPools.required,
		check: func() (err error) {
			if err := validateNodepoolName(r.name); err != nil {
				return err
			}
			if version, err = validateK8sVersion(version); err != nil {
				return err
			}
			if mode, err = choice("--mode", mode, "System", "User"); err != nil {
				return err
			}
			osType, err = choice("--os-type", osType, "Linux", "Windows")
			return err
		}}, func(x *call) error {
		path, _, _ := r.resolve(x)
		_, err := r.fetch(x, path)
		switch {
		case err == nil:
			return &cliError{fmt.Sprintf("Node pool %s already exists, please try a different name, use 'aks nodepool list' to get current list of node pool", r.name)}
		case !errdefs.IsNotFound(err):
			return err
		}
		props := map[string]any{"count": count, "vmSize": vmSize, "mode": mode, "osType": osType, "type": "VirtualMachineScaleSets"}
		if version != "" {
			props["orchestratorVersion"] = version
		}
		return putPool(x, r, props, noWait)
	})
	r = agentPools.ref(cmd)
	f := cmd.Flags()
	f.IntVarP(&count, "node-count", "c", aksDefaultNodeCount, "Number of nodes in the Kubernetes agent pool.")
	f.StringVarP(&vmSize, "node-vm-size", "s", aksDefaultVMSize, "Size of Virtual Machines to create as Kubernetes nodes.")
	f.StringVar(&mode, "mode", "User", "The mode for a node pool which defines a node pool's primary function. Allowed values: System, User.")
	f.StringVar(&osType, "os-type", "Linux", "The OS Type. Allowed values: Linux, Windows.")
	f.StringVarP(&version, "kubernetes-version", "k", "", "Version of Kubernetes to use for creating the node pool.")
	noWaitFlag(cmd, &noWait)
	return cmd
}

func newNodepoolScaleCommand(a *app) *cobra.Command {
	var r *ref
	var count int
	var noWait bool
	cmd := a.command(spec{use: "scale", short: "Scale the node pool in a managed Kubernetes cluster.",
		needs: inSubscription, required: agentPools.required}, func(x *call) error {
		path, _, _ := r.resolve(x)
		pool, err := r.fetch(x, path)
		if err != nil {
			return err
		}
		props, _ := pool["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		if n, ok := props["count"].(float64); ok && int(n) == count {
			return &cliError{"The new node count is the same as the current node count."}
		}
		for _, k := range agentPoolReadOnly {
			delete(props, k)
		}
		props["count"] = count
		return putPool(x, r, props, noWait)
	})
	r = agentPools.ref(cmd)
	cmd.Flags().IntVarP(&count, "node-count", "c", aksDefaultNodeCount, "Number of nodes in the Kubernetes node pool.")
	noWaitFlag(cmd, &noWait)
	return cmd
}
