package access

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// Reload gives the engine each stored assignment as the API wrote it:
// the role's GUID (lower-cased) from its definition ID at any level, the
// scope as given, the principal and its type, and when it was created.
func TestReloadLoadsStoredAssignments(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	sub := "/subscriptions/00000000-0000-4000-8000-000000000001"
	rg := sub + "/resourceGroups/RG-One"
	cases := []struct {
		name       string
		in         Assignment
		wantRole   string
		wantScope  string
		wantPrType string
	}{
		{"subscription role at a subscription",
			Assignment{Name: "10000000-0000-4000-8000-000000000001", Properties: Properties{
				RoleDefinitionID: sub + authz.RoleDefinitionsPath + authz.AcrPullGUID, PrincipalID: "20000000-0000-4000-8000-000000000001",
				PrincipalType: "ServicePrincipal", Scope: sub}},
			authz.AcrPullGUID, sub, "ServicePrincipal"},
		{"upper-case role GUID at a resource group",
			Assignment{Name: "10000000-0000-4000-8000-000000000002", Properties: Properties{
				RoleDefinitionID: sub + authz.RoleDefinitionsPath + strings.ToUpper(authz.ReaderGUID), PrincipalID: "20000000-0000-4000-8000-000000000002",
				PrincipalType: "User", Scope: rg}},
			authz.ReaderGUID, rg, "User"},
		{"tenant-level role definition ID, same scope as another",
			Assignment{Name: "10000000-0000-4000-8000-000000000003", Properties: Properties{
				RoleDefinitionID: authz.RoleDefinitionsPath + authz.OwnerGUID, PrincipalID: "20000000-0000-4000-8000-000000000003",
				PrincipalType: "Group", Scope: rg}},
			authz.OwnerGUID, rg, "Group"},
	}
	ctx := context.Background()
	st := storetest.Open(t)
	err := st.Update(ctx, func(tx *store.Tx) error {
		for _, c := range cases {
			a := c.in
			a.ID = a.Properties.Scope + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name
			a.Type = assignmentsType
			a.Properties.CreatedOn, a.Properties.UpdatedOn = created, created
			body, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := accessdb.CreateRoleAssignment(tx, accessdb.RoleAssignment{Name: a.Name, Scope: a.Properties.Scope,
				RoleGUID: roleGUID(a.Properties.RoleDefinitionID), PrincipalID: a.Properties.PrincipalID, Body: body}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	engine := authz.NewEngine(nil)
	s := &Service{st: st, engine: engine}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if engine.Len() != len(cases) {
		t.Errorf("engine holds %d assignments, want %d", engine.Len(), len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := engine.Get(c.in.Name)
			if !ok {
				t.Fatalf("%s is not loaded", c.in.Name)
			}
			want := authz.Assignment{Name: c.in.Name, Scope: c.wantScope, RoleDefinitionID: c.wantRole,
				PrincipalID: c.in.Properties.PrincipalID, PrincipalType: c.wantPrType, CreatedOn: created}
			if got != want {
				t.Errorf("loaded %+v, want %+v", got, want)
			}
		})
	}
}

// A stored body that does not decode fails the load, naming the
// assignment, and leaves the engine as it was.
func TestReloadRefusesUndecodableBody(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	const name = "10000000-0000-4000-8000-0000000000ff"
	err := st.Update(ctx, func(tx *store.Tx) error {
		return accessdb.CreateRoleAssignment(tx, accessdb.RoleAssignment{Name: name, Scope: "/", RoleGUID: authz.ReaderGUID,
			PrincipalID: "20000000-0000-4000-8000-0000000000ff", Body: json.RawMessage(`{"name": 7}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	engine := authz.NewEngine(nil)
	err = (&Service{st: st, engine: engine}).Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "role assignment "+name+":") {
		t.Fatalf("Reload: %v, want an error naming %s", err, name)
	}
	if engine.Len() != 0 {
		t.Errorf("engine holds %d assignments after a failed load", engine.Len())
	}
}
