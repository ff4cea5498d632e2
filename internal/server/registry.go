package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/drydock-dev/drydock/internal/registry"
	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/drivers"
	"github.com/drydock-dev/drydock/internal/replica"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// listenRegistry opens the registry listener early, so that login servers
// can name its port when it is not 443.
func (s *Server) listenRegistry() (net.Listener, string, error) {
	ln, err := net.Listen("tcp", s.cfg.RegistryListen)
	if errors.Is(err, syscall.EACCES) {
		return nil, "", fmt.Errorf("cannot listen on %s for the registries' login servers: permission denied. Run drydock as root, "+
			"grant it CAP_NET_BIND_SERVICE, or set registryListen (DRYDOCK_REGISTRY_LISTEN) to a port above 1023, e.g. 127.0.0.1:5443; login servers then carry the port", s.cfg.RegistryListen)
	}
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s for the registries: %w", s.cfg.RegistryListen, err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	return ln, port, nil
}

// assembleRegistry builds the registries' data plane: blob storage in the
// data dir, the token service, name resolution and the TLS certificate.
func (s *Server) assembleRegistry(ctx context.Context, prov *registry.Provider, keys string) error {
	driver, err := drivers.Open(ctx, s.cfg.Storage, filepath.Join(s.cfg.DataDir, "registry"))
	if err != nil {
		return fmt.Errorf("registry storage: %w", err)
	}
	signer, err := tokens.LoadOrCreateEC(keys, "registry-signing.key")
	if err != nil {
		return fmt.Errorf("registry signing key: %w", err)
	}
	auditFile, err := os.OpenFile(filepath.Join(s.cfg.DataDir, "audit.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	s.closers = append(s.closers, auditFile.Close)
	audit := slog.New(slog.NewJSONHandler(auditFile, nil))
	svc := auth.New(s.dir, signer, s.rbac.Decide, func(ctx context.Context, id string) ([]string, error) {
		_, pws, err := prov.AdminCredentials(ctx, id)
		return pws, err
	}, audit, auth.Config{AccessTokenLifetime: s.cfg.RegistryAccessTokenLifetime.Duration})
	var hosts *registry.HostsFile
	if s.cfg.ManageHostsFile {
		host, _, _ := net.SplitHostPort(s.regLn.Addr().String())
		hosts = registry.NewHostsFile(s.cfg.HostsFile, s.cfg.DataDir, host)
	}
	s.dataPlane = registry.NewDataPlane(s.st, prov, svc, storage.NewBlobStore(driver), hosts, s.prom, s.log)
	s.dataPlane.SetDialTarget(s.regLn.Addr().String(), s.ca.Cert)
	if s.cfg.Replicated() {
		s.dataPlane.Distribution().DisableManifestCache()
	}
	if s.cfg.Replicated() {
		// Upload data without its session row may be another replica's
		// upload in flight: only garbage collection's age-based purge,
		// under its lease, applies to a set.
	} else if stats, err := s.dataPlane.Distribution().SweepUploads(ctx); err != nil {
		s.log.Warn("sweeping registry uploads left by the last run", "err", err)
	} else if stats.UploadsPurged > 0 || stats.SessionsRemoved > 0 {
		s.log.Info("swept registry uploads left by the last run", "uploadsPurged", stats.UploadsPurged, "sessionsRemoved", stats.SessionsRemoved)
	}
	if err := s.dataPlane.SyncHosts(ctx); err != nil {
		s.log.Warn("could not update the hosts file; login servers will not resolve by name", "file", s.cfg.HostsFile, "err", err)
	}
	suffix := s.cfg.LoginServerSuffix
	s.regCert, err = s.ca.LoadOrIssueServer(filepath.Join(s.cfg.DataDir, "pki", "registry.crt"), filepath.Join(s.cfg.DataDir, "pki", "registry.key"),
		"drydock registries", []string{"*." + suffix, "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("registry certificate: %w", err)
	}
	return nil
}

// serveRegistry runs the registry listener until ctx ends.
func (s *Server) serveRegistry(ctx context.Context) (stop func(context.Context) error, errc <-chan error) {
	srv := s.registryTimeouts.httpServer(s.guard.wrap("registry", s.dataPlane, registryInternalError), s.regCert, s.log)
	ch := make(chan error, 1)
	go func() { ch <- srv.ServeTLS(s.regLn, "", "") }()
	go s.collectGarbage(ctx)
	return srv.Shutdown, ch
}

// collectGarbage runs the registries' online garbage collection hourly;
// among replicas, on the one holding the lease "registry-gc".
func (s *Server) collectGarbage(ctx context.Context) {
	gc := func(ctx context.Context) {
		stats, err := s.dataPlane.Distribution().CollectGarbage(ctx, time.Hour)
		if err != nil {
			s.log.Warn("registry garbage collection", "err", err)
			return
		}
		s.log.Info("registry garbage collection", "stats", stats)
	}
	if s.cfg.Replicated() {
		lease := &replica.Lease{St: s.st, Name: "registry-gc", Holder: s.replicaID, TTL: time.Minute, Log: s.log}
		lease.Run(ctx, time.Hour, gc)
		return
	}
	replica.Every(ctx, time.Hour, func() { gc(ctx) })
}
