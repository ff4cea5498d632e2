package cpconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	for _, tc := range []struct{ name, fqdn string }{
		{"myAKSCluster", "myakscluster.hcp.eastus.azmk8s.io"},
		{"a_b.c", "a-b-c.hcp.eastus.azmk8s.io"},
		{"--", "cluster.hcp.eastus.azmk8s.io"},
		{strings.Repeat("x", 62) + "-y", strings.Repeat("x", 62) + ".hcp.eastus.azmk8s.io"},
	} {
		c := Default(tc.name, "/d", 6443)
		want := Config{Name: tc.name, DataDir: "/d", APIServerAddress: "127.0.0.1", APIServerPort: 6443, FQDN: tc.fqdn,
			ServiceCIDR: "10.0.0.0/16", PodCIDR: "10.244.0.0/16", DNSServiceIP: "10.0.0.10", KubernetesVersion: KubernetesVersion}
		if c != want {
			t.Errorf("Default(%q) = %+v, want %+v", tc.name, c, want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	want := Default("c1", dir, 1234)
	if err := os.WriteFile(Path(dir), want.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(Path(dir)); err != nil || got != want {
		t.Errorf("round trip: %+v %v", got, err)
	}
	for _, tc := range []struct{ name, content, err string }{
		{"unknown field", `{"name":"c1","etcd":"x"}`, `json: unknown field "etcd"`},
		{"not json", `name: c1`, "invalid character"},
	} {
		p := filepath.Join(dir, tc.name+".json")
		os.WriteFile(p, []byte(tc.content), 0o600)
		if _, err := Load(p); err == nil || !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "none.json")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
