package config

import "testing"

// database is "" (embedded SQLite) by default, set by the file or by
// DRYDOCK_DATABASE (which wins), and must be a postgres:// URL otherwise.
func TestDatabaseSetting(t *testing.T) {
	env := func(v string) map[string]string { return map[string]string{"DRYDOCK_DATABASE": v} }
	testSetting(t, "database: postgres://drydock@db.example:5432/drydock\n", "DRYDOCK_DATABASE", func(c Config) string { return c.Database }, []settingCase[string]{
		{name: "default"},
		{name: "file", file: true, want: "postgres://drydock@db.example:5432/drydock"},
		{name: "env", env: env("postgresql://u:p@127.0.0.1/d?sslmode=disable"), want: "postgresql://u:p@127.0.0.1/d?sslmode=disable"},
		{name: "env over file", file: true, env: env("postgres://other/x"), want: "postgres://other/x"},
		{name: "mysql", env: env("mysql://x/y"), err: `database must be "" (the embedded SQLite database in the data directory) or a postgres:// URL`},
		{name: "a path", env: env("/var/lib/drydock.db"), err: "postgres:// URL"},
	})
}
