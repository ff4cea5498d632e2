package cluster

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// testClusterID is a cluster's ID.
var testClusterID = resourceid.New("00000000-0000-0000-0000-000000000001", "rg", "Microsoft.ContainerService", "managedClusters", "c1")

// replicatedProvider is a Provider of a replica on a real store (SQLite
// in a temporary directory), with the given sealing key.
func replicatedProvider(t *testing.T, st *store.Store, key byte) *Provider {
	t.Helper()
	k := make([]byte, 32)
	for i := range k {
		k[i] = key
	}
	box, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return &Provider{kit: &arm.Kit{Store: st}, cfg: Config{DataDir: t.TempDir(), Replication: &Replication{Store: st, Box: box}}}
}

// TestControlPlaneFiles: the holder seals the control plane's files that
// make the cluster the same; the next holder gets them written back,
// replacing its own; a file the holder re-issued replaces the sealed one;
// other files stay on the machine; another secretKey does not open them.
func TestControlPlaneFiles(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	id := testClusterID
	key := strings.ToLower(id.String())
	holder, next := replicatedProvider(t, st, 1), replicatedProvider(t, st, 1)
	write := func(dir string, files map[string]string) {
		t.Helper()
		for name, content := range files {
			path := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	write(a, map[string]string{"pki/ca.crt": "CA", "pki/ca.key": "CA key", "pki/front-proxy/ca.key": "FP key", "pki/sa.key": "SA",
		"admin.kubeconfig": "admin", "pki/apiserver.key": "serving key of a", "state.db": "objects"})
	write(b, map[string]string{"pki/ca.crt": "another CA", "pki/apiserver.key": "serving key of b"})
	if err := holder.saveControlPlane(ctx, key, a); err != nil {
		t.Fatal(err)
	}
	write(a, map[string]string{"admin.kubeconfig": "admin, renewed"})
	if err := holder.saveControlPlane(ctx, key, a); err != nil {
		t.Fatal(err)
	}
	if err := next.restoreControlPlane(ctx, key, b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, want string // want "" means absent
	}{
		{"pki/ca.crt", "CA"},
		{"pki/ca.key", "CA key"},
		{"pki/front-proxy/ca.key", "FP key"},
		{"pki/sa.key", "SA"},
		{"admin.kubeconfig", "admin, renewed"},
		{"pki/apiserver.key", "serving key of b"}, // issued on each machine
		{"state.db", ""},                          // not a control-plane file
		{"user.kubeconfig", ""},                   // never written
	} {
		got, err := os.ReadFile(filepath.Join(b, filepath.FromSlash(tc.file)))
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s restored (%q), want it absent", tc.file, got)
		case tc.want != "" && string(got) != tc.want:
			t.Errorf("%s: %q (%v), want %q", tc.file, got, err, tc.want)
		}
	}
	if kc, err := next.sealedKubeconfig(ctx, id, "admin.kubeconfig"); err != nil || string(kc) != "admin, renewed" {
		t.Errorf("sealedKubeconfig: %q %v", kc, err)
	}
	if _, err := next.sealedKubeconfig(ctx, id, "user.kubeconfig"); !errdefs.IsNotFound(err) {
		t.Errorf("sealedKubeconfig of a file never sealed: %v, want not found", err)
	}
	if err := replicatedProvider(t, st, 2).restoreControlPlane(ctx, key, t.TempDir()); err == nil {
		t.Error("files sealed with one secretKey opened with another")
	}
}

// TestLocalState: on a replica, a cluster's and its nodes' directories
// (and so their bridges) are this machine's whichever replica created
// it; a single server keeps the stored ones.
func TestLocalState(t *testing.T) {
	id := testClusterID
	stored := state{Dir: "/elsewhere/clusters/x", Port: 1234, Nodes: []Node{{Name: "n0", Dir: "/elsewhere/clusters/x/nodes/n0", Bridge: "ddold", PodSubnet: "10.244.7.0/24"}}}
	single := &Provider{cfg: Config{DataDir: "/here/clusters"}}
	replica := &Provider{cfg: Config{DataDir: "/here/clusters", Replication: &Replication{}}}
	for _, tc := range []struct {
		name    string
		p       *Provider
		dir     string
		nodeDir string
	}{
		{"single server", single, stored.Dir, stored.Nodes[0].Dir},
		{"replica", replica, replica.clusterDir(id), filepath.Join(replica.clusterDir(id), "nodes", "n0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.localState(id, stored)
			if got.Dir != tc.dir || got.Nodes[0].Dir != tc.nodeDir || got.Port != stored.Port {
				t.Errorf("localState: dir %s, node dir %s, port %d; want %s, %s, %d", got.Dir, got.Nodes[0].Dir, got.Port, tc.dir, tc.nodeDir, stored.Port)
			}
			if got.Nodes[0].Bridge != bridgeName(got.Nodes[0].Dir) && tc.p.cfg.Replication != nil {
				t.Errorf("bridge %s of node dir %s", got.Nodes[0].Bridge, got.Nodes[0].Dir)
			}
		})
	}
	if stored.Nodes[0].Dir != "/elsewhere/clusters/x/nodes/n0" {
		t.Error("localState changed the stored state's nodes")
	}
}

// TestRunsHere: a replica takes over a cluster whose objects are in
// PostgreSQL, and one kept in a SQLite file only where that file is (a
// cluster created before clusters moved to PostgreSQL); a cluster without
// state yet is left for the next look.
func TestRunsHere(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		state     *state
		localFile bool
		want      bool
	}{
		{"no state yet", nil, false, false},
		{"objects in PostgreSQL", &state{Dir: "d", Datastore: "postgres", DatastoreSchema: "kine_0"}, false, true},
		{"objects in this machine's SQLite file", &state{Dir: "d"}, true, true},
		{"objects in another machine's SQLite file", &state{Dir: "d"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storetest.Open(t)
			p := replicatedProvider(t, st, 1)
			p.log = slog.New(slog.DiscardHandler)
			if tc.state != nil {
				if err := st.Update(ctx, func(tx *store.Tx) error { return saveState(tx, testClusterID.String(), *tc.state) }); err != nil {
					t.Fatal(err)
				}
			}
			if tc.localFile {
				dir := filepath.Join(p.clusterDir(testClusterID), "controlplane")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, localDatastore), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := newLeaseRunner(p, *p.cfg.Replication)
			if got := r.runsHere(ctx, testClusterID.String(), testClusterID); got != tc.want {
				t.Errorf("runsHere = %v, want %v", got, tc.want)
			}
		})
	}
}
