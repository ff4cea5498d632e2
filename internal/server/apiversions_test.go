package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
)

// Every api-version a real client sends is accepted on its resource type,
// and a made-up one is refused as ARM refuses it. The versions come from
// drydock's client, the Azure SDK for Go modules in go.mod, the Python SDK
// (azure-mgmt-*: their default versions), azure-cli 2.45 (profile 'latest'
// and the versions its commands pin; the hybrid profiles for the oldest)
// and the tests.
func TestAPIVersionsOfRealClients(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	sub := "/subscriptions/" + e.sub
	types := []struct {
		name, path string
		versions   []string
	}{
		{"subscriptions", "/subscriptions", []string{client.APIVersionResources, "2022-12-01", "2021-01-01", "2019-11-01", "2016-06-01"}},
		{"tenants", "/tenants", []string{"2022-12-01", "2021-01-01", "2019-11-01", "2016-06-01"}},
		{"resource groups", e.rg("rg"), []string{client.APIVersionResources, "2021-04-01", "2019-10-01", "2018-05-01"}},
		{"registries", e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/nosuchacr", []string{client.APIVersionContainerRegistry,
			"2019-06-01-preview", "2022-02-01-preview", "2021-08-01-preview", "2020-11-01-preview", "2019-05-01-preview", "2021-09-01", "2019-05-01", "2025-04-01"}},
		{"managed clusters", e.rg("rg") + "/providers/Microsoft.ContainerService/managedClusters/nosuchaks", []string{client.APIVersionContainerService,
			"2022-11-01", "2022-11-02-preview", "2020-11-01", "2025-10-01"}},
		{"identities", e.rg("rg") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nosuchid", []string{client.APIVersionManagedIdentity,
			"2024-11-30", "2022-01-31-preview", "2018-11-30"}},
		{"virtual machines", e.rg("rg") + "/providers/Microsoft.Compute/virtualMachines/nosuchvm", []string{client.APIVersionCompute,
			"2022-11-01", "2022-08-01", "2020-06-01"}},
		{"role assignments", sub + "/providers/Microsoft.Authorization/roleAssignments", []string{client.APIVersionAuthorization,
			"2020-04-01-preview", "2018-01-01-preview", "2015-07-01"}},
		{"role definitions", sub + "/providers/Microsoft.Authorization/roleDefinitions", []string{client.APIVersionAuthorization,
			"2018-01-01-preview", "2015-07-01"}},
		{"subscription aliases", "/providers/Microsoft.Subscription/aliases/nosuchalias", []string{client.APIVersionSubscriptionAlias}},
	}
	for _, typ := range types {
		for _, v := range typ.versions {
			code, out := e.do(t, e.arm, "GET", typ.path+"?api-version="+v, nil)
			if code == 400 || code >= 500 {
				t.Errorf("%s at %s: %d %v", typ.name, v, code, out)
			}
		}
		for _, v := range []string{"1999-01-01", "2999-12-31-preview", "2023-02-30"} {
			code, out := e.do(t, e.arm, "GET", typ.path+"?api-version="+v, nil)
			want := fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '", v)
			if code != 400 || errCode(out) != "InvalidApiVersionParameter" || !strings.HasPrefix(errMessage(out), want) || !strings.Contains(errMessage(out), typ.versions[0]) {
				t.Errorf("%s at %s: want 400 InvalidApiVersionParameter listing %s, got %d %v", typ.name, v, typ.versions[0], code, out)
			}
		}
	}
}
