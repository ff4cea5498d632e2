package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// The store suite on the embedded default, SQLite.
func TestSQLite(t *testing.T) { storetest.Run(t, storetest.SQLite()) }

// The store suite on PostgreSQL, on a server this test starts on loopback
// (Debian's postgresql package; skipped without it unless
// DRYDOCK_E2E_REQUIRE_REGISTRY=1).
func TestPostgres(t *testing.T) {
	pg := storetest.StartPostgres(t)
	storetest.Run(t, pg.Opener())
	t.Run("Exclusive", func(t *testing.T) { testExclusive(t, pg) })
}

// An Exclusive store owns its PostgreSQL database until it is closed: a
// second drydock on it refuses to start, saying why, then starts once the
// first one is gone.
func testExclusive(t *testing.T, pg *storetest.Postgres) {
	ctx := context.Background()
	o := store.Options{Database: pg.NewDatabase(t), Exclusive: true}
	first, err := store.OpenDatabase(ctx, o, domains.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.OpenDatabase(ctx, o, domains.Migrations())
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "in use by another drydock server") {
		t.Fatalf("second drydock on the database: %v", err)
	}
	first.Close()
	second, err := store.OpenDatabase(ctx, o, domains.Migrations())
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	second.Close()
}
