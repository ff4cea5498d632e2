package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/drydock-dev/drydock/internal/acrtoken"
)

// benchThrottlingOff keeps ACR's request throttling off in the servers the
// benchmarks start, whatever the caller's environment says: a benchmark
// measures drydock, not the per-SKU limits.
const benchThrottlingOff = "DRYDOCK_REGISTRY_THROTTLING=false"

// startDrydock runs `drydock server` in dir with the registry listener on
// a free loopback port, creates a registry and returns a client holding a
// push+pull token for its repository "bench".
func startDrydock(ctx context.Context, bin, dir string, env ...string) (*proc, error) {
	addrs, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	api, reg := addrs[0], addrs[1]
	p, state, err := launchDrydock(ctx, bin, dir, api, reg, env...)
	if err != nil {
		return nil, err
	}
	if p.client, err = p.signIn(ctx, dir, state, reg); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// serverState is what `drydock server` writes to <data-dir>/server.json.
type serverState struct {
	Endpoint, CAFile, TenantID, AdminUser string
}

// launchDrydock runs `drydock server` in dir with its API listener on api
// and its registry listener on reg, plus env, and waits until it answers
// /readyz on its own API listener.
func launchDrydock(ctx context.Context, bin, dir, api, reg string, env ...string) (*proc, serverState, error) {
	var state serverState
	logf, err := os.Create(dir + ".log")
	if err != nil {
		return nil, state, err
	}
	cmd := exec.CommandContext(ctx, bin, "server", "--data-dir", dir, "--listen", api, "--log-level", "warn")
	cmd.Env = append(append(os.Environ(), "DRYDOCK_REGISTRY_LISTEN="+reg, "DRYDOCK_MANAGE_HOSTS_FILE=false", benchThrottlingOff), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, state, err
	}
	p := &proc{cmd: cmd, certFile: filepath.Join(dir, "pki", "registry.crt"), keyFile: filepath.Join(dir, "pki", "registry.key")}
	err = waitFor(ctx, func() error {
		b, err := os.ReadFile(filepath.Join(dir, "server.json"))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &state)
	})
	if err != nil {
		p.stop()
		return nil, state, fmt.Errorf("drydock did not start (see %s): %w", logf.Name(), err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		p.stop()
		return nil, state, err
	}
	p.pool = x509.NewCertPool()
	p.pool.AppendCertsFromPEM(pem)
	if err := waitFor(ctx, answers200(p.apiClient(), "https://"+api+"/readyz")); err != nil {
		p.stop()
		return nil, state, fmt.Errorf("drydock did not get ready (see %s): %w", logf.Name(), err)
	}
	return p, state, nil
}

// apiClient is an HTTP client trusting the server's CA.
func (p *proc) apiClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}}
}

// signIn signs the bootstrap admin in (with the password in dir) through
// the server's public endpoint, creates (or updates) the resource group
// "bench" and its registry "benchacr", and returns a registry client that
// reaches the login server at regAddr, holding a push+pull token for the
// repository "bench".
func (p *proc) signIn(ctx context.Context, dir string, state serverState, regAddr string) (*regClient, error) {
	api2 := p.apiClient()
	pw, err := os.ReadFile(filepath.Join(dir, "admin-password"))
	if err != nil {
		return nil, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := postForm(api2, state.Endpoint+"/"+state.TenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"password"}, "username": {state.AdminUser}, "password": {strings.TrimSpace(string(pw))},
		"scope": {"https://management.core.windows.net//.default"},
	}, &tok); err != nil {
		return nil, err
	}
	var subs struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
		} `json:"value"`
	}
	if err := armCall(api2, tok.AccessToken, "GET", state.Endpoint+"/subscriptions?api-version=2022-12-01", nil, &subs); err != nil || len(subs.Value) == 0 {
		return nil, fmt.Errorf("listing subscriptions: %v", err)
	}
	rg := state.Endpoint + "/subscriptions/" + subs.Value[0].SubscriptionID + "/resourceGroups/bench"
	p.registryID = strings.TrimPrefix(rg, state.Endpoint) + "/providers/Microsoft.ContainerRegistry/registries/benchacr"
	if err := armCall(api2, tok.AccessToken, "PUT", rg+"?api-version=2022-09-01", map[string]any{"location": "eastus"}, nil); err != nil {
		return nil, err
	}
	var acr struct {
		Properties struct {
			LoginServer string `json:"loginServer"`
		} `json:"properties"`
	}
	if err := armCall(api2, tok.AccessToken, "PUT", rg+"/providers/Microsoft.ContainerRegistry/registries/benchacr?api-version=2023-07-01",
		map[string]any{"location": "eastus", "sku": map[string]any{"name": "Standard"}}, &acr); err != nil {
		return nil, err
	}
	login := acr.Properties.LoginServer
	host, _, _ := net.SplitHostPort(login)
	c := &regClient{base: "https://" + regAddr, host: login,
		http: &http.Client{Transport: transport(&tls.Config{RootCAs: p.pool, ServerName: host})}}
	// The token client reaches the login server at regAddr.
	var d net.Dialer
	tokenTransport := transport(&tls.Config{RootCAs: p.pool})
	tokenTransport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, regAddr)
	}
	tokens := &acrtoken.Client{HTTP: &http.Client{Transport: tokenTransport}}
	origin := "https://" + login
	refresh, err := tokens.Exchange(ctx, acrtoken.ExchangeRequest{Origin: origin, Service: login, Tenant: state.TenantID, AccessToken: tok.AccessToken})
	if err != nil {
		return nil, fmt.Errorf("token exchange: %w", err)
	}
	c.scoped = func(ctx context.Context, scope string) (string, error) {
		return tokens.AccessToken(ctx, acrtoken.TokenRequest{Origin: origin, Service: login, Scope: scope, RefreshToken: refresh})
	}
	c.token = func(ctx context.Context) (string, error) { return c.scoped(ctx, "repository:bench:pull,push") }
	if c.bearer, err = c.token(ctx); err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	return c, nil
}

// answers200 is a readiness probe: GET u answers 200.
func answers200(c *http.Client, u string) func() error {
	return func() error {
		resp, err := c.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errNotReady
		}
		return nil
	}
}

func postForm(c *http.Client, u string, form url.Values, out any) error {
	resp, err := c.PostForm(u, form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %s %s", u, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

func armCall(c *http.Client, token, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, u, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// startPeer runs Debian's docker-registry with the same certificate.
func startPeer(ctx context.Context, bin, dir, certFile, keyFile string) (*proc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
`, filepath.Join(dir, "data"), addr, certFile, keyFile)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(dir + ".log")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd}
	ca, err := os.ReadFile(filepath.Join(filepath.Dir(certFile), "ca.crt"))
	if err != nil {
		p.stop()
		return nil, err
	}
	p.pool = x509.NewCertPool()
	p.pool.AppendCertsFromPEM(ca)
	c := &regClient{base: "https://" + addr, http: &http.Client{Transport: transport(&tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"})}}
	if err := waitFor(ctx, answers200(c.http, c.base+"/v2/")); err != nil {
		p.stop()
		return nil, fmt.Errorf("docker-registry did not start (see %s): %w", logf.Name(), err)
	}
	p.client = c
	return p, nil
}
