package bench

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/internal/access"
	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/store"
)

// TestSeedAssignments checks that the seeded assignments are as many as
// asked, distinct, and decode as the server decodes them at start.
func TestSeedAssignments(t *testing.T) {
	dir := t.TempDir()
	if err := seedAssignments(context.Background(), dir, 2000); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "drydock.db"), domains.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rows []accessdb.RoleAssignment
	if err := st.View(context.Background(), func(tx *store.Tx) (err error) {
		rows, err = accessdb.ListRoleAssignments(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2000 {
		t.Fatalf("%d assignments, want 2000", len(rows))
	}
	for _, r := range rows {
		var a access.Assignment
		if err := json.Unmarshal(r.Body, &a); err != nil || a.Name == "" || a.Properties.PrincipalID == "" || a.Properties.Scope == "" {
			t.Fatalf("assignment %s: %+v %v", r.Name, a, err)
		}
	}
}

// TestSeedRepositories checks that every seeded repository answers its
// tags and its manifest by tag through the store.
func TestSeedRepositories(t *testing.T) {
	dir := t.TempDir()
	const reg = "/subscriptions/s/resourceGroups/bench/providers/Microsoft.ContainerRegistry/registries/benchacr"
	layer := "sha256:a000000000000000000000000000000000000000000000000000000000000000"
	if err := seedRepositories(context.Background(), dir, reg, 3, layer, 4096); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "drydock.db"), domains.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(context.Background(), func(tx *store.Tx) error {
		repos, err := metadata.ListRegistryRepositories(tx, reg, "", 10)
		if err != nil || len(repos) != 3 {
			t.Fatalf("repositories %v (%v), want 3", repos, err)
		}
		for _, r := range repos {
			tags, err := metadata.ListRegistryTags(tx, reg, r, "", 100)
			if err != nil || len(tags) != tagsPerRepo {
				t.Fatalf("%s: tags %v (%v)", r, tags, err)
			}
			m, err := metadata.GetRegistryManifest(tx, reg, r, "v9", true, true)
			if err != nil || m.Digest != tags[0].Digest || len(m.Body) == 0 {
				t.Fatalf("%s:v9: %+v %v", r, m, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
