package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// assembled is what a server's identity is made of: its token signing
// keys and its CA.
type assembled struct{ kid, caSubjectKey string }

// openIdentity assembles a server on dataDir and database (a replica when
// secretKey is set), reads its identity, and closes it.
func openIdentity(t *testing.T, dataDir, database, secretKey string) (assembled, error) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.RegistryListen = dataDir, "127.0.0.1:1", "127.0.0.1:0"
	cfg.HostsFile = filepath.Join(dataDir, "hosts")
	cfg.Database, cfg.SecretKey = database, secretKey
	s, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return assembled{}, err
	}
	defer s.close()
	return assembled{kid: s.dir.Signer().KeyID(), caSubjectKey: string(s.ca.Cert.SubjectKeyId)}, nil
}

func newSecretKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// A single server's data directory made the first replica of a set keeps
// its keys and CA (its tokens stay valid); the replicas that join adopt
// them; one with another secretKey is refused.
func TestReplicasShareIdentity(t *testing.T) {
	pg := storetest.StartPostgres(t)
	db := pg.NewDatabase(t)
	first := t.TempDir()
	single, err := openIdentity(t, first, db, "")
	if err != nil {
		t.Fatal(err)
	}
	key := newSecretKey()
	for _, tc := range []struct {
		name, dataDir string
	}{
		{"the single server's data dir as the first replica", first},
		{"a second replica", t.TempDir()},
		{"a third replica", t.TempDir()},
	} {
		got, err := openIdentity(t, tc.dataDir, db, key)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != single {
			t.Errorf("%s: signing key %s, CA %x; want the single server's %s, %x", tc.name, got.kid, got.caSubjectKey, single.kid, single.caSubjectKey)
		}
	}
	if _, err := openIdentity(t, t.TempDir(), db, newSecretKey()); err == nil || !strings.Contains(err.Error(), "every replica needs the same secretKey") {
		t.Errorf("a replica with another secretKey: %v", err)
	}
}
