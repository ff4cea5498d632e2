package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
)

func readDockerConfig(t *testing.T) map[string]any {
	t.Helper()
	path := filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config.json: %v\n%s", err, b)
	}
	return cfg
}

func dockerAuth(t *testing.T, server string) string {
	t.Helper()
	auths, _ := readDockerConfig(t)["auths"].(map[string]any)
	entry, _ := auths[server].(map[string]any)
	b, err := base64.StdEncoding.DecodeString(fmt.Sprint(entry["auth"]))
	if err != nil {
		t.Fatalf("auths[%s] = %v", server, auths[server])
	}
	return string(b)
}

func TestACRLoginWritesDockerConfig(t *testing.T) {
	h := newRegistryHarness(t)
	dir := os.Getenv("DOCKER_CONFIG")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	existing := `{"auths":{"other.example.com":{"auth":"b3RoZXI6c2VjcmV0"}},"psFormat":"table {{.ID}}","credHelpers":{"gcr.io":"gcloud"}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(existing), 0o644); err != nil {
		t.Fatal(err)
	}
	// Login servers do not resolve here (registryLookupHost): the name
	// reaches the registry listener through the metadata's registry
	// address, with the login server kept as Host, or nothing answers.
	out, errOut, code := h.run("acr", "login", "-n", "myacr")
	if code != 0 || out != "Login Succeeded\n" || errOut != "" {
		t.Fatalf("acr login: %d %q %q", code, out, errOut)
	}
	if user, rt, _ := strings.Cut(dockerAuth(t, h.srv.LoginServer("myacr")), ":"); user != client.RegistryNullGUID || !h.acrRefreshTokenWorks("myacr", rt) {
		t.Errorf("auth = %s:%s", user, rt)
	}
	cfg := readDockerConfig(t)
	if cfg["psFormat"] != "table {{.ID}}" || obj(cfg["credHelpers"])["gcr.io"] != "gcloud" || obj(obj(cfg["auths"])["other.example.com"])["auth"] != "b3RoZXI6c2VjcmV0" {
		t.Errorf("other entries lost: %v", cfg)
	}

	// A login server given as --name loses its suffix.
	adminPW := h.adminPassword("adminacr")
	out, errOut, code = h.run("acr", "login", "-n", "adminacr."+h.srv.LoginServerSuffix, "-u", "adminacr", "-p", adminPW)
	if code != 0 || out != "Login Succeeded\n" || errOut != "WARNING: The login server endpoint suffix '."+h.srv.LoginServerSuffix+"' is automatically omitted.\n" {
		t.Fatalf("acr login -u: %d %q %q", code, out, errOut)
	}
	if got := dockerAuth(t, h.srv.LoginServer("adminacr")); got != "adminacr:"+adminPW {
		t.Errorf("admin auth = %q", got)
	}
	h.fails(1, "ERROR: Access to registry '"+h.srv.LoginServer("adminacr")+"' was denied. Response code: 401. Please try running 'az login' again to refresh permissions.",
		"acr", "login", "-n", "adminacr", "-u", "adminacr", "-p", "wrong")
	h.fails(1, "ERROR: Please also specify username if password is specified.", "acr", "login", "-n", "myacr", "-p", "x")
	h.fails(2, "ERROR: the following arguments are required: --name/-n", "acr", "login")
}

func TestACRLoginExposeToken(t *testing.T) {
	h := newRegistryHarness(t)
	out, errOut, code := h.run("acr", "login", "--name", "myacr", "--expose-token")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || !h.acrRefreshTokenWorks("myacr", fmt.Sprint(got["accessToken"])) || got["loginServer"] != h.srv.LoginServer("myacr") {
		t.Errorf("output %q", out)
	}
	want := "WARNING: You can perform manual login using the provided access token below, for example: 'docker login loginServer -u 00000000-0000-0000-0000-000000000000 -p accessToken'\n"
	if errOut != want {
		t.Errorf("stderr %q", errOut)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")); err == nil {
		t.Error("--expose-token wrote the Docker config")
	}
	got = obj(h.ok("acr", "login", "-n", "myacr", "-t", "--query", "{t:accessToken}"))
	if !h.acrRefreshTokenWorks("myacr", fmt.Sprint(got["t"])) {
		t.Errorf("-t = %v", got)
	}
}

func TestACRLoginFallsBackToAdmin(t *testing.T) {
	h := newRegistryHarness(t)
	// The registry refuses to exchange a token for a tenant other than the
	// one the request names: here a profile whose subscription names
	// another tenant (as after the subscription moved).
	adminPW := h.adminPassword("adminacr")
	h.setProfileTenant("00000000-0000-0000-0000-00000000beef")
	out, errOut, code := h.run("acr", "login", "-n", "adminacr")
	if code != 0 || out != "Login Succeeded\n" {
		t.Fatalf("exit %d %q %q", code, out, errOut)
	}
	wantWarn := "WARNING: Unable to get AAD authorization tokens with message: Access to registry '" + h.srv.LoginServer("adminacr") +
		"' was denied. Response code: 401. Please try running 'az login' again to refresh permissions.\n"
	if errOut != wantWarn {
		t.Errorf("stderr %q", errOut)
	}
	if got := dockerAuth(t, h.srv.LoginServer("adminacr")); got != "adminacr:"+adminPW {
		t.Errorf("auth = %q", got)
	}
	out, errOut, code = h.run("acr", "login", "-n", "myacr")
	if code != 1 || out != "" || !strings.Contains(errOut, "WARNING: Unable to get admin user credentials with message: Admin user is disabled.\n") ||
		!strings.HasSuffix(errOut, "ERROR: Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.\n") {
		t.Errorf("no admin: %d %q %q", code, out, errOut)
	}
}

func TestACRLoginUnknownAndUnreachable(t *testing.T) {
	h := newRegistryHarness(t)
	// Not in the subscription: the cloud's suffix and the listener's port.
	_, errOut, code := h.run("acr", "login", "-n", "ghost")
	if code != 1 || !strings.Contains(errOut, "Unable to get AAD authorization tokens with message: Registry '"+h.srv.LoginServer("ghost")+"' did not issue a challenge.") {
		t.Errorf("ghost: %d %q", code, errOut)
	}
	// No name resolves and the metadata naming the registry listener
	// cannot be read.
	h.failNext(10, "GET /metadata/endpoints", http.StatusInternalServerError, "InternalServerError", "injected")
	_, errOut, code = h.run("acr", "login", "-n", "myacr")
	want := "ERROR: Could not connect to the registry login server '" + h.srv.LoginServer("myacr") + "'. Please verify that the registry exists and the URL 'https://" +
		h.srv.LoginServer("myacr") + "/v2/' is reachable from your environment."
	if code != 1 || !strings.HasPrefix(errOut, want) || !strings.HasSuffix(errOut, "Try running 'az acr check-health -n myacr --yes' to diagnose this issue.\n") {
		t.Errorf("unreachable: %d %q", code, errOut)
	}
}

func TestACRLoginHelp(t *testing.T) {
	h := newRegistryHarness(t)
	out, _, code := h.run("acr", "login", "--help")
	if code != 0 || !strings.Contains(out, "--expose-token") || !strings.Contains(out, "-t, --expose-token") {
		t.Errorf("help: %d %s", code, out)
	}
}
