package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/generic"
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

// storage is kine serving the etcd API from SQLite.
type storage struct {
	// endpoint is the etcd endpoint for the apiserver (unix:///… or http://127.0.0.1:…).
	endpoint string
	grpc     *grpc.Server
	cancel   context.CancelFunc
	wg       *sync.WaitGroup
	served   chan struct{}
}

// startStorage opens dataDir/state.db and serves the etcd API on a unix
// socket in dataDir (mode 0600), or on a loopback port when the socket's
// path would be too long. It is kine's endpoint.Listen with only the SQLite
// driver linked in.
func startStorage(s *settings) (_ *storage, rerr error) {
	// kine's own options, with the defaults of its command line.
	cfg := &drivers.Config{
		Endpoint:       "sqlite://" + s.path(StateDB) + "?" + sqlite.DefaultParams,
		DataSourceName: s.path(StateDB) + "?" + sqlite.DefaultParams,
		Scheme:         "sqlite",
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
	_, backend, err := sqlite.New(ctx, wg, cfg)
	if err != nil {
		return nil, fmt.Errorf("kine: opening %s: %w", s.path(StateDB), err)
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
