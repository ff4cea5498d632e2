// Package server assembles drydock: it opens the store, keys and
// certificates in the data dir, bootstraps the tenant on first start, wires
// the directory, the resource manager and its providers onto one HTTPS
// listener with health and metrics endpoints, and shuts down gracefully.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drydock-dev/drydock/internal/access"
	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/cluster"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/identity"
	"github.com/drydock-dev/drydock/internal/pki"
	"github.com/drydock-dev/drydock/internal/registry"
	"github.com/drydock-dev/drydock/internal/resources"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// State is written to <data dir>/server.json for `drydock up` and clients.
type State struct {
	Endpoint string `json:"endpoint"`
	CAFile   string `json:"caFile"`
	TenantID string `json:"tenantId"`
	Admin    string `json:"adminUser"`
	PID      int    `json:"pid"`
}

// Paths of files in the data dir.
const (
	StateFile         = "server.json"
	AdminPasswordFile = "admin-password"
	dbFile            = "drydock.db"
)

// Server is an assembled drydock.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	st      *store.Store
	ca      *pki.CA
	dir     *directory.Directory
	router  *arm.Router
	rbac    *arm.RBAC
	access  *access.Service
	handler http.Handler
	tlsCert tls.Certificate
	state   State
	prom    *prometheus.Registry
	guard   *panicGuard
	// apiTimeouts and registryTimeouts bound slow clients of each listener.
	apiTimeouts, registryTimeouts httpTimeouts

	supervisor *cluster.Supervisor
	clusters   *cluster.Provider

	regLn     net.Listener
	regCert   tls.Certificate
	dataPlane *registry.DataPlane
	closers   []func() error
	// dirLock holds the data directory (lockDataDir) until close.
	dirLock *os.File
	// replicaID names this process among the replicas of a set (see
	// internal/replica); it is new at every start.
	replicaID string
}

// New opens everything in the data dir and bootstraps the tenant.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Finish(); err != nil {
		return nil, err
	}
	if err := secureDataDir(cfg.DataDir, log); err != nil {
		return nil, err
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	// A replica shares its database with the other replicas of its set.
	st, err := store.OpenDatabase(ctx, store.Options{Database: cfg.Database, SQLitePath: filepath.Join(cfg.DataDir, dbFile), Exclusive: !cfg.Replicated()}, domains.Migrations())
	if err != nil {
		lock.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, st: st, dirLock: lock, prom: prometheus.NewRegistry(), apiTimeouts: apiTimeouts, registryTimeouts: registryTimeouts,
		replicaID: uuid.NewString()}
	if err := s.assemble(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *Server) assemble(ctx context.Context) error {
	cfg := s.cfg
	keys := filepath.Join(cfg.DataDir, "keys")
	if err := s.shareIdentity(ctx, keys); err != nil {
		return err
	}
	ca, err := pki.LoadOrCreateCA(filepath.Join(cfg.DataDir, "pki"), "drydock CA")
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}
	s.ca = ca
	u, _ := url.Parse(cfg.PublicURL)
	names := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ip := net.ParseIP(u.Hostname()); ip != nil {
		ips = append(ips, ip)
	} else {
		names = append(names, u.Hostname())
	}
	s.tlsCert, err = ca.LoadOrIssueServer(filepath.Join(cfg.DataDir, "pki", "server.crt"), filepath.Join(cfg.DataDir, "pki", "server.key"), "drydock", names, ips)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	signer, err := tokens.LoadOrCreate(keys)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	box, err := secretbox.LoadOrCreate(keys)
	if err != nil {
		return fmt.Errorf("secrets key: %w", err)
	}
	tenant, err := s.tenantID(ctx)
	if err != nil {
		return err
	}
	s.dir, err = directory.New(ctx, s.st, signer, directory.Config{
		TenantID: tenant, BaseURL: cfg.PublicURL, Domain: cfg.TenantDomain,
		AccessTokenLifetime: cfg.AccessTokenLifetime.Duration, GroupPropagationDelay: cfg.GroupPropagationDelay.Duration,
	})
	if err != nil {
		return err
	}
	// The ARM front door and what every provider is given: the store,
	// one authorizer over the RBAC engine, operations, scope deletion.
	engine := authz.NewEngine(authz.BuiltInRoles())
	s.rbac = arm.NewRBAC(engine, s.dir)
	s.router = arm.NewRouter(s.st, s.dir, cfg.PublicURL, s.log)
	s.replicateOperations()
	if s.access, err = access.New(ctx, s.st, engine, s.rbac, s.dir); err != nil {
		return err
	}
	kit := &arm.Kit{Store: s.st, Auth: s.rbac, Ops: s.router.Ops, Scopes: arm.NewScopes(s.access)}
	s.access.Register(s.router)
	rp := resources.Register(s.router, kit, s.dir, engine, s.access)
	var port string
	if s.regLn, port, err = s.listenRegistry(); err != nil {
		return err
	}
	if cfg.RegistryPublicPort != "" {
		port = cfg.RegistryPublicPort // clients come through a load balancer
	}
	prov := registry.Register(s.router, kit, s.dir, box, registry.Config{LoginServerSuffix: cfg.LoginServerSuffix, LoginServerPort: port, DefaultLocation: cfg.DefaultLocation,
		Throttling: cfg.RegistryThrottling})
	ids := identity.Register(s.router, kit, s.dir)
	if err := s.assembleRegistry(ctx, prov, keys); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	s.supervisor = cluster.NewSupervisor(exe, s.log)
	clusterCfg := cluster.Config{
		DataDir: filepath.Join(cfg.DataDir, "clusters"), BaseURL: cfg.PublicURL, CAFile: filepath.Join(cfg.DataDir, "pki", "ca.crt"),
		LoginServerSuffix: cfg.LoginServerSuffix, LoginServerPort: port, RegistryAddress: s.regLn.Addr().String(),
	}
	if s.st.Shared() {
		clusterCfg.Database = cfg.Database
	}
	if clusterCfg.Replication, err = s.clusterReplication(); err != nil {
		return err
	}
	s.clusters = cluster.Register(s.router, kit, s.dir, ids, s.supervisor, clusterCfg, s.log)
	admin, err := s.bootstrap(ctx, rp)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	s.state = State{Endpoint: cfg.PublicURL, CAFile: filepath.Join(cfg.DataDir, "pki", "ca.crt"), TenantID: tenant, Admin: admin, PID: os.Getpid()}
	s.guard = newPanicGuard(s.prom, s.log)
	s.handler = s.guard.wrap("api", s.routes(), armInternalError)
	return nil
}

// Handler is the server's HTTP handler (for in-process tests).
func (s *Server) Handler() http.Handler { return s.handler }

// State describes the running server.
func (s *Server) State() State { return s.state }

// CA is the server's certificate authority.
func (s *Server) CA() *pki.CA { return s.ca }

// Run listens on the configured address and serves until ctx is cancelled.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.st.Close()
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// close releases what New opened.
func (s *Server) close() {
	if s.regLn != nil {
		s.regLn.Close()
	}
	for _, c := range s.closers {
		c()
	}
	s.st.Close()
	s.dirLock.Close()
}

// Serve serves on ln (and the registries on their listener) until ctx is
// cancelled, then shuts down gracefully and closes the store.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.close()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		s.log.Warn("listening beyond loopback, as configured", "addr", ln.Addr().String())
	}
	opCtx, cancelOps := context.WithCancel(context.Background())
	defer cancelOps()
	s.router.Ops.SetContext(opCtx)
	srv := s.apiTimeouts.httpServer(s.handler, s.tlsCert, s.log)
	if err := writeJSONFile(filepath.Join(s.cfg.DataDir, StateFile), s.state); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(s.cfg.DataDir, StateFile))
	s.log.Info("drydock is serving", "endpoint", s.cfg.PublicURL, "ca", s.state.CAFile, "tenant", s.state.TenantID, "dataDir", s.cfg.DataDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	if s.cfg.DebugListen != "" {
		stopDebug, err := serveDebug(s.cfg.DebugListen, s.log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	stopRegistry, regErrc := s.serveRegistry(ctx)
	s.serveReplica(ctx)
	s.clusters.Resume(ctx)
	var serveErr error
	select {
	case serveErr = <-errc:
	case serveErr = <-regErrc:
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	if err := stopRegistry(shutCtx); err != nil {
		s.log.Warn("registry shutdown", "err", err)
	}
	s.clusters.Stop()
	s.supervisor.StopAll()
	if err := s.dataPlane.Close(); err != nil {
		s.log.Warn("removing the hosts file block", "err", err)
	}
	s.router.Ops.Wait()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

// serveDebug serves Go's profiler on a loopback address.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("profiler listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
