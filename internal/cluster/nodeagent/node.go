package nodeagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/containerd"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
)

// KubeletVersion is what the node reports as its kubelet version.
var KubeletVersion = "v1.37.2"

// runNode registers the node and runs its pods until ctx ends.
func runNode(ctx context.Context, cfg *agentconfig.Node, kube *kubeClients, rt *cri, d *containerd.Daemon, log *slog.Logger) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	plugin, err := credprovider.InstallPlugin(filepath.Join(cfg.Dir, "credential-provider"), exe)
	if err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.node.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	rec := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.Name})
	p := &Provider{
		cfg: cfg, kube: kube, rt: rt, log: log, rec: rec, workers: map[string]*podWorker{}, runtime: d,
		creds: &credentials{
			plugin: plugin, args: []string{agentconfig.AzureJSON(cfg.Dir)},
			matchImages: credprovider.MatchImages(cfg.RegistrySuffix), defaultCache: 10 * time.Minute, client: kube.node,
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	nodeSpec := nodeObject(cfg, port, d.Version())
	status := &nodeStatus{rt: rt, node: nodeSpec, ready: true}
	mux := http.NewServeMux()
	n, err := nodeutil.NewNode(cfg.Name,
		func(nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) { return p, status, nil },
		nodeutil.WithClient(kube.node),
		nodeutil.AttachProviderRoutes(mux),
		func(c *nodeutil.NodeConfig) error {
			c.NodeSpec = *nodeSpec.DeepCopy()
			c.HTTPListenAddr = "127.0.0.1:" + strconv.Itoa(port)
			c.Handler = requireClientCert(mux)
			c.TLSConfig = &tls.Config{
				Certificates: []tls.Certificate{kube.serving}, ClientCAs: kube.clusterCA.Pool(),
				ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12,
			}
			c.EventRecorder = quietRecorder{rec}
			c.NumWorkers = 4
			c.InformerResyncPeriod = time.Minute
			return nil
		},
	)
	if err != nil {
		return err
	}
	// virtual-kubelet's own messages, at warning level and above unless
	// DRYDOCK_NODE_DEBUG is set (set after NewNode, which warns about
	// in-cluster configuration it does not need).
	level := slog.LevelWarn
	if os.Getenv("DRYDOCK_NODE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	vklog.L = vkslog.FromSlog(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", cfg.Name, "component", "virtual-kubelet"))
	go func() {
		// Tell the supervisor the node is registered.
		select {
		case <-n.Ready():
			os.WriteFile(filepath.Join(cfg.Dir, agentconfig.ReadyFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
		case <-ctx.Done():
		}
	}()
	go p.reapOrphans(ctx, time.Minute)
	go status.watch(ctx, d, 10*time.Second)
	log.Info("node agent running", "port", port, "podSubnet", cfg.PodSubnet, "runtime", d.Version())
	err = n.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// requireClientCert refuses requests without a certificate from the
// cluster CA (the API server's kubelet client, or a cluster admin).
func requireClientCert(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// quietRecorder drops virtual-kubelet's own bookkeeping events, which a
// kubelet does not emit.
type quietRecorder struct{ record.EventRecorder }

func (q quietRecorder) Event(obj k8sruntime.Object, typ, reason, msg string) {
	if strings.HasPrefix(reason, "Provider") {
		return
	}
	q.EventRecorder.Event(obj, typ, reason, msg)
}

func (q quietRecorder) Eventf(obj k8sruntime.Object, typ, reason, format string, args ...any) {
	if strings.HasPrefix(reason, "Provider") {
		return
	}
	q.EventRecorder.Eventf(obj, typ, reason, format, args...)
}

// nodeObject is the Node as an AKS node's kubelet registers it.
func nodeObject(cfg *agentconfig.Node, port int, runtimeVersion string) corev1.Node {
	maxPods := cfg.MaxPods
	if maxPods <= 0 {
		maxPods = 110
	}
	mem := hostMemory()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(diskSize(cfg.Dir), resource.BinarySI),
	}
	allocatable := capacity.DeepCopy()
	// What AKS reserves for the system on a small node.
	allocatable[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(runtime.NumCPU())*1000-100, resource.DecimalSI)
	allocatable[corev1.ResourceMemory] = *resource.NewQuantity(mem-750<<20, resource.BinarySI)
	osImage, kernel := osRelease(), kernelVersion()
	now := metav1.Now()
	ready := func(t corev1.NodeConditionType, st corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: st, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: cfg.Name,
			Labels: map[string]string{
				"kubernetes.io/hostname": cfg.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": runtime.GOARCH,
				"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": runtime.GOARCH,
				"node.kubernetes.io/instance-type": cfg.VMSize, "beta.kubernetes.io/instance-type": cfg.VMSize,
				"topology.kubernetes.io/region": cfg.Location, "topology.kubernetes.io/zone": "0",
				"agentpool": cfg.Pool, "kubernetes.azure.com/agentpool": cfg.Pool, "kubernetes.azure.com/mode": strings.ToLower(cfg.Mode),
				"kubernetes.azure.com/cluster": cfg.NodeResourceGroup, "kubernetes.azure.com/role": "agent",
				"kubernetes.azure.com/kubelet-identity-client-id": cfg.KubeletIdentityClientID,
				"kubernetes.azure.com/node-image-version":         "drydock",
			},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "drydock.dev/pod-subnet": cfg.PodSubnet},
		},
		Spec: corev1.NodeSpec{ProviderID: cfg.ProviderID},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: allocatable, Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{
				ready(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
				ready(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
				ready(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
				ready(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
			},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: cfg.Name}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID: cfg.Name, SystemUUID: cfg.Name, BootID: bootID(),
				KernelVersion: kernel, OSImage: osImage, ContainerRuntimeVersion: runtimeVersion,
				KubeletVersion: KubeletVersion, KubeProxyVersion: "", OperatingSystem: "linux", Architecture: runtime.GOARCH,
			},
		},
	}
}

// nodeStatus reports the node's conditions: Ready follows the container
// runtime's health (runtime and network ready), as the kubelet's does.
type nodeStatus struct {
	rt    *cri
	node  corev1.Node // as registered
	mu    sync.Mutex
	cb    func(*corev1.Node)
	ready bool
}

func (s *nodeStatus) Ping(ctx context.Context) error { return nil }

func (s *nodeStatus) NotifyNodeStatus(ctx context.Context, cb func(*corev1.Node)) {
	s.mu.Lock()
	s.cb = cb
	s.mu.Unlock()
}

// runtimeProblem is why the runtime cannot run pods now, or "".
func (s *nodeStatus) runtimeProblem(ctx context.Context) string {
	st, err := s.rt.rs.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return "container runtime is down: " + err.Error()
	}
	for _, typ := range []string{runtimeapi.RuntimeReady, runtimeapi.NetworkReady} {
		if c := condition(st.GetStatus(), typ); c == nil || !c.Status {
			what := "status check"
			if typ == runtimeapi.NetworkReady {
				what = "network"
			}
			return fmt.Sprintf("container runtime %s not ready: %s=false reason:%s message:%s", what, typ, c.GetReason(), c.GetMessage())
		}
	}
	return ""
}

// watch checks the runtime every period and reports Ready's changes. When
// containerd exits, the agent exits too (the server restarts it, and it
// restarts containerd).
func (s *nodeStatus) watch(ctx context.Context, d *containerd.Daemon, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.Done():
			slog.Error("containerd exited", "err", d.Err())
			os.Exit(1)
		case <-t.C:
		}
		problem := s.runtimeProblem(ctx)
		s.mu.Lock()
		cb, changed := s.cb, s.ready != (problem == "")
		s.ready = problem == ""
		s.mu.Unlock()
		if !changed || cb == nil {
			continue
		}
		node := s.node.DeepCopy()
		now := metav1.Now()
		for i, c := range node.Status.Conditions {
			if c.Type != corev1.NodeReady {
				continue
			}
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"
			if problem != "" {
				c.Status, c.Reason, c.Message = corev1.ConditionFalse, "KubeletNotReady", problem
			}
			c.LastHeartbeatTime, c.LastTransitionTime = now, now
			node.Status.Conditions[i] = c
		}
		cb(node)
	}
}

// runUnavailable registers the node NotReady with the reason containers
// cannot run, and keeps it so until ctx ends.
func runUnavailable(ctx context.Context, cfg *agentconfig.Node, kube *kubeClients, why error, log *slog.Logger) error {
	spec := nodeObject(cfg, 0, "containerd://unavailable")
	for i, c := range spec.Status.Conditions {
		if c.Type == corev1.NodeReady {
			spec.Status.Conditions[i].Status = corev1.ConditionFalse
			spec.Status.Conditions[i].Reason = "ContainerRuntimeUnavailable"
			spec.Status.Conditions[i].Message = "container runtime is down: " + why.Error()
		}
	}
	spec.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}}
	nc, err := node.NewNodeController(node.NewNaiveNodeProvider(), &spec, kube.node.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(nodeutil.NodeLeaseV1Client(kube.node), node.DefaultLeaseDuration))
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-nc.Ready():
			os.WriteFile(filepath.Join(cfg.Dir, agentconfig.ReadyFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
		case <-ctx.Done():
		}
	}()
	err = nc.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("%v (%v)", why, err)
}

func hostMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 4 << 30
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10
		}
	}
	return 4 << 30
}

func diskSize(dir string) int64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	return int64(st.Blocks) * st.Bsize
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				return strings.Trim(v, `"`)
			}
		}
	}
	return "Linux"
}

func kernelVersion() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}
