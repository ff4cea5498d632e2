package localengine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Postgres is a PostgreSQL server started on loopback for a test or a benchmark, with
// its data in a temporary directory. It trusts local connections (it is
// reachable from this machine only, while it runs).
type Postgres struct {
	// URL is the connection URL of its "postgres" database.
	URL  string
	port int
	n    atomic.Int64
}

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

// ErrNoPostgres is returned by LaunchPostgres when PostgreSQL's server
// binaries are not installed.
var ErrNoPostgres = errors.New("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")

// LaunchPostgres initializes a database cluster in a temporary directory
// and starts its server on a free loopback port; stop stops it and
// removes the directory. PostgreSQL refuses to run as root; as root, the
// server runs as the postgres user (runuser).
func LaunchPostgres() (pg *Postgres, stop func() error, err error) {
	bin := pgBinDir()
	if bin == "" {
		return nil, nil, ErrNoPostgres
	}
	dir, err := os.MkdirTemp("", "drydock-pg-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	var runAs []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged user to run as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, nil, err
		}
		runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		argv := append(append([]string{}, runAs...), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "drydock", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// A test server: no durability (fsync off), the socket in its own
	// directory, TCP on loopback only.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", port, dir)
	// -t: pg_ctl's own wait for the server, long enough for a loaded machine.
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "3600", "start"); err != nil {
		return nil, nil, err
	}
	stop = func() error {
		err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "-t", "3600", "stop")
		if rerr := os.RemoveAll(dir); err == nil {
			err = rerr
		}
		return err
	}
	return &Postgres{URL: fmt.Sprintf("postgres://drydock@127.0.0.1:%d/postgres?sslmode=disable", port), port: port}, stop, nil
}

// CreateDatabase creates an empty database on the server and returns its
// URL (storetest's NewDatabase in a test).
func (p *Postgres) CreateDatabase(ctx context.Context) (string, error) {
	db, err := sql.Open("pgx", p.URL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := fmt.Sprintf("drydock_%d", p.n.Add(1))
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://drydock@127.0.0.1:%d/%s?sslmode=disable", p.port, name), nil
}
