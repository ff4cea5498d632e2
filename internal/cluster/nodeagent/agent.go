// Package nodeagent is drydock's node agent, `drydock cluster-node`: the
// process that makes one node of an agent pool a Kubernetes node, as a
// kubelet does. It registers the Node (virtual-kubelet's node and pod
// controllers), runs the pods scheduled to it with the node's own
// containerd through CRI (sandbox, pull with credentials, create, start,
// stop, remove), gets registry credentials from the kubelet image
// credential provider (drydock acr-credential-provider) and from
// imagePullSecrets, and serves logs, exec, attach and port-forward to the
// API server.
package nodeagent

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/containerd"
	"github.com/drydock-dev/drydock/internal/gctune"
)

// Main is `drydock cluster-node --config <file> [--teardown]`, the process
// the server runs for each node of a running cluster. With --teardown it
// removes every pod the node runs and everything its runtime left behind,
// then exits (the server runs that when the node goes away).
func Main(args []string) int {
	fs := flag.NewFlagSet("cluster-node", flag.ContinueOnError)
	configFile := fs.String("config", "", "the node's JSON configuration (written by the drydock server)")
	teardown := fs.Bool("teardown", false, "remove the node's pods and runtime, then exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configFile == "" {
		fmt.Fprintln(os.Stderr, "ERROR: the following arguments are required: --config")
		return 2
	}
	cfg, err := agentconfig.Load(*configFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", cfg.Name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	if *teardown {
		err = Teardown(ctx, cfg, log)
	} else {
		err = Run(ctx, cfg, log)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		return 1
	}
	return 0
}

// runtimeDir is where the node's containerd keeps everything.
func runtimeDir(cfg *agentconfig.Node) string { return filepath.Join(cfg.Dir, agentconfig.RuntimeDir) }

func runtimeConfig(cfg *agentconfig.Node) containerd.Config {
	return containerd.Config{
		Dir: runtimeDir(cfg), SandboxImage: containerd.PauseImageRef,
		PodSubnet: cfg.PodSubnet, Bridge: cfg.Bridge, CAFile: cfg.RegistryCAFile,
	}
}

// Run runs the node until ctx ends. Containers keep running when it
// returns, as they do when a kubelet restarts; the next Run adopts them.
func Run(ctx context.Context, cfg *agentconfig.Node, log *slog.Logger) error {
	kube, err := newKubeClients(cfg)
	if err != nil {
		return err
	}
	if err := kube.ensureRBAC(ctx); err != nil {
		return err
	}
	if err := containerd.Requirements(); err != nil {
		// Register the node anyway, NotReady, saying why: that is where a
		// user looks when pods stay Pending.
		log.Error("this machine cannot run containers", "err", err)
		return runUnavailable(ctx, cfg, kube, err, log)
	}
	d, err := containerd.Start(ctx, runtimeConfig(cfg), log)
	if err != nil {
		return runUnavailable(ctx, cfg, kube, err, log)
	}
	defer d.Stop(10 * time.Second)
	conn, err := grpc.NewClient("unix://"+d.Socket(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := &cri{rs: runtimeapi.NewRuntimeServiceClient(conn), is: runtimeapi.NewImageServiceClient(conn)}
	if err := rt.waitReady(ctx); err != nil {
		return err
	}
	gctune.Steady(ctx, steadyAfter, steadyGCPercent)
	return runNode(ctx, cfg, kube, rt, d, log)
}

// Once the node has registered and adopted its pods (steadyAfter), the
// agent collects garbage at steadyGCPercent (see gctune): its heap is a few
// MiB of informer caches and pod workers, allocated slowly.
const (
	steadyAfter     = 10 * time.Second
	steadyGCPercent = 30
)

// Teardown removes the node's pods and runtime.
func Teardown(ctx context.Context, cfg *agentconfig.Node, log *slog.Logger) error {
	if _, err := os.Stat(runtimeDir(cfg)); err == nil && containerd.Requirements() == nil {
		if d, err := containerd.Start(ctx, runtimeConfig(cfg), log); err == nil {
			conn, err := grpc.NewClient("unix://"+d.Socket(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err == nil {
				rt := &cri{rs: runtimeapi.NewRuntimeServiceClient(conn), is: runtimeapi.NewImageServiceClient(conn)}
				if err := rt.removeAllSandboxes(ctx); err != nil {
					log.Warn("removing pods", "err", err)
				}
				conn.Close()
			}
			d.Stop(10 * time.Second)
		} else {
			log.Warn("starting containerd to remove pods", "err", err)
		}
	}
	if kube, err := newKubeClients(cfg); err == nil {
		kube.deleteNode(ctx, cfg.Name)
	}
	return containerd.Teardown(runtimeDir(cfg), cfg.Bridge)
}
