package authz

import "strings"

// GUIDs of the built-in roles this package defines.
const (
	OwnerGUID                                    = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	ContributorGUID                              = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	ReaderGUID                                   = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	UserAccessAdministratorGUID                  = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	RoleBasedAccessControlAdministratorGUID      = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
	AcrPullGUID                                  = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	AcrPushGUID                                  = "8311e382-0749-4cb8-b61a-304f252e45ec"
	AcrDeleteGUID                                = "c2f4ef07-c644-48eb-af81-4b1b4947fb11"
	AcrImageSignerGUID                           = "6cef56e8-d556-48e5-a04f-b8e64114680f"
	AcrQuarantineReaderGUID                      = "cdda3590-29a3-44f6-95f2-9f980659eb04"
	AcrQuarantineWriterGUID                      = "c8d4ff99-41c3-41a8-9f60-21dfdad59608"
	ContainerRegistryRepositoryReaderGUID        = "b93aa761-3e63-49ed-ac28-beffa264f7ac"
	ContainerRegistryRepositoryWriterGUID        = "2a1e307c-b015-4ebd-883e-5b7698a07328"
	ContainerRegistryRepositoryContributorGUID   = "2efddaa5-3f1f-4df3-97df-af3f13818f4c"
	ContainerRegistryRepositoryCatalogListerGUID = "bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7"
	ContainerRegistryDataImporterGUID            = "577a9874-89fd-4f24-9dbd-b5034d0ad23a"
	ManagedIdentityOperatorGUID                  = "f1a07417-d97a-45cb-824c-7a7467783830"
)

// Frequently used actions.
const (
	ActionRoleAssignmentsWrite  = "Microsoft.Authorization/roleAssignments/write"
	ActionRoleAssignmentsDelete = "Microsoft.Authorization/roleAssignments/delete"
	ActionRoleAssignmentsRead   = "Microsoft.Authorization/roleAssignments/read"
	ActionRegistryPull          = "Microsoft.ContainerRegistry/registries/pull/read"
	ActionRegistryPush          = "Microsoft.ContainerRegistry/registries/push/write"
	ActionRegistryArtifactsDel  = "Microsoft.ContainerRegistry/registries/artifacts/delete"
	ActionRegistryRead          = "Microsoft.ContainerRegistry/registries/read"
	ActionRegistryWrite         = "Microsoft.ContainerRegistry/registries/write"

	DataActionRepositoryContentRead   = "Microsoft.ContainerRegistry/registries/repositories/content/read"
	DataActionRepositoryContentWrite  = "Microsoft.ContainerRegistry/registries/repositories/content/write"
	DataActionRepositoryContentDelete = "Microsoft.ContainerRegistry/registries/repositories/content/delete"
	DataActionRepositoryMetaRead      = "Microsoft.ContainerRegistry/registries/repositories/metadata/read"
	DataActionRepositoryMetaWrite     = "Microsoft.ContainerRegistry/registries/repositories/metadata/write"
	DataActionRepositoryMetaDelete    = "Microsoft.ContainerRegistry/registries/repositories/metadata/delete"
	DataActionCatalogRead             = "Microsoft.ContainerRegistry/registries/catalog/read"
)

const acr = "Microsoft.ContainerRegistry/registries/"

// builtInRoles is the package's master copy. It is never handed out; the
// exported accessors return deep copies.
var builtInRoles = []RoleDefinition{
	{
		GUID:        OwnerGUID,
		Name:        "Owner",
		Description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
		Permissions: []Permission{{Actions: []string{"*"}}},
	},
	{
		GUID:        ContributorGUID,
		Name:        "Contributor",
		Description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
		Permissions: []Permission{{
			Actions: []string{"*"},
			NotActions: []string{
				"Microsoft.Authorization/*/Delete",
				"Microsoft.Authorization/*/Write",
				"Microsoft.Authorization/elevateAccess/Action",
				"Microsoft.Blueprint/blueprintAssignments/write",
				"Microsoft.Blueprint/blueprintAssignments/delete",
				"Microsoft.Compute/galleries/share/action",
				"Microsoft.Purview/consents/write",
				"Microsoft.Purview/consents/delete",
				"Microsoft.Resources/deploymentStacks/manageDenySetting/action",
				"Microsoft.Subscription/cancel/action",
				"Microsoft.Subscription/enable/action",
			},
		}},
	},
	{
		GUID:        ReaderGUID,
		Name:        "Reader",
		Description: "View all resources, but does not allow you to make any changes.",
		Permissions: []Permission{{Actions: []string{"*/read"}}},
	},
	{
		GUID:        UserAccessAdministratorGUID,
		Name:        "User Access Administrator",
		Description: "Lets you manage user access to Azure resources.",
		Permissions: []Permission{{Actions: []string{
			"*/read",
			"Microsoft.Authorization/*",
			"Microsoft.Support/*",
		}}},
	},
	{
		// Azure attaches an optional ABAC condition to this role's
		// assignments; conditions are not modelled here.
		GUID:        RoleBasedAccessControlAdministratorGUID,
		Name:        "Role Based Access Control Administrator",
		Description: "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.",
		Permissions: []Permission{{Actions: []string{
			"Microsoft.Authorization/roleAssignments/write",
			"Microsoft.Authorization/roleAssignments/delete",
			"*/read",
			"Microsoft.Support/*",
		}}},
	},
	{
		GUID:        AcrPullGUID,
		Name:        "AcrPull",
		Description: "acr pull",
		Permissions: []Permission{{Actions: []string{acr + "pull/read"}}},
	},
	{
		GUID:        AcrPushGUID,
		Name:        "AcrPush",
		Description: "acr push",
		Permissions: []Permission{{Actions: []string{acr + "pull/read", acr + "push/write"}}},
	},
	{
		GUID:        AcrDeleteGUID,
		Name:        "AcrDelete",
		Description: "acr delete",
		Permissions: []Permission{{Actions: []string{acr + "artifacts/delete"}}},
	},
	{
		GUID:        AcrImageSignerGUID,
		Name:        "AcrImageSigner",
		Description: "acr image signer",
		Permissions: []Permission{{
			Actions:     []string{acr + "sign/write"},
			DataActions: []string{acr + "trustedCollections/write"},
		}},
	},
	{
		GUID:        AcrQuarantineReaderGUID,
		Name:        "AcrQuarantineReader",
		Description: "acr quarantine data reader",
		Permissions: []Permission{{
			Actions:     []string{acr + "quarantine/read"},
			DataActions: []string{acr + "quarantinedArtifacts/read"},
		}},
	},
	{
		GUID:        AcrQuarantineWriterGUID,
		Name:        "AcrQuarantineWriter",
		Description: "acr quarantine data writer",
		Permissions: []Permission{{
			Actions:     []string{acr + "quarantine/read", acr + "quarantine/write"},
			DataActions: []string{acr + "quarantinedArtifacts/read", acr + "quarantinedArtifacts/write"},
		}},
	},
	{
		GUID:        ContainerRegistryRepositoryReaderGUID,
		Name:        "Container Registry Repository Reader",
		Description: "Allows for read access to Azure Container Registry repositories, but excluding catalog listing.",
		Permissions: []Permission{{DataActions: []string{
			DataActionRepositoryMetaRead,
			DataActionRepositoryContentRead,
		}}},
	},
	{
		GUID:        ContainerRegistryRepositoryWriterGUID,
		Name:        "Container Registry Repository Writer",
		Description: "Allows for read and write access to Azure Container Registry repositories, but excluding catalog listing.",
		Permissions: []Permission{{DataActions: []string{
			DataActionRepositoryMetaRead,
			DataActionRepositoryContentRead,
			DataActionRepositoryMetaWrite,
			DataActionRepositoryContentWrite,
		}}},
	},
	{
		GUID:        ContainerRegistryRepositoryContributorGUID,
		Name:        "Container Registry Repository Contributor",
		Description: "Allows for read, write, and delete access to Azure Container Registry repositories, but excluding catalog listing.",
		Permissions: []Permission{{DataActions: []string{
			DataActionRepositoryMetaRead,
			DataActionRepositoryContentRead,
			DataActionRepositoryMetaWrite,
			DataActionRepositoryContentWrite,
			DataActionRepositoryMetaDelete,
			DataActionRepositoryContentDelete,
		}}},
	},
	{
		GUID:        ContainerRegistryRepositoryCatalogListerGUID,
		Name:        "Container Registry Repository Catalog Lister",
		Description: "Allows for listing all repositories in an Azure Container Registry.",
		Permissions: []Permission{{DataActions: []string{DataActionCatalogRead}}},
	},
	{
		GUID:        ContainerRegistryDataImporterGUID,
		Name:        "Container Registry Data Importer and Data Reader",
		Description: "Allows for importing images into an Azure Container Registry and for reading its repositories, their content and metadata, and its catalog, without write or delete access to repositories.",
		Permissions: []Permission{{
			Actions: []string{
				acr + "importImage/action",
				acr + "read",
				acr + "pull/read",
			},
			DataActions: []string{
				DataActionRepositoryContentRead,
				DataActionRepositoryMetaRead,
				DataActionCatalogRead,
			},
		}},
	},
	{
		GUID:        ManagedIdentityOperatorGUID,
		Name:        "Managed Identity Operator",
		Description: "Read and Assign User Assigned Identity",
		Permissions: []Permission{{Actions: []string{
			"Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
			"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
			"Microsoft.Authorization/*/read",
			"Microsoft.Insights/alertRules/*",
			"Microsoft.Resources/subscriptions/resourceGroups/read",
			"Microsoft.Resources/deployments/*",
			"Microsoft.Support/*",
		}}},
	},
}

func init() {
	for i := range builtInRoles {
		builtInRoles[i].RoleType = "BuiltInRole"
		builtInRoles[i].AssignableScopes = []string{"/"}
		// ARM renders absent lists as [], not null.
		for j := range builtInRoles[i].Permissions {
			p := &builtInRoles[i].Permissions[j]
			for _, l := range []*[]string{&p.Actions, &p.NotActions, &p.DataActions, &p.NotDataActions} {
				if *l == nil {
					*l = []string{}
				}
			}
		}
	}
}

// BuiltInRoles returns fresh copies of all built-in role definitions known to
// drydock, in a stable order. Callers may modify the result.
func BuiltInRoles() []RoleDefinition {
	out := make([]RoleDefinition, len(builtInRoles))
	for i, r := range builtInRoles {
		out[i] = r.Clone()
	}
	return out
}

// RoleByName looks a built-in role up by its roleName, ignoring case.
func RoleByName(name string) (RoleDefinition, bool) {
	name = strings.TrimSpace(name)
	for _, r := range builtInRoles {
		if strings.EqualFold(r.Name, name) {
			return r.Clone(), true
		}
	}
	return RoleDefinition{}, false
}

// RoleByID looks a built-in role up by a bare GUID or by any role definition
// ID ending in "/providers/Microsoft.Authorization/roleDefinitions/<guid>"
// (tenant-level or subscription-level form), ignoring case.
func RoleByID(idOrGUID string) (RoleDefinition, bool) {
	guid := roleGUID(idOrGUID)
	if guid == "" {
		return RoleDefinition{}, false
	}
	for _, r := range builtInRoles {
		if strings.EqualFold(r.GUID, guid) {
			return r.Clone(), true
		}
	}
	return RoleDefinition{}, false
}

// Clone returns a deep copy of r.
func (r RoleDefinition) Clone() RoleDefinition {
	c := r
	if r.Permissions != nil {
		c.Permissions = make([]Permission, len(r.Permissions))
		for i, p := range r.Permissions {
			c.Permissions[i] = Permission{
				Actions:        cloneStrings(p.Actions),
				NotActions:     cloneStrings(p.NotActions),
				DataActions:    cloneStrings(p.DataActions),
				NotDataActions: cloneStrings(p.NotDataActions),
			}
		}
	}
	c.AssignableScopes = cloneStrings(r.AssignableScopes)
	return c
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}
