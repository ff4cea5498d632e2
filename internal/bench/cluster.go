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
	Out       io.Writer
}

// Cluster measures what a user of the document waits for, on this machine:
// `aks create` until the nodes are Ready, `kubectl apply` of the
// document's Deployment (2 replicas) until both pods run an image of
// ImageSize pulled from a drydock registry with the kubelet identity, and
// `aks update --attach-acr` until a pod waiting in ImagePullBackOff runs;
// then the memory of each node agent and of its containerd. It runs its
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

	// Memory per node agent and per node containerd.
	// RssAnon is what each process costs on its own; the rest of RSS is
	// the executable's pages, shared by every process running it.
	agents, ctrds := nodeProcesses(data)
	for _, p := range agents {
		results = append(results, Result{Name: "node agent RSS (private)", Drydock: mib(p.anon), Unit: "MiB",
			Note: fmt.Sprintf("RSS %.0f MiB, of which %.0f MiB shared executable pages", mib(p.rss), mib(p.rss-p.anon))})
	}
	for _, p := range ctrds {
		results = append(results, Result{Name: "node containerd RSS (private)", Drydock: mib(p.anon), Unit: "MiB", Note: fmt.Sprintf("RSS %.0f MiB", mib(p.rss))})
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

type memory struct{ rss, anon int64 }

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// nodeProcesses returns the memory of the node agents and node containerds
// under data.
func nodeProcesses(data string) (agents, ctrds []memory) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(data)) {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		status := filepath.Join("/proc", e.Name(), "status")
		m := memory{rss: statusField(status, "VmRSS"), anon: statusField(status, "RssAnon")}
		switch {
		case len(args) > 1 && args[1] == "cluster-node":
			agents = append(agents, m)
		case filepath.Base(args[0]) == "containerd":
			ctrds = append(ctrds, m)
		}
	}
	return agents, ctrds
}

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
