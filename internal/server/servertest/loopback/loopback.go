// Package loopback is what every in-process test server shares: the
// configuration it starts from (config.Default on a fresh data directory
// under t.TempDir(), the API on a loopback listener, the registry on
// another loopback port, the hosts file inside the data directory) and
// serving until the test ends, and the two calls every harness makes on
// it: an OAuth2 grant, and a request whose answer is a JSON object. It does not import package server, so both
// package servertest (which does) and package server's own internal tests
// (which cannot import servertest) build their harness on it.
package loopback

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
)

// Config returns a listener on 127.0.0.1 for the API and the configuration
// of a test server that serves on it.
func Config(t testing.TB) (net.Listener, config.Config) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = ln.Addr().String()
	cfg.RegistryListen = "127.0.0.1:0"
	cfg.HostsFile = filepath.Join(cfg.DataDir, "hosts")
	return ln, cfg
}

// Serve runs serve(ctx, ln) until the test ends; then it cancels ctx (with
// cancel) and fails the test if serve returned an error.
func Serve(t testing.TB, ctx context.Context, cancel context.CancelFunc, ln net.Listener, serve func(context.Context, net.Listener) error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// Token posts an OAuth2 grant (form) to the v2.0 token endpoint of tenant
// at base and returns the status and the decoded answer.
func Token(t testing.TB, client *http.Client, base, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := client.PostForm(base+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("token endpoint: status %d, %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// Send sends req with client and decodes the answer, which must be a JSON
// object or empty (then the map is nil).
func Send(t testing.TB, client *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: status %d, not a JSON object: %q", req.Method, req.URL.RequestURI(), resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}
