package server

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
)

// A second server on a data directory in use refuses, naming the first,
// and the first goes on serving.
func TestSecondServerOnOneDataDir(t *testing.T) {
	e := newEnv(t, nil)
	cfg := config.Default()
	cfg.DataDir = e.dataDir
	cfg.Listen = "127.0.0.1:1"
	cfg.RegistryListen = "127.0.0.1:0"
	cfg.HostsFile = filepath.Join(t.TempDir(), "hosts")
	srv, err := New(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		srv.close()
		t.Fatal("a second server started on a data directory in use")
	}
	if want := "the data directory " + e.dataDir + " is in use by another drydock server (pid "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	e.mustDo(t, e.arm, "GET", "/subscriptions?api-version=2022-12-01", nil, 200)
}
