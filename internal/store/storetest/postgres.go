package storetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/internal/localengine"
	"github.com/drydock-dev/drydock/internal/store"
)

// Postgres is a PostgreSQL server that a test started on loopback
// (localengine.Postgres), with the helpers tests use.
type Postgres struct{ *localengine.Postgres }

// LaunchPostgres starts a server outside a test (in TestMain), as
// localengine.LaunchPostgres does.
func LaunchPostgres() (*Postgres, func() error, error) {
	pg, stop, err := localengine.LaunchPostgres()
	if err != nil {
		return nil, nil, err
	}
	return &Postgres{pg}, stop, nil
}

// requirePostgres is set by scripts/test.sh: a missing PostgreSQL is then
// a failure rather than a skip.
func requirePostgres() bool { return os.Getenv("DRYDOCK_E2E_REQUIRE_REGISTRY") == "1" }

// StartPostgres starts a server (LaunchPostgres) and stops it, removing
// its directory, when t ends. Without PostgreSQL's server binaries
// (Debian's postgresql package) it skips t, or fails it under
// DRYDOCK_E2E_REQUIRE_REGISTRY=1.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	pg, stop, err := LaunchPostgres()
	if errors.Is(err, localengine.ErrNoPostgres) && !requirePostgres() {
		t.Skip(err.Error() + " (set DRYDOCK_E2E_REQUIRE_REGISTRY=1 to make this a failure; scripts/test.sh does)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return pg
}

// NewDatabase creates an empty database on p and returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	u, err := p.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Opener returns an Opener of fresh databases on p.
func (p *Postgres) Opener() Opener {
	return func(t *testing.T) store.Options { return store.Options{Database: p.NewDatabase(t)} }
}

// SQLite returns an Opener of fresh SQLite databases in temporary
// directories.
func SQLite() Opener {
	return func(t *testing.T) store.Options {
		return store.Options{SQLitePath: filepath.Join(t.TempDir(), "drydock.db")}
	}
}
