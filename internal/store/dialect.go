package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// dialect is everything that differs between the two engines. The
// accessors write one SQL text: '?' placeholders, ON CONFLICT upserts,
// RETURNING, lower() for case-insensitive matches and indexes, and times
// as fixed-width text (FormatTime); the dialect turns that into what its
// engine runs and classifies its engine's errors.
type dialect interface {
	// name is "sqlite" or "postgres", for messages.
	name() string
	// rebind rewrites '?' placeholders for the engine.
	rebind(q string) string
	// ddl rewrites a portable schema statement for the engine.
	ddl(stmt string) string
	// unique reports whether err is a UNIQUE or PRIMARY KEY violation.
	unique(err error) bool
	// representable reports whether the engine can hold every string
	// argument: PostgreSQL's text holds valid UTF-8 without NUL only, and
	// a value it cannot hold cannot equal one it holds.
	representable(args []any) bool
	// savepoints reports whether a failed statement aborts the transaction
	// (PostgreSQL), so that one that may fail must run in a savepoint.
	savepoints() bool
	// lockWrites serializes write transactions, as SQLite does by itself.
	lockWrites(ctx context.Context, tx *sql.Tx) error
}

type sqliteDialect struct{}

func (sqliteDialect) name() string             { return "sqlite" }
func (sqliteDialect) rebind(q string) string   { return q }
func (sqliteDialect) ddl(stmt string) string   { return stmt }
func (sqliteDialect) savepoints() bool         { return false }
func (sqliteDialect) representable([]any) bool { return true }

func (sqliteDialect) unique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// lockWrites is a no-op: the DSN's _txlock=immediate takes SQLite's write
// lock at BEGIN.
func (sqliteDialect) lockWrites(context.Context, *sql.Tx) error { return nil }

type postgresDialect struct{}

func (postgresDialect) name() string     { return "postgres" }
func (postgresDialect) savepoints() bool { return true }

func (postgresDialect) representable(args []any) bool {
	for _, a := range args {
		if s, ok := a.(string); ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
			return false
		}
	}
	return true
}

// rebind numbers the placeholders: '?' becomes $1, $2, ... The accessors'
// SQL has no '?' inside string literals.
func (postgresDialect) rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

var (
	pgText    = regexp.MustCompile(`\bTEXT\b`)
	pgInteger = regexp.MustCompile(`\bINTEGER\b`)
	pgBlob    = regexp.MustCompile(`\bBLOB\b`)
	pgRowid   = regexp.MustCompile(`\s*WITHOUT ROWID`)
)

// ddl maps SQLite's column types to PostgreSQL's: INTEGER is 64-bit
// (BIGINT), BLOB is BYTEA, and TEXT compares byte by byte (COLLATE "C"),
// as SQLite's default BINARY collation does: the registry's pagination
// (tag > last ORDER BY tag) and the time comparisons rely on it, whatever
// the database's default collation. WITHOUT ROWID has no equivalent.
func (postgresDialect) ddl(stmt string) string {
	stmt = pgRowid.ReplaceAllString(stmt, "")
	stmt = pgText.ReplaceAllString(stmt, `TEXT COLLATE "C"`)
	stmt = pgInteger.ReplaceAllString(stmt, "BIGINT")
	return pgBlob.ReplaceAllString(stmt, "BYTEA")
}

// pgUniqueViolation is PostgreSQL's SQLSTATE unique_violation.
const pgUniqueViolation = "23505"

func (postgresDialect) unique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation
}

// writeLockKey is the advisory lock every write transaction takes on
// PostgreSQL (an arbitrary constant: "drydock" in ASCII).
const writeLockKey = 0x647279646f636b

// lockWrites takes a transaction-scoped advisory lock, so that write
// transactions run one at a time, as they do on SQLite: the accessors'
// read-then-write sequences keep the meaning they have there.
func (postgresDialect) lockWrites(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(writeLockKey))
	return err
}

// unavailable reports whether err says the database server cannot be
// reached or is shutting down: a network error, a connection the driver
// gave up on, or PostgreSQL's connection_exception (class 08),
// admin_shutdown, crash_shutdown or cannot_connect_now (57P01-57P03).
func unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.Is(err, driver.ErrBadConn) || errors.As(err, &ce) || errors.As(err, &ne)
}

// classify gives a database error its errdefs kind: ErrStorageFull when
// the disk is full (StorageFull), ErrUnavailable when the database server
// cannot be reached; other errors are returned unchanged.
func classify(err error) error {
	if unavailable(err) && !errors.Is(err, errdefs.ErrUnavailable) {
		return errdefs.Wrap(err, errdefs.ErrUnavailable, "", fmt.Sprintf(
			"The metadata database cannot be reached (%v). Check that the PostgreSQL server named by the database setting is running and reachable, then try again.", err))
	}
	return StorageFull(err)
}
