package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/store"
)

// latest is each domain's last migration in ms.
func latest(ms []store.Migration) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.Domain] = m.Version
	}
	return out
}

// A fresh database gets every migration; opening it again applies none.
func testMigrationsFresh(t *testing.T, open Opener) {
	o := open(t)
	for range 2 {
		s, err := store.OpenDatabase(context.Background(), o, domains.Migrations())
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.SchemaVersions(context.Background())
		s.Close()
		if want := latest(domains.Migrations()); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("schema versions %v %v, want %v", got, err, want)
		}
	}
}

// A database that a newer drydock migrated is refused, with a message
// that names both versions and what to do.
func testMigrationsSchemaTooNew(t *testing.T, open Opener) {
	o := open(t)
	known := latest(domains.Migrations())["registry"]
	newer := append(domains.Migrations(),
		store.Migration{Domain: "registry", Version: known + 1, Name: "a newer drydock's table",
			SQL: `CREATE TABLE registry_future(x TEXT PRIMARY KEY)`})
	openWith(t, o, newer).Close()
	_, err := store.OpenDatabase(context.Background(), o, domains.Migrations())
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("older drydock on a newer database: %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{`"registry"`, fmt.Sprintf("version %d", known+1), fmt.Sprintf("versions up to %d", known), "run that version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	// A domain this drydock does not know at all is newer too.
	other := append(domains.Migrations(), store.Migration{Domain: "future", Version: 1, Name: "x", SQL: `CREATE TABLE future_x(x TEXT)`})
	o2 := open(t)
	openWith(t, o2, other).Close()
	if _, err := store.OpenDatabase(context.Background(), o2, domains.Migrations()); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("unknown domain: %v, want ErrSchemaTooNew", err)
	}
}

// A migration that fails leaves neither its tables nor its version, and
// the store's own migrations still open the database.
func testMigrationsAtomic(t *testing.T, open Opener) {
	o := open(t)
	boom := errors.New("boom")
	failing := append(domains.Migrations(), store.Migration{Domain: "test", Version: 1, Name: "fails half-way",
		SQL: `CREATE TABLE test_half(x TEXT PRIMARY KEY)`,
		Up: func(tx *store.Tx) error {
			if _, err := tx.Exec(`INSERT INTO test_half(x) VALUES(?)`, "row"); err != nil {
				return err
			}
			return boom
		}})
	if _, err := store.OpenDatabase(context.Background(), o, failing); !errors.Is(err, boom) || !strings.Contains(err.Error(), "test/1") {
		t.Fatalf("failing migration: %v", err)
	}
	s := openWith(t, o, domains.Migrations())
	got, err := s.SchemaVersions(context.Background())
	if want := latest(domains.Migrations()); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("schema versions %v %v, want %v", got, err, want)
	}
	err = s.View(context.Background(), func(tx *store.Tx) error {
		var n int
		return tx.QueryRow(`SELECT COUNT(*) FROM test_half`).Scan(&n)
	})
	if err == nil {
		t.Fatal("the failed migration's table exists")
	}
	// A migration may not destroy data.
	drop := append(domains.Migrations(), store.Migration{Domain: "test", Version: 1, Name: "drop", SQL: `DROP TABLE meta`})
	if _, err := store.OpenDatabase(context.Background(), o, drop); err == nil || !strings.Contains(err.Error(), "DROP is not allowed") {
		t.Fatalf("destructive migration: %v", err)
	}
}

// Replicas that start at once on one database migrate it once.
func testMigrationsConcurrent(t *testing.T, open Opener) {
	o := open(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.OpenDatabase(context.Background(), o, domains.Migrations())
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
