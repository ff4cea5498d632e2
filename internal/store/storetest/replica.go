package storetest

import (
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
)

// testClusterFiles: the sealed files of a cluster are replaced, listed and
// deleted by the prefix of their names, which is taken literally ('_' and
// '%' are no wildcards); a lease is forgotten; a cluster's schema is
// dropped (PostgreSQL), and names that are not a cluster's schema are
// refused.
func testClusterFiles(t *testing.T, open Opener) {
	s := openStore(t, open)
	update(t, s, func(tx *store.Tx) error {
		for name, v := range map[string]string{"cluster/a_b/x": "1", "cluster/a_b/y": "2", "cluster/aXb/x": "3", "cluster/a%/x": "4", "keys/signing.key": "5"} {
			if err := tx.PutSharedSecret(name, v); err != nil {
				return err
			}
		}
		return tx.PutSharedSecret("cluster/a_b/x", "1'")
	})
	view(t, s, func(tx *store.Tx) error {
		for prefix, want := range map[string]map[string]string{
			"cluster/a_b/": {"cluster/a_b/x": "1'", "cluster/a_b/y": "2"},
			"cluster/a%/":  {"cluster/a%/x": "4"},
			"cluster/zz/":  {},
		} {
			got, err := tx.SharedSecretsUnder(prefix)
			if err != nil {
				return err
			}
			if len(got) != len(want) {
				t.Errorf("SharedSecretsUnder(%q) = %v, want %v", prefix, got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("SharedSecretsUnder(%q)[%q] = %q, want %q", prefix, k, got[k], v)
				}
			}
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error { return tx.DeleteSharedSecretsUnder("cluster/a_b/") })
	view(t, s, func(tx *store.Tx) error {
		for name, gone := range map[string]bool{"cluster/a_b/x": true, "cluster/a_b/y": true, "cluster/aXb/x": false, "cluster/a%/x": false, "keys/signing.key": false} {
			_, err := tx.SharedSecret(name)
			if gone != errdefs.IsNotFound(err) {
				t.Errorf("after deleting cluster/a_b/: SharedSecret(%q): %v", name, err)
			}
		}
		return nil
	})

	at := time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)
	update(t, s, func(tx *store.Tx) error {
		if ok, err := tx.AcquireLease("cluster/x", "r1", at, time.Minute); err != nil || !ok {
			t.Errorf("AcquireLease: %v %v", ok, err)
		}
		return tx.DeleteLease("cluster/x")
	})
	update(t, s, func(tx *store.Tx) error {
		if holder, _, err := tx.LeaseHolder("cluster/x"); err != nil || holder != "" {
			t.Errorf("after DeleteLease: holder %q (%v), want none", holder, err)
		}
		// Deleted, the lease is free for anyone at once.
		if ok, err := tx.AcquireLease("cluster/x", "r2", at, time.Minute); err != nil || !ok {
			t.Errorf("AcquireLease after DeleteLease: %v %v", ok, err)
		}
		return nil
	})

	for _, bad := range []string{"public", "pg_catalog", "Kine_x", "kine-x", "kine_x; DROP TABLE meta", "", "1abc"} {
		err := s.Update(t.Context(), func(tx *store.Tx) error { return tx.DropSchema(bad) })
		wantKind(t, "DropSchema("+bad+")", err, errdefs.ErrInvalidArgument)
	}
	exists := func(tx *store.Tx) bool {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'kine_0123456789abcdef'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !s.Shared() {
		// SQLite has no schemas: nothing to drop.
		update(t, s, func(tx *store.Tx) error { return tx.DropSchema("kine_0123456789abcdef") })
		return
	}
	update(t, s, func(tx *store.Tx) error {
		if _, err := tx.Exec(`CREATE SCHEMA kine_0123456789abcdef`); err != nil {
			return err
		}
		_, err := tx.Exec(`CREATE TABLE kine_0123456789abcdef.kine(id BIGINT)`)
		return err
	})
	update(t, s, func(tx *store.Tx) error { return tx.DropSchema("kine_0123456789abcdef") })
	view(t, s, func(tx *store.Tx) error {
		if exists(tx) {
			t.Error("the schema and its table are still there after DropSchema")
		}
		return nil
	})
	// Dropping a schema that is not there is no error.
	update(t, s, func(tx *store.Tx) error { return tx.DropSchema("kine_0123456789abcdef") })
}
