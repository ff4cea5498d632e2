// Package servertest runs drydock's real server in-process on loopback for
// the tests of its clients (internal/client, internal/cli and others): the
// same server.New and Serve as `drydock serve`, on a fresh data directory
// under t.TempDir(), its API on 127.0.0.1:0 and its registry listener on
// another loopback port, with the hosts file kept inside the data
// directory. It exposes what a client needs to talk to it: the base URL,
// the CA (as a file, a pool and an *http.Client trusting it), the tenant,
// the bootstrapped admin and default subscription, and the registry
// listener's address. It is never a stand-in: every answer comes from the
// server itself.
//
// Package server's own (internal) tests cannot import this package, which
// imports server; they keep their harness in harness_test.go.
package servertest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/server"
	"github.com/drydock-dev/drydock/internal/server/servertest/loopback"
)

// AzureCLIClientID is the public client ID of the Azure CLI, which
// drydock's directory knows as a first-party application.
const AzureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// Server is a drydock server running in-process.
type Server struct {
	// URL is the API's base URL, https://127.0.0.1:<port>, without a
	// trailing slash.
	URL string
	// Direct is the base URL of the server's own listener: URL, unless
	// WithInterceptor put a front there; then what bypasses the front.
	Direct string
	// DataDir is the server's data directory.
	DataDir string
	// CAFile is the PEM file of the server's CA (what --ca-file takes).
	CAFile string
	// CAPool trusts the server's CA.
	CAPool *x509.CertPool
	// Client is an HTTP client trusting the server's CA.
	Client *http.Client
	// TenantID is the directory's tenant.
	TenantID string
	// Admin and AdminPassword sign in the bootstrapped admin (Global
	// Administrator, Owner of the default subscription).
	Admin, AdminPassword string
	// SubscriptionID and SubscriptionName are the default subscription's.
	SubscriptionID, SubscriptionName string
	// RegistryAddress is the registry listener's host:port; every login
	// server is served there, routed by host name.
	RegistryAddress string
	// LoginServerSuffix forms login servers: <name>.<suffix>[:port].
	LoginServerSuffix string
	// Config is the configuration the server runs with.
	Config config.Config

	srv *server.Server
}

// Option changes how Start assembles the server.
type Option func(*options)

type options struct {
	config    []func(*config.Config)
	tune      []func(*server.Server)
	intercept func(http.ResponseWriter, *http.Request) bool
}

// WithConfig changes the configuration before the server is assembled
// (after the harness set its data dir and loopback listeners).
func WithConfig(f func(*config.Config)) Option {
	return func(o *options) { o.config = append(o.config, f) }
}

// WithServer changes the assembled server before it serves (what the
// configuration does not reach, such as its listeners' timeouts).
func WithServer(f func(*server.Server)) Option {
	return func(o *options) { o.tune = append(o.tune, f) }
}

// WithInterceptor puts a TLS front on the server's public address that
// shows every API request to f first: f answers it (returning true), for a
// test to cause what only a fault can (a 500, a malformed body, a refusal
// the server would not give now), or lets it through to the server
// unchanged (false), after noting it if the test wants a request log. The
// server's URLs (its issuer, LRO and paging links) name the front, so
// clients reach the server only through it. The registry listener is not
// fronted.
func WithInterceptor(f func(w http.ResponseWriter, r *http.Request) bool) Option {
	return func(o *options) { o.intercept = f }
}

// Start starts a server for the test and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	ln, cfg := loopback.Config(t)
	var front net.Listener
	if o.intercept != nil {
		var err error
		if front, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { front.Close() })
		cfg.PublicURL = "https://" + front.Addr().String()
	}
	for _, f := range o.config {
		f(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	for _, f := range o.tune {
		f(srv)
	}
	loopback.Serve(t, ctx, cancel, ln, srv.Serve)
	st := srv.State()
	s := &Server{
		URL: st.Endpoint, Direct: "https://" + ln.Addr().String(), DataDir: cfg.DataDir, CAFile: st.CAFile, CAPool: srv.CA().Pool(), TenantID: st.TenantID, Admin: st.Admin,
		LoginServerSuffix: cfg.LoginServerSuffix, Config: cfg, srv: srv,
	}
	s.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CAPool}}}
	t.Cleanup(s.Client.CloseIdleConnections)
	if front != nil {
		s.serveFront(t, front, "https://"+ln.Addr().String(), o.intercept)
	}
	pw, err := os.ReadFile(filepath.Join(cfg.DataDir, server.AdminPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	s.AdminPassword = strings.TrimSpace(string(pw))
	s.discover(t)
	return s
}

// discover reads what the state file does not say from the server's own
// answers: the registry listener (cloud metadata) and the default
// subscription (the admin's only one).
func (s *Server) discover(t testing.TB) {
	t.Helper()
	code, meta := s.Do(t, "", http.MethodGet, "/metadata/endpoints?api-version=2020-06-01", nil)
	dd, _ := meta["drydock"].(map[string]any)
	if s.RegistryAddress, _ = dd["registryAddress"].(string); code != http.StatusOK || s.RegistryAddress == "" {
		t.Fatalf("cloud metadata: %d %v", code, meta)
	}
	code, subs := s.Do(t, s.AdminToken(t, ARMScope), http.MethodGet, "/subscriptions?api-version=2022-09-01", nil)
	v, _ := subs["value"].([]any)
	if code != http.StatusOK || len(v) != 1 {
		t.Fatalf("subscriptions: %d %v", code, subs)
	}
	sub, _ := v[0].(map[string]any)
	s.SubscriptionID, _ = sub["subscriptionId"].(string)
	s.SubscriptionName, _ = sub["displayName"].(string)
}

// Server is the assembled server.
func (s *Server) Server() *server.Server { return s.srv }

// Scopes of drydock's resource APIs, as a client asks for tokens.
const (
	ARMScope   = "https://management.core.windows.net//.default"
	GraphScope = "https://graph.microsoft.com//.default"
)

// LoginArgs are the CLI arguments (after the program name) that sign the
// admin in to this server: `login -u … -p … --endpoint … --ca-file …`.
func (s *Server) LoginArgs() []string {
	return []string{"login", "-u", s.Admin, "-p", s.AdminPassword, "--endpoint", s.URL, "--ca-file", s.CAFile}
}

// LoginServer is the login server of the registry name, with the registry
// listener's port when it is not 443.
func (s *Server) LoginServer(name string) string {
	host := strings.ToLower(name) + "." + s.LoginServerSuffix
	if _, port, _ := net.SplitHostPort(s.RegistryAddress); port != "443" {
		host += ":" + port
	}
	return host
}

// Token runs an OAuth2 grant against the tenant's v2.0 token endpoint and
// returns the status and the decoded answer.
func (s *Server) Token(t testing.TB, form url.Values) (int, map[string]any) {
	t.Helper()
	return loopback.Token(t, s.Client, s.URL, s.TenantID, form)
}

// UserToken is an access token of user for scope (password grant through
// the Azure CLI's client ID).
func (s *Server) UserToken(t testing.TB, user, password, scope string) string {
	t.Helper()
	code, out := s.Token(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {scope}, "client_id": {AzureCLIClientID}})
	tok, _ := out["access_token"].(string)
	if code != http.StatusOK || tok == "" {
		t.Fatalf("password grant for %s: %d %v", user, code, out)
	}
	return tok
}

// AdminToken is an access token of the admin for scope.
func (s *Server) AdminToken(t testing.TB, scope string) string {
	t.Helper()
	return s.UserToken(t, s.Admin, s.AdminPassword, scope)
}

// Do sends a request with a JSON body (if not nil) and a bearer token (if
// not empty) to path under URL, and decodes a JSON answer (nil when the
// body is empty).
func (s *Server) Do(t testing.TB, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return loopback.Send(t, s.Client, req)
}

// serveFront serves the interceptor on front, passing what it does not
// answer to the server at backend with the server's own certificate.
func (s *Server) serveFront(t testing.TB, front net.Listener, backend string, intercept func(http.ResponseWriter, *http.Request) bool) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.DataDir, "pki", "server.crt"), filepath.Join(s.DataDir, "pki", "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(backend)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport: s.Client.Transport,
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !intercept(w, r) {
				proxy.ServeHTTP(w, r)
			}
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(front, "", "")
	t.Cleanup(func() { srv.Close() })
}
