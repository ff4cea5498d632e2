// Package storetest is the one test suite of the metadata store
// (internal/store): every accessor, the schema migrations and the write
// transactions' semantics, run against each backend by a test of that
// backend: SQLite in a temporary directory, and PostgreSQL on a server the
// test starts on loopback (StartPostgres). A backend passes when Run
// passes against fresh databases from its Opener.
package storetest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/store"
)

// Opener returns the options of a fresh, empty database each time it is
// called.
type Opener func(t *testing.T) store.Options

// Run runs the whole suite; each test opens its own databases from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Meta", testMeta},
		{"Subscriptions", testSubscriptions},
		{"Resources", testResources},
		{"Principals", testPrincipals},
		{"Secrets", testSecrets},
		{"Members", testMembers},
		{"RoleAssignments", testRoleAssignments},
		{"Operations", testOperations},
		{"Hosts", testHosts},
		{"ClusterFiles", testClusterFiles},
		{"Rollback", testRollback},
		{"SerializedWrites", testSerializedWrites},
		{"RegistryManifestsTagsAndLinks", testRegistryManifestsTagsAndLinks},
		{"RegistryUploadsAndDeletion", testRegistryUploadsAndDeletion},
		{"RegistryLookups", testRegistryLookups},
		{"RegistryPaging", testRegistryPaging},
		{"RegistryBlobDeletions", testRegistryBlobDeletions},
		{"MigrationsFresh", testMigrationsFresh},
		{"MigrationsSchemaTooNew", testMigrationsSchemaTooNew},
		{"MigrationsAtomic", testMigrationsAtomic},
		{"MigrationsConcurrent", testMigrationsConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// openStore opens a fresh database with the store's migrations, closed
// when t ends.
func openStore(t *testing.T, open Opener) *store.Store {
	t.Helper()
	return openWith(t, open(t), domains.Migrations())
}

func openWith(t *testing.T, o store.Options, ms []store.Migration) *store.Store {
	t.Helper()
	s, err := store.OpenDatabase(context.Background(), o, ms)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// update runs fn in a write transaction, failing t on error.
func update(t *testing.T, s *store.Store, fn func(*store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// view runs fn in a read transaction, failing t on error.
func view(t *testing.T, s *store.Store, fn func(*store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// wantKind fails t unless err is of kind.
func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: %v, want %v", what, err, kind)
	}
}

// errOf is the error of a call that returns a value and an error.
func errOf[T any](_ T, err error) error { return err }

// Open opens a fresh SQLite store in a temporary directory of tb, closed
// when tb ends: the store a test of another package runs against.
func Open(tb testing.TB) *store.Store {
	tb.Helper()
	st, err := store.Open(filepath.Join(tb.TempDir(), "drydock.db"), domains.Migrations())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}
