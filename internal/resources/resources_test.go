package resources_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/arm/armtest"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/identity"
	"github.com/drydock-dev/drydock/internal/resources"
)

const (
	rgVer  = "?api-version=2022-09-01"
	subVer = "?api-version=2022-12-01"
)

// fixture is subscriptions and resource groups (with role assignments and
// identities, whose deletion they cascade to) on a real front door.
type fixture struct {
	env *armtest.Env
	p   *resources.Provider
	sub string // "/subscriptions/<id>"
}

func newFixture(t *testing.T) fixture {
	env := armtest.New(t)
	acc := env.Access
	acc.Register(env.Router)
	identity.Register(env.Router, env.Kit, env.Dir)
	return fixture{env: env, p: resources.Register(env.Router, env.Kit, env.Dir, env.Engine, acc), sub: "/subscriptions/" + env.Sub}
}

func names(t *testing.T, res armtest.Response, key string) string {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("list: %d %s", res.Status, res.Raw)
	}
	var out []string
	for _, v := range res.Body["value"].([]any) {
		out = append(out, v.(map[string]any)[key].(string))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Resource groups: names and locations checked, PUT creates then updates,
// PATCH only updates, HEAD tells whether one exists, the kit reads and
// lists them through the read filter and deletes one with everything in
// it as a long-running operation.
func TestResourceGroups(t *testing.T) {
	f := newFixture(t)
	owner, ownerTok := f.env.User(t, "owner")
	reader, readerTok := f.env.User(t, "reader")
	f.env.Grant(t, owner, authz.OwnerGUID, f.sub)
	rg := f.sub + "/resourceGroups/rg1"
	f.env.Grant(t, reader, authz.ReaderGUID, rg)
	steps := []struct {
		name, token, method, path string
		body                      any
		status                    int
		code                      string
	}{
		{"bad name", ownerTok, "PUT", f.sub + "/resourceGroups/ends.", map[string]any{"location": "eastus"}, 400, "InvalidResourceGroup"},
		{"no location", ownerTok, "PUT", rg, map[string]any{}, 400, "LocationRequired"},
		{"patch a missing group", ownerTok, "PATCH", rg, map[string]any{"tags": map[string]string{}}, 404, "ResourceGroupNotFound"},
		{"head a missing group", ownerTok, "HEAD", rg, nil, 404, ""},
		{"reader creates", readerTok, "PUT", rg, map[string]any{"location": "eastus"}, 403, "AuthorizationFailed"},
		{"create", ownerTok, "PUT", rg, map[string]any{"location": "East US"}, 201, ""},
		{"create another", ownerTok, "PUT", f.sub + "/resourceGroups/rg2", map[string]any{"location": "westus"}, 201, ""},
		{"update", ownerTok, "PUT", rg, map[string]any{"location": "eastus", "tags": map[string]string{"a": "b"}}, 200, ""},
		{"move", ownerTok, "PUT", rg, map[string]any{"location": "westus"}, 400, "InvalidResourceGroupLocation"},
		{"head", readerTok, "HEAD", rg, nil, 204, ""},
		{"read", readerTok, "GET", rg, nil, 200, ""},
		{"read another", readerTok, "GET", f.sub + "/resourceGroups/rg2", nil, 403, "AuthorizationFailed"},
		{"read a missing group", ownerTok, "GET", f.sub + "/resourceGroups/nope", nil, 404, "ResourceGroupNotFound"},
		{"delete a missing group", ownerTok, "DELETE", f.sub + "/resourceGroups/nope", nil, 404, "ResourceGroupNotFound"},
		{"reader deletes", readerTok, "DELETE", rg, nil, 403, "AuthorizationFailed"},
	}
	for _, s := range steps {
		res := f.env.Do(t, s.token, s.method, s.path+rgVer, s.body)
		if res.Status != s.status || res.ErrorCode() != s.code {
			t.Fatalf("%s: %d %s, want %d %q", s.name, res.Status, res.Raw, s.status, s.code)
		}
	}
	got := f.env.Do(t, readerTok, "GET", rg+rgVer, nil).Body
	if got["location"] != "eastus" || got["tags"].(map[string]any)["a"] != "b" || got["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
		t.Errorf("the group: %v", got)
	}
	if n := names(t, f.env.Do(t, ownerTok, "GET", f.sub+"/resourceGroups"+rgVer, nil), "name"); n != "rg1,rg2" {
		t.Errorf("the owner lists %s", n)
	}
	if n := names(t, f.env.Do(t, readerTok, "GET", f.sub+"/resourceGroups"+rgVer, nil), "name"); n != "rg1" {
		t.Errorf("the reader of rg1 lists %s", n)
	}

	// An identity in rg1 goes with it, and so do the role assignments there.
	mi := rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi1"
	if res := f.env.Do(t, ownerTok, "PUT", mi+"?api-version=2023-01-31", map[string]any{"location": "eastus"}); res.Status != http.StatusCreated {
		t.Fatalf("identity: %d %s", res.Status, res.Raw)
	}
	principal := f.env.Do(t, ownerTok, "GET", mi+"?api-version=2023-01-31", nil).Body["properties"].(map[string]any)["principalId"].(string)
	res := f.env.Do(t, ownerTok, "DELETE", rg+rgVer, nil)
	if res.Status != http.StatusAccepted || res.Header.Get("Azure-AsyncOperation") == "" {
		t.Fatalf("delete: %d %s", res.Status, res.Raw)
	}
	f.env.Router.Ops.Wait()
	status := f.env.Do(t, ownerTok, "GET", strings.TrimPrefix(res.Header.Get("Azure-AsyncOperation"), armtest.BaseURL), nil)
	if status.Body["status"] != "Succeeded" {
		t.Fatalf("the deletion: %s", status.Raw)
	}
	for _, gone := range []string{rg + rgVer, mi + "?api-version=2023-01-31"} {
		if res := f.env.Do(t, ownerTok, "GET", gone, nil); res.Status != http.StatusNotFound {
			t.Errorf("%s after its group's deletion: %d %s", gone, res.Status, res.Raw)
		}
	}
	if _, err := f.env.Dir.Get(context.Background(), principal); err == nil {
		t.Error("the identity's principal outlived its group")
	}
	if as := f.env.Engine.ForPrincipal(reader); len(as) != 0 {
		t.Errorf("the reader's assignment in the deleted group is still there: %v", as)
	}
}

// Subscriptions: a caller sees those it holds a role in or below; a
// Global Administrator creates one through an alias and owns it.
func TestSubscriptions(t *testing.T) {
	f := newFixture(t)
	owner, ownerTok := f.env.User(t, "owner")
	reader, readerTok := f.env.User(t, "reader")
	_, strangerTok := f.env.User(t, "stranger")
	_, adminTok := f.env.Admin(t, "admin")
	f.env.Grant(t, owner, authz.OwnerGUID, f.sub)
	f.env.Group(t, "rg")
	f.env.Grant(t, reader, authz.ReaderGUID, f.sub+"/resourceGroups/rg") // below the subscription
	for _, c := range []struct {
		name, token string
		want        string
		status      int
		code        string
	}{
		{"owner", ownerTok, f.env.Sub, 200, ""},
		{"reader of a group", readerTok, f.env.Sub, 200, ""},
		{"stranger", strangerTok, "", 403, "AuthorizationFailed"},
	} {
		if n := names(t, f.env.Do(t, c.token, "GET", "/subscriptions"+subVer, nil), "subscriptionId"); n != c.want {
			t.Errorf("%s lists %q, want %q", c.name, n, c.want)
		}
		res := f.env.Do(t, c.token, "GET", f.sub+subVer, nil)
		if res.Status != c.status || res.ErrorCode() != c.code {
			t.Errorf("%s reads the subscription: %d %s", c.name, res.Status, res.Raw)
		}
	}

	alias := "/providers/Microsoft.Subscription/aliases/mine?api-version=2021-10-01"
	if res := f.env.Do(t, ownerTok, "PUT", alias, map[string]any{"properties": map[string]any{"displayName": "Mine"}}); res.Status != http.StatusForbidden {
		t.Errorf("a subscription owner who is no Global Administrator creates one: %d %s", res.Status, res.Raw)
	}
	res := f.env.Do(t, adminTok, "PUT", alias, map[string]any{"properties": map[string]any{"displayName": "Mine", "workload": "Production"}})
	if res.Status != http.StatusCreated {
		t.Fatalf("alias: %d %s", res.Status, res.Raw)
	}
	created := res.Body["properties"].(map[string]any)["subscriptionId"].(string)
	if again := f.env.Do(t, adminTok, "PUT", alias, map[string]any{}); again.Status != http.StatusOK || again.Body["properties"].(map[string]any)["subscriptionId"] != created {
		t.Errorf("the alias again: %d %s", again.Status, again.Raw)
	}
	if n := names(t, f.env.Do(t, adminTok, "GET", "/subscriptions"+subVer, nil), "displayName"); n != "Mine" {
		t.Errorf("the admin lists %q", n)
	}
	if got := f.env.Do(t, adminTok, "GET", alias, nil); got.Status != http.StatusOK {
		t.Errorf("GET alias: %d %s", got.Status, got.Raw)
	}
	if got := f.env.Do(t, ownerTok, "GET", alias, nil); got.ErrorCode() != "ResourceNotFound" {
		t.Errorf("GET of someone else's alias: %d %s", got.Status, got.Raw)
	}
}

// The generic resources list: what the caller may read, filtered by
// $filter, without groups or child resources; the tenants list.
func TestListResources(t *testing.T) {
	f := newFixture(t)
	owner, ownerTok := f.env.User(t, "owner")
	reader, readerTok := f.env.User(t, "reader")
	f.env.Grant(t, owner, authz.OwnerGUID, f.sub)
	rg1, rg2 := f.env.Group(t, "rg1"), f.env.Group(t, "rg2")
	f.env.Grant(t, reader, authz.ReaderGUID, rg2.String())
	put := func(id, typ, loc string) {
		f.env.Put(t, arm.Resource{ID: id, Name: id[strings.LastIndex(id, "/")+1:], Type: typ, Location: loc})
	}
	put(rg1.String()+"/providers/Microsoft.ContainerRegistry/registries/acr1", "Microsoft.ContainerRegistry/registries", "eastus")
	put(rg2.String()+"/providers/Microsoft.ContainerRegistry/registries/acr2", "Microsoft.ContainerRegistry/registries", "westus")
	put(rg2.String()+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi", "Microsoft.ManagedIdentity/userAssignedIdentities", "westus")
	put(rg2.String()+"/providers/Microsoft.ContainerService/managedClusters/aks/agentPools/np", "Microsoft.ContainerService/managedClusters/agentPools", "")
	for _, c := range []struct {
		name, token, path, filter, want string
		status                          int
	}{
		{"all", ownerTok, f.sub, "", "acr1,acr2,mi", 200},
		{"a group", ownerTok, rg2.String(), "", "acr2,mi", 200},
		{"by type", ownerTok, f.sub, "resourceType eq 'Microsoft.ContainerRegistry/registries'", "acr1,acr2", 200},
		{"by name and location", ownerTok, f.sub, "name eq 'acr2' and location eq 'westus'", "acr2", 200},
		{"read filter", readerTok, f.sub, "", "acr2,mi", 200},
		{"bad filter", ownerTok, f.sub, "name eq", "", 400},
	} {
		q := "/resources" + rgVer
		if c.filter != "" {
			q += "&$filter=" + strings.ReplaceAll(strings.ReplaceAll(c.filter, " ", "%20"), "'", "%27")
		}
		res := f.env.Do(t, c.token, "GET", c.path+q, nil)
		if c.status != 200 {
			if res.Status != c.status || res.ErrorCode() != "InvalidFilterInQueryString" {
				t.Errorf("%s: %d %s", c.name, res.Status, res.Raw)
			}
			continue
		}
		if n := names(t, res, "name"); n != c.want {
			t.Errorf("%s: %q, want %q", c.name, n, c.want)
		}
	}
	res := f.env.Do(t, readerTok, "GET", "/tenants?api-version=2022-12-01", nil)
	if n := names(t, res, "tenantId"); n != f.env.Dir.TenantID() {
		t.Errorf("tenants: %s", res.Raw)
	}
}

// CreateSubscription, for bootstrap, makes its owner Owner at once.
func TestCreateSubscription(t *testing.T) {
	f := newFixture(t)
	owner, _ := f.env.User(t, "owner")
	s, err := f.p.CreateSubscription(context.Background(), "11111111-2222-3333-4444-555555555555", "Boot", owner)
	if err != nil {
		t.Fatal(err)
	}
	if !f.env.RBAC.Decide(owner, "Microsoft.Resources/subscriptions/resourceGroups/write", false, "/subscriptions/"+s.ID).Allowed {
		t.Error("the creator cannot write in its subscription")
	}
	if _, err := f.p.CreateSubscription(context.Background(), s.ID, "Again", owner); err == nil {
		t.Error("a subscription was created twice")
	}
}
