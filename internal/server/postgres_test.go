package server

import (
	"fmt"
	"os"
	"testing"

	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// testPostgres, when DRYDOCK_TEST_POSTGRES=1, is a PostgreSQL server on
// loopback that every test server keeps its metadata in (a fresh database
// each), so that the in-process API tests run on PostgreSQL too. By
// default they run on the embedded SQLite database.
var testPostgres *storetest.Postgres

func TestMain(m *testing.M) {
	if os.Getenv("DRYDOCK_TEST_POSTGRES") != "1" {
		os.Exit(m.Run())
	}
	pg, stop, err := storetest.LaunchPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "DRYDOCK_TEST_POSTGRES=1:", err)
		os.Exit(1)
	}
	testPostgres = pg
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}
