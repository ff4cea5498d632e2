// Package store owns drydock's metadata: resources, subscriptions, the
// directory's principals and credentials, group memberships, role
// assignments and long-running operations. The embedded implementation is
// SQLite (pure Go) in WAL mode; every change runs in one transaction
// through Update, so a failed request leaves nothing half-written. Its
// errors carry internal/errdefs kinds: a missing row is
// errdefs.ErrNotFound, a duplicate errdefs.ErrAlreadyExists, a full disk
// errdefs.ErrStorageFull.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the metadata database.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the SQLite database at path and applies
// the schema. The database and its -wal and -shm files are readable by
// their owner only.
func Open(path string) (*Store, error) {
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
	// readers proceed in parallel under WAL.
	db.SetMaxOpenConns(4)
	s := &Store{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata store %s: %w", path, err)
	}
	return s, nil
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
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Update runs fn in one write transaction, committing only if fn returns
// nil. A failure for want of disk space is of kind errdefs.ErrStorageFull
// (StorageFull).
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return StorageFull(err)
	}
	if err := fn(&Tx{tx: tx}); err != nil {
		tx.Rollback()
		return StorageFull(err)
	}
	return StorageFull(tx.Commit())
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return StorageFull(err)
	}
	defer tx.Rollback()
	return StorageFull(fn(&Tx{tx: tx}))
}

// Tx is a transaction with typed accessors for each table.
type Tx struct {
	tx *sql.Tx
}

const schema = `
CREATE TABLE IF NOT EXISTS meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions(
  id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources(
  key TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  subscription TEXT NOT NULL,
  resource_group TEXT NOT NULL,
  name_key TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS resources_by_scope ON resources(subscription, resource_group, type);
CREATE INDEX IF NOT EXISTS resources_by_type ON resources(type, name_key);
CREATE UNIQUE INDEX IF NOT EXISTS registries_global_name ON resources(name_key)
  WHERE type = 'microsoft.containerregistry/registries';
CREATE TABLE IF NOT EXISTS principals(
  object_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  app_id TEXT NOT NULL DEFAULT '',
  upn TEXT NOT NULL DEFAULT '',
  display_name TEXT NOT NULL,
  resource_id TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS principals_upn ON principals(lower(upn)) WHERE upn != '';
CREATE INDEX IF NOT EXISTS principals_app ON principals(lower(app_id)) WHERE app_id != '';
CREATE INDEX IF NOT EXISTS principals_resource ON principals(lower(resource_id)) WHERE resource_id != '';
CREATE TABLE IF NOT EXISTS secrets(
  key_id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  hash TEXT NOT NULL,
  hint TEXT NOT NULL,
  display_name TEXT NOT NULL,
  start_at TEXT NOT NULL,
  end_at TEXT NOT NULL,
  sealed TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS secrets_owner ON secrets(owner_id);
CREATE TABLE IF NOT EXISTS group_members(
  group_id TEXT NOT NULL,
  member_id TEXT NOT NULL,
  added_at TEXT NOT NULL,
  effective_at TEXT NOT NULL,
  PRIMARY KEY(group_id, member_id));
CREATE INDEX IF NOT EXISTS group_members_member ON group_members(member_id);
CREATE TABLE IF NOT EXISTS role_assignments(
  name_key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  scope_key TEXT NOT NULL,
  role_guid TEXT NOT NULL,
  principal_id TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS role_assignments_unique ON role_assignments(scope_key, role_guid, principal_id);
CREATE TABLE IF NOT EXISTS hosts(
  host_id TEXT PRIMARY KEY,
  identities TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS operations(
  id TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  updated_at TEXT NOT NULL);
`

// schemas are applied in order at open; each file that owns tables adds
// its DDL (CREATE ... IF NOT EXISTS) here.
var schemas = []string{schema}

func (s *Store) migrate(ctx context.Context) error {
	for _, ddl := range schemas {
		if _, err := s.db.ExecContext(ctx, ddl); err != nil {
			return err
		}
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
