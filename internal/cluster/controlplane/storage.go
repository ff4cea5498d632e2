package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/generic"
	"github.com/k3s-io/kine/pkg/drivers/pgsql"
	"github.com/k3s-io/kine/pkg/drivers/sqlite"
	"github.com/k3s-io/kine/pkg/server"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"k8s.io/klog/v2"
)

// kineSocket is kine's unix socket in the data directory.
const kineSocket = "kine.sock"

// maxUnixPath is the longest path a unix socket address holds on Linux.
const maxUnixPath = 107

// storage is kine serving the etcd API from SQLite or PostgreSQL.
type storage struct {
	// endpoint is the etcd endpoint for the apiserver (unix:///… or http://127.0.0.1:…).
	endpoint string
	grpc     *grpc.Server
	cancel   context.CancelFunc
	wg       *sync.WaitGroup
	served   chan struct{}
}

// startStorage opens the cluster's datastore (dataDir/state.db, or the
// schema DatastoreSchema of the PostgreSQL database Datastore) and serves
// the etcd API on a unix socket in dataDir (mode 0600), or on a loopback
// port when the socket's path would be too long. It is kine's
// endpoint.Listen with only the SQLite and PostgreSQL drivers linked in.
func startStorage(s *settings) (_ *storage, rerr error) {
	// kine's own options, with the defaults of its command line.
	cfg := &drivers.Config{
		ConnectionPoolConfig: generic.ConnectionPoolConfig{
			MaxIdle:     20,
			MaxIdleTime: 2 * time.Minute,
		},
		PollInterval:     time.Second,
		CompactTimeout:   5 * time.Second,
		CompactMinRetain: 1000,
		CompactBatchSize: 1000,
		PollBatchSize:    500,
		// CompactInterval 0: the apiserver compacts (--etcd-compaction-interval).
	}
	const (
		notifyInterval      = 5 * time.Second
		emulatedETCDVersion = "3.6.11"
	)

	// The backend lives until stop: it must outlast the apiserver.
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	defer func() {
		if rerr != nil {
			cancel()
			wg.Wait()
		}
	}()
	var backend server.Backend
	var err error
	if s.Datastore == "" {
		cfg.Endpoint = "sqlite://" + s.path(StateDB) + "?" + sqlite.DefaultParams
		cfg.DataSourceName = s.path(StateDB) + "?" + sqlite.DefaultParams
		cfg.Scheme = "sqlite"
		if _, backend, err = sqlite.New(ctx, wg, cfg); err != nil {
			return nil, fmt.Errorf("kine: opening %s: %w", s.path(StateDB), err)
		}
	} else if backend, err = openPostgres(ctx, wg, cfg, s.Datastore, s.DatastoreSchema); err != nil {
		return nil, err
	}
	if err := backend.Start(ctx); err != nil {
		return nil, fmt.Errorf("kine: starting: %w", err)
	}

	var l net.Listener
	socket := s.path(kineSocket)
	scheme := "unix"
	if len(socket) <= maxUnixPath {
		if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if l, err = net.Listen("unix", socket); err != nil {
			return nil, fmt.Errorf("kine: %w", err)
		}
		if err := os.Chmod(socket, 0o600); err != nil {
			l.Close()
			return nil, err
		}
	} else {
		klog.InfoS("kine's socket path is too long; listening on a loopback port", "path", socket)
		scheme = "http"
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("kine: %w", err)
		}
	}

	// etcd's defaults (go.etcd.io/etcd/server/v3/embed).
	gs := grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Hour, Timeout: 20 * time.Second}),
		grpc.MaxRecvMsgSize(int(1.5*1024*1024)+512*1024),
		grpc.MaxSendMsgSize(1<<31-1),
	)
	server.New(backend, scheme, notifyInterval, emulatedETCDVersion).Register(gs)

	st := &storage{grpc: gs, cancel: cancel, wg: wg, served: make(chan struct{})}
	if scheme == "unix" {
		st.endpoint = "unix://" + socket
	} else {
		st.endpoint = "http://" + l.Addr().String()
	}
	go func() {
		defer close(st.served)
		if err := gs.Serve(l); err != nil {
			klog.ErrorS(err, "kine's gRPC server stopped")
		}
	}()
	return st, nil
}

// stop stops serving (waiting up to 2 s for open calls, as kine does), then
// closes the database.
func (st *storage) stop() {
	t := time.AfterFunc(2*time.Second, st.grpc.Stop)
	st.grpc.GracefulStop()
	t.Stop()
	<-st.served
	st.cancel()
	st.wg.Wait()
}

// openPostgres opens kine's backend on the PostgreSQL database at
// databaseURL, its table in schema (created if missing; kine creates its
// table and indexes there). The schema is selected per connection through
// search_path, so kine's unqualified statements find the cluster's own
// table. Several kine instances may serve one schema at once (as k3s
// servers share an external datastore): a control plane starting on a new
// lease holder while the old one has not stopped yet loses no write.
func openPostgres(ctx context.Context, wg *sync.WaitGroup, cfg *drivers.Config, databaseURL, schema string) (server.Backend, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("datastore: %v", err)
	}
	shown := u.Redacted()
	// kine lower-cases the database's name (and creates the database it
	// names if it is missing): another name than the one given.
	if db := strings.TrimPrefix(u.Path, "/"); db != strings.ToLower(db) {
		return nil, fmt.Errorf("datastore %s: the database's name %q has upper-case letters, which kine does not keep; use a database with a lower-case name", shown, db)
	}
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("kine: connecting to %s: %w", shown, err)
	}
	_, err = conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema)
	conn.Close(context.Background())
	if err != nil {
		return nil, fmt.Errorf("kine: creating schema %s in %s: %w", schema, shown, err)
	}
	// kine's driver takes the URL without its scheme, and connections
	// of at most the pool's size (its own default is unbounded).
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cfg.Scheme = "postgres"
	cfg.Endpoint = u.String()
	cfg.DataSourceName = strings.TrimPrefix(strings.TrimPrefix(u.String(), u.Scheme+"://"), "//")
	cfg.ConnectionPoolConfig.MaxOpen = 10
	cfg.ConnectionPoolConfig.MaxIdle = 5
	_, backend, err := pgsql.New(ctx, wg, cfg)
	if err != nil {
		return nil, fmt.Errorf("kine: opening schema %s of %s: %w", schema, shown, err)
	}
	return backend, nil
}
