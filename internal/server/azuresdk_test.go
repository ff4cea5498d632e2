package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/google/uuid"
)

// TestAzureSDK drives drydock with the official Azure SDK for Go: a
// service principal signs in through azidentity against drydock's
// authority, then manages resource groups, registries, identities and role
// assignments with the ARM clients pointed at drydock.
func TestAzureSDK(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	admin := ts.userToken(t, ts.Admin, ts.adminPassword(t), "https://graph.microsoft.com/.default")
	armAdmin := ts.userToken(t, ts.Admin, ts.adminPassword(t), "https://management.core.windows.net//.default")

	// A service principal for the SDK, Owner of the subscription.
	code, app := ts.do(t, admin, "POST", "/v1.0/applications", map[string]any{"displayName": "sdk-test"})
	if code != 201 {
		t.Fatalf("create application: %d %v", code, app)
	}
	code, sp := ts.do(t, admin, "POST", "/v1.0/servicePrincipals", map[string]any{"appId": app["appId"]})
	if code != 201 {
		t.Fatalf("create service principal: %d %v", code, sp)
	}
	code, pw := ts.do(t, admin, "POST", "/v1.0/applications/"+app["id"].(string)+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "sdk"}})
	if code != 200 {
		t.Fatalf("addPassword: %d %v", code, pw)
	}
	code, subs := ts.do(t, armAdmin, "GET", "/subscriptions?api-version=2022-12-01", nil)
	if code != 200 {
		t.Fatalf("list subscriptions: %d %v", code, subs)
	}
	sub := subs["value"].([]any)[0].(map[string]any)["subscriptionId"].(string)
	code, ra := ts.do(t, armAdmin, "PUT", "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "principalId": sp["id"], "principalType": "ServicePrincipal"}})
	if code != 201 {
		t.Fatalf("assign Owner: %d %v", code, ra)
	}

	cfg := cloud.Configuration{
		ActiveDirectoryAuthorityHost: ts.Endpoint + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: ts.Endpoint, Audience: "https://management.core.windows.net/"},
		},
	}
	copts := azcore.ClientOptions{Cloud: cfg, Transport: ts.client}
	cred, err := azidentity.NewClientSecretCredential(ts.TenantID, app["appId"].(string), pw["secretText"].(string),
		&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := &arm.ClientOptions{ClientOptions: copts, DisableRPRegistration: true}

	groups, err := armresources.NewResourceGroupsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "sdk-rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatalf("create resource group: %v", err)
	}
	rg, err := groups.Get(ctx, "SDK-RG", nil)
	if err != nil || *rg.Location != "eastus" {
		t.Fatalf("get resource group (other case): %v %+v", err, rg)
	}

	registries, err := armcontainerregistry.NewRegistriesClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	poller, err := registries.BeginCreate(ctx, "sdk-rg", "sdkregistry1", armcontainerregistry.Registry{
		Location: to.Ptr("eastus"), SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameStandard)},
		Properties: &armcontainerregistry.RegistryProperties{AdminUserEnabled: to.Ptr(true)},
	}, nil)
	if err != nil {
		t.Fatalf("begin create registry: %v", err)
	}
	reg, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create registry: %v", err)
	}
	if !strings.HasPrefix(*reg.Properties.LoginServer, "sdkregistry1.azurecr.io:") || *reg.SKU.Tier != armcontainerregistry.SKUTierStandard {
		t.Fatalf("registry: %+v", reg.Properties)
	}
	avail, err := registries.CheckNameAvailability(ctx, armcontainerregistry.RegistryNameCheckRequest{
		Name: to.Ptr("SDKREGISTRY1")}, nil)
	if err != nil || *avail.NameAvailable || *avail.Reason != "AlreadyExists" {
		t.Fatalf("checkNameAvailability: %v %+v", err, avail)
	}
	creds, err := registries.ListCredentials(ctx, "sdk-rg", "sdkregistry1", nil)
	if err != nil || len(creds.Passwords) != 2 || *creds.Username != "sdkregistry1" {
		t.Fatalf("listCredentials: %v %+v", err, creds)
	}
	pager := registries.NewListPager(nil)
	found := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found += len(page.Value)
	}
	if found != 1 {
		t.Fatalf("list registries: %d", found)
	}

	identities, err := armmsi.NewUserAssignedIdentitiesClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	mi, err := identities.CreateOrUpdate(ctx, "sdk-rg", "sdk-kubelet", armmsi.Identity{Location: to.Ptr("eastus")}, nil)
	if err != nil || mi.Properties.PrincipalID == nil || mi.Properties.ClientID == nil {
		t.Fatalf("create identity: %v %+v", err, mi)
	}

	defs, err := armauthorization.NewRoleDefinitionsClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	dpager := defs.NewListPager(*reg.ID, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("roleName eq 'acrpull'")})
	var acrPull *armauthorization.RoleDefinition
	for dpager.More() {
		page, err := dpager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Value {
			acrPull = d
		}
	}
	if acrPull == nil || *acrPull.Name != "7f951dda-4ed3-4680-a7ca-43fe172d538d" {
		t.Fatalf("AcrPull definition: %+v", acrPull)
	}
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	name := uuid.NewString()
	params := armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: acrPull.ID, PrincipalID: mi.Properties.PrincipalID, PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}
	if _, err := assignments.Create(ctx, *reg.ID, name, params, nil); err != nil {
		t.Fatalf("assign AcrPull: %v", err)
	}
	_, err = assignments.Create(ctx, *reg.ID, uuid.NewString(), params, nil)
	var respErr *azcore.ResponseError
	if !asResponseError(err, &respErr) || respErr.ErrorCode != "RoleAssignmentExists" || respErr.StatusCode != http.StatusConflict {
		t.Fatalf("duplicate assignment: want 409 RoleAssignmentExists, got %v", err)
	}
	lpager := assignments.NewListForScopePager(*reg.ID, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr("atScope()")})
	var atScope int
	for lpager.More() {
		page, err := lpager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			if *a.Properties.PrincipalID == *mi.Properties.PrincipalID {
				atScope++
			}
		}
	}
	if atScope != 1 {
		t.Fatalf("list atScope(): found the identity's assignment %d times", atScope)
	}
	if _, err := assignments.Delete(ctx, *reg.ID, name, nil); err != nil {
		t.Fatalf("delete assignment: %v", err)
	}

	delPoller, err := groups.BeginDelete(ctx, "sdk-rg", nil)
	if err != nil {
		t.Fatalf("begin delete group: %v", err)
	}
	if _, err := delPoller.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if _, err := registries.Get(ctx, "sdk-rg", "sdkregistry1", nil); !asResponseError(err, &respErr) || respErr.StatusCode != 404 {
		t.Fatalf("registry after group delete: %v", err)
	}
}

func asResponseError(err error, target **azcore.ResponseError) bool { return errors.As(err, target) }
