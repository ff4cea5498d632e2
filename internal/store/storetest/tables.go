package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	sub1   = "8f1c2d3e-0000-4000-8000-000000000001"
	sub2   = "8f1c2d3e-0000-4000-8000-000000000002"
	rgID   = "/subscriptions/" + sub1 + "/resourceGroups/RG1"
	regID  = rgID + "/providers/Microsoft.ContainerRegistry/registries/MyReg"
	userID = "0a0a0a0a-0000-4000-8000-00000000000a"
	spID   = "0b0b0b0b-0000-4000-8000-00000000000b"
	appID  = "0c0c0c0c-0000-4000-8000-00000000000c"
	grpID  = "0d0d0d0d-0000-4000-8000-00000000000d"
	miID   = "0e0e0e0e-0000-4000-8000-00000000000e"
	client = "1f1f1f1f-0000-4000-8000-00000000001f"
)

// sameTime reports whether two times are the same instant, to the
// nanosecond.
func sameTime(a, b time.Time) bool { return a.Equal(b) }

func testMeta(t *testing.T, open Opener) {
	s := openStore(t, open)
	update(t, s, func(tx *store.Tx) error {
		if v, err := tx.Meta("tenant"); v != "" || err != nil {
			t.Errorf("absent key: %q %v", v, err)
		}
		if err := tx.SetMeta("tenant", "one"); err != nil {
			return err
		}
		return tx.SetMeta("tenant", "two")
	})
	view(t, s, func(tx *store.Tx) error {
		if v, err := tx.Meta("tenant"); v != "two" || err != nil {
			t.Errorf("after two writes: %q %v", v, err)
		}
		return nil
	})
}

func testSubscriptions(t *testing.T, open Opener) {
	s := openStore(t, open)
	before := time.Now()
	update(t, s, func(tx *store.Tx) error {
		if err := tx.CreateSubscription(store.Subscription{ID: sub2, DisplayName: "second", TenantID: "t", State: "Enabled"}); err != nil {
			return err
		}
		return tx.CreateSubscription(store.Subscription{ID: sub1, DisplayName: "first", TenantID: "t", State: "Enabled"})
	})
	update(t, s, func(tx *store.Tx) error {
		err := tx.CreateSubscription(store.Subscription{ID: "8F1C2D3E-0000-4000-8000-000000000001", DisplayName: "dup"})
		if !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Errorf("duplicate ID in another case: %v", err)
		}
		return nil
	})
	view(t, s, func(tx *store.Tx) error {
		got, err := tx.GetSubscription("8F1C2D3E-0000-4000-8000-000000000001")
		if err != nil || got.DisplayName != "first" || got.CreatedAt.Before(before.Add(-time.Second)) {
			t.Errorf("get: %+v %v", got, err)
		}
		wantKind(t, "unknown", errOf(tx.GetSubscription("nope")), errdefs.ErrNotFound)
		list, err := tx.ListSubscriptions()
		if err != nil || len(list) != 2 || list[0].ID != sub2 || list[1].ID != sub1 {
			t.Errorf("list in creation order: %+v %v", list, err)
		}
		return nil
	})
}

func testResources(t *testing.T, open Opener) {
	s := openStore(t, open)
	rg := store.Resource{ID: rgID, Type: "Microsoft.Resources/resourceGroups", Subscription: sub1, ResourceGroup: "RG1", Name: "RG1", Body: json.RawMessage(`{"location":"eastus"}`)}
	reg := store.Resource{ID: regID, Type: "Microsoft.ContainerRegistry/registries", Subscription: sub1, ResourceGroup: "RG1", Name: "MyReg", Body: json.RawMessage(`{"v":1}`)}
	update(t, s, func(tx *store.Tx) error {
		if err := tx.PutResource(rg); err != nil {
			return err
		}
		return tx.PutResource(reg)
	})
	var created time.Time
	view(t, s, func(tx *store.Tx) error {
		r, err := tx.GetResource(regID)
		created = r.CreatedAt
		if err != nil || r.Name != "MyReg" || r.Type != "microsoft.containerregistry/registries" || string(r.Body) != `{"v":1}` {
			t.Errorf("get: %+v %v", r, err)
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		reg.Body = json.RawMessage(`{"v":2}`)
		if err := tx.PutResource(reg); err != nil {
			return err
		}
		// Registry names are global: the same name in another group is taken.
		other := reg
		other.ID = "/subscriptions/" + sub2 + "/resourceGroups/rg2/providers/Microsoft.ContainerRegistry/registries/myreg"
		other.Subscription, other.ResourceGroup = sub2, "rg2"
		wantKind(t, "registry name taken elsewhere", tx.PutResource(other), errdefs.ErrAlreadyExists)
		return nil
	})
	view(t, s, func(tx *store.Tx) error {
		r, err := tx.GetResource(regID)
		if err != nil || string(r.Body) != `{"v":2}` || !sameTime(r.CreatedAt, created) || r.UpdatedAt.Before(created) {
			t.Errorf("after replace: %+v %v (created %v)", r, err, created)
		}
		tests := []struct {
			f    store.ResourceFilter
			want []string
		}{
			{store.ResourceFilter{}, []string{rgID, regID}},
			{store.ResourceFilter{Type: "MICROSOFT.CONTAINERREGISTRY/REGISTRIES"}, []string{regID}},
			{store.ResourceFilter{Subscription: sub1, ResourceGroup: "rg1"}, []string{rgID, regID}},
			{store.ResourceFilter{Name: "myreg"}, []string{regID}},
			{store.ResourceFilter{Subscription: sub2}, nil},
		}
		for _, tc := range tests {
			list, err := tx.ListResources(tc.f)
			var ids []string
			for _, r := range list {
				ids = append(ids, r.ID)
			}
			if err != nil || !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("list %+v: %v %v, want %v", tc.f, ids, err, tc.want)
			}
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		if err := tx.DeleteResource(regID); err != nil {
			return err
		}
		wantKind(t, "delete again", tx.DeleteResource(regID), errdefs.ErrNotFound)
		wantKind(t, "get deleted", errOf(tx.GetResource(regID)), errdefs.ErrNotFound)
		return nil
	})
}

func testPrincipals(t *testing.T, open Opener) {
	s := openStore(t, open)
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	update(t, s, func(tx *store.Tx) error {
		for _, p := range []directorydb.Principal{
			{ObjectID: userID, Kind: "User", UPN: "Alice@Drydock.Local", DisplayName: "alice", PasswordHash: "h1", CreatedAt: created},
			{ObjectID: spID, Kind: "ServicePrincipal", AppID: client, DisplayName: "Builder"},
			{ObjectID: appID, Kind: "Application", AppID: client, DisplayName: "builder app"},
			{ObjectID: grpID, Kind: "Group", UPN: "devs", DisplayName: "Devs"},
			{ObjectID: miID, Kind: "ManagedIdentity", AppID: "2a2a2a2a-0000-4000-8000-00000000002a", ResourceID: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Id1", DisplayName: "id1"},
		} {
			if err := directorydb.CreatePrincipal(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		dups := []directorydb.Principal{
			{ObjectID: "0A0A0A0A-0000-4000-8000-00000000000A", Kind: "User", DisplayName: "same object ID"},
			{ObjectID: "3b3b3b3b-0000-4000-8000-00000000003b", Kind: "User", UPN: "ALICE@drydock.local", DisplayName: "same UPN"},
		}
		for _, p := range dups {
			if err := directorydb.CreatePrincipal(tx, p); !errors.Is(err, errdefs.ErrAlreadyExists) {
				t.Errorf("%s: %v", p.DisplayName, err)
			}
		}
		return nil
	})
	view(t, s, func(tx *store.Tx) error {
		lookups := []struct {
			name string
			get  func() (directorydb.Principal, error)
			want string
		}{
			{"by object ID", func() (directorydb.Principal, error) {
				return directorydb.GetPrincipal(tx, "0A0A0A0A-0000-4000-8000-00000000000A")
			}, userID},
			{"by UPN", func() (directorydb.Principal, error) { return directorydb.PrincipalByUPN(tx, "alice@DRYDOCK.local") }, userID},
			{"group by nickname", func() (directorydb.Principal, error) { return directorydb.PrincipalByUPN(tx, "DEVS") }, grpID},
			{"service principal by app ID", func() (directorydb.Principal, error) {
				return directorydb.PrincipalByAppID(tx, "1F1F1F1F-0000-4000-8000-00000000001F")
			}, spID},
			{"application by app ID", func() (directorydb.Principal, error) { return directorydb.ApplicationByAppID(tx, client) }, appID},
			{"managed identity by resource ID", func() (directorydb.Principal, error) {
				return directorydb.PrincipalByResourceID(tx, "/subscriptions/X/resourcegroups/RG/providers/microsoft.managedidentity/userassignedidentities/id1")
			}, miID},
			{"unknown UPN", func() (directorydb.Principal, error) { return directorydb.PrincipalByUPN(tx, "bob@drydock.local") }, ""},
			{"empty UPN", func() (directorydb.Principal, error) { return directorydb.PrincipalByUPN(tx, "") }, ""},
		}
		for _, l := range lookups {
			p, err := l.get()
			if l.want == "" {
				if !errors.Is(err, errdefs.ErrNotFound) {
					t.Errorf("%s: %+v %v, want not found", l.name, p, err)
				}
				continue
			}
			if err != nil || p.ObjectID != l.want {
				t.Errorf("%s: %q %v, want %q", l.name, p.ObjectID, err, l.want)
			}
		}
		u, _ := directorydb.GetPrincipal(tx, userID)
		if u.UPN != "Alice@Drydock.Local" || u.PasswordHash != "h1" || !sameTime(u.CreatedAt, created) || string(u.Body) != "{}" {
			t.Errorf("user as written: %+v", u)
		}
		list, err := directorydb.ListPrincipals(tx, "User", "ServicePrincipal", "Application")
		var names []string
		for _, p := range list {
			names = append(names, p.DisplayName)
		}
		// Ordered by display name, case-insensitively.
		if want := []string{"alice", "Builder", "builder app"}; err != nil || !reflect.DeepEqual(names, want) {
			t.Errorf("list: %v %v, want %v", names, err, want)
		}
		if all, _ := directorydb.ListPrincipals(tx); len(all) != 5 {
			t.Errorf("all principals: %d", len(all))
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		if err := directorydb.RenamePrincipal(tx, userID, "Alice A."); err != nil {
			return err
		}
		wantKind(t, "rename unknown", directorydb.RenamePrincipal(tx, "4c4c4c4c-0000-4000-8000-00000000004c", "x"), errdefs.ErrNotFound)
		if err := directorydb.UpdatePrincipalPassword(tx, userID, "h2"); err != nil {
			return err
		}
		if err := directorydb.AddSecret(tx, directorydb.Secret{KeyID: "5d5d5d5d-0000-4000-8000-00000000005d", OwnerID: userID, Hash: "x"}); err != nil {
			return err
		}
		return directorydb.AddMember(tx, directorydb.Member{GroupID: grpID, MemberID: userID})
	})
	update(t, s, func(tx *store.Tx) error {
		u, _ := directorydb.GetPrincipal(tx, userID)
		if u.DisplayName != "Alice A." || u.PasswordHash != "h2" {
			t.Errorf("after rename and password: %+v", u)
		}
		if err := directorydb.DeletePrincipal(tx, userID); err != nil {
			return err
		}
		wantKind(t, "delete again", directorydb.DeletePrincipal(tx, userID), errdefs.ErrNotFound)
		if sec, _ := directorydb.Secrets(tx, userID); len(sec) != 0 {
			t.Errorf("secrets of a deleted principal: %+v", sec)
		}
		if m, _ := directorydb.GroupMembers(tx, grpID); len(m) != 0 {
			t.Errorf("memberships of a deleted principal: %+v", m)
		}
		return nil
	})
}

func testSecrets(t *testing.T, open Opener) {
	s := openStore(t, open)
	start := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	end := start.AddDate(2, 0, 0)
	k1, k2 := "6e6e6e6e-0000-4000-8000-00000000006e", "7f7f7f7f-0000-4000-8000-00000000007f"
	update(t, s, func(tx *store.Tx) error {
		if err := directorydb.AddSecret(tx, directorydb.Secret{KeyID: k1, OwnerID: appID, Hash: "a", Hint: "abc", DisplayName: "one", StartAt: start, EndAt: end}); err != nil {
			return err
		}
		if err := directorydb.AddSecret(tx, directorydb.Secret{KeyID: k2, OwnerID: appID, Hash: "b", Hint: "def", DisplayName: "two", StartAt: start, EndAt: end, Sealed: "sealed"}); err != nil {
			return err
		}
		// The same key ID again replaces the secret.
		return directorydb.AddSecret(tx, directorydb.Secret{KeyID: k1, OwnerID: appID, Hash: "a2", Hint: "ghi", DisplayName: "one", StartAt: start, EndAt: end})
	})
	view(t, s, func(tx *store.Tx) error {
		list, err := directorydb.Secrets(tx, "0C0C0C0C-0000-4000-8000-00000000000C")
		if err != nil || len(list) != 2 || list[0].Hash != "a2" || list[1].Sealed != "sealed" {
			t.Errorf("secrets: %+v %v", list, err)
		}
		one, err := directorydb.SecretByKeyID(tx, k2)
		if err != nil || one.OwnerID != appID || !sameTime(one.StartAt, start) || !sameTime(one.EndAt, end) {
			t.Errorf("by key ID: %+v %v (times %v %v)", one, err, start, end)
		}
		wantKind(t, "unknown key", errOf(directorydb.SecretByKeyID(tx, "nope")), errdefs.ErrNotFound)
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		if err := directorydb.DeleteSecrets(tx, appID, k1); err != nil {
			return err
		}
		if list, _ := directorydb.Secrets(tx, appID); len(list) != 1 || list[0].KeyID != k2 {
			t.Errorf("after deleting one: %+v", list)
		}
		if err := directorydb.DeleteSecrets(tx, appID, ""); err != nil {
			return err
		}
		if list, _ := directorydb.Secrets(tx, appID); len(list) != 0 {
			t.Errorf("after deleting all: %+v", list)
		}
		return nil
	})
}

func testMembers(t *testing.T, open Opener) {
	s := openStore(t, open)
	t0 := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	g2 := "8a8a8a8a-0000-4000-8000-00000000008a"
	update(t, s, func(tx *store.Tx) error {
		// Added 0.5 s apart: the listing's order is by time, which text
		// comparison gets right only with one fixed-width encoding.
		for i, m := range []directorydb.Member{
			{GroupID: grpID, MemberID: userID, AddedAt: t0.Add(500 * time.Millisecond), EffectiveAt: t0.Add(time.Second)},
			{GroupID: grpID, MemberID: spID, AddedAt: t0, EffectiveAt: t0},
			{GroupID: g2, MemberID: userID, AddedAt: t0.Add(time.Second), EffectiveAt: t0.Add(time.Second)},
		} {
			if err := directorydb.AddMember(tx, m); err != nil {
				return fmt.Errorf("member %d: %w", i, err)
			}
		}
		wantKind(t, "duplicate membership", directorydb.AddMember(tx, directorydb.Member{GroupID: "0D0D0D0D-0000-4000-8000-00000000000D", MemberID: userID}), errdefs.ErrAlreadyExists)
		return nil
	})
	view(t, s, func(tx *store.Tx) error {
		ms, err := directorydb.GroupMembers(tx, grpID)
		if err != nil || len(ms) != 2 || ms[0].MemberID != spID || ms[1].MemberID != userID || !sameTime(ms[1].AddedAt, t0.Add(500*time.Millisecond)) || !sameTime(ms[1].EffectiveAt, t0.Add(time.Second)) {
			t.Errorf("group members: %+v %v", ms, err)
		}
		of, err := directorydb.MemberOf(tx, userID)
		if err != nil || len(of) != 2 || of[0].GroupID != grpID || of[1].GroupID != g2 {
			t.Errorf("member of: %+v %v", of, err)
		}
		if all, err := directorydb.AllMemberships(tx); err != nil || len(all) != 3 {
			t.Errorf("all: %+v %v", all, err)
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		if err := directorydb.RemoveMember(tx, grpID, userID); err != nil {
			return err
		}
		wantKind(t, "remove again", directorydb.RemoveMember(tx, grpID, userID), errdefs.ErrNotFound)
		return nil
	})
}

func testRoleAssignments(t *testing.T, open Opener) {
	s := openStore(t, open)
	rg := "/subscriptions/" + sub1 + "/resourceGroups/rg"
	assignments := []accessdb.RoleAssignment{
		{Name: "9a9a9a9a-0000-4000-8000-00000000009a", Scope: "/subscriptions/" + sub1, RoleGUID: "acdd72a7", PrincipalID: userID},
		{Name: "9b9b9b9b-0000-4000-8000-00000000009b", Scope: rg, RoleGUID: "7f951dda", PrincipalID: userID},
		{Name: "9c9c9c9c-0000-4000-8000-00000000009c", Scope: rg + "/providers/Microsoft.ContainerRegistry/registries/r1/", RoleGUID: "7f951dda", PrincipalID: spID},
		{Name: "9d9d9d9d-0000-4000-8000-00000000009d", Scope: rg + "2", RoleGUID: "7f951dda", PrincipalID: spID},
	}
	update(t, s, func(tx *store.Tx) error {
		for _, a := range assignments {
			a.Body = json.RawMessage(`{"name":"` + a.Name + `"}`)
			if err := accessdb.CreateRoleAssignment(tx, a); err != nil {
				return err
			}
		}
		dups := []accessdb.RoleAssignment{
			{Name: "9A9A9A9A-0000-4000-8000-00000000009A", Scope: "/", RoleGUID: "x", PrincipalID: "y"},
			{Name: "9e9e9e9e-0000-4000-8000-00000000009e", Scope: strings.ToUpper(rg), RoleGUID: "7F951DDA", PrincipalID: userID},
		}
		for _, a := range dups {
			if err := accessdb.CreateRoleAssignment(tx, a); !errors.Is(err, errdefs.ErrAlreadyExists) {
				t.Errorf("duplicate %s: %v", a.Name, err)
			}
		}
		return nil
	})
	view(t, s, func(tx *store.Tx) error {
		a, err := accessdb.GetRoleAssignment(tx, "9C9C9C9C-0000-4000-8000-00000000009C")
		if err != nil || a.Scope != strings.ToLower(rg+"/providers/Microsoft.ContainerRegistry/registries/r1") || a.PrincipalID != spID {
			t.Errorf("get: %+v %v", a, err)
		}
		list, err := accessdb.ListRoleAssignments(tx)
		if err != nil || len(list) != 4 || list[0].Name != assignments[0].Name {
			t.Errorf("list: %+v %v", list, err)
		}
		// The walk sees what the list holds: each name with its body.
		bodies := map[string]string{}
		for _, a := range list {
			bodies[a.Name] = string(a.Body)
		}
		walked := map[string]string{}
		if err := accessdb.EachRoleAssignment(tx, func(name string, body []byte) error {
			walked[name] = string(body)
			return nil
		}); err != nil || !reflect.DeepEqual(walked, bodies) {
			t.Errorf("each: %v %v, want %v", walked, err, bodies)
		}
		stop := errors.New("stop")
		calls := 0
		if err := accessdb.EachRoleAssignment(tx, func(string, []byte) error { calls++; return stop }); err != stop || calls != 1 {
			t.Errorf("each, stopped by fn: %v after %d calls", err, calls)
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		// At or below the group: not the subscription's, not rg2's.
		names, err := accessdb.DeleteRoleAssignmentsBelow(tx, strings.ToUpper(rg)+"/")
		if err != nil || !reflect.DeepEqual(slices.Sorted(slices.Values(names)), []string{assignments[1].Name, assignments[2].Name}) {
			t.Errorf("delete below: %v %v", names, err)
		}
		if err := accessdb.DeleteRoleAssignment(tx, assignments[3].Name); err != nil {
			return err
		}
		wantKind(t, "delete again", accessdb.DeleteRoleAssignment(tx, assignments[3].Name), errdefs.ErrNotFound)
		if list, _ := accessdb.ListRoleAssignments(tx); len(list) != 1 {
			t.Errorf("left: %+v", list)
		}
		return nil
	})
}

func testOperations(t *testing.T, open Opener) {
	s := openStore(t, open)
	id := "ab12ab12-0000-4000-8000-0000000000ab"
	update(t, s, func(tx *store.Tx) error {
		if err := tx.PutOperation(id, json.RawMessage(`{"status":"InProgress"}`)); err != nil {
			return err
		}
		return tx.PutOperation(strings.ToUpper(id), json.RawMessage(`{"status":"Succeeded"}`))
	})
	view(t, s, func(tx *store.Tx) error {
		if b, err := tx.GetOperation(id); err != nil || string(b) != `{"status":"Succeeded"}` {
			t.Errorf("get: %s %v", b, err)
		}
		wantKind(t, "unknown", errOf(tx.GetOperation("nope")), errdefs.ErrNotFound)
		return nil
	})
}

func testHosts(t *testing.T, open Opener) {
	s := openStore(t, open)
	host := "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/VM1"
	update(t, s, func(tx *store.Tx) error {
		if err := directorydb.PutHost(tx, host, []string{miID}); err != nil {
			return err
		}
		if err := directorydb.PutHost(tx, host, []string{miID, spID}); err != nil {
			return err
		}
		return directorydb.AddSecret(tx, directorydb.Secret{KeyID: "cd34cd34-0000-4000-8000-0000000000cd", OwnerID: host, Hash: "h"})
	})
	update(t, s, func(tx *store.Tx) error {
		ids, err := directorydb.HostIdentities(tx, strings.ToLower(host))
		if err != nil || !reflect.DeepEqual(ids, []string{miID, spID}) {
			t.Errorf("identities: %v %v", ids, err)
		}
		if err := directorydb.DeleteHost(tx, host); err != nil {
			return err
		}
		wantKind(t, "deleted host", errOf(directorydb.HostIdentities(tx, host)), errdefs.ErrNotFound)
		if sec, _ := directorydb.Secrets(tx, host); len(sec) != 0 {
			t.Errorf("credentials of a deleted host: %+v", sec)
		}
		return nil
	})
}

// A failed Update leaves nothing behind, returns fn's error and runs none
// of its AfterCommit functions; a committed one runs them, in order.
func testRollback(t *testing.T, open Opener) {
	s := openStore(t, open)
	boom := errors.New("boom")
	var ran []string
	update(t, s, func(tx *store.Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "first") })
		tx.AfterCommit(func() { ran = append(ran, "second") })
		if len(ran) != 0 {
			t.Error("AfterCommit ran before the commit")
		}
		return tx.SetMeta("committed", "yes")
	})
	if !reflect.DeepEqual(ran, []string{"first", "second"}) {
		t.Errorf("after commit: %v", ran)
	}
	err := s.Update(context.Background(), func(tx *store.Tx) error {
		tx.AfterCommit(func() { t.Error("AfterCommit ran after a rollback") })
		if err := tx.SetMeta("k", "v"); err != nil {
			return err
		}
		if err := tx.CreateSubscription(store.Subscription{ID: sub1, DisplayName: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want fn's error", err)
	}
	view(t, s, func(tx *store.Tx) error {
		if v, _ := tx.Meta("k"); v != "" {
			t.Errorf("rolled-back write visible: %q", v)
		}
		wantKind(t, "rolled-back subscription", errOf(tx.GetSubscription(sub1)), errdefs.ErrNotFound)
		return nil
	})
}

// Write transactions run one at a time on every engine: concurrent
// read-modify-write transactions lose no update.
func testSerializedWrites(t *testing.T, open Opener) {
	s := openStore(t, open)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(context.Background(), func(tx *store.Tx) error {
				v, err := tx.Meta("counter")
				if err != nil {
					return err
				}
				c, _ := strconv.Atoi(v)
				return tx.SetMeta("counter", strconv.Itoa(c+1))
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	view(t, s, func(tx *store.Tx) error {
		if v, _ := tx.Meta("counter"); v != strconv.Itoa(n) {
			t.Errorf("counter = %s after %d increments", v, n)
		}
		return nil
	})
}
