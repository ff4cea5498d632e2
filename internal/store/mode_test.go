package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The database, -wal and -shm are the owner's only, whether Open creates
// them or finds them with a wider mode.
func TestDatabaseFileModes(t *testing.T) {
	cases := []struct {
		name     string
		existing os.FileMode // 0: no files before Open
	}{
		{"created", 0},
		{"world-readable before", 0o644},
		{"group-writable before", 0o660},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "drydock.db")
			if c.existing != 0 {
				s, err := Open(path, Migrations())
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				for _, p := range []string{path, path + "-wal", path + "-shm"} {
					f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, c.existing) // the close removed -wal and -shm
					if err != nil {
						t.Fatal(err)
					}
					f.Close()
					if err := os.Chmod(p, c.existing); err != nil {
						t.Fatal(err)
					}
				}
			}
			s, err := Open(path, Migrations())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Update(context.Background(), func(tx *Tx) error { return tx.SetMeta("k", "v") }); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if m := st.Mode().Perm(); m != FileMode {
					t.Errorf("%s: mode %o, want %o", filepath.Base(p), m, FileMode)
				}
			}
		})
	}
}
