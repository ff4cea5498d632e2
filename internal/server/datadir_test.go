package server

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/store"
)

func TestSecureDataDir(t *testing.T) {
	cases := []struct {
		name string
		mode os.FileMode // 0: the dir does not exist yet
		warn bool
	}{
		{"created", 0, false},
		{"owner only", 0o700, false},
		{"world-readable", 0o755, true},
		{"group-readable", 0o750, true},
		{"others may enter", 0o701, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if c.mode != 0 {
				if err := os.Mkdir(dir, c.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(dir, c.mode) // past the umask
			}
			var logs bytes.Buffer
			if err := secureDataDir(dir, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if m := st.Mode().Perm(); m != dataDirMode {
				t.Errorf("mode %04o, want %04o", m, dataDirMode)
			}
			if warned := strings.Contains(logs.String(), "level=WARN"); warned != c.warn {
				t.Errorf("warned %v, want %v: %s", warned, c.warn, logs.String())
			}
		})
	}
}

// A server started on a world-readable data dir with a world-readable
// database leaves both the owner's only.
func TestServerTightensDataDir(t *testing.T) {
	var dataDir string
	startServer(t, func(cfg *config.Config) {
		cfg.Database = "" // the embedded database, whose files this test checks
		dataDir = cfg.DataDir
		if err := os.Chmod(dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dataDir, dbFile), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	want := map[string]os.FileMode{dataDir: dataDirMode}
	for _, f := range []string{dbFile, dbFile + "-wal", dbFile + "-shm"} {
		want[filepath.Join(dataDir, f)] = store.FileMode
	}
	for path, mode := range want {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != mode {
			t.Errorf("%s: mode %04o, want %04o", path, m, mode)
		}
	}
}

// Upload data a crash left without a session is gone once the server
// has started.
func TestServerSweepsUploadsAtStart(t *testing.T) {
	var orphan string
	startServer(t, func(cfg *config.Config) {
		orphan = filepath.Join(cfg.DataDir, "registry", "uploads", "5f0c6a8e-0000-4000-8000-000000000003")
		if err := os.MkdirAll(orphan, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(orphan, "data"), []byte("half a layer"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("%s: want it removed at start, got %v", orphan, err)
	}
}
