package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
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

// The bootstrap admin's password is readable on every replica of a set:
// each writes its data dir's admin-password from the database, whether
// the set was bootstrapped by a replica or began as a single server's
// data dir; and the password signs the admin in through any replica.
func TestReplicasShareAdminPassword(t *testing.T) {
	pg := storetest.StartPostgres(t)
	for _, tc := range []struct {
		name   string
		single bool // the first data dir served a single server first
	}{
		{"set bootstrapped by its first replica", false},
		{"single server's data dir made the first replica", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, key := pg.NewDatabase(t), newSecretKey()
			dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
			if tc.single {
				if _, err := openIdentity(t, dirs[0], db, ""); err != nil {
					t.Fatal(err)
				}
			}
			var want string
			for i, dir := range dirs {
				if _, err := openIdentity(t, dir, db, key); err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
				b, err := os.ReadFile(filepath.Join(dir, AdminPasswordFile))
				if err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
				if fi, _ := os.Stat(filepath.Join(dir, AdminPasswordFile)); fi.Mode().Perm() != 0o600 {
					t.Errorf("replica %d: admin-password mode %v", i, fi.Mode())
				}
				if i == 0 {
					want = string(b)
				} else if string(b) != want {
					t.Errorf("replica %d: admin-password %q, want the first replica's %q", i, b, want)
				}
			}
			// Signing in through the last replica with the password.
			cfg := config.Default()
			cfg.DataDir, cfg.Listen, cfg.RegistryListen = dirs[2], "127.0.0.1:1", "127.0.0.1:0"
			cfg.HostsFile = filepath.Join(dirs[2], "hosts")
			cfg.Database, cfg.SecretKey = db, key
			s, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			if _, err := s.dir.AuthenticateUser(context.Background(), s.state.Admin, strings.TrimSpace(want)); err != nil {
				t.Errorf("admin sign-in through another replica: %v", err)
			}
		})
	}
}

// A single server keeps the admin password in its data dir only, as it
// always did.
func TestSingleServerAdminPasswordNotShared(t *testing.T) {
	pg := storetest.StartPostgres(t)
	db := pg.NewDatabase(t)
	dir := t.TempDir()
	if _, err := openIdentity(t, dir, db, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, AdminPasswordFile)); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenDatabase(context.Background(), store.Options{Database: db}, domains.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(context.Background(), func(tx *store.Tx) error {
		_, err := tx.SharedSecret(AdminPasswordFile)
		return err
	})
	if !errdefs.IsNotFound(err) {
		t.Errorf("a single server's admin password in the database: %v", err)
	}
}
