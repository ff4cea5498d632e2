package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// database is "" (embedded SQLite) by default, set by the file or by
// DRYDOCK_DATABASE (which wins), and must be a postgres:// URL otherwise.
func TestDatabaseSetting(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("database: postgres://drydock@db.example:5432/drydock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, env string
		want      string
		err       string
	}{
		{"", "", "", ""},
		{file, "", "postgres://drydock@db.example:5432/drydock", ""},
		{"", "postgresql://u:p@127.0.0.1/d?sslmode=disable", "postgresql://u:p@127.0.0.1/d?sslmode=disable", ""},
		{file, "postgres://other/x", "postgres://other/x", ""},
		{"", "mysql://x/y", "", `database must be "" (the embedded SQLite database in the data directory) or a postgres:// URL`},
		{"", "/var/lib/drydock.db", "", "postgres:// URL"},
	} {
		t.Setenv("DRYDOCK_DATABASE", tc.env)
		c, err := Load(tc.file)
		if err == nil {
			err = c.Finish()
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("file %q env %q: error %v, want %q", tc.file, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || c.Database != tc.want {
			t.Errorf("file %q env %q: %q %v, want %q", tc.file, tc.env, c.Database, err, tc.want)
		}
	}
}
