package cluster

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
	"github.com/drydock-dev/drydock/internal/resourceid"
)

// A node's files: its /etc/kubernetes holds azure.json, the host
// credential and the CA, azure.json naming them relative to itself; a node
// laid out before (azure.json with absolute paths and host-credential at
// the top of its directory) is moved to that layout.
func TestNodeFiles(t *testing.T) {
	root := t.TempDir()
	caFile := filepath.Join(root, "ca.crt")
	os.WriteFile(caFile, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	cluster := resourceid.New("sub", "rg", "Microsoft.ContainerService", "managedClusters", "aks1")
	base := credprovider.AzureConfig{Cloud: "drydock", UserAssignedIdentityID: "kubelet", RegistryAddress: "127.0.0.1:5443"}
	legacy := func(dir string) {
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "host-credential"), []byte("dhc_old.secret\n"), 0o600)
		cfg := base
		cfg.HostCredentialFile, cfg.CAFile = filepath.Join(dir, "host-credential"), caFile
		b, _ := json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, "azure.json"), b, 0o600)
	}
	for _, tc := range []struct {
		name     string
		setup    func(dir string) error
		upgrade  bool
		wantErr  bool
		wantCred string
		gone     []string // files the layout no longer has
	}{
		{"new node", func(dir string) error {
			cfg := base
			cfg.ClusterName, cfg.ClusterResourceGroup = "aks1", "rg"
			return writeNodeFiles(dir, "dhc_new.secret", caFile, cfg)
		}, false, false, "dhc_new.secret", nil},
		{"new node, upgrade is a no-op", func(dir string) error {
			cfg := base
			cfg.ClusterName, cfg.ClusterResourceGroup = "aks1", "rg"
			return writeNodeFiles(dir, "dhc_new.secret", caFile, cfg)
		}, true, false, "dhc_new.secret", nil},
		{"legacy node", func(dir string) error { legacy(dir); return nil }, true, false, "dhc_old.secret",
			[]string{"azure.json", "host-credential"}},
		{"no files", func(dir string) error { return os.MkdirAll(dir, 0o700) }, true, true, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, tc.name)
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			if tc.upgrade {
				if err := upgradeNodeFiles(dir, cluster); (err != nil) != tc.wantErr {
					t.Fatalf("upgrade: %v, want error %v", err, tc.wantErr)
				}
				if tc.wantErr {
					return
				}
			}
			var raw map[string]any
			b, _ := os.ReadFile(agentconfig.AzureJSON(dir))
			if err := json.Unmarshal(b, &raw); err != nil || raw["hostCredentialFile"] != "host-credential" || raw["caFile"] != "ca.crt" ||
				raw["clusterName"] != "aks1" || raw["clusterResourceGroup"] != "rg" || raw["registryAddress"] != "127.0.0.1:5443" {
				t.Errorf("azure.json %s: %v", b, err)
			}
			cfg, err := credprovider.LoadConfig(agentconfig.AzureJSON(dir))
			if err != nil {
				t.Fatal(err)
			}
			etc := filepath.Join(dir, "etc-kubernetes")
			if cfg.HostCredentialFile != filepath.Join(etc, "host-credential") || cfg.CAFile != filepath.Join(etc, "ca.crt") {
				t.Errorf("paths %q, %q", cfg.HostCredentialFile, cfg.CAFile)
			}
			if cred, _ := os.ReadFile(cfg.HostCredentialFile); string(cred) != tc.wantCred+"\n" {
				t.Errorf("host credential %q, want %q", cred, tc.wantCred)
			}
			if ca, _ := os.ReadFile(cfg.CAFile); string(ca) != "-----BEGIN CERTIFICATE-----\n" {
				t.Errorf("CA %q", ca)
			}
			for _, f := range []string{"host-credential", "azure.json"} {
				if fi, err := os.Stat(filepath.Join(etc, f)); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v %v", f, fi.Mode(), err)
				}
			}
			for _, f := range tc.gone {
				if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
					t.Errorf("%s remains: %v", f, err)
				}
			}
		})
	}
}
