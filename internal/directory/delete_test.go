package directory

import (
	"context"
	"errors"
	"testing"

	"github.com/drydock-dev/drydock/internal/store"
)

// Another domain deletes a resource's service principal through the
// directory, in its own transaction: the membership index drops the
// principal's groups once that transaction commits, and keeps them when
// it rolls back.
func TestDeleteResourcePrincipal(t *testing.T) {
	d, st := newTestDirectory(t)
	ctx := context.Background()
	const mi = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	var sp, group Principal
	err := st.Update(ctx, func(tx *store.Tx) (err error) {
		if sp, err = d.CreateManagedIdentity(tx, mi, "id1"); err != nil {
			return err
		}
		group, err = d.CreateGroup(tx, "builders", "builders", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddMember(ctx, group.ObjectID, sp.ObjectID); err != nil {
		t.Fatal(err)
	}
	if g := d.Groups(sp.ObjectID); len(g) != 1 {
		t.Fatalf("groups before: %+v", g)
	}
	boom := errors.New("boom")
	err = st.Update(ctx, func(tx *store.Tx) error {
		if err := d.DeleteResourcePrincipal(tx, mi); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if g := d.Groups(sp.ObjectID); len(g) != 1 {
		t.Fatalf("groups after a rolled-back deletion: %+v", g)
	}
	if err := st.Update(ctx, func(tx *store.Tx) error { return d.DeleteResourcePrincipal(tx, mi) }); err != nil {
		t.Fatal(err)
	}
	if g := d.Groups(sp.ObjectID); len(g) != 0 {
		t.Fatalf("groups of a deleted principal: %+v", g)
	}
	// A resource without a principal: nothing to do.
	if err := st.Update(ctx, func(tx *store.Tx) error { return d.DeleteResourcePrincipal(tx, mi) }); err != nil {
		t.Fatal(err)
	}
}
