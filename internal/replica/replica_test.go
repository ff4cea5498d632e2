package replica

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

func openShared(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.OpenDatabase(t.Context(), store.Options{Database: url}, domains.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeIdentity stands for the server's loaders: it creates each missing
// identity file with random content.
func writeIdentity(dir string) func() error {
	return func() error {
		for _, name := range IdentityFiles {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				continue
			}
			os.MkdirAll(filepath.Dir(p), 0o700)
			b := make([]byte, 16)
			rand.Read(b)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestShareIdentity(t *testing.T) {
	pg := storetest.StartPostgres(t)
	url := pg.NewDatabase(t)
	box := newBox(t)
	first, second := t.TempDir(), t.TempDir()
	// The second replica has keys of its own from an earlier life: the
	// set's replace them.
	writeIdentity(second)()
	for _, dir := range []string{first, second} {
		if err := ShareIdentity(t.Context(), openShared(t, url), box, dir, writeIdentity(dir)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range IdentityFiles {
		a, _ := os.ReadFile(filepath.Join(first, name))
		b, _ := os.ReadFile(filepath.Join(second, name))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s differs between the replicas", name)
		}
	}
	// Another secret key does not open the set's identity.
	err := ShareIdentity(t.Context(), openShared(t, url), newBox(t), t.TempDir(), writeIdentity(t.TempDir()))
	if err == nil {
		t.Error("a replica with another secretKey joined the set")
	}
}

func TestLease(t *testing.T) {
	pg := storetest.StartPostgres(t)
	url := pg.NewDatabase(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	lease := func(holder string) *Lease {
		return &Lease{St: openShared(t, url), Name: "job", Holder: holder, TTL: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now: func() time.Time { return clock }}
	}
	a, b := lease("a"), lease("b")
	for _, step := range []struct {
		name   string
		at     time.Duration
		l      *Lease
		want   bool
		before func()
	}{
		{name: "a takes the free lease", l: a, want: true},
		{name: "b waits", at: 30 * time.Second, l: b, want: false},
		{name: "a renews", at: 50 * time.Second, l: a, want: true},
		{name: "b still waits after the first term", at: 70 * time.Second, l: b, want: false},
		{name: "b takes the expired lease", at: 111 * time.Second, l: b, want: true},
		{name: "a lost it", at: 112 * time.Second, l: a, want: false},
		{name: "a takes it once b released it", at: 113 * time.Second, l: a, want: true, before: func() {
			if err := b.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		clock = t0.Add(step.at)
		if step.before != nil {
			step.before()
		}
		got, err := step.l.Acquire(t.Context())
		if err != nil || got != step.want {
			t.Errorf("%s: %v, %v; want %v", step.name, got, err, step.want)
		}
	}
}

func TestWatch(t *testing.T) {
	pg := storetest.StartPostgres(t)
	url := pg.NewDatabase(t)
	writer, reader := openShared(t, url), openShared(t, url)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seen := make(chan string, 16)
	go Watch(ctx, reader, time.Hour, func(_ context.Context, table string) error {
		seen <- table
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if got := <-seen; got != "" {
		t.Fatalf("first reload %q, want a full one after connecting", got)
	}
	if err := writer.Update(t.Context(), func(tx *store.Tx) error {
		return accessdb.CreateRoleAssignment(tx, accessdb.RoleAssignment{Name: "n", Scope: "/subscriptions/s", RoleGUID: "g", PrincipalID: "p", Body: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "role_assignments" {
		t.Errorf("reload %q after a role assignment, want role_assignments", got)
	}
	// A rolled-back change announces nothing; the next committed one does.
	writer.Update(t.Context(), func(tx *store.Tx) error {
		accessdb.DeleteRoleAssignment(tx, "n")
		return os.ErrInvalid
	})
	if err := writer.Update(t.Context(), func(tx *store.Tx) error {
		return directorydb.AddMember(tx, directorydb.Member{GroupID: "g", MemberID: "m", AddedAt: time.Now(), EffectiveAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "group_members" {
		t.Errorf("reload %q after a membership, want group_members (nothing for the rolled-back delete)", got)
	}
}
