package cli

import (
	"fmt"
	"net/http"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

const nodepoolTable = `{Name:name, OsType:osType, KubernetesVersion:currentOrchestratorVersion || orchestratorVersion, VmSize:vmSize, OsDiskSizeGB:osDiskSizeGB, Count:count, MaxPods:maxPods, ProvisioningState:provisioningState, Mode:mode}`

// agentPoolReadOnly are the properties of an agent pool the service sets;
// they are left out when a read pool is written back.
var agentPoolReadOnly = []string{"provisioningState", "powerState", "currentOrchestratorVersion", "nodeImageVersion"}

func newAKSNodepoolCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "nodepool", Short: "Commands to manage node pools in Kubernetes cluster."}
	cmd.AddCommand(
		newNodepoolListCommand(a),
		newNodepoolShowCommand(a),
		newNodepoolAddCommand(a),
		newNodepoolScaleCommand(a),
		newNodepoolDeleteCommand(a),
	)
	return cmd
}

// nodepoolRef names a node pool: --cluster-name, --resource-group/-g and
// (except for list) --name/-n.
type nodepoolRef struct {
	cluster, group, name string
}

func (r *nodepoolRef) flags(cmd *cobra.Command, withName bool) {
	cmd.Flags().StringVar(&r.cluster, "cluster-name", "", "The cluster name.")
	cmd.Flags().StringVarP(&r.group, "resource-group", "g", "", "Name of resource group.")
	if withName {
		cmd.Flags().StringVarP(&r.name, "name", "n", "", "The node pool name.")
	}
}

func (r *nodepoolRef) poolsPath(sub string) string {
	return resourcePath(sub, r.group, aksProvider, aksType, r.cluster) + "/agentPools"
}

func (r *nodepoolRef) path(sub string) string { return r.poolsPath(sub) + "/" + esc(r.name) }

func newNodepoolListCommand(a *app) *cobra.Command {
	var r nodepoolRef
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List node pools in the managed Kubernetes cluster.",
		RunE: a.withSub([]string{"resource-group", "cluster-name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			items, err := c.ARMList(cmd.Context(), r.poolsPath(sub.ID), client.APIVersionContainerService, nil)
			if err != nil {
				return err
			}
			return a.print(azmodel.RenderAll(azmodel.AgentPool, items), "[]."+nodepoolTable)
		}),
	}
	r.flags(cmd, false)
	return cmd
}

func newNodepoolShowCommand(a *app) *cobra.Command {
	var r nodepoolRef
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the details for a node pool in the managed Kubernetes cluster.",
		RunE: a.withSub([]string{"resource-group", "cluster-name", "name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			var pool map[string]any
			if err := c.ARM(cmd.Context(), aksRequest(http.MethodGet, r.path(sub.ID), nil), &pool); err != nil {
				return err
			}
			return a.print(azmodel.Render(azmodel.AgentPool, pool), nodepoolTable)
		}),
	}
	r.flags(cmd, true)
	return cmd
}

func newNodepoolAddCommand(a *app) *cobra.Command {
	var r nodepoolRef
	var count int
	var vmSize, mode, osType, version string
	var noWait bool
	cmd := &cobra.Command{
		Use:     "add",
		Short:   "Add a node pool to the managed Kubernetes cluster.",
		Example: "  az aks nodepool add -g MyResourceGroup --cluster-name MyManagedCluster -n mynodepool -c 2",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, "resource-group", "cluster-name", "name"); err != nil {
				return err
			}
			if err := validateNodepoolName(r.name); err != nil {
				return err
			}
			v, err := validateK8sVersion(version)
			if err != nil {
				return err
			}
			m, err := choice("--mode", mode, "System", "User")
			if err != nil {
				return err
			}
			ost, err := choice("--os-type", osType, "Linux", "Windows")
			if err != nil {
				return err
			}
			c, sub, err := a.clientAndSub()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			err = c.ARM(ctx, aksRequest(http.MethodGet, r.path(sub.ID), nil), nil)
			switch {
			case err == nil:
				return &cliError{fmt.Sprintf("Node pool %s already exists, please try a different name, use 'aks nodepool list' to get current list of node pool", r.name)}
			case !client.IsNotFound(err):
				return err
			}
			props := map[string]any{"count": count, "vmSize": vmSize, "mode": m, "osType": ost, "type": "VirtualMachineScaleSets"}
			if v != "" {
				props["orchestratorVersion"] = v
			}
			req := aksRequest(http.MethodPut, r.path(sub.ID), map[string]any{"properties": props})
			req.NoWait = noWait
			var pool map[string]any
			if err := c.ARM(ctx, req, &pool); err != nil || noWait {
				return err
			}
			return a.print(azmodel.Render(azmodel.AgentPool, pool), nodepoolTable)
		},
	}
	r.flags(cmd, true)
	f := cmd.Flags()
	f.IntVarP(&count, "node-count", "c", aksDefaultNodeCount, "Number of nodes in the Kubernetes agent pool.")
	f.StringVarP(&vmSize, "node-vm-size", "s", aksDefaultVMSize, "Size of Virtual Machines to create as Kubernetes nodes.")
	f.StringVar(&mode, "mode", "User", "The mode for a node pool which defines a node pool's primary function. Allowed values: System, User.")
	f.StringVar(&osType, "os-type", "Linux", "The OS Type. Allowed values: Linux, Windows.")
	f.StringVarP(&version, "kubernetes-version", "k", "", "Version of Kubernetes to use for creating the node pool.")
	f.BoolVar(&noWait, "no-wait", false, "Do not wait for the long-running operation to finish.")
	return cmd
}

func newNodepoolScaleCommand(a *app) *cobra.Command {
	var r nodepoolRef
	var count int
	var noWait bool
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Scale the node pool in a managed Kubernetes cluster.",
		RunE: a.withSub([]string{"resource-group", "cluster-name", "name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			ctx := cmd.Context()
			var pool map[string]any
			if err := c.ARM(ctx, aksRequest(http.MethodGet, r.path(sub.ID), nil), &pool); err != nil {
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
			req := aksRequest(http.MethodPut, r.path(sub.ID), map[string]any{"properties": props})
			req.NoWait = noWait
			if err := c.ARM(ctx, req, &pool); err != nil || noWait {
				return err
			}
			return a.print(azmodel.Render(azmodel.AgentPool, pool), nodepoolTable)
		}),
	}
	r.flags(cmd, true)
	cmd.Flags().IntVarP(&count, "node-count", "c", aksDefaultNodeCount, "Number of nodes in the Kubernetes node pool.")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "Do not wait for the long-running operation to finish.")
	return cmd
}

func newNodepoolDeleteCommand(a *app) *cobra.Command {
	var r nodepoolRef
	var noWait bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the agent pool in the managed Kubernetes cluster.",
		RunE: a.withSub([]string{"resource-group", "cluster-name", "name"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			req := aksRequest(http.MethodDelete, r.path(sub.ID), nil)
			req.NoWait = noWait
			return c.ARM(cmd.Context(), req, nil)
		}),
	}
	r.flags(cmd, true)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "Do not wait for the long-running operation to finish.")
	return cmd
}
