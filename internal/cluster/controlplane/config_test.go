package controlplane

import (
	"strings"
	"testing"
)

// TestCompleteDatastore: the datastore is SQLite (no datastore), or a
// postgres:// URL with a schema that needs no quoting and is not one of
// PostgreSQL's own.
func TestCompleteDatastore(t *testing.T) {
	const pg = "postgres://drydock:secret@db:5432/drydock?sslmode=disable"
	for _, tc := range []struct {
		name, datastore, schema string
		wantErr                 string // "" for none
	}{
		{"sqlite", "", "", ""},
		{"postgres", pg, "kine_0123456789abcdef", ""},
		{"postgresql scheme", "postgresql://db/drydock", "kine_x", ""},
		{"schema without datastore", "", "kine_x", "datastoreSchema is set without a datastore"},
		{"not postgres", "mysql://db/drydock", "kine_x", "want \"\" (SQLite in dataDir) or a postgres:// URL"},
		{"no schema", pg, "", "datastoreSchema \"\""},
		{"public", pg, "public", "datastoreSchema \"public\""},
		{"pg_ schema", pg, "pg_catalog", "datastoreSchema \"pg_catalog\""},
		{"upper case", pg, "Kine_x", "datastoreSchema \"Kine_x\""},
		{"injection", pg, "kine_x; DROP TABLE meta", "datastoreSchema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := complete(Config{Name: "c", DataDir: t.TempDir(), APIServerPort: 6443, Datastore: tc.datastore, DatastoreSchema: tc.schema})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("complete: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("complete: %v, want an error with %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Errorf("the error shows the database's password: %v", err)
			}
		})
	}
}
