package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustKubeconfig(t *testing.T, s string) *kubeconfig {
	t.Helper()
	k, err := parseKubeconfig([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func names(entries []map[string]any) []string {
	var out []string
	for _, e := range entries {
		out = append(out, str(e, "name"))
	}
	return out
}

const (
	existingConfig = `apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://kind:6443"}
  name: kind
- cluster: {server: "https://old:443"}
  name: c1
contexts:
- context: {cluster: kind, user: kind-user, namespace: dev}
  name: kind
- context: {cluster: c1, user: clusterUser_rg_c1}
  name: c1
current-context: kind
users:
- name: kind-user
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: kind-auth, args: [--x]}
- name: clusterUser_rg_c1
  user: {token: old}
`
	newConfig = `apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://new:443"}
  name: c1
contexts:
- context: {cluster: c1, user: clusterUser_rg_c1}
  name: c1
current-context: c1
users:
- name: clusterUser_rg_c1
  user: {token: new}
`
)

func TestMergeKubeconfig(t *testing.T) {
	same := strings.NewReplacer("https://new:443", "https://old:443", "token: new", "token: old").Replace(newConfig)
	newUserOnly := strings.ReplaceAll(newConfig, "https://new:443", "https://old:443")
	for _, tc := range []struct {
		name      string
		existing  string
		addition  string
		overwrite bool
		answer    bool // what the user answers when asked
		wantErr   string
		asked     []string
		clusters  []string
		server    string // of c1 after the merge
	}{
		{name: "empty file", existing: "", addition: newConfig, clusters: []string{"c1"}, server: "https://new:443"},
		{name: "new entries", existing: strings.NewReplacer("name: c1", "name: c0", "cluster: c1", "cluster: c0", "clusterUser_rg_c1", "clusterUser_rg_c0").Replace(existingConfig),
			addition: newConfig, clusters: []string{"kind", "c0", "c1"}, server: "https://new:443"},
		{name: "identical entries", existing: same, addition: same, clusters: []string{"c1"}, server: "https://old:443"},
		{name: "conflicting cluster", existing: existingConfig, addition: newConfig, asked: []string{"c1"},
			wantErr: "A different object named c1 already exists in clusters in your kubeconfig file."},
		{name: "conflicting user", existing: existingConfig, addition: newUserOnly, asked: []string{"clusterUser_rg_c1"},
			wantErr: "A different object named clusterUser_rg_c1 already exists in users in your kubeconfig file."},
		{name: "overwrite existing", existing: existingConfig, addition: newConfig, overwrite: true, clusters: []string{"kind", "c1"}, server: "https://new:443"},
		{name: "confirmed", existing: existingConfig, addition: newConfig, answer: true, asked: []string{"c1", "clusterUser_rg_c1"},
			clusters: []string{"kind", "c1"}, server: "https://new:443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			existing := mustKubeconfig(t, tc.existing)
			var asked []string
			merged, err := mergeKubeconfig(existing, mustKubeconfig(t, tc.addition), tc.overwrite, func(name string) bool {
				asked = append(asked, name)
				return tc.answer
			})
			if !reflect.DeepEqual(asked, tc.asked) {
				t.Errorf("asked about %v, want %v", asked, tc.asked)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(merged.Clusters); !reflect.DeepEqual(got, tc.clusters) {
				t.Errorf("clusters %v, want %v", got, tc.clusters)
			}
			for _, c := range merged.Clusters {
				if str(c, "name") == "c1" && str(c, "cluster", "server") != tc.server {
					t.Errorf("c1 server %s, want %s", str(c, "cluster", "server"), tc.server)
				}
			}
			if merged.CurrentContext != "c1" || len(names(merged.Contexts)) != len(tc.clusters) || len(names(merged.Users)) != len(tc.clusters) {
				t.Errorf("merged %+v", merged)
			}
			// Entries drydock does not model survive.
			for _, u := range merged.Users {
				if str(u, "name") == "kind-user" && str(u, "user", "exec", "command") != "kind-auth" {
					t.Errorf("kind-user lost its exec: %v", u)
				}
			}
		})
	}
}

func TestKubeconfigNaming(t *testing.T) {
	admin := strings.ReplaceAll(newConfig, "clusterUser", "clusterAdmin")
	for _, tc := range []struct {
		config, context   string
		admin             bool
		want, wantCluster string
	}{
		{newConfig, "c1", false, "c1", "c1"},
		{newConfig, "dev", false, "dev", "dev"},
		{admin, "c1", true, "c1-admin", "c1"},
		{admin, "dev", false, "dev-admin", "dev"}, // a clusterAdmin user makes it an admin context
		{newConfig, "c1", true, "c1-admin", "c1"},
	} {
		k := mustKubeconfig(t, tc.config)
		got := k.rename(tc.context, tc.admin)
		ctx := k.Contexts[0]
		if got != tc.want || k.CurrentContext != tc.want || str(ctx, "name") != tc.want || str(ctx, "context", "cluster") != tc.wantCluster || str(k.Clusters[0], "name") != tc.wantCluster {
			t.Errorf("rename(%q, %v) = %q: %+v", tc.context, tc.admin, got, k)
		}
	}
}

func TestAKSGetCredentials(t *testing.T) {
	h, f, _ := newAKSHarness(t)
	newTestCluster(h)
	home := os.Getenv("HOME")
	file := filepath.Join(home, ".kube", "config")
	run := func(wantOut, wantErr string, args ...string) {
		t.Helper()
		out, errOut, code := h.run(append([]string{"aks", "get-credentials", "-g", "rg", "-n", "c1"}, args...)...)
		if code != 0 || out != wantOut || errOut != wantErr {
			t.Fatalf("%v: %d %q %q", args, code, out, errOut)
		}
	}
	run("", "WARNING: Merged \"c1\" as current context in "+file+"\n")
	for path, mode := range map[string]os.FileMode{filepath.Dir(file): 0o700, file: 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v %v", path, st, err)
		}
	}
	b, _ := os.ReadFile(file)
	k := mustKubeconfig(t, string(b))
	if k.CurrentContext != "c1" || !reflect.DeepEqual(names(k.Users), []string{"clusterUser_rg_c1"}) || str(k.Clusters[0], "cluster", "server") != f.kubeServer {
		t.Errorf("kubeconfig:\n%s", b)
	}
	// The same credentials again merge without a question.
	run("", "WARNING: Merged \"c1\" as current context in "+file+"\n")
	run("", "WARNING: Merged \"c1-admin\" as current context in "+file+"\n", "--admin")
	b, _ = os.ReadFile(file)
	k = mustKubeconfig(t, string(b))
	if k.CurrentContext != "c1-admin" || !reflect.DeepEqual(names(k.Contexts), []string{"c1", "c1-admin"}) ||
		!reflect.DeepEqual(names(k.Users), []string{"clusterUser_rg_c1", "clusterAdmin_rg_c1"}) {
		t.Errorf("after --admin:\n%s", b)
	}

	// The cluster's endpoint changed: a conflict, and nothing is written.
	f.mu.Lock()
	f.kubeServer = "https://moved:443"
	f.mu.Unlock()
	h.fails(1, "ERROR: A different object named c1 already exists in clusters in your kubeconfig file.", "aks", "get-credentials", "-g", "rg", "-n", "c1")
	if after, _ := os.ReadFile(file); string(after) != string(b) {
		t.Error("a failed merge changed the file")
	}
	run("", "WARNING: Merged \"c1\" as current context in "+file+"\n", "--overwrite-existing")
	b, _ = os.ReadFile(file)
	if k = mustKubeconfig(t, string(b)); len(k.Clusters) != 1 || str(k.Clusters[0], "cluster", "server") != "https://moved:443" || k.CurrentContext != "c1" {
		t.Errorf("after --overwrite-existing:\n%s", b)
	}

	// --file -, $KUBECONFIG, --context, a loose existing file.
	run(f.kubeconfig("c1", "rg", "clusterUser")+"\n", "", "--file", "-")
	other := filepath.Join(t.TempDir(), "a", "config")
	t.Setenv("KUBECONFIG", other+string(os.PathListSeparator)+file)
	run("", "WARNING: Merged \"dev\" as current context in "+other+"\n", "--context", "dev")
	b, _ = os.ReadFile(other)
	if k = mustKubeconfig(t, string(b)); k.CurrentContext != "dev" || str(k.Clusters[0], "name") != "dev" {
		t.Errorf("--context dev:\n%s", b)
	}
	if err := os.Chmod(other, 0o644); err != nil {
		t.Fatal(err)
	}
	run("", "WARNING: "+other+" has permissions \"644\".\nIt should be readable and writable only by its owner.\nWARNING: Merged \"dev\" as current context in "+other+"\n", "--context", "dev")
	if err := os.WriteFile(other, []byte("clusters: [oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := h.run("aks", "get-credentials", "-g", "rg", "-n", "c1")
	if code != 1 || !strings.HasPrefix(errOut, "ERROR: Error parsing "+other+" (") {
		t.Errorf("bad file: %d %q", code, errOut)
	}
}
