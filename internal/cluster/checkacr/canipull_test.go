package checkacr

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseCanipullArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		config string
		acrs   []string
		help   bool
		err    string
	}{
		{"az's", []string{"-v6", "myacr.azurecr.io"}, "", []string{"myacr.azurecr.io"}, false, ""},
		{"separate level", []string{"-v", "6", "myacr.azurecr.io:5443"}, "", []string{"myacr.azurecr.io:5443"}, false, ""},
		{"level with =", []string{"-v=9", "myacr.azurecr.io"}, "", []string{"myacr.azurecr.io"}, false, ""},
		{"long level", []string{"--verbose=2", "--verbose", "4", "myacr.azurecr.io"}, "", []string{"myacr.azurecr.io"}, false, ""},
		{"config", []string{"--config", "/x/azure.json", "myacr.azurecr.io"}, "/x/azure.json", []string{"myacr.azurecr.io"}, false, ""},
		{"config with =", []string{"myacr.azurecr.io", "--config=/y.json"}, "/y.json", []string{"myacr.azurecr.io"}, false, ""},
		{"dashdash", []string{"--", "-odd"}, "", []string{"-odd"}, false, ""},
		{"none", nil, "", nil, false, ""},
		{"two", []string{"a.azurecr.io", "b.azurecr.io"}, "", []string{"a.azurecr.io", "b.azurecr.io"}, false, ""},
		{"help", []string{"-h"}, "", nil, true, ""},
		{"long help", []string{"--help", "x"}, "", []string{"x"}, true, ""},
		{"unknown flag", []string{"-x", "myacr.azurecr.io"}, "", nil, false, "unknown flag: -x"},
		{"single-dash long name", []string{"-config", "a"}, "", nil, false, "unknown flag: -config"},
		{"level not a number", []string{"-vv", "myacr.azurecr.io"}, "", nil, false, `invalid argument "v" for -vv`},
		{"missing value", []string{"myacr.azurecr.io", "--config"}, "", nil, false, "flag needs an argument: --config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseCanipullArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || a.config != tc.config || strings.Join(a.acrs, " ") != strings.Join(tc.acrs, " ") || a.help != tc.help {
				t.Errorf("%+v, %v; want config %q, acrs %q, help %v", a, err, tc.config, tc.acrs, tc.help)
			}
		})
	}
}

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
		{"can pull", true, []string{"-v6", e.login, "--config", azureJSON}, ExitOK,
			[]string{ts + "Loading azure.json file from " + azureJSON + "\n", "(certificate verified with " + filepath.Join(dir, "ca.crt") + "): SUCCEEDED\n",
				ts + "Validating managed identity existance: SUCCEEDED\n", ts + "Validating image pull permission: SUCCEEDED\n"},
			ts + "\nYour cluster can pull images from " + e.login + "!\n", ""},
		{"not attached", false, []string{"-v6", e.login, "--config=" + azureJSON}, ExitMissingImagePullPermission,
			[]string{ts + "Validating image pull permission: SUCCEEDED\n", "FAILED\n", "has no AcrPull role assignment at registry myacr"}, fix, ""},
		{"no azure.json", true, []string{"-v6", e.login, "--config", filepath.Join(dir, "none.json")}, ExitAzureConfigNotFound,
			[]string{"Failed to load azure.json. Are you running inside Kubernetes on Azure? \n"}, "", ""},
		{"no registry", true, []string{"-v6"}, ExitUsage, nil, "No ACR input. Expect `canipull myacr.azurecr.io`.\n", ""},
		{"bad flag", true, []string{"--registry", e.login}, ExitUsage, nil, "", "Error: unknown flag: --registry\nUsage: drydock canipull"},
		{"help", true, []string{"--help"}, ExitOK, []string{"Usage: drydock canipull [-v <level>] [--config <azure.json>] <login server>\n"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.grant {
				a := e.f.Assign("AcrPull", e.f.Kubelet.PrincipalID, "ServicePrincipal", e.reg.ID)
				t.Cleanup(func() { e.f.Engine.Remove(a.Name) })
			}
			var out, errOut bytes.Buffer
			code := canipull(t.Context(), tc.args, &out, &errOut, resolves, nil)
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

// canipull waits for kubectl's attach before the first line: until its
// input ends, for at most attachWait; with a terminal, terminalWait; and
// never past its context.
func TestWaitForAttach(t *testing.T) {
	oldAttach, oldTerminal := attachWait, terminalWait
	attachWait, terminalWait = 1500*time.Millisecond, 700*time.Millisecond
	t.Cleanup(func() { attachWait, terminalWait = oldAttach, oldTerminal })
	for _, tc := range []struct {
		name     string
		stdin    func(t *testing.T) io.Reader
		terminal bool
		cancel   bool
		min, max time.Duration
	}{
		{"no stdin", func(*testing.T) io.Reader { return strings.NewReader("") }, false, false, 0, time.Second},
		{"input ends at once (az without a terminal)", func(*testing.T) io.Reader {
			r, w := io.Pipe()
			go func() { w.Write([]byte("x")); time.Sleep(300 * time.Millisecond); w.Close() }()
			return r
		}, false, false, 300 * time.Millisecond, 1200 * time.Millisecond},
		{"input never ends", func(*testing.T) io.Reader { r, _ := io.Pipe(); return r }, false, false, 1500 * time.Millisecond, 3 * time.Second},
		{"terminal", func(*testing.T) io.Reader { r, _ := io.Pipe(); return r }, true, false, 700 * time.Millisecond, 1400 * time.Millisecond},
		{"cancelled", func(*testing.T) io.Reader { r, _ := io.Pipe(); return r }, false, true, 0, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			start := time.Now()
			waitForAttach(ctx, tc.stdin(t), tc.terminal)
			if took := time.Since(start); took < tc.min || took > tc.max {
				t.Errorf("waited %s, want %s to %s", took, tc.min, tc.max)
			}
		})
	}
	// The checks come after the wait.
	e := newEnv(t)
	e.grantPull()
	var out bytes.Buffer
	waited := false
	code := canipull(t.Context(), []string{"-v6", e.login, "--config", e.writeNodeEtc(t)}, &out, io.Discard, resolves, func(context.Context) {
		if out.Len() != 0 {
			t.Errorf("printed before the wait: %s", out.String())
		}
		waited = true
	})
	if code != ExitOK || !waited {
		t.Errorf("exit %d, waited %v:\n%s", code, waited, out.String())
	}
}
