package identity_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/arm/armtest"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/identity"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	idVer = "?api-version=2023-01-31"
	vmVer = "?api-version=2024-03-01"
)

// fixture is the identity provider on a real front door, a user who owns
// the subscription, one who only reads it, and a resource group.
type fixture struct {
	env                 *armtest.Env
	ownerTok, readerTok string
	reader              string
	rg                  resourceid.ID
}

func newFixture(t *testing.T) fixture {
	env := armtest.New(t)
	identity.Register(env.Router, env.Kit, env.Dir)
	owner, ownerTok := env.User(t, "owner")
	reader, readerTok := env.User(t, "reader")
	sub := "/subscriptions/" + env.Sub
	env.Grant(t, owner, authz.OwnerGUID, sub)
	env.Grant(t, reader, authz.ReaderGUID, sub)
	return fixture{env: env, ownerTok: ownerTok, readerTok: readerTok, reader: reader, rg: env.Group(t, "rg")}
}

func (f fixture) identityID(name string) string {
	return f.rg.String() + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

func (f fixture) vmID(name string) string {
	return f.rg.String() + "/providers/Microsoft.Compute/virtualMachines/" + name
}

func props(res armtest.Response) map[string]any {
	p, _ := res.Body["properties"].(map[string]any)
	return p
}

// A user-assigned identity is a service principal of the directory: PUT
// creates it once (201, then 200 with the same principal), the kit reads,
// lists and deletes it, and deleting it deletes the principal.
func TestUserAssignedIdentity(t *testing.T) {
	f := newFixture(t)
	id := f.identityID("mi1")
	steps := []struct {
		name, token, method, path string
		body                      any
		status                    int
		code                      string
	}{
		{"bad name", f.ownerTok, "PUT", f.identityID("x"), map[string]any{"location": "eastus"}, 400, "InvalidResourceName"},
		{"no location", f.ownerTok, "PUT", id, map[string]any{}, 400, "LocationRequired"},
		{"bad location", f.ownerTok, "PUT", id, map[string]any{"location": "east/us"}, 400, "LocationNotAvailableForResourceType"},
		{"reader writes", f.readerTok, "PUT", id, map[string]any{"location": "eastus"}, 403, "AuthorizationFailed"},
		{"not JSON", f.ownerTok, "PUT", id, "{", 400, "InvalidRequestContent"},
		{"create", f.ownerTok, "PUT", id, map[string]any{"location": "East US"}, 201, ""},
		{"update tags", f.ownerTok, "PATCH", id, map[string]any{"tags": map[string]string{"a": "b"}}, 200, ""},
		{"reader reads", f.readerTok, "GET", id, nil, 200, ""},
	}
	var principal string
	for _, s := range steps {
		res := f.env.Do(t, s.token, s.method, s.path+idVer, s.body)
		if res.Status != s.status || res.ErrorCode() != s.code {
			t.Fatalf("%s: %d %s, want %d %q", s.name, res.Status, res.Raw, s.status, s.code)
		}
		if s.status >= 300 || s.method == "GET" {
			continue
		}
		p := props(res)
		if principal == "" {
			principal, _ = p["principalId"].(string)
		}
		if p["principalId"] != principal || p["clientId"] == "" || p["tenantId"] != f.env.Dir.TenantID() || res.Body["location"] != "eastus" {
			t.Fatalf("%s: %s", s.name, res.Raw)
		}
	}
	sp, err := f.env.Dir.Get(context.Background(), principal)
	if err != nil || sp.ResourceID == "" || !strings.EqualFold(sp.ResourceID, id) {
		t.Fatalf("the identity's principal: %+v, %v", sp, err)
	}
	if res := f.env.Do(t, f.ownerTok, "GET", f.rg.String()+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities"+idVer, nil); len(res.Body["value"].([]any)) != 1 {
		t.Fatalf("list: %s", res.Raw)
	}
	if res := f.env.Do(t, f.ownerTok, "DELETE", id+idVer, nil); res.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", res.Status, res.Raw)
	}
	if _, err := f.env.Dir.Get(context.Background(), principal); !errdefs.IsNotFound(err) {
		t.Errorf("the principal outlived its identity: %v", err)
	}
	if res := f.env.Do(t, f.ownerTok, "DELETE", id+idVer, nil); res.Status != http.StatusNoContent {
		t.Errorf("delete again: %d", res.Status)
	}
}

// A host's identity block: its types, the linked authorization its
// user-assigned identities need, the system-assigned principal it keeps
// across updates; its credential gets tokens for those identities only.
func TestHostIdentities(t *testing.T) {
	f := newFixture(t)
	mi := f.identityID("mi1")
	if res := f.env.Do(t, f.ownerTok, "PUT", mi+idVer, map[string]any{"location": "eastus"}); res.Status != http.StatusCreated {
		t.Fatalf("identity: %d %s", res.Status, res.Raw)
	}
	miPrincipal := props(f.env.Do(t, f.ownerTok, "GET", mi+idVer, nil))["principalId"]
	vm := f.vmID("vm1")
	// The reader may write this one host, but assign no identity.
	f.env.Grant(t, f.reader, authz.ContributorGUID, vm)
	ident := func(typ string, ids ...string) map[string]any {
		uai := map[string]any{}
		for _, id := range ids {
			uai[id] = map[string]any{}
		}
		return map[string]any{"location": "eastus", "identity": map[string]any{"type": typ, "userAssignedIdentities": uai}}
	}
	cases := []struct {
		name, token string
		body        any
		status      int
		code        string
	}{
		{"bad type", f.ownerTok, ident("Everything"), 400, "InvalidIdentityType"},
		{"no location", f.ownerTok, map[string]any{}, 400, "LocationRequired"},
		{"unlinked identity", f.readerTok, ident("UserAssigned", mi), 403, "LinkedAuthorizationFailed"},
		{"unknown identity", f.ownerTok, ident("UserAssigned", f.identityID("nope")), 400, "InvalidIdentity"},
		{"both", f.ownerTok, ident("SystemAssigned, UserAssigned", mi), 201, ""},
		{"again", f.ownerTok, ident("SystemAssigned, UserAssigned", mi), 200, ""},
	}
	var system string
	for _, c := range cases {
		res := f.env.Do(t, c.token, "PUT", vm+vmVer, c.body)
		if res.Status != c.status || res.ErrorCode() != c.code {
			t.Fatalf("%s: %d %s, want %d %q", c.name, res.Status, res.Raw, c.status, c.code)
		}
		if c.status >= 300 {
			continue
		}
		id := res.Body["identity"].(map[string]any)
		if system == "" {
			system, _ = id["principalId"].(string)
		}
		uai := id["userAssignedIdentities"].(map[string]any)
		if id["principalId"] != system || system == "" || len(uai) != 1 {
			t.Fatalf("%s: identity %v", c.name, id)
		}
		for _, v := range uai {
			if v.(map[string]any)["principalId"] != miPrincipal {
				t.Fatalf("%s: user-assigned %v, want principal %v", c.name, v, miPrincipal)
			}
		}
	}

	res := f.env.Do(t, f.ownerTok, "POST", vm+"/issueHostCredential"+vmVer, nil)
	cred, _ := res.Body["hostCredential"].(string)
	if res.Status != http.StatusOK || cred == "" || res.Body["identityEndpoint"] != armtest.BaseURL+"/metadata/identity/oauth2/token" {
		t.Fatalf("issueHostCredential: %d %s", res.Status, res.Raw)
	}
	host, ids, err := f.env.Dir.AuthenticateHost(context.Background(), cred)
	if err != nil || !strings.EqualFold(host, vm) || len(ids) != 2 {
		t.Fatalf("the credential: %s %v %v", host, ids, err)
	}
	if res := f.env.Do(t, f.readerTok, "POST", vm+"/issueHostCredential"+vmVer, nil); res.Status != http.StatusOK {
		t.Errorf("a contributor of the host: %d %s", res.Status, res.Raw)
	}
	if res := f.env.Do(t, f.ownerTok, "POST", f.vmID("nope")+"/issueHostCredential"+vmVer, nil); res.ErrorCode() != "ResourceNotFound" {
		t.Errorf("the credential of no host: %d %s", res.Status, res.Raw)
	}

	if res := f.env.Do(t, f.ownerTok, "DELETE", vm+vmVer, nil); res.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", res.Status, res.Raw)
	}
	if _, _, err := f.env.Dir.AuthenticateHost(context.Background(), cred); err == nil {
		t.Error("a deleted host's credential still works")
	}
	if _, err := f.env.Dir.Get(context.Background(), system); !errdefs.IsNotFound(err) {
		t.Errorf("the host's system-assigned principal outlived it: %v", err)
	}
	if _, err := f.env.Dir.Get(context.Background(), miPrincipal.(string)); err != nil {
		t.Errorf("the user-assigned identity went with the host: %v", err)
	}
}

// CreateIdentity, for server-side callers, creates an identity once and
// returns the existing one after.
func TestCreateIdentity(t *testing.T) {
	env := armtest.New(t)
	p := identity.Register(env.Router, env.Kit, env.Dir)
	rg := env.Group(t, "rg")
	id := resourceid.New(env.Sub, rg.ResourceGroup, "Microsoft.ManagedIdentity", "userAssignedIdentities", "kubelet")
	var first, second string
	for _, out := range []*string{&first, &second} {
		if err := env.Store.Update(context.Background(), func(tx *store.Tx) error {
			res, err := p.CreateIdentity(tx, id, "eastus", arm.Caller{Name: "drydock", PrincipalType: "ServicePrincipal"})
			*out = string(res.Properties)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if first != second || !strings.Contains(first, `"principalId"`) {
		t.Errorf("created %s, then %s", first, second)
	}
}
