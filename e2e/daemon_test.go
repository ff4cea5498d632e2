package e2e

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestUpDown: `drydock up` starts a background server on the default data
// dir under HOME and signs the CLI in; `up` again is a no-op; `down` stops
// it; the state survives a restart.
func TestUpDown(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dataDir := filepath.Join(home, ".drydock", "server")
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	// HOME only (the README's defaults), apart from keeping the registry
	// listener and the hosts file to this test.
	az := envCLI(t, baseEnv(home, isolationEnv(home)...))
	t.Cleanup(func() {
		// Whatever happened, do not leave a server behind.
		if st, err := readState(dataDir); err == nil {
			if r := az.run("down"); r.Code != 0 {
				t.Errorf("cleanup: %s", r)
				if p, err := os.FindProcess(st.PID); err == nil {
					p.Signal(syscall.SIGTERM)
				}
			}
		}
	})

	out := az.ok("up", "--listen", addr)
	endpoint := "https://" + addr
	for _, want := range []string{"drydock is up.", "endpoint:  " + endpoint, "signed in: admin@drydock.local", "data dir:  " + dataDir} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	st, err := readState(dataDir)
	if err != nil {
		t.Fatalf("after up: %v", err)
	}
	if st.Endpoint != endpoint || st.CAFile != filepath.Join(dataDir, "pki", "ca.crt") {
		t.Errorf("server.json: %+v", st)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "admin-password")); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin-password has mode %v, want 0600", fi.Mode().Perm())
	}
	// The CLI's profile lives in ~/.drydock and points at the server.
	if _, err := os.Stat(filepath.Join(home, ".drydock")); err != nil {
		t.Errorf("no ~/.drydock: %v", err)
	}
	acct := az.obj("account", "show")
	expectFields(t, "account show after up", acct, map[string]any{"user.name": "admin@drydock.local", "isDefault": true, "tenantId": st.TenantID})

	// Idempotent: the same server keeps running.
	out = az.ok("up", "--listen", addr)
	if !strings.Contains(out, "endpoint:  "+endpoint) {
		t.Errorf("second up:\n%s", out)
	}
	if again, err := readState(dataDir); err != nil || again.PID != st.PID {
		t.Errorf("second up replaced the server: pid %d -> %+v (%v)", st.PID, again, err)
	}

	az.ok("group", "create", "-n", "persistent-rg", "-l", "eastus", "-o", "none")
	acrID := az.tsv("acr", "create", "-n", "persistentregistry", "-g", "persistent-rg", "--sku", "Basic", "--query", "id")
	miID := az.tsv("identity", "create", "-n", "persistent-mi", "-g", "persistent-rg", "--query", "principalId")
	az.ok("role", "assignment", "create", "--role", "AcrPull", "--assignee-object-id", miID,
		"--assignee-principal-type", "ServicePrincipal", "--scope", acrID, "-o", "none")

	if out := az.ok("down"); out != "drydock stopped.\n" {
		t.Errorf("down printed %q", out)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after down", addr)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "server.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server.json after down: %v", err)
	}
	az.fails(1, `^ERROR: cannot connect to drydock at `+regexp.QuoteMeta(endpoint), "group", "list")
	if out := az.ok("down"); out != "drydock is not running.\n" {
		t.Errorf("down when stopped printed %q", out)
	}

	// Restart: the same tenant, registry and assignment.
	az.ok("up", "--listen", addr)
	restarted, err := readState(dataDir)
	if err != nil || restarted.TenantID != st.TenantID || restarted.PID == st.PID {
		t.Errorf("after restart: %+v (%v); before: %+v", restarted, err, st)
	}
	if got := az.tsv("acr", "show", "-n", "persistentregistry", "--query", "loginServer"); !loginServerRE("persistentregistry").MatchString(got) {
		t.Errorf("registry after restart: %q", got)
	}
	if got := az.tsv("role", "assignment", "list", "--scope", acrID, "--query", "[].roleDefinitionName"); got != "AcrPull" {
		t.Errorf("role assignments after restart: %q", got)
	}
	if got := az.tsv("role", "assignment", "explain", "--assignee", miID, "--action", "Microsoft.ContainerRegistry/registries/pull/read",
		"--scope", acrID, "--query", "allowed"); got != "true" {
		t.Errorf("explain after restart: %q", got)
	}
	if out := az.ok("down"); out != "drydock stopped.\n" {
		t.Errorf("final down printed %q", out)
	}
	log, _ := os.ReadFile(filepath.Join(dataDir, "drydock.log"))
	if n := strings.Count(string(log), `"msg":"shutting down"`); n != 2 {
		t.Errorf("drydock.log records %d graceful shutdowns, want 2:\n%s", n, log)
	}
	if strings.Contains(string(log), `"level":"ERROR"`) {
		t.Errorf("drydock.log has errors:\n%s", log)
	}
}

// TestUpWithDataDir: DRYDOCK_DATA_DIR and DRYDOCK_CONFIG_DIR put the server's
// and the CLI's files elsewhere.
func TestUpWithDataDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	home, dataDir, configDir := filepath.Join(root, "home"), filepath.Join(root, "data"), filepath.Join(root, "config")
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	az := envCLI(t, baseEnv(home, append(isolationEnv(root), "DRYDOCK_DATA_DIR="+dataDir, "DRYDOCK_CONFIG_DIR="+configDir)...))
	t.Cleanup(func() {
		if _, err := readState(dataDir); err == nil {
			az.run("down")
		}
	})
	az.ok("up", "--listen", addr)
	if _, err := readState(dataDir); err != nil {
		t.Fatalf("no server.json in DRYDOCK_DATA_DIR: %v", err)
	}
	if got := az.tsv("account", "show", "--query", "user.name"); got != "admin@drydock.local" {
		t.Errorf("account show: %q", got)
	}
	entries, _ := os.ReadDir(configDir)
	if len(entries) == 0 {
		t.Errorf("nothing in DRYDOCK_CONFIG_DIR %s", configDir)
	}
	if _, err := os.Stat(filepath.Join(home, ".drydock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("~/.drydock was created although DRYDOCK_DATA_DIR and DRYDOCK_CONFIG_DIR are set: %v", err)
	}
	if out := az.ok("down"); out != "drydock stopped.\n" {
		t.Errorf("down printed %q", out)
	}
}
