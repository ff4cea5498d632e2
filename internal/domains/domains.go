// Package domains lists the schema migrations of every domain that keeps
// tables in the metadata database, in the order the server applies them
// at start. Each domain owns its tables, their migrations and the SQL
// that reads and writes them; the list is explicit, so that what a
// binary migrates is what this file says.
package domains

import (
	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/store"
)

// Migrations returns every domain's migrations: the store's own (the
// core domain's), the directory's, access's, the registry's, then the replica domain's, whose
// change triggers need the other domains' tables.
func Migrations() []store.Migration {
	var ms []store.Migration
	ms = append(ms, store.Migrations()...)
	ms = append(ms, directorydb.Migrations()...)
	ms = append(ms, accessdb.Migrations()...)
	ms = append(ms, metadata.Migrations()...)
	return append(ms, store.ReplicaMigrations()...)
}
