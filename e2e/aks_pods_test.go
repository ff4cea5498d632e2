package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The pod tests run real containers: each node of a cluster is a node
// agent (virtual-kubelet) with its own containerd, and pods pull their
// images from the registries with the kubelet identity, as on AKS. They
// need root, Linux, containerd, runc, the CNI plugins (Debian's
// containernetworking-plugins: /usr/lib/cni/bridge), docker-registry (an
// import source standing in for Docker Hub) and the go tool (to build the
// test image). Without them the tests are skipped, unless
// DRYDOCK_E2E_REQUIRE_RUNTIME=1, which turns each missing piece into a
// failure.

// podsDeadline bounds each wait for pods, nodes or processes to reach a
// state. It is a safety net against hangs, not a performance assertion:
// the times actually taken are logged (see TestAKSPodsDocumentReplay).
const podsDeadline = 5 * time.Minute

// podsRecoveryDeadline bounds the wait for a pod whose image pulls failed
// to run once the cluster may pull again: the kubelet's image pull
// back-off starts at 10 s and doubles up to 5 min.
const podsRecoveryDeadline = 8 * time.Minute

// needContainerRuntime skips t (or, under DRYDOCK_E2E_REQUIRE_RUNTIME=1,
// fails it) unless this machine can run containers.
func needContainerRuntime(t *testing.T) {
	t.Helper()
	var missing []string
	if runtime.GOOS != "linux" {
		missing = append(missing, "Linux (this is "+runtime.GOOS+")")
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (containerd, runc and CNI need it, and the server manages /etc/hosts)")
	}
	for _, c := range []struct{ cmd, pkg string }{
		{"containerd", "containerd"}, {"runc", "runc"}, {"docker-registry", "docker-registry"}, {"go", "golang-go"},
	} {
		if _, err := exec.LookPath(c.cmd); err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install -y %s)", c.cmd, c.pkg))
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		missing = append(missing, "the CNI bridge plugin /usr/lib/cni/bridge (apt-get install -y containernetworking-plugins)")
	}
	if len(missing) == 0 {
		return
	}
	problem := "running pods needs " + strings.Join(missing, ", ")
	if os.Getenv("DRYDOCK_E2E_REQUIRE_RUNTIME") == "1" {
		t.Fatal(problem)
	}
	t.Skip(problem + " (set DRYDOCK_E2E_REQUIRE_RUNTIME=1 to make this a failure)")
}

// acrNginxYAML is the document's acr-nginx.yaml for a registry's login
// server.
func acrNginxYAML(loginServer string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx0-deployment
  labels:
    app: nginx0-deployment
spec:
  replicas: 2
  selector:
    matchLabels:
      app: nginx0
  template:
    metadata:
      labels:
        app: nginx0
    spec:
      containers:
      - name: nginx
        image: ` + loginServer + `/nginx:v1
        ports:
        - containerPort: 80
`
}

// TestAKSPodsDocumentReplay replays the document with pods that really
// run: a multi-platform image (the test server of testimage_test.go) is
// imported from a docker-registry into a registry, a two-node cluster
// attached to it runs acr-nginx.yaml (two pods Running, distinct pod IPs,
// reachable through kubectl port-forward, their logs and kubectl exec),
// after --detach-acr a new pod fails to pull with 401 Unauthorized and
// check-acr fails, after --attach-acr by resource ID the pod recovers by
// itself and check-acr passes, and deleting the Deployment and then the
// cluster leaves no pod and no containerd behind.
//
// The document's other checks (a registry in another subscription, a
// Contributor refused, the group delay, a pre-created kubelet identity)
// are TestAKSDocumentFlow's and TestAKSGroupsBYOKubeletAndCrossSubscription's.
//
// Timings for the benchmark notes are logged with t.Logf, each line
// starting with "timing:" (image build and push, aks create, nodes Ready,
// apply → 2 pods Running, detach → pull refused, attach → pod Running,
// deployment delete → pods gone, aks delete → processes gone); nothing
// asserts on them.
func TestAKSPodsDocumentReplay(t *testing.T) {
	needContainerRuntime(t)
	s := startServer(t, aksEnv...)
	az := s.admin(t)

	// Docker Hub's stand-in: a docker-registry with library/nginx:latest,
	// a multi-platform image of the test server.
	src := startDistribution(t, "", "")
	began := time.Now()
	pushTestServerImage(t, src.addr+"/library/nginx:latest", 0)
	t.Logf("timing: build and push the test image %s", time.Since(began).Round(time.Millisecond))

	// A name of its own: the registries of servers running side by side
	// share /etc/hosts.
	acr := fmt.Sprintf("podsacr%08x", rand.Uint32())
	const cluster = "myAKSCluster"
	az.ok("group", "create", "-n", "rg", "-l", "eastus", "-o", "none")
	az.ok("acr", "create", "-n", acr, "-g", "rg", "--sku", "basic", "-o", "none")
	acrID := az.tsv("acr", "show", "-n", acr, "--query", "id")
	login := az.tsv("acr", "show", "-n", acr, "--query", "loginServer")

	began = time.Now()
	mc := az.obj("aks", "create", "-n", cluster, "-g", "rg", "--generate-ssh-keys", "--attach-acr", acr, "--node-count", "2")
	t.Logf("timing: aks create (2 nodes) %s", time.Since(began).Round(time.Millisecond))
	if str(mc, "provisioningState") != "Succeeded" {
		t.Fatalf("aks create: %v", mc)
	}
	deleted := deleteClusterAtCleanup(t, az, "rg", cluster)
	clusterDir := podsClusterDir(t, s)

	az.ok("acr", "import", "-n", acr, "--source", src.addr+"/library/nginx:latest", "--image", "nginx:v1")

	kubeconfig := filepath.Join(t.TempDir(), "config")
	az.ok("aks", "get-credentials", "-g", "rg", "-n", cluster, "--file", kubeconfig)
	k := &podsKubectl{t: t, az: az, kubeconfig: kubeconfig, s: s, clusterDir: clusterDir}

	// The nodes register and become Ready.
	began = time.Now()
	k.eventually("2 nodes Ready", podsDeadline, func() string { return k.checkNodesReady(2) })
	t.Logf("timing: aks create → 2 nodes Ready %s more", time.Since(began).Round(time.Millisecond))

	// kubectl apply -f acr-nginx.yaml; kubectl get pods shows two Running.
	manifest := filepath.Join(t.TempDir(), "acr-nginx.yaml")
	if err := os.WriteFile(manifest, []byte(acrNginxYAML(login)), 0o644); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	k.ok("apply", "-f", manifest)
	var pods []podsPod
	k.eventually("2 pods of nginx0-deployment Running and ready", podsDeadline, func() string {
		var msg string
		pods, msg = k.pods("-l", "app=nginx0")
		if msg != "" {
			return msg
		}
		if len(pods) != 2 {
			return fmt.Sprintf("%d pods: %s", len(pods), podsSummary(pods))
		}
		for _, p := range pods {
			if !p.runningAndReady() {
				return podsSummary(pods)
			}
		}
		return ""
	})
	t.Logf("timing: apply → 2 pods Running %s", time.Since(began).Round(time.Millisecond))
	t.Logf("pods: %s", podsSummary(pods))
	k.checkDistinctIPs(pods)
	table := k.ok("get", "pods")
	t.Logf("kubectl get pods:\n%s", table)
	running := 0
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(f[0], "nginx0-deployment-") && f[1] == "1/1" && f[2] == "Running" {
			running++
		}
	}
	if running != 2 {
		t.Errorf("kubectl get pods: want two nginx0-deployment pods 1/1 Running, as in the document:\n%s", table)
	}

	// The pods serve, log and run commands.
	pod := pods[0].Metadata.Name
	began = time.Now()
	body := k.portForwardGET(pod)
	t.Logf("timing: port-forward and GET / %s", time.Since(began).Round(time.Millisecond))
	if !strings.HasPrefix(body, "hello from ") {
		t.Errorf("GET / through kubectl port-forward pod/%s: %q, want \"hello from %s\\n\"", pod, body, pod)
	} else if body != "hello from "+pod+"\n" {
		t.Errorf("GET / through kubectl port-forward pod/%s: %q, want the pod's name as the hostname", pod, body)
	}
	if logs := k.ok("logs", pod); !strings.Contains(logs, "listening on :80") {
		t.Errorf("kubectl logs %s: %q, want \"listening on :80\"", pod, logs)
	}
	if host := strings.TrimSpace(k.ok("exec", pod, "--", testServerPath, "-print-hostname")); host != pod {
		t.Errorf("kubectl exec %s -- %s -print-hostname: %q, want the pod's name", pod, testServerPath, host)
	}

	// Detached: a new pod cannot pull, with the error AKS shows, and
	// check-acr fails.
	az.ok("aks", "update", "-n", cluster, "-g", "rg", "--detach-acr", acr, "-o", "none")
	began = time.Now()
	k.ok("run", "detached", "--image="+login+"/nginx:v1", "--image-pull-policy=Always", "--restart=Never")
	k.waitPullRefused("detached")
	t.Logf("timing: run after detach → pull refused %s", time.Since(began).Round(time.Millisecond))
	if r := az.run("aks", "check-acr", "-g", "rg", "-n", cluster, "--acr", login); r.Code == 0 {
		t.Errorf("check-acr after --detach-acr must fail:\n%s", r)
	}

	// Attached again by resource ID: the pod recovers by itself.
	az.ok("aks", "update", "-n", cluster, "-g", "rg", "--attach-acr", acrID, "-o", "none")
	began = time.Now()
	var detached podsPod
	k.eventually("pod detached Running after --attach-acr", podsRecoveryDeadline, func() string {
		var msg string
		if detached, msg = k.pod("detached"); msg != "" {
			return msg
		}
		if !detached.runningAndReady() {
			return "pod detached: " + podsSummary([]podsPod{detached})
		}
		return ""
	})
	t.Logf("timing: attach → pod Running %s", time.Since(began).Round(time.Millisecond))
	if r := az.run("aks", "check-acr", "-g", "rg", "-n", cluster, "--acr", login); r.Code != 0 {
		t.Errorf("check-acr after --attach-acr by resource ID:\n%s", r)
	}
	k.checkDistinctIPs(append(slices.Clone(pods), detached))

	// kubectl delete deployment: its pods go.
	began = time.Now()
	k.ok("delete", "deployment", "nginx0-deployment")
	k.eventually("the pods of nginx0-deployment gone", podsDeadline, func() string {
		left, msg := k.pods("-l", "app=nginx0")
		if msg != "" {
			return msg
		}
		if len(left) != 0 {
			return podsSummary(left)
		}
		return ""
	})
	t.Logf("timing: delete deployment → pods gone %s", time.Since(began).Round(time.Millisecond))

	// aks delete: nothing of the cluster keeps running.
	before := podsProcesses(s.dataDir)
	ours := 0
	for _, p := range before {
		if p.containerd() {
			if strings.Contains(p.cmdline, clusterDir) {
				ours++
			} else {
				t.Logf("a containerd process of the server that does not name the cluster's directory %s: %s", clusterDir, p)
			}
		}
	}
	t.Logf("before aks delete: %d containerd processes name the cluster's directory %s", ours, clusterDir)
	began = time.Now()
	az.ok("aks", "delete", "-n", cluster, "-g", "rg", "--yes")
	*deleted = true
	deadline := time.Now().Add(podsDeadline)
	for {
		left := podsProcesses(clusterDir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, p := range left {
				lines = append(lines, p.String())
			}
			t.Fatalf("%s after aks delete, processes still name the cluster's directory %s:\n%s\nserver log (tail):\n%s",
				podsDeadline, clusterDir, strings.Join(lines, "\n"), tailLines(s.log(), 60))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("timing: aks delete → cluster processes gone %s", time.Since(began).Round(time.Millisecond))
}

// deleteClusterAtCleanup deletes the cluster of group when the test ends, before
// the server stops (cleanups run last first), unless the test set the
// returned flag after deleting it itself. Best effort.
func deleteClusterAtCleanup(t *testing.T, az *cli, group, cluster string) *bool {
	deleted := new(bool)
	t.Cleanup(func() {
		if *deleted {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), podsDeadline)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "aks", "delete", "-n", cluster, "-g", group, "--yes")
		cmd.Env = az.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("cleanup: aks delete: %v\n%s", err, out)
		}
	})
	return deleted
}

// podsClusterDir is the directory of the server's only cluster
// (<data-dir>/clusters/<id>, holding nodes/<node>/etc-kubernetes/azure.json).
func podsClusterDir(t *testing.T, s *server) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(s.dataDir, "clusters", "*", "nodes"))
	if len(dirs) != 1 {
		t.Fatalf("want the nodes directory of one cluster under %s, found %v", filepath.Join(s.dataDir, "clusters"), dirs)
	}
	return filepath.Dir(dirs[0])
}

// ---------------------------------------------------------------------------
// kubectl

// podsKubectl runs `drydock kubectl --kubeconfig <file>` as a user.
type podsKubectl struct {
	t          *testing.T
	az         *cli
	kubeconfig string
	s          *server
	clusterDir string
}

// waitPullRefused waits until pod's image pull is refused the way AKS
// shows it: ErrImagePull or ImagePullBackOff, with a Failed event saying
// "failed to authorize" and "401 Unauthorized". It fails the test if the
// pod runs.
func (k *podsKubectl) waitPullRefused(pod string) {
	k.t.Helper()
	k.eventually("pod "+pod+" refused its image (ErrImagePull or ImagePullBackOff, a Failed event with 401 Unauthorized)", podsDeadline, func() string {
		p, msg := k.pod(pod)
		if msg != "" {
			return msg
		}
		if p.Status.Phase == "Running" || p.Status.Phase == "Succeeded" {
			k.t.Fatalf("pod %s pulled its image, which it must not: %s\n%s", pod, podsSummary([]podsPod{p}), k.diagnostics())
		}
		if r := p.waitingReason(); r != "ErrImagePull" && r != "ImagePullBackOff" {
			return "pod " + pod + ": " + podsSummary([]podsPod{p})
		}
		events, msg := k.events(pod)
		if msg != "" {
			return msg
		}
		for _, e := range events {
			if e.Reason == "Failed" && strings.Contains(e.Message, "401 Unauthorized") && strings.Contains(e.Message, "failed to authorize") {
				k.t.Logf("event: %s %s: %s", e.Type, e.Reason, e.Message)
				return ""
			}
		}
		return fmt.Sprintf("pod %s is %s, but no Failed event mentions \"failed to authorize\" and \"401 Unauthorized\": %s", pod, p.waitingReason(), podsEventsSummary(events))
	})
}

func (k *podsKubectl) args(args []string) []string {
	return append([]string{"kubectl", "--kubeconfig", k.kubeconfig}, args...)
}

func (k *podsKubectl) run(args ...string) result {
	k.t.Helper()
	return k.az.run(k.args(args)...)
}

func (k *podsKubectl) ok(args ...string) string {
	k.t.Helper()
	r := k.run(args...)
	if r.Code != 0 {
		k.t.Fatalf("command failed:\n%s\n%s", r, k.diagnostics())
	}
	return r.Stdout
}

// eventually polls check every second until it returns "" or timeout
// passes; then it fails with check's last answer and the cluster's state.
func (k *podsKubectl) eventually(what string, timeout time.Duration, check func() string) {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last := check()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("%s: still not so after %s: %s\n%s", what, timeout, last, k.diagnostics())
		}
		time.Sleep(time.Second)
	}
}

// diagnostics is what explains a cluster's state: nodes, pods, their
// description, events, and the tails of the server's and the cluster's
// logs.
func (k *podsKubectl) diagnostics() string {
	var b strings.Builder
	for _, args := range [][]string{
		{"get", "nodes", "-o", "wide"},
		{"get", "pods", "-A", "-o", "wide"},
		{"describe", "pods"},
		{"get", "events", "--sort-by=.lastTimestamp"},
	} {
		r := k.az.run(k.args(args)...)
		fmt.Fprintf(&b, "--- kubectl %s (exit %d)\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	fmt.Fprintf(&b, "--- server log (tail)\n%s\n", tailLines(k.s.log(), 80))
	if k.clusterDir != "" {
		n := 0
		filepath.WalkDir(k.clusterDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || n >= 12 || !(strings.HasSuffix(p, ".log") || strings.HasSuffix(p, ".out")) {
				return nil
			}
			n++
			if data, err := readTail(p, 64<<10); err == nil {
				fmt.Fprintf(&b, "--- %s (tail)\n%s\n", p, tailLines(data, 30))
			}
			return nil
		})
	}
	return b.String()
}

// readTail reads at most the last max bytes of a file.
func readTail(path string, max int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		if _, err := f.Seek(-max, io.SeekEnd); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(f)
	return string(b), err
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// podsPod is the part of a Pod the tests read.
type podsPod struct {
	Metadata struct {
		Name              string `json:"name"`
		DeletionTimestamp string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		PodIP             string `json:"podIP"`
		ContainerStatuses []struct {
			Name         string `json:"name"`
			Ready        bool   `json:"ready"`
			RestartCount int    `json:"restartCount"`
			State        struct {
				Waiting *struct {
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"waiting"`
				Running *struct {
					StartedAt string `json:"startedAt"`
				} `json:"running"`
				Terminated *struct {
					Reason   string `json:"reason"`
					ExitCode int    `json:"exitCode"`
				} `json:"terminated"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// runningAndReady: phase Running and every container ready.
func (p podsPod) runningAndReady() bool {
	if p.Status.Phase != "Running" || len(p.Status.ContainerStatuses) == 0 || p.Metadata.DeletionTimestamp != "" {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready || c.State.Running == nil {
			return false
		}
	}
	return true
}

// waitingReason is the first container's waiting reason ("" if none).
func (p podsPod) waitingReason() string {
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Waiting != nil {
			return c.State.Waiting.Reason
		}
	}
	return ""
}

func (p podsPod) String() string {
	var cs []string
	for _, c := range p.Status.ContainerStatuses {
		st := "unknown"
		switch {
		case c.State.Waiting != nil:
			st = "waiting " + c.State.Waiting.Reason
			if c.State.Waiting.Message != "" {
				st += " (" + c.State.Waiting.Message + ")"
			}
		case c.State.Running != nil:
			st = "running since " + c.State.Running.StartedAt
		case c.State.Terminated != nil:
			st = fmt.Sprintf("terminated %s exit %d", c.State.Terminated.Reason, c.State.Terminated.ExitCode)
		}
		cs = append(cs, fmt.Sprintf("%s ready=%t restarts=%d %s", c.Name, c.Ready, c.RestartCount, st))
	}
	s := fmt.Sprintf("%s phase=%s node=%q ip=%q [%s]", p.Metadata.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIP, strings.Join(cs, "; "))
	if p.Metadata.DeletionTimestamp != "" {
		s += " terminating"
	}
	return s
}

func podsSummary(pods []podsPod) string {
	if len(pods) == 0 {
		return "no pods"
	}
	var s []string
	for _, p := range pods {
		s = append(s, p.String())
	}
	return strings.Join(s, "; ")
}

// pods lists pods of namespace default (with selector args); a failure of
// kubectl is returned as the message.
func (k *podsKubectl) pods(args ...string) ([]podsPod, string) {
	k.t.Helper()
	return kubectlItems[podsPod](k, "pods", args...)
}

// kubectlItems runs `kubectl get kind -o json` (with args) in namespace
// default and decodes the list's items; a failure of kubectl is returned
// as the message.
func kubectlItems[T any](k *podsKubectl, kind string, args ...string) ([]T, string) {
	k.t.Helper()
	r := k.run(append([]string{"get", kind, "-o", "json"}, args...)...)
	if r.Code != 0 {
		return nil, r.String()
	}
	var l struct {
		Items []T `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &l); err != nil {
		return nil, fmt.Sprintf("kubectl get %s -o json: %v\n%s", kind, err, r.Stdout)
	}
	return l.Items, ""
}

// waitRunningAndReady waits up to podsDeadline for pod name of namespace
// default to be Running with all its containers ready.
func (k *podsKubectl) waitRunningAndReady(name string) {
	k.t.Helper()
	k.waitPod(name, "Running and ready", podsPod.runningAndReady)
}

// waitPod waits up to podsDeadline for pod name of namespace default to be
// as ok says (state describes that, for the failure message).
func (k *podsKubectl) waitPod(name, state string, ok func(podsPod) bool) {
	k.t.Helper()
	k.eventually("pod "+name+" "+state, podsDeadline, func() string {
		p, msg := k.pod(name)
		if msg != "" {
			return msg
		}
		if !ok(p) {
			return "pod " + name + ": " + p.String()
		}
		return ""
	})
}

// pod gets one pod of namespace default.
func (k *podsKubectl) pod(name string) (podsPod, string) {
	k.t.Helper()
	var p podsPod
	r := k.run("get", "pod", name, "-o", "json")
	if r.Code != 0 {
		return p, r.String()
	}
	if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil {
		return p, fmt.Sprintf("kubectl get pod %s -o json: %v\n%s", name, err, r.Stdout)
	}
	return p, ""
}

// podsEvent is the part of an Event the tests read.
type podsEvent struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func podsEventsSummary(events []podsEvent) string {
	if len(events) == 0 {
		return "no events"
	}
	var s []string
	for _, e := range events {
		s = append(s, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, e.Message))
	}
	return strings.Join(s, "; ")
}

// events lists the events about an object of namespace default.
func (k *podsKubectl) events(name string) ([]podsEvent, string) {
	k.t.Helper()
	return kubectlItems[podsEvent](k, "events", "--field-selector", "involvedObject.name="+name)
}

// checkNodesReady returns "" when the cluster has n nodes, all Ready.
func (k *podsKubectl) checkNodesReady(n int) string {
	k.t.Helper()
	r := k.run("get", "nodes", "-o", "json")
	if r.Code != 0 {
		return r.String()
	}
	var l struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Status struct {
				Conditions []struct {
					Type   string `json:"type"`
					Status string `json:"status"`
				} `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &l); err != nil {
		return fmt.Sprintf("kubectl get nodes -o json: %v\n%s", err, r.Stdout)
	}
	var states []string
	ready := 0
	for _, node := range l.Items {
		st := "Ready unknown"
		for _, c := range node.Status.Conditions {
			if c.Type == "Ready" {
				st = "Ready=" + c.Status
				if c.Status == "True" {
					ready++
				}
			}
		}
		states = append(states, node.Metadata.Name+" "+st)
	}
	if len(l.Items) != n || ready != n {
		return fmt.Sprintf("%d nodes, %d Ready: %v", len(l.Items), ready, states)
	}
	return ""
}

// checkDistinctIPs checks that each pod has a pod IP of its own.
func (k *podsKubectl) checkDistinctIPs(pods []podsPod) {
	k.t.Helper()
	seen := map[string]string{}
	for _, p := range pods {
		ip := net.ParseIP(p.Status.PodIP)
		if ip == nil {
			k.t.Errorf("pod %s has no valid pod IP: %q", p.Metadata.Name, p.Status.PodIP)
			continue
		}
		if other, dup := seen[ip.String()]; dup {
			k.t.Errorf("pods %s and %s share the pod IP %s", other, p.Metadata.Name, ip)
		}
		seen[ip.String()] = p.Metadata.Name
	}
}

var forwardingRE = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 80`)

// portForwardGET runs `kubectl port-forward pod/<pod> :80` in the
// background (kubectl picks the local port), sends GET / through it and
// returns the body.
func (k *podsKubectl) portForwardGET(pod string) string {
	k.t.Helper()
	dir := k.t.TempDir()
	outPath, errPath := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	stdout, err := os.Create(outPath)
	if err != nil {
		k.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(errPath)
	if err != nil {
		k.t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(bin, k.args([]string{"port-forward", "--address", "127.0.0.1", "pod/" + pod, ":80"})...)
	cmd.Env = k.az.env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	k.t.Cleanup(stop)
	defer stop()
	output := func() string {
		o, _ := os.ReadFile(outPath)
		e, _ := os.ReadFile(errPath)
		return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", o, e)
	}

	// kubectl prints the local port once it listens.
	var port int
	deadline := time.Now().Add(podsDeadline)
	for port == 0 {
		if o, _ := os.ReadFile(outPath); forwardingRE.Match(o) {
			port, _ = strconv.Atoi(string(forwardingRE.FindSubmatch(o)[1]))
			break
		}
		select {
		case err := <-done:
			done <- err
			k.t.Fatalf("kubectl port-forward pod/%s exited: %v\n%s\n%s", pod, err, output(), k.diagnostics())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("kubectl port-forward pod/%s did not report a local port within %s\n%s\n%s", pod, podsDeadline, output(), k.diagnostics())
		}
	}

	hc := &http.Client{Timeout: 30 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var last string
	for attempt := 0; attempt < 5; attempt++ {
		resp, err := hc.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			last = fmt.Sprintf("status %d, %q, %v", resp.StatusCode, b, rerr)
		} else {
			last = err.Error()
		}
		time.Sleep(2 * time.Second)
	}
	k.t.Fatalf("GET %s through kubectl port-forward pod/%s: %s\n%s\n%s", url, pod, last, output(), k.diagnostics())
	return ""
}

// ---------------------------------------------------------------------------
// Processes

// podsProcess is a process of this machine.
type podsProcess struct {
	pid     int
	argv0   string
	cmdline string // arguments joined by spaces
}

func (p podsProcess) String() string { return fmt.Sprintf("pid %d: %s", p.pid, p.cmdline) }

// containerd reports whether the process is containerd or one of its
// shims.
func (p podsProcess) containerd() bool {
	return strings.HasPrefix(filepath.Base(p.argv0), "containerd")
}

// podsProcesses lists the processes (other than this one) whose command
// line mentions s.
func podsProcesses(s string) []podsProcess {
	entries, _ := os.ReadDir("/proc")
	var found []podsProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie or kernel thread
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		cmdline := strings.Join(args, " ")
		if strings.Contains(cmdline, s) {
			found = append(found, podsProcess{pid: pid, argv0: args[0], cmdline: cmdline})
		}
	}
	return found
}
