package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Migration is one step of a domain's schema. Each domain (the store's
// own tables, the directory's, access's, the registry's) numbers its
// migrations 1, 2, 3, ... and the database records, in the one table
// schema_migrations, which of them it has applied. Open applies the
// missing ones in the order of the list it is given, each in its own
// transaction together with its row in schema_migrations, so a migration
// is applied entirely or not at all.
//
// A migration is never silently destructive: SQL may create tables and
// indexes and add columns (it is written once, in SQLite's dialect, and
// translated for PostgreSQL); it may not drop or truncate anything. A data
// rewrite (Up) keeps every row's meaning. Version 1 of each domain is the
// schema as drydock created it before schema versions existed, written
// with IF NOT EXISTS, so that a database of that time upgrades in place.
type Migration struct {
	// Domain names the owner of the tables, e.g. "registry".
	Domain string
	// Version is 1 for a domain's first migration, then one more for each.
	Version int
	// Name says what the migration does, for messages and the table.
	Name string
	// SQL is DDL in SQLite's dialect, statements separated by ";".
	SQL string
	// Up, when set, runs after SQL in the same transaction.
	Up func(*Tx) error
}

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer drydock than this one.
var ErrSchemaTooNew = errors.New("metadata database schema is newer than this drydock")

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations(
  domain TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY(domain, version))`

var destructive = regexp.MustCompile(`(?i)\b(DROP|TRUNCATE|DELETE|RENAME)\b`)

// checkMigrations validates the list: each domain's versions run 1, 2, 3,
// ... in list order, and no SQL drops, truncates, deletes or renames.
func checkMigrations(ms []Migration) error {
	next := map[string]int{}
	for _, m := range ms {
		if m.Domain == "" || m.Name == "" {
			return fmt.Errorf("migration %d: domain and name are required", m.Version)
		}
		if want := next[m.Domain] + 1; m.Version != want {
			return fmt.Errorf("migration %s/%d (%s): expected version %d", m.Domain, m.Version, m.Name, want)
		}
		next[m.Domain] = m.Version
		if w := destructive.FindString(m.SQL); w != "" {
			return fmt.Errorf("migration %s/%d (%s): %s is not allowed in a migration's SQL: migrations never destroy data", m.Domain, m.Version, m.Name, strings.ToUpper(w))
		}
	}
	return nil
}

// migrate applies the migrations that the database lacks, after refusing a
// database that a newer drydock migrated (a domain at a version this list
// does not reach, or a domain it does not know).
func (s *Store) migrate(ctx context.Context, ms []Migration) error {
	if err := checkMigrations(ms); err != nil {
		return err
	}
	known := map[string]int{}
	for _, m := range ms {
		known[m.Domain] = m.Version
	}
	var applied map[string]int
	err := s.Update(ctx, func(tx *Tx) (err error) {
		if _, err := tx.Exec(tx.d.ddl(migrationsTable)); err != nil {
			return err
		}
		applied, err = tx.schemaVersions()
		return err
	})
	if err != nil {
		return err
	}
	for domain, v := range applied {
		if v > known[domain] {
			return fmt.Errorf("%w: its %q tables are at schema version %d, and this drydock knows versions up to %d. "+
				"It was written by a newer drydock: run that version (or a later one), or restore a backup taken before the upgrade",
				ErrSchemaTooNew, domain, v, known[domain])
		}
	}
	for _, m := range ms {
		if m.Version <= applied[m.Domain] {
			continue
		}
		err := s.Update(ctx, func(tx *Tx) error {
			// Another replica may have applied it since; the write lock
			// makes this check and the migration one step.
			var done int
			if err := tx.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE domain = ? AND version = ?`, m.Domain, m.Version).Scan(&done); err != nil || done > 0 {
				return err
			}
			for _, stmt := range strings.Split(m.SQL, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.Exec(tx.d.ddl(stmt)); err != nil {
					return err
				}
			}
			if m.Up != nil {
				if err := m.Up(tx); err != nil {
					return err
				}
			}
			_, err := tx.Exec(`INSERT INTO schema_migrations(domain, version, name, applied_at) VALUES(?,?,?,?)`, m.Domain, m.Version, m.Name, now())
			return err
		})
		if err != nil {
			return fmt.Errorf("schema migration %s/%d (%s): %w", m.Domain, m.Version, m.Name, err)
		}
	}
	return nil
}

// schemaVersions returns each domain's highest applied migration.
func (t *Tx) schemaVersions() (map[string]int, error) {
	rows, err := t.Query(`SELECT domain, MAX(version) FROM schema_migrations GROUP BY domain`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var d string
		var v int
		if err := rows.Scan(&d, &v); err != nil {
			return nil, err
		}
		out[d] = v
	}
	return out, rows.Err()
}

// SchemaVersions returns each domain's highest applied migration.
func (s *Store) SchemaVersions(ctx context.Context) (map[string]int, error) {
	var out map[string]int
	err := s.View(ctx, func(tx *Tx) (err error) {
		out, err = tx.schemaVersions()
		return err
	})
	return out, err
}
