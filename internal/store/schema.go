package store

import (
	"strings"
	"time"
)

// Migrations returns the migrations of the tables the store's own
// accessors use (the core domain's and the directory's), in the order
// Open applies them. The domains that own the rest of the schema declare
// theirs (access's in internal/access/accessdb, the registry's in
// internal/registry/metadata), and the server passes them all to
// OpenDatabase explicitly (internal/domains), the replica domain's last
// (see ReplicaMigrations). A later migration is appended to its domain's
// list with the next version number.
func Migrations() []Migration {
	return []Migration{
		{Domain: "core", Version: 1, Name: "subscriptions, resources, operations and settings", SQL: coreSchema},
		{Domain: "directory", Version: 1, Name: "principals, secrets, group memberships and managed-identity hosts", SQL: directorySchema},
		{Domain: "core", Version: 2, Name: "one time encoding", Up: func(tx *Tx) error {
			return tx.rewriteTimes([]timeColumns{
				{"subscriptions", "id", []string{"created_at"}},
				{"resources", "key", []string{"created_at", "updated_at"}},
				{"operations", "id", []string{"updated_at"}},
			})
		}},
		{Domain: "directory", Version: 2, Name: "one time encoding", Up: func(tx *Tx) error {
			return tx.rewriteTimes([]timeColumns{
				{"principals", "object_id", []string{"created_at"}},
				{"secrets", "key_id", []string{"start_at", "end_at"}},
				{"group_members", "group_id || ' ' || member_id", []string{"added_at", "effective_at"}},
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

const directorySchema = `
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
CREATE TABLE IF NOT EXISTS hosts(
  host_id TEXT PRIMARY KEY,
  identities TEXT NOT NULL);
`

// timeColumns names a table's time columns and an expression that
// identifies its rows.
type timeColumns struct {
	table, key string
	cols       []string
}

// rewriteTimes rewrites times stored before there was one time encoding
// (RFC 3339 with trailing zeros of the fraction dropped, so that they did
// not sort as text) in the fixed-width encoding of FormatTime. The instants
// are unchanged.
func (t *Tx) rewriteTimes(tables []timeColumns) error {
	for _, tc := range tables {
		q := `SELECT ` + tc.key + `, ` + strings.Join(tc.cols, ", ") + ` FROM ` + tc.table
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
			r := row{vals: make([]string, len(tc.cols))}
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
		set := make([]string, len(tc.cols))
		for i, c := range tc.cols {
			set[i] = c + ` = ?`
		}
		upd := `UPDATE ` + tc.table + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + tc.key + ` = ?`
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
