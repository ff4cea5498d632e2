package checkacr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/cluster/checkacr"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider/credprovidertest"
)

// writeNodeEtc writes azure.json as a node's /etc/kubernetes holds it: the
// host credential and the CA next to it, named relative to it.
func (e *env) writeNodeEtc(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{e.f.HostCredentialFile, e.f.CAFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600)
	}
	cfg := *e.cfg
	cfg.HostCredentialFile, cfg.CAFile = filepath.Base(e.f.HostCredentialFile), filepath.Base(e.f.CAFile)
	cfg.ClusterName, cfg.ClusterResourceGroup = "aks1", "rg"
	b, _ := json.Marshal(cfg)
	path := filepath.Join(dir, "azure.json")
	os.WriteFile(path, b, 0o600)
	return path
}

func TestCanipullMain(t *testing.T) {
	e := newEnv(t)
	azureJSON := e.writeNodeEtc(t)
	dir := filepath.Dir(azureJSON)
	fix := ts + "Run 'az aks update -n aks1 -g rg --attach-acr myacr'\n"
	for _, tc := range []struct {
		name    string
		grant   bool
		args    []string
		code    int
		outHas  []string
		outEnds string
		errHas  string
	}{
		{"can pull", true, []string{"-v6", e.login, "--config", azureJSON}, checkacr.ExitOK,
			[]string{ts + "Loading azure.json file from " + azureJSON + "\n", "(certificate verified with " + filepath.Join(dir, "ca.crt") + "): SUCCEEDED\n",
				ts + "Validating managed identity existance: SUCCEEDED\n", ts + "Validating image pull permission: SUCCEEDED\n"},
			ts + "\nYour cluster can pull images from " + e.login + "!\n", ""},
		{"not attached", false, []string{"-v6", e.login, "--config=" + azureJSON}, checkacr.ExitMissingImagePullPermission,
			[]string{ts + "Validating image pull permission: SUCCEEDED\n", "FAILED\n", "has no AcrPull role assignment at registry myacr"}, fix, ""},
		{"no azure.json", true, []string{"-v6", e.login, "--config", filepath.Join(dir, "none.json")}, checkacr.ExitAzureConfigNotFound,
			[]string{"Failed to load azure.json. Are you running inside Kubernetes on Azure? \n"}, "", ""},
		{"no registry", true, []string{"-v6"}, checkacr.ExitUsage, nil, "No ACR input. Expect `canipull myacr.azurecr.io`.\n", ""},
		{"bad flag", true, []string{"--registry", e.login}, checkacr.ExitUsage, nil, "", "Error: unknown flag: --registry\nUsage: drydock canipull"},
		{"help", true, []string{"--help"}, checkacr.ExitOK, []string{"Usage: drydock canipull [-v <level>] [--config <azure.json>] <login server>\n"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.grant {
				id := e.f.Assign("AcrPull", e.f.Kubelet.PrincipalID, e.reg.ID)
				t.Cleanup(func() { e.f.Unassign(id) })
			}
			var out, errOut bytes.Buffer
			code := checkacr.Canipull(t.Context(), tc.args, &out, &errOut, credprovidertest.ResolveToFront, nil)
			if code != tc.code || !strings.HasSuffix(out.String(), tc.outEnds) || !strings.Contains(errOut.String(), tc.errHas) {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errOut.String())
			}
			for _, s := range tc.outHas {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// canipull's checks come after the wait for kubectl's attach.
func TestCanipullWaitsBeforeChecks(t *testing.T) {
	e := newEnv(t)
	e.grantPull()
	var out bytes.Buffer
	waited := false
	code := checkacr.Canipull(t.Context(), []string{"-v6", e.login, "--config", e.writeNodeEtc(t)}, &out, io.Discard, credprovidertest.ResolveToFront, func(context.Context) {
		if out.Len() != 0 {
			t.Errorf("printed before the wait: %s", out.String())
		}
		waited = true
	})
	if code != checkacr.ExitOK || !waited {
		t.Errorf("exit %d, waited %v:\n%s", code, waited, out.String())
	}
}
