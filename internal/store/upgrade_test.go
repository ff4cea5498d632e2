package store_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/store"
)

// testdata/legacy-fc69ca4/drydock.db was written by the store of commit
// fc69ca4, before schema versions (its tables made by CREATE ... IF NOT
// EXISTS, times in RFC 3339 with trailing zeros dropped), by the program
// in testdata/legacy-fc69ca4/mkfixture. The current store upgrades it in
// place and reads every row back.
func TestUpgradeLegacyDatabase(t *testing.T) {
	b, err := os.ReadFile("testdata/legacy-fc69ca4/drydock.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "drydock.db")
	if err := os.WriteFile(path, b, store.FileMode); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := range 2 { // the second open finds nothing to do
		s, err := store.Open(path, domains.Migrations())
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		versions, err := s.SchemaVersions(ctx)
		if want := map[string]int{"core": 2, "directory": 2, "access": 1, "registry": 2, "replica": 1}; err != nil || !reflect.DeepEqual(versions, want) {
			t.Errorf("schema versions %v %v, want %v", versions, err, want)
		}
		checkLegacyRows(t, s)
		s.Close()
	}
}

func checkLegacyRows(t *testing.T, s *store.Store) {
	t.Helper()
	const (
		sub   = "00000000-0000-0000-0000-000000000001"
		reg   = "/subscriptions/" + sub + "/resourceGroups/RG1/providers/Microsoft.ContainerRegistry/registries/Legacy1"
		alice = "22222222-2222-2222-2222-222222222222"
		group = "33333333-3333-3333-3333-333333333333"
		sp    = "44444444-4444-4444-4444-444444444444"
		man   = "sha256:cc00000000000000000000000000000000000000000000000000000000000000"
	)
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	err := s.View(context.Background(), func(tx *store.Tx) error {
		check := func(what string, ok bool, got ...any) {
			t.Helper()
			if !ok {
				t.Errorf("%s: %v", what, got)
			}
		}
		v, err := tx.Meta("tenant")
		check("meta", v == "11111111-1111-1111-1111-111111111111" && err == nil, v, err)
		subs, err := tx.ListSubscriptions()
		check("subscriptions", len(subs) == 1 && subs[0].DisplayName == "Legacy subscription" && !subs[0].CreatedAt.IsZero() && err == nil, subs, err)
		res, err := tx.ListResources(store.ResourceFilter{Subscription: sub})
		check("resources", len(res) == 2 && err == nil, res, err)
		r, err := tx.GetResource(reg)
		check("registry resource", r.Name == "Legacy1" && string(r.Body) == `{"sku":{"name":"Basic"}}` && err == nil, r, err)
		p, err := directorydb.PrincipalByUPN(tx, "alice@DRYDOCK.local")
		check("user by UPN", p.ObjectID == alice && p.PasswordHash == "hash" && !p.CreatedAt.IsZero() && err == nil, p, err)
		p, err = directorydb.PrincipalByAppID(tx, "55555555-5555-5555-5555-555555555555")
		check("service principal", p.ObjectID == sp && err == nil, p, err)
		secs, err := directorydb.Secrets(tx, sp)
		check("secret times", len(secs) == 1 && secs[0].StartAt.Equal(t0) && secs[0].EndAt.Equal(t0.AddDate(1, 0, 0)) && err == nil, secs, err)
		ms, err := directorydb.GroupMembers(tx, group)
		check("membership times", len(ms) == 1 && ms[0].MemberID == alice && ms[0].AddedAt.Equal(t0) && ms[0].EffectiveAt.Equal(t0.Add(time.Second/2)) && err == nil, ms, err)
		ras, err := accessdb.ListRoleAssignments(tx)
		check("role assignments", len(ras) == 1 && ras[0].PrincipalID == sp && err == nil, ras, err)
		op, err := tx.GetOperation("88888888-8888-8888-8888-888888888888")
		check("operation", string(op) == `{"status":"Succeeded"}` && err == nil, string(op), err)
		ids, err := directorydb.HostIdentities(tx, "/subscriptions/"+sub+"/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/vm1")
		check("host", reflect.DeepEqual(ids, []string{sp}) && err == nil, ids, err)
		m, err := metadata.GetRegistryManifest(tx, reg, "app/web", "v1", true, true)
		check("manifest by tag", m.Digest == man && string(m.Body) == `{"schemaVersion":2}` && err == nil, m, err)
		size, err := metadata.RegistryManifestBlobSize(tx, reg, "app/web", man)
		check("image size", size == 1234+56 && err == nil, size, err)
		u, err := metadata.GetRegistryUpload(tx, "99999999-9999-9999-9999-999999999999")
		check("upload", u.StartedAt.Equal(t0) && err == nil, u, err)
		var ann json.RawMessage = m.Annotations
		check("annotations", ann == nil, string(ann))
		// Times are rewritten in the one fixed-width encoding.
		var created, added string
		err = tx.QueryRow(`SELECT created_at FROM subscriptions`).Scan(&created)
		check("subscription time encoding", len(created) == len("2006-01-02T15:04:05.000000000Z") && err == nil, created, err)
		err = tx.QueryRow(`SELECT added_at FROM group_members`).Scan(&added)
		check("membership time encoding", added == "2026-11-30T10:00:00.000000000Z" && err == nil, added, err)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
