// Package store is drydock's metadata database: the engine every domain
// keeps its tables in, and the core domain's own tables (settings,
// subscriptions, resources, long-running operations) and the replica
// set's. The other domains own theirs, with their migrations and SQL
// (internal/directory/directorydb, internal/access/accessdb,
// internal/registry/metadata), written as functions over a Tx. It has two
// backends behind one API: SQLite (pure Go, WAL mode) in the data
// directory, the embedded default, and PostgreSQL (pgx), selected by a
// postgres:// URL (Options.Database). Statements are written once, in
// SQLite's dialect; the dialect maps placeholders, column types and
// errors for each engine, and every time is stored in one fixed-width
// text encoding (FormatTime). Every change runs in one transaction through
// Update, and write transactions run one at a time on both engines, so a
// failed request leaves nothing half-written.
//
// The schema is versioned: each domain's migrations (Migration) are passed
// to OpenDatabase explicitly, applied at open in one transaction each and
// recorded in the table schema_migrations; a database written by a newer
// drydock is refused (ErrSchemaTooNew). Errors carry internal/errdefs
// kinds: a missing row is errdefs.ErrNotFound, a duplicate
// errdefs.ErrAlreadyExists, a full disk errdefs.ErrStorageFull, an
// unreachable database server errdefs.ErrUnavailable.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// Store is the metadata database.
type Store struct {
	db *sql.DB
	d  dialect
	// owner holds the session lock of an Exclusive store on PostgreSQL.
	owner *sql.Conn
	// url is the PostgreSQL connection URL (ListenChanges connects with it).
	url string
	// onListenError is told why ListenChanges lost its connection.
	onListenError func(error)
	// stmts holds the statements transactions run, prepared (SQLite only).
	stmts *stmtCache
}

// Options selects the database.
type Options struct {
	// Database is "" for the embedded SQLite database at SQLitePath, or a
	// PostgreSQL connection URL (postgres:// or postgresql://).
	Database string
	// SQLitePath is the SQLite database file, used when Database is "".
	SQLitePath string
	// Exclusive, on PostgreSQL, holds a session lock on the database for
	// as long as the store is open, so that a second drydock pointed at it
	// refuses to start, as the data directory's lock makes a second one on
	// the same SQLite database refuse: one drydock serves a database.
	Exclusive bool
}

// Open opens (creating if needed) the SQLite database at path and applies
// migrations (every domain's: see internal/domains). The database and its
// -wal and -shm files are readable by their owner only.
func Open(path string, migrations []Migration) (*Store, error) {
	return OpenDatabase(context.Background(), Options{SQLitePath: path}, migrations)
}

// IsPostgres reports whether database names a PostgreSQL server.
func IsPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// OpenDatabase opens the database o names and applies the migrations it
// lacks (see Migration). It refuses a database whose schema a newer
// drydock wrote (ErrSchemaTooNew).
func OpenDatabase(ctx context.Context, o Options, migrations []Migration) (*Store, error) {
	var s *Store
	var where string
	switch {
	case o.Database == "":
		var err error
		if s, err = openSQLite(o.SQLitePath); err != nil {
			return nil, err
		}
		where = o.SQLitePath
	case IsPostgres(o.Database):
		cfg, err := pgx.ParseConfig(o.Database)
		if err != nil {
			return nil, fmt.Errorf("metadata database %s: %w", redact(o.Database), err)
		}
		// A writer waits for the write lock as long as SQLite's busy
		// timeout, then fails, rather than forever (unless the URL says).
		if _, ok := cfg.RuntimeParams["lock_timeout"]; !ok {
			cfg.RuntimeParams["lock_timeout"] = "10s"
		}
		db := stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s = &Store{db: db, d: postgresDialect{}, url: o.Database}
		where = redact(o.Database)
	default:
		return nil, fmt.Errorf("metadata database %q: want \"\" (the embedded SQLite database) or a postgres:// URL", redact(o.Database))
	}
	if o.Exclusive && s.d.name() == "postgres" {
		if err := s.own(ctx, where); err != nil {
			s.db.Close()
			return nil, err
		}
	}
	if err := s.migrate(ctx, migrations); err != nil {
		s.Close()
		return nil, fmt.Errorf("open metadata store %s: %w", where, err)
	}
	return s, nil
}

// ownerLockKey is the session-level advisory lock an Exclusive store holds
// on PostgreSQL ("drydoc1" in ASCII; the write lock is another key).
const ownerLockKey = 0x64727964_6f6331

// own takes the owner lock on a connection of its own, kept until Close.
func (s *Store) own(ctx context.Context, where string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open metadata store %s: %w", where, classify(err))
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(ownerLockKey)).Scan(&ok); err != nil {
		conn.Close()
		return fmt.Errorf("open metadata store %s: %w", where, classify(err))
	}
	if !ok {
		conn.Close()
		return errdefs.New(errdefs.ErrConflict, "", "the metadata database %s is in use by another drydock server; "+
			"one drydock serves a database: stop the other one, or give this one a database of its own", where)
	}
	s.owner = conn
	return nil
}

// sqliteConns is the size of the SQLite connection pool.
const sqliteConns = 4

func openSQLite(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One writer at a time is what SQLite allows anyway; a small pool lets
	// readers proceed in parallel under WAL. Every connection stays open:
	// a new one reads the schema again and prepares every cached statement
	// again, which under load (the pool's default keeps two idle) would
	// happen on every burst of more than two requests.
	db.SetMaxOpenConns(sqliteConns)
	db.SetMaxIdleConns(sqliteConns)
	return &Store{db: db, d: sqliteDialect{}, stmts: newStmtCache(db)}, nil
}

// redact hides the password of a connection URL, for messages.
func redact(database string) string {
	u, err := url.Parse(database)
	if err != nil {
		return "(unparsable database URL)"
	}
	return u.Redacted()
}

// FileMode is the mode of the database and its -wal and -shm files.
const FileMode = 0o600

// ownerOnly creates the database file at path with FileMode, or sets
// FileMode on it and on its -wal and -shm files when they exist. SQLite
// creates the -wal and -shm files with the database file's mode.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, FileMode); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.owner != nil {
		s.owner.Close() // ends the session, and its lock
	}
	s.stmts.close()
	return s.db.Close()
}

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Update runs fn in one write transaction, committing only if fn returns
// nil. Write transactions run one at a time, on both engines. A failure
// for want of disk space is of kind errdefs.ErrStorageFull (StorageFull),
// one for want of the database server errdefs.ErrUnavailable.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	if err := s.d.lockWrites(ctx, tx); err != nil {
		tx.Rollback()
		return classify(err)
	}
	t := &Tx{tx: tx, d: s.d, stmts: s.stmts}
	if err := fn(t); err != nil {
		tx.Rollback()
		return classify(err)
	}
	if err := tx.Commit(); err != nil {
		return classify(err)
	}
	for _, f := range t.afterCommit {
		f()
	}
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	return classify(fn(&Tx{tx: tx, d: s.d, stmts: s.stmts}))
}

// Viewer runs read transactions: a *Store, or an interface narrowed from
// one.
type Viewer interface {
	View(ctx context.Context, fn func(*Tx) error) error
}

// Read runs fn in a read transaction of s and returns what it read.
func Read[T any](ctx context.Context, s Viewer, fn func(*Tx) (T, error)) (T, error) {
	var v T
	err := s.View(ctx, func(tx *Tx) (err error) {
		v, err = fn(tx)
		return err
	})
	return v, err
}

// Tx is a transaction: the core domain's accessors are its methods, and
// the other domains' are functions that take it, so that one transaction
// can span domains.
type Tx struct {
	tx          *sql.Tx
	d           dialect
	stmts       *stmtCache // nil: statements run unprepared
	afterCommit []func()
}

// AfterCommit registers f to run once the write transaction has
// committed, and never if it rolls back: a domain that keeps a cache of
// its rows updates it there when another domain's transaction changes
// them through it.
func (t *Tx) AfterCommit(f func()) { t.afterCommit = append(t.afterCommit, f) }

// Exec runs a statement written with '?' placeholders in the transaction.
// An UPDATE or DELETE with an argument PostgreSQL cannot hold (see
// representable) matches no row; an INSERT of one fails with
// errdefs.ErrInvalidArgument.
func (t *Tx) Exec(q string, args ...any) (sql.Result, error) {
	if !t.d.representable(args) {
		if strings.HasPrefix(strings.TrimSpace(strings.ToUpper(q)), "INSERT") {
			return nil, errUnrepresentable
		}
		return driver.RowsAffected(0), nil
	}
	q = t.d.rebind(q)
	if st := t.stmts.stmt(context.Background(), t.tx, q); st != nil {
		defer st.Close()
		return st.Exec(args...)
	}
	return t.tx.Exec(q, args...)
}

// Query runs a query written with '?' placeholders in the transaction. A
// query with an argument PostgreSQL cannot hold matches no row.
func (t *Tx) Query(q string, args ...any) (*sql.Rows, error) {
	if !t.d.representable(args) {
		return t.tx.Query(`SELECT NULL WHERE 1 = 0`)
	}
	return t.tx.Query(t.d.rebind(q), args...)
}

// RowScanner is what a scan function reads one row from: *sql.Rows or *Row.
type RowScanner = interface{ Scan(...any) error }

// QueryAll runs a query as Query does and returns its rows in order, each
// read by scan. The rows are closed before it returns, so the query runs
// as a cached statement (see stmtCache).
func QueryAll[T any](t *Tx, scan func(RowScanner) (T, error), q string, args ...any) ([]T, error) {
	if !t.d.representable(args) {
		return nil, nil
	}
	q = t.d.rebind(q)
	if st := t.stmts.stmt(context.Background(), t.tx, q); st != nil {
		defer st.Close()
		rows, err := st.Query(args...)
		if err != nil {
			return nil, err
		}
		return CollectRows(rows, scan)
	}
	rows, err := t.tx.Query(q, args...)
	if err != nil {
		return nil, err
	}
	return CollectRows(rows, scan)
}

// CollectRows reads every row of rows with scan and closes rows.
func CollectRows[T any](rows *sql.Rows, scan func(RowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ExecFound runs an UPDATE or DELETE through Exec; errdefs.ErrNotFound
// when it changes no row.
func (t *Tx) ExecFound(q string, args ...any) error {
	res, err := t.Exec(q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errdefs.ErrNotFound
	}
	return nil
}

// QueryRow runs a query written with '?' placeholders that returns at most
// one row. A query with an argument PostgreSQL cannot hold matches no row.
func (t *Tx) QueryRow(q string, args ...any) *Row {
	if !t.d.representable(args) {
		return &Row{}
	}
	q = t.d.rebind(q)
	if st := t.stmts.stmt(context.Background(), t.tx, q); st != nil {
		return &Row{row: st.QueryRow(args...), stmt: st}
	}
	return &Row{row: t.tx.QueryRow(q, args...)}
}

// Row is the result of QueryRow.
type Row struct {
	row  *sql.Row  // nil: no row
	stmt *sql.Stmt // the transaction's copy of a cached statement, closed by Scan
}

// Scan copies the row's columns into dest; sql.ErrNoRows if there is none.
func (r *Row) Scan(dest ...any) error {
	if r.row == nil {
		return sql.ErrNoRows
	}
	if r.stmt != nil {
		defer r.stmt.Close()
	}
	return r.row.Scan(dest...)
}

// PrepareShared prepares a statement written with '?' placeholders on
// the pool, for a domain that runs its hottest reads outside a
// transaction (see QueryRowShared). The statement lives as long as the
// store.
func (s *Store) PrepareShared(q string) (*sql.Stmt, error) {
	return s.db.Prepare(s.d.rebind(q))
}

// QueryRowShared runs a statement of PrepareShared that returns at most
// one row, outside a transaction. A query with an argument PostgreSQL
// cannot hold matches no row.
func (s *Store) QueryRowShared(ctx context.Context, st *sql.Stmt, args ...any) *Row {
	return s.queryRow(ctx, st, args...)
}

// Representable reports whether the backend can hold every argument (see
// Exec): a query with an argument it cannot hold matches no row.
func (t *Tx) Representable(args ...any) bool { return t.d.representable(args) }

// queryRow runs a prepared statement that returns at most one row.
func (s *Store) queryRow(ctx context.Context, st *sql.Stmt, args ...any) *Row {
	if !s.d.representable(args) {
		return &Row{}
	}
	return &Row{row: st.QueryRowContext(ctx, args...)}
}

var errUnrepresentable = errdefs.New(errdefs.ErrInvalidArgument, "", "a value contains a NUL character or is not valid UTF-8, which the metadata database cannot store")

// Prepare prepares a statement written with '?' placeholders for the
// rest of the transaction.
func (t *Tx) Prepare(q string) (*sql.Stmt, error) {
	return t.tx.Prepare(t.d.rebind(q))
}

// ExecUnique is Exec for a statement that may violate a UNIQUE or PRIMARY
// KEY constraint: such a violation is of kind errdefs.ErrAlreadyExists, and
// the transaction goes on as if the statement had not run (on PostgreSQL,
// where a failed statement aborts the transaction, the statement runs in
// a savepoint).
func (t *Tx) ExecUnique(q string, args ...any) (sql.Result, error) {
	res, err := t.execUnique(q, args...)
	if t.d.unique(err) {
		return nil, errdefs.Wrap(err, errdefs.ErrAlreadyExists, "", "")
	}
	return res, err
}

// InsertUnique runs an INSERT (or an upsert) through execUnique;
// errdefs.ErrAlreadyExists when it violates a unique constraint.
func (t *Tx) InsertUnique(q string, args ...any) error {
	_, err := t.execUnique(q, args...)
	if t.d.unique(err) {
		return errdefs.ErrAlreadyExists
	}
	return err
}

func (t *Tx) execUnique(q string, args ...any) (sql.Result, error) {
	if !t.d.savepoints() {
		return t.Exec(q, args...)
	}
	if _, err := t.tx.Exec(`SAVEPOINT unique_stmt`); err != nil {
		return nil, err
	}
	res, err := t.Exec(q, args...)
	if err != nil {
		if _, rerr := t.tx.Exec(`ROLLBACK TO SAVEPOINT unique_stmt`); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}
	_, err = t.tx.Exec(`RELEASE SAVEPOINT unique_stmt`)
	return res, err
}

// timeLayout is the one encoding of times in every table: UTC with nine
// fraction digits, so that times compare and sort as text (the ordered
// lists and the grace-period queries of garbage collection rely on it).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func now() string { return FormatTime(time.Now()) }

// Now is the current time in the one time encoding.
func Now() string { return now() }

// ParseTime reads a time of a table, in the encoding of FormatTime (or,
// in a row that predates it, RFC 3339); the zero time if s is neither.
func ParseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// FormatTime encodes a time for a table: UTC, with nine fraction digits,
// so that times compare and sort as text.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// Limit is n as a LIMIT both engines accept: PostgreSQL refuses a
// negative one, which SQLite reads as no limit.
func Limit(n int) int64 {
	if n < 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// ScanStrings reads and closes rows of one string column.
func ScanStrings(rows *sql.Rows) ([]string, error) {
	return CollectRows(rows, ScanString)
}

// ScanString reads a row of one string column.
func ScanString(sc RowScanner) (s string, err error) {
	err = sc.Scan(&s)
	return s, err
}
