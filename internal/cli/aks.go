package cli

import (
	"context"
	"net/http"
	"regexp"

	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/spf13/cobra"
)

// drydock's managed clusters run a real Kubernetes control plane each; the
// CLI only drives their ARM resources, as az aks does.
// Defaults of az aks create.
const (
	aksDefaultNodeCount    = 3
	aksDefaultVMSize       = "Standard_DS2_v2"
	aksDefaultNodepoolName = "nodepool1"
	aksDefaultAdminUser    = "azureuser"
)

// kubeletObjectID is the object ID of a cluster's kubelet identity, the
// principal that pulls images (and so the one --attach-acr grants AcrPull).
func kubeletObjectID(mc map[string]any) string {
	return str(mc, "properties", "identityProfile", "kubeletidentity", "objectId")
}

// aksCreateOptions are the arguments of az aks create.
type aksCreateOptions struct {
	ref                                              *ref
	location, kubernetesVersion, dnsPrefix, nodeRG   string
	nodeCount                                        int
	vmSize, nodepoolName, adminUser                  string
	attachACR, assignIdentity, assignKubeletIdentity string
	sshKeyValue                                      string
	generateSSHKeys, noSSHKey, noWait, yes           bool
	managedIdentity                                  triBool
	tags                                             []string
}

var (
	k8sVersionRE   = regexp.MustCompile(`^[vV]?(\d+\.\d+(?:\.\d+)?)$`)
	nodepoolNameRE = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
)

// validateK8sVersion is az's validate_k8s_version; it returns the version
// without a leading "v".
func validateK8sVersion(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	m := k8sVersionRE.FindStringSubmatch(v)
	if m == nil {
		return "", usageErrorf(`--kubernetes-version should be the full version number or alias minor version, such as "1.7.12" or "1.7"`)
	}
	return m[1], nil
}

// validateNodepoolName is az's _validate_nodepool_name.
func validateNodepoolName(name string) error {
	switch {
	case len(name) > 12:
		return usageErrorf("--nodepool-name can contain at most 12 characters")
	case !nodepoolNameRE.MatchString(name):
		return usageErrorf("--nodepool-name should contain only alphanumeric characters")
	}
	return nil
}

// validateResourceIDFlag is az's check that an identity argument is a
// resource ID.
func validateResourceIDFlag(flag, value string) error {
	if value == "" {
		return nil
	}
	if value == systemIdentity {
		return usageErrorf("argument %s: expected one argument", flag)
	}
	id, err := resourceid.Parse(value)
	if err != nil || !id.IsResource() || id.SubscriptionID == "" || id.ResourceGroup == "" {
		return usageErrorf("%s is not a valid Azure resource ID.", flag)
	}
	return nil
}

// validate applies az's checks, in az's order: the argument validators
// (usage errors) first, then those of the create decorator.
func (o *aksCreateOptions) validate() error {
	var err error
	if o.kubernetesVersion, err = validateK8sVersion(o.kubernetesVersion); err != nil {
		return err
	}
	if err := validateNodepoolName(o.nodepoolName); err != nil {
		return err
	}
	if err := validateResourceIDFlag("--assign-identity", o.assignIdentity); err != nil {
		return err
	}
	if err := validateResourceIDFlag("--assign-kubelet-identity", o.assignKubeletIdentity); err != nil {
		return err
	}
	if o.nodeCount < 1 {
		return usageErrorf("--node-count must be at least 1")
	}
	msi := !o.managedIdentity.set || o.managedIdentity.val
	if o.assignIdentity != "" && !msi {
		return &cliError{"--assign-identity can only be specified when --enable-managed-identity is specified"}
	}
	if o.assignKubeletIdentity != "" && o.assignIdentity == "" {
		return &cliError{"--assign-kubelet-identity can only be specified when --assign-identity is specified"}
	}
	if !msi {
		return &cliError{"drydock clusters use managed identities: --enable-managed-identity false (a service principal cluster) is not supported."}
	}
	if o.noWait && o.attachACR != "" {
		return &cliError{"When --attach-acr and --enable-managed-identity are both specified, --no-wait is not allowed, please wait until the whole operation succeeds."}
	}
	return nil
}

var dnsPrefixStrip = regexp.MustCompile(`[^A-Za-z0-9-]`)

// defaultDNSPrefix is az's _get_default_dns_prefix.
func defaultDNSPrefix(name, group, sub string) string {
	namePart := dnsPrefixStrip.ReplaceAllString(name, "")
	namePart = namePart[:min(len(namePart), 10)]
	if namePart == "" || !(namePart[0] >= 'a' && namePart[0] <= 'z' || namePart[0] >= 'A' && namePart[0] <= 'Z') {
		namePart = ("a" + namePart)[:min(len(namePart)+1, 10)]
	}
	groupPart := dnsPrefixStrip.ReplaceAllString(group, "")
	groupPart = groupPart[:min(len(groupPart), 16)]
	return namePart + "-" + groupPart + "-" + sub[:min(len(sub), 6)]
}

func newAKSCreateCommand(a *app) *cobra.Command {
	o := &aksCreateOptions{}
	var tags map[string]string
	var sshKey string
	cmd := a.command(spec{use: "create", short: "Create a new managed Kubernetes cluster.",
		example: "  az aks create -g MyResourceGroup -n MyManagedCluster --generate-ssh-keys\n" +
			"  az aks create -g MyResourceGroup -n MyManagedCluster --attach-acr myregistry --generate-ssh-keys\n" +
			"  az aks create -g MyResourceGroup -n MyManagedCluster --assign-identity <control plane identity ID> --assign-kubelet-identity <kubelet identity ID> --generate-ssh-keys",
		needs: inSubscription, required: managedClusters.required,
		check: func() (err error) {
			if err := o.validate(); err != nil {
				return err
			}
			if tags, err = parseTags(o.tags); err != nil {
				return err
			}
			sshKey, err = a.sshPublicKey(o.sshKeyValue, o.generateSSHKeys, o.noSSHKey)
			return err
		}}, func(x *call) error {
		return a.createCluster(x, o, tags, sshKey)
	})
	o.ref = managedClusters.ref(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.location, "location", "l", "", "Location. Defaults to the location of the resource group.")
	f.IntVarP(&o.nodeCount, "node-count", "c", aksDefaultNodeCount, "Number of nodes in the Kubernetes node pool.")
	f.StringVarP(&o.kubernetesVersion, "kubernetes-version", "k", "", "Version of Kubernetes to use for creating the cluster, such as \"1.37.2\". Defaults to the server's default version.")
	f.StringVarP(&o.vmSize, "node-vm-size", "s", aksDefaultVMSize, "Size of Virtual Machines to create as Kubernetes nodes.")
	f.StringVar(&o.nodepoolName, "nodepool-name", aksDefaultNodepoolName, "Node pool name, up to 12 alphanumeric characters.")
	f.StringVar(&o.nodeRG, "node-resource-group", "", "The node resource group is the resource group where all customer's resources will be created in, such as virtual machines. Defaults to MC_<group>_<name>_<location>.")
	f.StringVarP(&o.dnsPrefix, "dns-name-prefix", "p", "", "Prefix for hostnames that are created. If not specified, generate a hostname using the managed cluster and resource group names.")
	f.StringVarP(&o.adminUser, "admin-username", "u", aksDefaultAdminUser, "User account to create on node VMs for SSH access.")
	f.StringVar(&o.attachACR, "attach-acr", "", "Grant the 'acrpull' role assignment to the ACR specified by name or resource ID.")
	// A flag without a value, as in az; =false is only there to reach az's
	// validation, since drydock has no service principal clusters.
	f.Var(&o.managedIdentity, "enable-managed-identity", "Using a system assigned managed identity to manage cluster resource group (the default).")
	f.Lookup("enable-managed-identity").NoOptDefVal = "true"
	f.StringVar(&o.assignIdentity, "assign-identity", "", "Specify an existing user assigned identity for control plane's usage in order to manage cluster resource group.")
	f.StringVar(&o.assignKubeletIdentity, "assign-kubelet-identity", "", "Specify an existing user assigned identity for kubelet's usage, which is typically used to pull image from ACR.")
	f.StringVar(&o.sshKeyValue, "ssh-key-value", "", "Public key path or key contents to install on node VMs for SSH access. Defaults to ~/.ssh/id_rsa.pub.")
	f.BoolVar(&o.generateSSHKeys, "generate-ssh-keys", false, "Generate SSH public and private key files if missing. The keys will be stored in the ~/.ssh directory.")
	f.BoolVarP(&o.noSSHKey, "no-ssh-key", "x", false, "Do not use or create a local SSH key.")
	f.BoolVar(&o.noWait, "no-wait", false, "Do not wait for the long-running operation to finish.")
	f.StringArrayVar(&o.tags, "tags", nil, "Space-separated tags: key[=value] [key[=value] ...].")
	yesFlag(f, &o.yes)
	return cmd
}

// createCluster PUTs the cluster and then attaches the registry, as az's
// create decorator does for a managed identity cluster. The registry is
// resolved before anything is created, so that a misspelt --attach-acr
// leaves nothing behind.
func (a *app) createCluster(x *call, o *aksCreateOptions, tags map[string]string, sshKey string) error {
	ctx, c, sub := x.ctx, x.c, x.sub
	location := o.location
	if location == "" {
		var err error
		if location, err = groupLocation(ctx, c, sub.ID, o.ref.group); err != nil {
			return err
		}
	}
	var registry *aksRegistry
	if o.attachACR != "" {
		r, err := resolveAKSRegistry(ctx, c, sub, o.attachACR)
		if err != nil {
			return err
		}
		registry = &r
	}
	pool := map[string]any{
		"name": o.nodepoolName, "count": o.nodeCount, "vmSize": o.vmSize,
		"mode": "System", "osType": "Linux", "type": "VirtualMachineScaleSets",
	}
	dnsPrefix := o.dnsPrefix
	if dnsPrefix == "" {
		dnsPrefix = defaultDNSPrefix(o.ref.name, o.ref.group, sub.ID)
	}
	props := map[string]any{
		"dnsPrefix":         dnsPrefix,
		"agentPoolProfiles": []any{pool},
		"enableRBAC":        true,
	}
	if o.kubernetesVersion != "" {
		props["kubernetesVersion"] = o.kubernetesVersion
		pool["orchestratorVersion"] = o.kubernetesVersion
	}
	if o.nodeRG != "" {
		props["nodeResourceGroup"] = o.nodeRG
	}
	if sshKey != "" {
		props["linuxProfile"] = map[string]any{
			"adminUsername": o.adminUser,
			"ssh":           map[string]any{"publicKeys": []any{map[string]any{"keyData": sshKey}}},
		}
	}
	identity := map[string]any{"type": "SystemAssigned"}
	if o.assignIdentity != "" {
		identity = map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{o.assignIdentity: map[string]any{}}}
	}
	if o.assignKubeletIdentity != "" {
		kubelet, err := getIdentity(ctx, c, o.assignKubeletIdentity)
		if err != nil {
			return err
		}
		props["identityProfile"] = map[string]any{"kubeletidentity": map[string]any{
			"resourceId": o.assignKubeletIdentity,
			"clientId":   str(kubelet, "properties", "clientId"),
			"objectId":   str(kubelet, "properties", "principalId"),
		}}
		controlPlane, err := getIdentity(ctx, c, o.assignIdentity)
		if err != nil {
			return err
		}
		if err := a.ensureManagedIdentityOperator(ctx, c, str(controlPlane, "properties", "principalId"), o.assignKubeletIdentity); err != nil {
			return err
		}
	}
	body := map[string]any{"location": location, "identity": identity, "properties": props}
	if tags != nil {
		body["tags"] = tags
	}
	var mc map[string]any
	if err := o.ref.act(x, http.MethodPut, "", body, o.noWait, func(m map[string]any) error { mc = m; return nil }); err != nil {
		return err
	}
	if o.noWait {
		return nil
	}
	if registry != nil {
		objectID := kubeletObjectID(mc)
		if objectID == "" {
			a.warn("Your cluster is successfully created, but we failed to attach acr to it, you can manually grant permission to the identity named <ClUSTER_NAME>-agentpool in MC_ resource group to give it permission to pull from ACR.")
		} else if err := a.attachACR(ctx, c, *registry, objectID); err != nil {
			a.warn("The cluster '%s' was created, but the registry could not be attached. Fix the cause and run 'az aks update -n %s -g %s --attach-acr %s'.",
				o.ref.name, o.ref.name, o.ref.group, o.attachACR)
			return err
		}
	}
	return a.print(azmodel.Render(azmodel.ManagedCluster, mc), managedClusters.table)
}

// aksShowJSON is what az aks show and list print: the cluster as az renders
// it, less the nulls az's _remove_nulls drops there (the cluster's tags, each
// pool's osDiskSizeGb and vnetSubnetId, the service principal's secret).
func aksShowJSON(mc map[string]any) map[string]any {
	out := azmodel.Render(azmodel.ManagedCluster, mc)
	deleteNulls(out, "tags")
	pools, _ := out["agentPoolProfiles"].([]any)
	for _, p := range pools {
		if pool, ok := p.(map[string]any); ok {
			deleteNulls(pool, "osDiskSizeGb", "vnetSubnetId")
		}
	}
	if sp, ok := out["servicePrincipalProfile"].(map[string]any); ok {
		deleteNulls(sp, "secret")
	}
	return out
}

// deleteNulls deletes the keys of m whose value is null.
func deleteNulls(m map[string]any, keys ...string) {
	for _, k := range keys {
		if v, ok := m[k]; ok && v == nil {
			delete(m, k)
		}
	}
}

// getIdentity reads a user-assigned managed identity by resource ID, in
// whatever subscription the ID names.
func getIdentity(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
	mi, err := identities.fetchID(ctx, c, id)
	if errdefs.IsNotFound(err) {
		return nil, &cliError{"Identity " + id + " not found."}
	}
	return mi, err
}

func newAKSUpdateCommand(a *app) *cobra.Command {
	var r *ref
	var attach, detach string
	cmd := a.command(spec{use: "update", short: "Update a managed Kubernetes cluster: attach or detach a container registry.",
		example: "  az aks update -g MyResourceGroup -n MyManagedCluster --attach-acr myregistry\n" +
			"  az aks update -g MyResourceGroup -n MyManagedCluster --attach-acr /subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>\n" +
			"  az aks update -g MyResourceGroup -n MyManagedCluster --detach-acr myregistry",
		needs: inSubscription, required: managedClusters.required,
		check: func() error {
			if attach != "" && detach != "" {
				return usageErrorf(`Cannot specify "--attach-acr" and "--detach-acr" at the same time.`)
			}
			if attach == "" && detach == "" {
				return &cliError{`Please specify "--attach-acr" or "--detach-acr".`}
			}
			return nil
		}}, func(x *call) error {
		ctx, c, sub := x.ctx, x.c, x.sub
		mc, err := r.fetch(x, r.path(sub.ID))
		if err != nil {
			return err
		}
		objectID := kubeletObjectID(mc)
		if objectID == "" {
			return &cliError{"Unexpected error getting kubelet's identity for the cluster. Please do not set --attach-acr or --detach-acr. " +
				"You can manually grant or revoke permission to the identity named <ClUSTER_NAME>-agentpool in MC_ resource group to access ACR."}
		}
		reg, err := resolveAKSRegistry(ctx, c, sub, attach+detach)
		if err != nil {
			return err
		}
		if attach != "" {
			err = a.attachACR(ctx, c, reg, objectID)
		} else {
			err = a.detachACR(ctx, c, reg, objectID)
		}
		if err != nil {
			return err
		}
		return a.print(azmodel.Render(azmodel.ManagedCluster, mc), managedClusters.table)
	})
	r = managedClusters.ref(cmd)
	cmd.Flags().StringVar(&attach, "attach-acr", "", "Grant the 'acrpull' role assignment to the ACR specified by name or resource ID.")
	cmd.Flags().StringVar(&detach, "detach-acr", "", "Disable the 'acrpull' role assignment to the ACR specified by name or resource ID.")
	return cmd
}

// newAKSPowerCommand is az aks stop or start: a POST action that prints
// nothing.
func newAKSPowerCommand(a *app, action, short string) *cobra.Command {
	var r *ref
	var noWait bool
	cmd := a.command(spec{use: action, short: short, needs: inSubscription, required: managedClusters.required}, func(x *call) error {
		return r.act(x, http.MethodPost, "/"+action, nil, noWait, func(map[string]any) error { return nil })
	})
	r = managedClusters.ref(cmd)
	noWaitFlag(cmd, &noWait)
	return cmd
}
