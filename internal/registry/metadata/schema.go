// Package metadata is the container registry's metadata in the metadata
// database: its tables (repositories, manifests with their bytes, tags,
// blob links, manifest references, upload sessions and garbage
// collection's blob deletions), their migrations (Migrations) and every
// statement that reads or writes them, as functions over a transaction of
// the store (internal/store). Blob content is not here: it lives behind
// registry/storage.Driver.
package metadata

import "github.com/drydock-dev/drydock/internal/store"

// Migrations returns the registry domain's schema migrations, in order. A
// later migration is appended with the next version number.
func Migrations() []store.Migration {
	return []store.Migration{
		{Domain: "registry", Version: 1, Name: "container registry metadata", SQL: registrySchema},
		{Domain: "registry", Version: 2, Name: "blob deletions shared by garbage collection and pushes", SQL: registryBlobDeletionsSchema},
	}
}

// Version 1 is the registry's tables as drydock created them before schema
// versions existed (CREATE ... IF NOT EXISTS, so that applying it to a
// database of that time changes nothing). Do not edit it: a change is a
// new migration.

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
