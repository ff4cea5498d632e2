package store

import (
	"strings"
	"time"
)

// Migrations returns the migrations of the tables the store's own
// accessors use (the core domain's: settings, subscriptions, resources,
// operations), in the order Open applies them. The domains that own the
// rest of the schema declare theirs (the directory's in
// internal/directory/directorydb, access's in internal/access/accessdb,
// the registry's in internal/registry/metadata), and the server passes them all to
// OpenDatabase explicitly (internal/domains), the replica domain's last
// (see ReplicaMigrations). A later migration is appended to its domain's
// list with the next version number.
func Migrations() []Migration {
	return []Migration{
		{Domain: "core", Version: 1, Name: "subscriptions, resources, operations and settings", SQL: coreSchema},
		{Domain: "core", Version: 2, Name: "one time encoding", Up: func(tx *Tx) error {
			return tx.RewriteTimes([]TimeColumns{
				{"subscriptions", "id", []string{"created_at"}},
				{"resources", "key", []string{"created_at", "updated_at"}},
				{"operations", "id", []string{"updated_at"}},
			})
		}},
	}
}

// ReplicaMigrations returns the migrations of the tables replicas share
// (identity, leases, heartbeats) and of the change notifications. They
// come after every other domain's: on PostgreSQL they install triggers
// on the watched tables (WatchedTables), which must exist by then.
func ReplicaMigrations() []Migration {
	return []Migration{
		{Domain: "replica", Version: 1, Name: "shared identity, leases, heartbeats and change notifications", SQL: replicaSchema, Up: installChangeTriggers},
	}
}

// The version-1 schemas are the tables as drydock created them before
// schema versions existed (CREATE ... IF NOT EXISTS, so that applying
// them to a database of that time changes nothing). Do not edit them: a
// change is a new migration.

const coreSchema = `
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
CREATE TABLE IF NOT EXISTS operations(
  id TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  updated_at TEXT NOT NULL);
`

// TimeColumns names a table's time columns and an expression that
// identifies its rows.
type TimeColumns struct {
	Table, Key string
	Cols       []string
}

// RewriteTimes rewrites, for a domain's migration, times stored before there was one time encoding
// (RFC 3339 with trailing zeros of the fraction dropped, so that they did
// not sort as text) in the fixed-width encoding of FormatTime. The instants
// are unchanged.
func (t *Tx) RewriteTimes(tables []TimeColumns) error {
	for _, tc := range tables {
		q := `SELECT ` + tc.Key + `, ` + strings.Join(tc.Cols, ", ") + ` FROM ` + tc.Table
		rows, err := t.Query(q)
		if err != nil {
			return err
		}
		type row struct {
			key  string
			vals []string
		}
		var todo []row
		for rows.Next() {
			r := row{vals: make([]string, len(tc.Cols))}
			dst := []any{&r.key}
			for i := range r.vals {
				dst = append(dst, &r.vals[i])
			}
			if err := rows.Scan(dst...); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		set := make([]string, len(tc.Cols))
		for i, c := range tc.Cols {
			set[i] = c + ` = ?`
		}
		upd := `UPDATE ` + tc.Table + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + tc.Key + ` = ?`
		for _, r := range todo {
			args := make([]any, 0, len(r.vals)+1)
			changed := false
			for _, v := range r.vals {
				nv := v
				if p, err := time.Parse(time.RFC3339Nano, v); err == nil {
					nv = FormatTime(p)
				}
				changed = changed || nv != v
				args = append(args, nv)
			}
			if !changed {
				continue
			}
			if _, err := t.Exec(upd, append(args, r.key)...); err != nil {
				return err
			}
		}
	}
	return nil
}
