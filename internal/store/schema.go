package store

import (
	"strings"
	"time"
)

// Migrations returns the schema of every table the store's accessors use,
// by domain, in the order Open applies them. The server passes it to Open
// explicitly; a later migration is appended to its domain's list with the
// next version number.
func Migrations() []Migration {
	return []Migration{
		{Domain: "core", Version: 1, Name: "subscriptions, resources, operations and settings", SQL: coreSchema},
		{Domain: "directory", Version: 1, Name: "principals, secrets, group memberships and managed-identity hosts", SQL: directorySchema},
		{Domain: "access", Version: 1, Name: "role assignments", SQL: accessSchema},
		{Domain: "registry", Version: 1, Name: "container registry metadata", SQL: registrySchema},
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
		{Domain: "replica", Version: 1, Name: "shared identity, leases, heartbeats and change notifications", SQL: replicaSchema, Up: installChangeTriggers},
		{Domain: "registry", Version: 2, Name: "blob deletions shared by garbage collection and pushes", SQL: registryBlobDeletionsSchema},
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

const accessSchema = `
CREATE TABLE IF NOT EXISTS role_assignments(
  name_key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  scope_key TEXT NOT NULL,
  role_guid TEXT NOT NULL,
  principal_id TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS role_assignments_unique ON role_assignments(scope_key, role_guid, principal_id);
`

// ---- container registry data plane (OCI distribution metadata) ----
//
// Every table is partitioned by the registry's key: its lower-cased ARM
// resource ID. Repository names are lower-case by grammar, digests are
// lower-case hex; tags are case-sensitive and stored as given. Manifest
// bodies live here (they are at most a few MiB); blob content lives in the
// blob store, and a blob is readable through a repository only while a row
// of registry_blobs links it there.

const registrySchema = `
CREATE TABLE IF NOT EXISTS registry_repositories(
  registry TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY(registry, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS registry_manifests(
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  artifact_type TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  annotations TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL,
  body BLOB NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY(registry, repository, digest));
CREATE INDEX IF NOT EXISTS registry_manifests_subject ON registry_manifests(registry, repository, subject) WHERE subject != '';
CREATE TABLE IF NOT EXISTS registry_tags(
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY(registry, repository, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registry_tags_digest ON registry_tags(registry, repository, digest);
CREATE TABLE IF NOT EXISTS registry_blobs(
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  linked_at TEXT NOT NULL,
  PRIMARY KEY(registry, repository, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registry_blobs_digest ON registry_blobs(digest);
CREATE TABLE IF NOT EXISTS registry_manifest_refs(
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  manifest TEXT NOT NULL,
  ref TEXT NOT NULL,
  is_manifest INTEGER NOT NULL,
  PRIMARY KEY(registry, repository, manifest, ref)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registry_manifest_refs_ref ON registry_manifest_refs(registry, repository, ref);
CREATE TABLE IF NOT EXISTS registry_uploads(
  id TEXT PRIMARY KEY,
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  started_at TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registry_uploads_registry ON registry_uploads(registry, repository);
CREATE INDEX IF NOT EXISTS registry_uploads_started ON registry_uploads(started_at);
`

// timeColumns names a table's time columns and an expression that
// identifies its rows.
type timeColumns struct {
	table, key string
	cols       []string
}

// rewriteTimes rewrites times stored before there was one time encoding
// (RFC 3339 with trailing zeros of the fraction dropped, so that they did
// not sort as text) in the fixed-width encoding of fmtTime. The instants
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
					nv = fmtTime(p)
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
