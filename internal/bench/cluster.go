package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydock-dev/drydock/internal/cluster/containerd"
)

// ClusterOptions configure Cluster.
type ClusterOptions struct {
	Drydock   string // the drydock binary
	ImageSize int64  // bytes of the test image (approximately)
	Nodes     int
	Density   int // one-node clusters of the density test (0: skip it)
	Out       io.Writer
}

// Cluster measures what a user of the document waits for, on this machine:
// `aks create` until the nodes are Ready, `kubectl apply` of the
// document's Deployment (2 replicas) until both pods run an image of
// ImageSize pulled from a drydock registry with the kubelet identity, and
// `aks update --attach-acr` until a pod waiting in ImagePullBackOff runs;
// then the memory of the control plane, of each node agent and of its
// containerd; then, with Density > 0, how many idle one-node clusters fit
// in 8 GiB (see density). It runs its
// own drydock server in a temporary directory and removes it at the end.
func Cluster(ctx context.Context, o ClusterOptions) ([]Result, error) {
	if err := containerd.Requirements(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drydock-bench-cluster")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	api, err := freePort()
	if err != nil {
		return nil, err
	}
	reg, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "server")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	env := append(os.Environ(), "DRYDOCK_CONFIG_DIR="+filepath.Join(dir, "cli"), "DRYDOCK_REGISTRY_LISTEN="+reg, "DRYDOCK_MANAGE_HOSTS_FILE=true", benchThrottlingOff)
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, o.Drydock, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return string(out), fmt.Errorf("drydock %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out)), nil
	}
	kubectl := func(args ...string) (string, error) {
		return run(append([]string{"kubectl", "--kubeconfig", kubeconfig}, args...)...)
	}
	if _, err := run("up", "--data-dir", data, "--listen", api); err != nil {
		return nil, err
	}
	defer run("down", "--data-dir", data)
	for _, args := range [][]string{
		{"group", "create", "-n", "bench", "-l", "eastus", "-o", "none"},
		{"acr", "create", "-n", "benchacr", "-g", "bench", "--sku", "basic", "-o", "none"},
	} {
		if _, err := run(args...); err != nil {
			return nil, err
		}
	}
	login, err := run("acr", "show", "-n", "benchacr", "--query", "loginServer", "-o", "tsv")
	if err != nil {
		return nil, err
	}
	acrID, err := run("acr", "show", "-n", "benchacr", "--query", "id", "-o", "tsv")
	if err != nil {
		return nil, err
	}
	// The test image: drydock's pause executable and a layer of random
	// bytes, pushed with the admin's registry token.
	tok, err := run("acr", "login", "-n", "benchacr", "--expose-token", "--query", "accessToken", "-o", "tsv")
	if err != nil {
		return nil, err
	}
	image := login + "/bench:v1"
	if err := pushSizedImage(ctx, image, tok, filepath.Join(data, "pki", "ca.crt"), o.ImageSize); err != nil {
		return nil, fmt.Errorf("pushing the test image: %w", err)
	}

	var results []Result
	add := func(metric string, d time.Duration, note string) {
		results = append(results, Result{Name: metric, Drydock: d.Seconds(), Unit: "s", Note: note})
	}
	start := time.Now()
	if _, err := run("aks", "create", "-n", "bench", "-g", "bench", "--attach-acr", "benchacr", "--node-count", fmt.Sprint(o.Nodes), "--generate-ssh-keys", "-o", "none"); err != nil {
		return nil, err
	}
	add("aks create (nodes Ready)", time.Since(start), fmt.Sprintf("%d nodes", o.Nodes))
	defer run("aks", "delete", "-n", "bench", "-g", "bench", "--yes")
	if _, err := run("aks", "get-credentials", "-g", "bench", "-n", "bench", "--file", kubeconfig, "-o", "none"); err != nil {
		return nil, err
	}
	manifest := filepath.Join(dir, "deployment.yaml")
	if err := os.WriteFile(manifest, []byte(deployment(image)), 0o644); err != nil {
		return nil, err
	}
	start = time.Now()
	if _, err := kubectl("apply", "-f", manifest); err != nil {
		return nil, err
	}
	if err := waitPods(ctx, kubectl, "app=bench", 2); err != nil {
		return nil, err
	}
	add("kubectl apply → 2 pods Running", time.Since(start), fmt.Sprintf("%s image, first pull on each node", size(o.ImageSize)))

	// A pod that cannot pull, then the attach that lets it.
	if _, err := run("aks", "update", "-n", "bench", "-g", "bench", "--detach-acr", "benchacr", "-o", "none"); err != nil {
		return nil, err
	}
	if _, err := kubectl("run", "waiting", "--image="+image, "--image-pull-policy=Always", "--restart=Never", "--labels=app=waiting"); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, func() error {
		out, err := kubectl("get", "pod", "waiting", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
		if err != nil {
			return err
		}
		if out != "ErrImagePull" && out != "ImagePullBackOff" {
			return fmt.Errorf("waiting pod: %q", out)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	start = time.Now()
	if _, err := run("aks", "update", "-n", "bench", "-g", "bench", "--attach-acr", acrID, "-o", "none"); err != nil {
		return nil, err
	}
	if err := waitPods(ctx, kubectl, "app=waiting", 1); err != nil {
		return nil, err
	}
	add("--attach-acr → waiting pod Running", time.Since(start), "bounded by the pull back-off (10 s, doubling)")

	// Memory of the control plane, each node agent and each node's
	// containerd (see clusterMemory for what each number counts).
	mem := clusterMemory(data)
	for _, p := range mem.controlPlanes {
		results = append(results, Result{Name: "control plane RSS", Drydock: mib(p.rss), Unit: "MiB",
			Note: fmt.Sprintf("private %.0f MiB, PSS %.0f MiB; after the apply and the attach", mib(p.private), mib(p.pss))})
	}
	for i, p := range mem.agents {
		results = append(results, Result{Name: "node agent private", Drydock: mib(p.private), Unit: "MiB",
			Note: fmt.Sprintf("RSS %.0f MiB, the rest shared executable pages", mib(p.rss))})
		if i < len(mem.containerds) {
			c := mem.containerds[i]
			results = append(results, Result{Name: "node containerd private", Drydock: mib(c.private), Unit: "MiB", Note: fmt.Sprintf("RSS %.0f MiB", mib(c.rss))})
			results = append(results, Result{Name: "node agent + containerd private", Drydock: mib(p.private + c.private), Unit: "MiB", Note: "one node, its pods' shims not counted"})
		}
	}
	if o.Density > 0 {
		if _, err := run("aks", "delete", "-n", "bench", "-g", "bench", "--yes"); err != nil {
			return nil, err
		}
		d, err := density(ctx, run, data, o.Density)
		if err != nil {
			return nil, err
		}
		results = append(results, d...)
	}
	if o.Out != nil {
		fmt.Fprintf(o.Out, "%-40s %12s  %s\n", "metric", "drydock", "note")
		for _, r := range results {
			fmt.Fprintf(o.Out, "%-40s %9.2f %-3s  %s\n", r.Name, r.Drydock, r.Unit, r.Note)
		}
	}
	return results, nil
}

func deployment(image string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench
spec:
  replicas: 2
  selector:
    matchLabels:
      app: bench
  template:
    metadata:
      labels:
        app: bench
    spec:
      containers:
      - name: bench
        image: ` + image + `
`
}

// waitPods waits until n pods with the label selector are Running.
func waitPods(ctx context.Context, kubectl func(...string) (string, error), selector string, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		out, err := kubectl("get", "pods", "-l", selector, "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}")
		if err == nil && strings.Count(out, "Running") == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pods %s not Running: %q %v", selector, out, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pushSizedImage pushes an image whose entrypoint is drydock's pause
// executable, padded with random bytes to about n bytes.
func pushSizedImage(ctx context.Context, ref, token, caFile string, n int64) error {
	elf, err := containerd.PauseELF(runtime.GOARCH)
	if err != nil {
		return err
	}
	pause, err := layer(map[string][]byte{"pause": elf}, 0o755)
	if err != nil {
		return err
	}
	pad := make([]byte, n)
	rand.Read(pad)
	padding, err := layer(map[string][]byte{"padding": pad}, 0o644)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, pause, padding)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = []string{"/pause"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return remote.Write(r, img, remote.WithContext(ctx), remote.WithTransport(tr),
		remote.WithAuth(&authn.Basic{Username: "00000000-0000-0000-0000-000000000000", Password: token}))
}

func layer(files map[string][]byte, mode int64) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// procMemory is one process's memory from /proc/<pid>/smaps_rollup: its
// RSS, its proportional set size (each shared page divided among the
// processes mapping it, so the PSS of all processes adds up to the memory
// they use) and its private pages (Private_Clean + Private_Dirty: what
// ending it would free).
type procMemory struct{ rss, pss, private int64 }

func readMemory(pid string) (procMemory, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "smaps_rollup"))
	if err != nil {
		return procMemory{}, false
	}
	var m procMemory
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var kb int64
		fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
		switch k {
		case "Rss":
			m.rss = kb << 10
		case "Pss":
			m.pss = kb << 10
		case "Private_Clean", "Private_Dirty":
			m.private += kb << 10
		}
	}
	return m, true
}

// serverMemory is the memory of the processes of one drydock data
// directory.
type serverMemory struct {
	servers, controlPlanes, agents, containerds []procMemory
}

// total is the PSS of every process counted.
func (m serverMemory) total() int64 {
	var n int64
	for _, l := range [][]procMemory{m.servers, m.controlPlanes, m.agents, m.containerds} {
		for _, p := range l {
			n += p.pss
		}
	}
	return n
}

// clusterMemory finds the processes whose command line names data: the
// drydock server, the control planes, the node agents and the nodes'
// containerds (by pid order, so agent i and containerd i are usually the
// same node's).
func clusterMemory(data string) serverMemory {
	var m serverMemory
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(data)) {
			continue
		}
		p, ok := readMemory(e.Name())
		if !ok {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		switch {
		case len(args) > 1 && args[1] == "cluster-node":
			m.agents = append(m.agents, p)
		case len(args) > 1 && args[1] == "cluster-controlplane":
			m.controlPlanes = append(m.controlPlanes, p)
		case len(args) > 1 && args[1] == "server":
			m.servers = append(m.servers, p)
		case filepath.Base(args[0]) == "containerd":
			m.containerds = append(m.containerds, p)
		}
	}
	return m
}

// densityBudget is the memory the density test fills, by extrapolation.
const densityBudget = 8 << 30

// density creates n idle one-node clusters one after the other and
// measures, after each, the PSS of every process of the server's data
// directory (server, control planes, node agents, containerds). The
// least-squares line through those n+1 totals gives the memory each more
// cluster costs (its slope) and what the server costs without clusters
// (its intercept); the clusters that fit in densityBudget are
// (budget - intercept) / slope. PSS shares the executable's pages among the
// processes mapping them, so the slope counts each cluster's private
// memory plus its share of what it maps, and the kernel's own memory
// (page tables, sockets, page cache) is not counted.
func density(ctx context.Context, run func(...string) (string, error), data string, n int) ([]Result, error) {
	// Let the server settle after the previous cluster's deletion.
	var xs, ys []float64
	measure := func(k int) {
		time.Sleep(densitySettle)
		xs = append(xs, float64(k))
		ys = append(ys, float64(clusterMemory(data).total()))
	}
	measure(0)
	var results []Result
	for k := 1; k <= n; k++ {
		name := fmt.Sprintf("density%d", k)
		if _, err := run("aks", "create", "-n", name, "-g", "bench", "--node-count", "1", "--generate-ssh-keys", "-o", "none"); err != nil {
			return nil, err
		}
		defer run("aks", "delete", "-n", name, "-g", "bench", "--yes")
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		measure(k)
		results = append(results, Result{Name: fmt.Sprintf("density: PSS with %d clusters", k), Drydock: mib(int64(ys[k])), Unit: "MiB",
			Note: "server, control planes, node agents, containerds"})
	}
	slope, intercept := leastSquares(xs, ys)
	results = append(results,
		Result{Name: "density: memory per one-node cluster", Drydock: slope / (1 << 20), Unit: "MiB",
			Note: fmt.Sprintf("slope of PSS over 0..%d idle clusters; server alone %.0f MiB", n, intercept/(1<<20))},
		Result{Name: "density: one-node clusters in 8 GiB", Drydock: float64(int((densityBudget - intercept) / slope)), Unit: "",
			Note: fmt.Sprintf("extrapolated from %d clusters", n)})
	return results, nil
}

// densitySettle is how long density waits before each measurement: the
// components' start-up garbage is collected by then.
const densitySettle = 10 * time.Second

// leastSquares fits y = slope·x + intercept.
func leastSquares(xs, ys []float64) (slope, intercept float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	slope = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return slope, (sy - slope*sx) / n
}

// statusField is a memory field of /proc/<pid>/status, in bytes.
func statusField(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
