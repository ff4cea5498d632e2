package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

func TestPostgresRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE a = ?`, `SELECT a FROM t WHERE a = $1`},
		{`INSERT INTO t(a, b, c) VALUES(?,?,?)`, `INSERT INTO t(a, b, c) VALUES($1,$2,$3)`},
		{`WHERE k IN (?,?,?,?,?,?,?,?,?,?,?)`, `WHERE k IN ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`},
	}
	for _, tc := range tests {
		if got := (postgresDialect{}).rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := (sqliteDialect{}).rebind(tc.in); got != tc.in {
			t.Errorf("sqlite rebind changed %q", tc.in)
		}
	}
}

func TestPostgresDDL(t *testing.T) {
	tests := []struct{ in, want string }{
		{`CREATE TABLE x(k TEXT PRIMARY KEY, n INTEGER NOT NULL, b BLOB NOT NULL) WITHOUT ROWID`,
			`CREATE TABLE x(k TEXT COLLATE "C" PRIMARY KEY, n BIGINT NOT NULL, b BYTEA NOT NULL)`},
		{`CREATE INDEX IF NOT EXISTS i ON t(lower(upn)) WHERE upn != ''`, `CREATE INDEX IF NOT EXISTS i ON t(lower(upn)) WHERE upn != ''`},
		{`CREATE TABLE y(context TEXT, texts INTEGER)`, `CREATE TABLE y(context TEXT COLLATE "C", texts BIGINT)`},
	}
	for _, tc := range tests {
		if got := (postgresDialect{}).ddl(tc.in); got != tc.want {
			t.Errorf("ddl(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		kind error
	}{
		{"unique violation", &pgconn.PgError{Code: "23505"}, nil},
		{"disk full", fmt.Errorf("commit: %w", &pgconn.PgError{Code: "53100"}), errdefs.ErrStorageFull},
		{"connection failure", &pgconn.PgError{Code: "08006"}, errdefs.ErrUnavailable},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, errdefs.ErrUnavailable},
		{"other", errors.New("syntax error"), nil},
	}
	for _, tc := range tests {
		got := classify(tc.err)
		if tc.kind == nil {
			if got != tc.err {
				t.Errorf("%s: classify changed %v into %v", tc.name, tc.err, got)
			}
			continue
		}
		if !errors.Is(got, tc.kind) || !errors.Is(got, tc.err) {
			t.Errorf("%s: %v is not of kind %v wrapping the cause", tc.name, got, tc.kind)
		}
	}
	if !(postgresDialect{}).unique(fmt.Errorf("x: %w", &pgconn.PgError{Code: "23505"})) || (postgresDialect{}).unique(&pgconn.PgError{Code: "23503"}) {
		t.Error("postgres unique detection")
	}
}

func TestCheckMigrations(t *testing.T) {
	ok := Migration{Domain: "a", Version: 1, Name: "one", SQL: `CREATE TABLE a(x TEXT)`}
	tests := []struct {
		name string
		ms   []Migration
		want string // "" when valid
	}{
		{"store's own", append(Migrations(), ReplicaMigrations()...), ""},
		{"two domains interleaved", []Migration{ok, {Domain: "b", Version: 1, Name: "b"}, {Domain: "a", Version: 2, Name: "two"}}, ""},
		{"gap", []Migration{ok, {Domain: "a", Version: 3, Name: "three"}}, "expected version 2"},
		{"duplicate", []Migration{ok, ok}, "expected version 2"},
		{"starts at 2", []Migration{{Domain: "a", Version: 2, Name: "two"}}, "expected version 1"},
		{"no name", []Migration{{Domain: "a", Version: 1}}, "name are required"},
		{"drop", []Migration{ok, {Domain: "a", Version: 2, Name: "x", SQL: `drop table a`}}, "DROP is not allowed"},
		{"delete", []Migration{ok, {Domain: "a", Version: 2, Name: "x", SQL: `DELETE FROM a`}}, "DELETE is not allowed"},
	}
	for _, tc := range tests {
		err := checkMigrations(tc.ms)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A PostgreSQL server that cannot be reached is ErrUnavailable, with a
// message that says so and shows no password.
func TestPostgresUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = OpenDatabase(context.Background(), Options{Database: "postgres://drydock:s3cret@" + addr + "/drydock?sslmode=disable"}, Migrations())
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "cannot be reached") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("unreachable server: %v", err)
	}
}
