package store_test

import (
	"testing"

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
}
