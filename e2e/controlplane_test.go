package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/drydock-dev/drydock/internal/cluster/cpconfig"
)

// controlPlaneStopTimeout bounds a graceful stop of a control plane; a
// safety net, not a performance assertion.
const controlPlaneStopTimeout = 90 * time.Second

// controlPlane is a `drydock cluster-controlplane` subprocess.
type controlPlane struct {
	t          *testing.T
	dir        string // data dir
	configFile string
	port       int
	stderr     string // file
	cmd        *exec.Cmd
	done       chan error
	started    time.Time
	http       *http.Client // admin credentials from admin.kubeconfig
	server     string
}

func writeCPConfig(t *testing.T, root string, cfg cpconfig.Config) string {
	t.Helper()
	path := filepath.Join(root, cpconfig.FileName)
	if err := os.WriteFile(path, cfg.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startControlPlane starts the control plane and waits until /readyz
// answers 200 with the cluster CA.
func startControlPlane(t *testing.T, configFile string, cfg cpconfig.Config) *controlPlane {
	t.Helper()
	cp := &controlPlane{t: t, dir: cfg.DataDir, configFile: configFile, port: cfg.APIServerPort,
		stderr: filepath.Join(filepath.Dir(configFile), fmt.Sprintf("stderr-%d.log", time.Now().UnixNano()))}
	cp.server = fmt.Sprintf("https://127.0.0.1:%d", cfg.APIServerPort)
	errFile, err := os.Create(cp.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cp.cmd = exec.Command(bin, "cluster-controlplane", "--config", configFile)
	cp.cmd.Env = baseEnv(t.TempDir())
	cp.cmd.Stdout, cp.cmd.Stderr = errFile, errFile
	cp.started = time.Now()
	if err := cp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cp.done = make(chan error, 1)
	go func() { cp.done <- cp.cmd.Wait() }()
	t.Cleanup(func() {
		if cp.cmd.ProcessState == nil {
			cp.cmd.Process.Kill()
			<-cp.done
		}
	})
	if err := cp.waitReady(readinessTimeout); err != nil {
		cp.cmd.Process.Kill()
		<-cp.done
		t.Fatalf("control plane not ready: %v\nstderr:\n%s\nlog (tail):\n%s", err, cp.readStderr(), cp.logTail(60))
	}
	return cp
}

func (cp *controlPlane) readStderr() string {
	b, _ := os.ReadFile(cp.stderr)
	return string(b)
}

func (cp *controlPlane) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(cp.dir, "controlplane.log"))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (cp *controlPlane) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	caFile := filepath.Join(cp.dir, "pki", "ca.crt")
	var hc *http.Client
	for {
		select {
		case err := <-cp.done:
			cp.done <- err
			return fmt.Errorf("the process exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		if hc == nil {
			if c, err := httpClient(caFile); err == nil {
				hc = c
				hc.Timeout = 2 * time.Second
			}
		}
		if hc != nil {
			if resp, err := hc.Get(cp.server + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and checks that the process exits 0.
func (cp *controlPlane) stop() time.Duration {
	cp.t.Helper()
	start := time.Now()
	if err := cp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		cp.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case err := <-cp.done:
		if err != nil {
			cp.t.Fatalf("control plane did not exit cleanly after SIGTERM: %v\nstderr:\n%s\nlog (tail):\n%s", err, cp.readStderr(), cp.logTail(60))
		}
	case <-time.After(controlPlaneStopTimeout):
		cp.cmd.Process.Kill()
		<-cp.done
		cp.t.Fatalf("control plane did not stop within %s after SIGTERM\nlog (tail):\n%s", controlPlaneStopTimeout, cp.logTail(60))
	}
	return time.Since(start)
}

// rssMB is the process' resident set size in MiB.
func (cp *controlPlane) rssMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cp.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

// kubeconfigFile is the part of a kubeconfig the test reads.
type kubeconfigFile struct {
	Clusters []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthorityData []byte `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			ClientCertificateData []byte `json:"client-certificate-data"`
			ClientKeyData         []byte `json:"client-key-data"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
	CurrentContext string `json:"current-context"`
}

// loadKubeconfig checks a kubeconfig's shape and returns an HTTP client
// with its credentials.
func loadKubeconfig(t *testing.T, path, cluster, server, user string) *http.Client {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeconfigFile
	if err := yaml.Unmarshal(b, &kc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(kc.Clusters) != 1 || len(kc.Users) != 1 || len(kc.Contexts) != 1 {
		t.Fatalf("%s: want one cluster, user and context:\n%s", path, b)
	}
	c, u, x := kc.Clusters[0], kc.Users[0], kc.Contexts[0]
	if c.Name != cluster || c.Cluster.Server != server || u.Name != user || x.Name != cluster ||
		x.Context.Cluster != cluster || x.Context.User != user || kc.CurrentContext != cluster {
		t.Fatalf("%s: want cluster and context %q, server %s, user %q:\n%s", path, cluster, server, user, b)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.Cluster.CertificateAuthorityData) {
		t.Fatalf("%s: no certificate-authority-data", path)
	}
	pair, err := tls.X509KeyPair(u.User.ClientCertificateData, u.User.ClientKeyData)
	if err != nil {
		t.Fatalf("%s: client certificate: %v", path, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "masterclient" || strings.Join(leaf.Subject.Organization, ",") != "system:masters" {
		t.Errorf("%s: client certificate subject %s, want CN=masterclient, O=system:masters", path, leaf.Subject)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{pair},
	}}}
}

// api sends a request to the apiserver and decodes a JSON answer into out
// (if not nil); it returns the status code.
func (cp *controlPlane) api(method, path string, body any, out any) int {
	cp.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			cp.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, cp.server+path, rd)
	if err != nil {
		cp.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := cp.http.Do(req)
	if err != nil {
		cp.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cp.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			cp.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// eventually polls check until it returns "" or the timeout passes.
func (cp *controlPlane) eventually(what string, timeout time.Duration, check func() string) time.Duration {
	cp.t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		if last = check(); last == "" {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cp.t.Fatalf("%s: still not so after %s: %s\nlog (tail):\n%s", what, timeout, last, cp.logTail(40))
	return 0
}

type objectList struct {
	Items []struct {
		Metadata struct {
			Name            string `json:"name"`
			OwnerReferences []struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"ownerReferences"`
		} `json:"metadata"`
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
		Status struct {
			Phase      string `json:"phase"`
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
				Reason string `json:"reason"`
			} `json:"conditions"`
		} `json:"status"`
	} `json:"items"`
}

type lease struct {
	Spec struct {
		HolderIdentity string `json:"holderIdentity"`
	} `json:"spec"`
}

func (cp *controlPlane) leaseHolder(name string) string {
	var l lease
	if cp.api("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"+name, nil, &l) != http.StatusOK {
		return ""
	}
	return l.Spec.HolderIdentity
}

// TestControlPlane runs one cluster's control plane, drives it over the
// Kubernetes API (and with kubectl, when installed), stops it and starts it
// again on the same data.
func TestControlPlane(t *testing.T) {
	root := t.TempDir()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	cfg := cpconfig.Config{
		Name:              "myAKSCluster",
		DataDir:           filepath.Join(root, "data"),
		APIServerAddress:  "127.0.0.1",
		APIServerPort:     port,
		FQDN:              "myakscluster-rg-abc123.hcp.eastus.azmk8s.io",
		ServiceCIDR:       "10.0.0.0/16",
		PodCIDR:           "10.244.0.0/16",
		DNSServiceIP:      "10.0.0.10",
		KubernetesVersion: "1.37.2",
	}
	configFile := writeCPConfig(t, root, cfg)

	cp := startControlPlane(t, configFile, cfg)
	readyAfter := time.Since(cp.started)
	rss := cp.rssMB()
	adminKC := filepath.Join(cfg.DataDir, "admin.kubeconfig")
	userKC := filepath.Join(cfg.DataDir, "user.kubeconfig")
	cp.http = loadKubeconfig(t, adminKC, cfg.Name, cp.server, "clusterAdmin_"+cfg.Name)
	userHTTP := loadKubeconfig(t, userKC, cfg.Name, cp.server, "clusterUser_"+cfg.Name)

	// The serving certificate's names.
	leaf := cp.servingCert(t)
	for _, name := range []string{"localhost", cfg.FQDN, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("serving certificate: %v", err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "10.0.0.1"} {
		if err := leaf.VerifyHostname(ip); err != nil {
			t.Errorf("serving certificate: %v", err)
		}
	}

	var version struct {
		Major, Minor string
		GitVersion   string `json:"gitVersion"`
	}
	if code := cp.api("GET", "/version", nil, &version); code != http.StatusOK || version.GitVersion != "v1.37.2" || version.Major != "1" || version.Minor != "37" {
		t.Errorf("/version: %d %+v, want v1.37.2", code, version)
	}

	var nss objectList
	if code := cp.api("GET", "/api/v1/namespaces", nil, &nss); code != http.StatusOK {
		t.Fatalf("list namespaces: %d", code)
	}
	have := map[string]bool{}
	for _, ns := range nss.Items {
		have[ns.Metadata.Name] = true
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if !have[ns] {
			t.Errorf("namespace %s missing: %v", ns, have)
		}
	}
	req, _ := http.NewRequest("GET", cp.server+"/api/v1/namespaces/default", nil)
	if resp, err := userHTTP.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("user.kubeconfig cannot read namespace default: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	// A Deployment: the controller manager makes a ReplicaSet and Pods,
	// the scheduler finds no node for them.
	deploy := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec": map[string]any{
			"replicas": 2,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": "myacr.azurecr.io/web:v1"}}},
			},
		},
	}
	if code := cp.api("POST", "/apis/apps/v1/namespaces/default/deployments", deploy, nil); code != http.StatusCreated {
		t.Fatalf("create deployment: %d", code)
	}
	created := time.Now()
	cp.eventually("a ReplicaSet owned by the Deployment", 60*time.Second, func() string {
		var rs objectList
		cp.api("GET", "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dweb", nil, &rs)
		if len(rs.Items) != 1 || len(rs.Items[0].Metadata.OwnerReferences) != 1 || rs.Items[0].Metadata.OwnerReferences[0].Name != "web" {
			return fmt.Sprintf("replicasets: %+v", rs.Items)
		}
		return ""
	})
	podsAfter := cp.eventually("two Pending Pods the scheduler found unschedulable", 60*time.Second, func() string {
		return cp.checkPendingPods(2)
	})
	t.Logf("deployment → 2 unschedulable pods in %s", time.Since(created).Round(time.Millisecond))
	_ = podsAfter

	schedHolder := cp.leaseHolder("kube-scheduler")
	cmHolder := cp.leaseHolder("kube-controller-manager")
	if schedHolder == "" || cmHolder == "" {
		t.Errorf("leases: kube-scheduler held by %q, kube-controller-manager by %q; want both held", schedHolder, cmHolder)
	}

	// kubectl must parse the version and read the cluster: the installed
	// one when there is one, else the kubectl built into drydock.
	{
		kubectl, prefix := bin, []string{"kubectl"}
		if path, err := exec.LookPath("kubectl"); err == nil {
			kubectl, prefix = path, nil
		}
		// A home of its own: kubectl caches discovery in ~/.kube.
		kubectlEnv := baseEnv(t.TempDir())
		kubectlCmd := func(args ...string) *exec.Cmd {
			c := exec.Command(kubectl, append(append([]string{}, prefix...), args...)...)
			c.Env = kubectlEnv
			return c
		}
		out, err := kubectlCmd("--kubeconfig", adminKC, "version", "-o", "json").Output()
		var v struct {
			ServerVersion struct {
				GitVersion string `json:"gitVersion"`
			} `json:"serverVersion"`
		}
		if err != nil || json.Unmarshal(out, &v) != nil || v.ServerVersion.GitVersion != "v1.37.2" {
			t.Errorf("kubectl version: %v\n%s", err, out)
		}
		for _, kc := range []string{adminKC, userKC} {
			out, err := kubectlCmd("--kubeconfig", kc, "get", "deployments,replicasets,pods", "-n", "default").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "deployment.apps/web") {
				t.Errorf("kubectl --kubeconfig %s get: %v\n%s", filepath.Base(kc), err, out)
			}
		}
	}

	stoppedIn := cp.stop()
	if s := cp.readStderr(); strings.TrimSpace(s) != "" {
		t.Logf("stderr of the first run:\n%s", s)
	}

	// Again on the same data: the objects are back, and the new process
	// takes over the leases.
	cp2 := startControlPlane(t, configFile, cfg)
	readyAgain := time.Since(cp2.started)
	cp2.http = cp.http
	if code := cp2.api("GET", "/apis/apps/v1/namespaces/default/deployments/web", nil, nil); code != http.StatusOK {
		t.Errorf("deployment after restart: %d", code)
	}
	if msg := cp2.checkPendingPods(2); msg != "" {
		t.Errorf("pods after restart: %s", msg)
	}
	leaseAfter := cp2.eventually("the new scheduler holds its lease", 60*time.Second, func() string {
		if h := cp2.leaseHolder("kube-scheduler"); h == "" || h == schedHolder {
			return "holder " + h
		}
		if h := cp2.leaseHolder("kube-controller-manager"); h == "" || h == cmHolder {
			return "controller-manager holder " + h
		}
		return ""
	})
	// The controller manager works again: scale the Deployment.
	scale := map[string]any{"spec": map[string]any{"replicas": 3}}
	if code := cp2.patch("/apis/apps/v1/namespaces/default/deployments/web", scale); code != http.StatusOK {
		t.Errorf("scale deployment: %d", code)
	}
	cp2.eventually("three Pending Pods after scaling", 60*time.Second, func() string { return cp2.checkPendingPods(3) })
	stoppedAgainIn := cp2.stop()
	if s := cp2.readStderr(); strings.TrimSpace(s) != "" {
		t.Logf("stderr of the second run:\n%s", s)
	}

	var dbSize int64
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, "state.db")); err == nil {
		dbSize = fi.Size()
	}
	t.Logf("measured: start→/readyz %s (first start, incl. certificates), %s (restart); RSS after ready %.0f MiB; "+
		"SIGTERM→exit %s, %s; leases taken over %s after restart-ready; state.db %d KiB",
		readyAfter.Round(time.Millisecond), readyAgain.Round(time.Millisecond), rss,
		stoppedIn.Round(time.Millisecond), stoppedAgainIn.Round(time.Millisecond), leaseAfter.Round(time.Millisecond), dbSize/1024)
}

func (cp *controlPlane) patch(path string, body any) int {
	cp.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("PATCH", cp.server+path, bytes.NewReader(b))
	if err != nil {
		cp.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	resp, err := cp.http.Do(req)
	if err != nil {
		cp.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkPendingPods returns "" when the Deployment has n Pods, all Pending,
// on no node, and marked unschedulable by the scheduler.
func (cp *controlPlane) checkPendingPods(n int) string {
	var pods objectList
	cp.api("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb", nil, &pods)
	if len(pods.Items) != n {
		return fmt.Sprintf("%d pods", len(pods.Items))
	}
	for _, p := range pods.Items {
		unschedulable := false
		for _, c := range p.Status.Conditions {
			if c.Type == "PodScheduled" && c.Status == "False" && c.Reason == "Unschedulable" {
				unschedulable = true
			}
		}
		if p.Status.Phase != "Pending" || p.Spec.NodeName != "" || !unschedulable {
			return fmt.Sprintf("pod %s: phase %s, node %q, conditions %+v", p.Metadata.Name, p.Status.Phase, p.Spec.NodeName, p.Status.Conditions)
		}
	}
	return ""
}

// servingCert returns the apiserver's certificate.
func (cp *controlPlane) servingCert(t *testing.T) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", cp.port), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestControlPlaneBadConfig: a configuration the control plane cannot run
// fails at once with one error line.
func TestControlPlaneBadConfig(t *testing.T) {
	root := t.TempDir()
	cfg := cpconfig.Config{Name: "c1", DataDir: filepath.Join(root, "data"), APIServerAddress: "127.0.0.1", APIServerPort: 1,
		ServiceCIDR: "10.0.0.0/16", PodCIDR: "10.244.0.0/16", DNSServiceIP: "10.0.0.10", KubernetesVersion: "1.30.0"}
	configFile := writeCPConfig(t, root, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "cluster-controlplane", "--config", configFile).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit code 1, got %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "ERROR: ") || !strings.Contains(string(out), "kubernetesVersion 1.30.0 is not available") {
		t.Errorf("want one ERROR line naming the version:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "pki")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected configuration created %s (stat: %v)", filepath.Join(cfg.DataDir, "pki"), err)
	}
}
