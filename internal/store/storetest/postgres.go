package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/drydock-dev/drydock/internal/store"
)

// Postgres is a PostgreSQL server that a test started on loopback, with
// its data in a temporary directory. It trusts local connections (it is
// reachable from this machine only, for the test's duration).
type Postgres struct {
	// URL is the connection URL of its "postgres" database.
	URL  string
	port int
	n    atomic.Int64
}

// requirePostgres is set by scripts/test.sh: a missing PostgreSQL is then
// a failure rather than a skip.
func requirePostgres() bool { return os.Getenv("DRYDOCK_E2E_REQUIRE_REGISTRY") == "1" }

// pgBinDir finds Debian's PostgreSQL server binaries (the newest version
// installed), or pg_config's bindir.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := string(out[:len(out)-1])
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

// StartPostgres initializes a database cluster in a temporary directory,
// starts its server on a free loopback port and stops it (and removes the
// directory) when t ends. Without PostgreSQL's server binaries (Debian's
// postgresql package) it skips t, or fails it under
// DRYDOCK_E2E_REQUIRE_REGISTRY=1. PostgreSQL refuses to run as root; as
// root, the server runs as the postgres user (runuser).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		msg := "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
		if requirePostgres() {
			t.Fatal(msg)
		}
		t.Skip(msg + " (set DRYDOCK_E2E_REQUIRE_REGISTRY=1 to make this a failure; scripts/test.sh does)")
	}
	dir, err := os.MkdirTemp("", "drydock-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var runAs []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs an unprivileged user to run as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) {
		t.Helper()
		argv := append(append([]string{}, runAs...), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run(filepath.Join(bin, "initdb"), "-D", data, "-U", "drydock", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// A test server: no durability (fsync off), the socket in its own
	// directory, TCP on loopback only.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	// -t: pg_ctl's own wait for the server, long enough for a loaded machine.
	run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "3600", "start")
	t.Cleanup(func() {
		argv := append(append([]string{}, runAs...), filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "-t", "3600", "stop")
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Errorf("stopping PostgreSQL: %v\n%s", err, out)
		}
	})
	return &Postgres{URL: fmt.Sprintf("postgres://drydock@127.0.0.1:%d/postgres?sslmode=disable", port), port: port}
}

// NewDatabase creates an empty database on the server and returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	db, err := sql.Open("pgx", p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("drydock_%d", p.n.Add(1))
	if _, err := db.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://drydock@127.0.0.1:%d/%s?sslmode=disable", p.port, name)
}

// Opener returns an Opener of fresh databases on the server.
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
