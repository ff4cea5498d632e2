package cli

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// The resource table: each ARM resource type and directory collection the
// CLI drives, declared once. Their show, list and delete commands are
// derived from these declarations (armResource.commands,
// directoryType.commands); their other commands use them to name, read and
// write the resources.

// resourceGroups declares resource groups.
var resourceGroups = declare(&armResource{
	help:       verbs{show: "Gets a resource group.", del: "Delete a resource group."},
	apiVersion: client.APIVersionResources,
	required:   []string{"name|resource-group"},
	flags: func(cmd *cobra.Command, r *ref) {
		cmd.Flags().StringVarP(&r.name, "name", "n", "", "Name of the resource group.")
		cmd.Flags().StringVarP(&r.name, "resource-group", "g", "", "Name of the resource group (alias of --name).")
	},
	path:           func(sub string, r *ref) string { return groupPath(sub, r.name) },
	listPath:       func(sub, _ string) string { return subscriptionPath(sub) + "/resourcegroups" },
	render:         renderModel(azmodel.ResourceGroup),
	table:          groupTable,
	deleteQuestion: confirmOperation,
	deleteNoWait:   true,
	sdk: sdkOf(armresources.NewResourceGroupsClient,
		func(c *armresources.ResourceGroupsClient, ctx context.Context, _, name string, o *armresources.ResourceGroupsClientGetOptions) (armresources.ResourceGroupsClientGetResponse, error) {
			return c.Get(ctx, name, o)
		},
		(*armresources.ResourceGroupsClient).NewListPager,
		func(c *armresources.ResourceGroupsClient, _ string, o *armresources.ResourceGroupsClientListOptions) *runtime.Pager[armresources.ResourceGroupsClientListResponse] {
			return c.NewListPager(o)
		},
		func(ctx context.Context, c *armresources.ResourceGroupsClient, _, name string, _ map[string]any, noWait bool) error {
			p, err := c.BeginDelete(ctx, name, nil)
			return done(ctx, p, err, noWait)
		},
		func(ctx context.Context, c *armresources.ResourceGroupsClient, _, name string, body map[string]any, _ bool) error {
			m, err := model[armresources.ResourceGroup](body)
			if err == nil {
				_, err = c.CreateOrUpdate(ctx, name, m, nil)
			}
			return err
		}, nil),
})

// registries declares Microsoft.ContainerRegistry/registries.
var registries = declare(&armResource{
	help:     verbs{show: "Get the details of an Azure Container Registry.", list: "List container registries.", del: "Delete an Azure Container Registry."},
	provider: "Microsoft.ContainerRegistry", typ: "registries", apiVersion: client.APIVersionContainerRegistry,
	nameHelp:       "The name of the container registry.",
	groupHelp:      "Name of resource group. Found by the registry's name when omitted.",
	byName:         true,
	required:       []string{"name"},
	render:         renderRegistry,
	table:          `{NAME:name, "RESOURCE GROUP":resourceGroup, LOCATION:location, SKU:sku.name, "LOGIN SERVER":loginServer, "CREATION DATE":creationDate, "ADMIN ENABLED":adminUserEnabled}`,
	deleteQuestion: "Are you sure you want to delete the registry '%s'?",
	sdk: sdkOf(armcontainerregistry.NewRegistriesClient, (*armcontainerregistry.RegistriesClient).Get,
		(*armcontainerregistry.RegistriesClient).NewListPager, (*armcontainerregistry.RegistriesClient).NewListByResourceGroupPager,
		lro((*armcontainerregistry.RegistriesClient).BeginDelete), lroWith((*armcontainerregistry.RegistriesClient).BeginCreate),
		map[string]sdkOp[armcontainerregistry.RegistriesClient]{
			// No PATCH: the SDK's RegistryUpdateParameters has no
			// anonymousPullEnabled, so acr update sends its own request.
			"POST/listCredentials":      plain((*armcontainerregistry.RegistriesClient).ListCredentials),
			"POST/regenerateCredential": plainWith((*armcontainerregistry.RegistriesClient).RegenerateCredential),
			"GET/listUsages":            plain((*armcontainerregistry.RegistriesClient).ListUsages),
		}),
})

// managedClusters declares Microsoft.ContainerService/managedClusters.
var managedClusters = declare(&armResource{
	help:     verbs{show: "Show the details for a managed Kubernetes cluster.", list: "List managed Kubernetes clusters.", del: "Delete a managed Kubernetes cluster."},
	provider: "Microsoft.ContainerService", typ: "managedClusters", apiVersion: client.APIVersionContainerService,
	nameHelp:       "Name of the managed cluster.",
	render:         func(_ *app, mc map[string]any) map[string]any { return aksShowJSON(mc) },
	table:          `{Name:name, Location:location, ResourceGroup:resourceGroup, KubernetesVersion:kubernetesVersion, CurrentKubernetesVersion:currentKubernetesVersion, ProvisioningState:provisioningState, Fqdn:fqdn || privateFqdn}`,
	deleteQuestion: confirmOperation,
	deleteNoWait:   true,
	sdk: sdkOf(armcontainerservice.NewManagedClustersClient, (*armcontainerservice.ManagedClustersClient).Get,
		(*armcontainerservice.ManagedClustersClient).NewListPager, (*armcontainerservice.ManagedClustersClient).NewListByResourceGroupPager,
		lro((*armcontainerservice.ManagedClustersClient).BeginDelete), nil,
		map[string]sdkOp[armcontainerservice.ManagedClustersClient]{
			"PUT":                             lroWith((*armcontainerservice.ManagedClustersClient).BeginCreateOrUpdate),
			"POST/stop":                       lro((*armcontainerservice.ManagedClustersClient).BeginStop),
			"POST/start":                      lro((*armcontainerservice.ManagedClustersClient).BeginStart),
			"POST/listClusterUserCredential":  plain((*armcontainerservice.ManagedClustersClient).ListClusterUserCredentials),
			"POST/listClusterAdminCredential": plain((*armcontainerservice.ManagedClustersClient).ListClusterAdminCredentials),
		}),
})

// agentPools declares Microsoft.ContainerService/managedClusters/agentPools.
var agentPools = declare(&armResource{
	help:   verbs{show: "Show the details for a node pool in the managed Kubernetes cluster.", list: "List node pools in the managed Kubernetes cluster.", del: "Delete the agent pool in the managed Kubernetes cluster."},
	parent: managedClusters, typ: "agentPools", apiVersion: client.APIVersionContainerService,
	parentFlag: "cluster-name", parentHelp: "The cluster name.",
	nameHelp:     "The node pool name.",
	required:     []string{"resource-group", "cluster-name", "name"},
	render:       renderModel(azmodel.AgentPool),
	table:        nodepoolTable,
	deleteNoWait: true,
	sdk: (&sdkCalls{
		get: func(ctx context.Context, s client.SDK, t target) error {
			return agentPoolsCall(s, func(c *armcontainerservice.AgentPoolsClient) error {
				_, err := c.Get(ctx, t.group, t.parent, t.name, nil)
				return err
			})
		},
		list: func(ctx context.Context, api *client.Client, s client.SDK, t target) (items []map[string]any, err error) {
			err = agentPoolsCall(s, func(c *armcontainerservice.AgentPoolsClient) error {
				items, err = client.RawPages(ctx, api, c.NewListPager(t.group, t.parent, nil))
				return err
			})
			return items, err
		},
		del: func(ctx context.Context, s client.SDK, t target, noWait bool) error {
			return agentPoolsCall(s, func(c *armcontainerservice.AgentPoolsClient) error {
				p, err := c.BeginDelete(ctx, t.group, t.parent, t.name, nil)
				return done(ctx, p, err, noWait)
			})
		},
	}).with(map[string]sdkAction{
		"PUT": func(ctx context.Context, s client.SDK, t target, body map[string]any, noWait bool) error {
			m, err := model[armcontainerservice.AgentPool](body)
			if err != nil {
				return err
			}
			return agentPoolsCall(s, func(c *armcontainerservice.AgentPoolsClient) error {
				p, err := c.BeginCreateOrUpdate(ctx, t.group, t.parent, t.name, m, nil)
				return done(ctx, p, err, noWait)
			})
		},
	}),
})

// identities declares Microsoft.ManagedIdentity/userAssignedIdentities.
var identities = declare(&armResource{
	help:     verbs{show: "Show an identity.", list: "List identities.", del: "Delete an identity."},
	provider: "Microsoft.ManagedIdentity", typ: "userAssignedIdentities", apiVersion: client.APIVersionManagedIdentity,
	nameHelp: "The name of the identity resource.",
	render:   renderModel(azmodel.Identity),
	sdk: sdkOf(armmsi.NewUserAssignedIdentitiesClient, (*armmsi.UserAssignedIdentitiesClient).Get,
		(*armmsi.UserAssignedIdentitiesClient).NewListBySubscriptionPager, (*armmsi.UserAssignedIdentitiesClient).NewListByResourceGroupPager,
		plain((*armmsi.UserAssignedIdentitiesClient).Delete), plainWith((*armmsi.UserAssignedIdentitiesClient).CreateOrUpdate), nil),
})

// virtualMachines declares Microsoft.Compute/virtualMachines: drydock's
// virtual machines are hosts that carry managed identities and serve them
// through an IMDS endpoint; nothing runs on them.
var virtualMachines = declare(&armResource{
	help:     verbs{show: "Get the details of a virtual machine.", list: "List details of virtual machines.", del: "Delete a virtual machine."},
	provider: "Microsoft.Compute", typ: "virtualMachines", apiVersion: client.APIVersionCompute,
	nameHelp:       "The name of the Virtual Machine.",
	render:         func(_ *app, m map[string]any) map[string]any { return flatten(m) },
	listTable:      "[].{Name:name, ResourceGroup:resourceGroup, Location:location}",
	deleteQuestion: confirmOperation,
})

// users declares the directory's users.
var users = &directoryType[client.User]{
	help:       verbs{show: "Get the details of a user.", list: "List users.", del: "Delete a user."},
	collection: (*client.Client).Users,
	flag:       "id", flagHelp: "User's object id or principal name.",
	filters:    []listFilter{{"upn", "User principal name.", func(q string) string { return "userPrincipalName eq " + q }}},
	filterHelp: "OData filter, e.g. --filter \"displayname eq 'test' and servicePrincipalType eq 'Application'\".",
}

// groups declares the directory's groups.
var groups = &directoryType[client.Group]{
	help:       verbs{show: "Get the details of a group.", list: "List groups in the directory.", del: "Delete a group."},
	collection: (*client.Client).Groups,
	flag:       "group", shorthand: "g", flagHelp: "Group's object id or display name(prefix also works if there is a unique match).",
	resolve:    resolveGroup,
	filterHelp: "OData filter.",
}

// servicePrincipals declares the directory's service principals.
var servicePrincipals = &directoryType[client.ServicePrincipal]{
	help:       verbs{show: "Get the details of a service principal.", list: "List service principals.", del: "Delete a service principal."},
	collection: (*client.Client).ServicePrincipals,
	flag:       "id", flagHelp: "Service principal name, or object id.",
	resolve: resolveServicePrincipal,
	filters: []listFilter{{"spn", "Service principal name.", func(q string) string {
		return "servicePrincipalNames/any(c:c eq " + q + ")"
	}}},
	filterHelp: "OData filter.",
	paged:      true,
}
