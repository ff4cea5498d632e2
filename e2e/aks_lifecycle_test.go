package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAKSPodLifecycle checks what the node agents do as kubelets beyond
// the document, on one single-node cluster attached to a registry holding
// the test server as nginx:v1 (each step a sub-test, in order, sharing the
// cluster):
//
//   - crashloop: a container that keeps exiting 3 under restartPolicy
//     Always goes into CrashLoopBackOff, with its last termination
//     (exit code 3, reason Error), the previous container's logs and a
//     BackOff event;
//   - completed, failed: under restartPolicy Never a pod whose container
//     exits 0 Succeeds (Completed, its logs kept) and one exiting 2 Fails;
//   - never-pull: imagePullPolicy Never and an image the node lacks is
//     ErrImageNeverPull;
//   - not-found: a tag the registry lacks is ErrImagePull or
//     ImagePullBackOff, with a Failed event saying "not found";
//   - pull-secret: a registry not attached to the cluster refuses the
//     node, and its admin user's credentials in an imagePullSecret let the
//     pod run;
//   - config: env from a ConfigMap key, ConfigMap and Secret volumes and
//     the service account's files, read with kubectl exec;
//   - readiness: an HTTP readiness probe on the server's port makes the pod
//     Ready, one on a closed port keeps it Running but not Ready, with
//     Unhealthy events;
//   - delete: kubectl delete pod (default grace) removes a running pod.
//
// Every wait polls with a generous deadline (podsDeadline); nothing
// asserts on speed.
func TestAKSPodLifecycle(t *testing.T) {
	needContainerRuntime(t)
	s := startServer(t, aksEnv...)
	az := s.admin(t)

	// The test image, imported from a docker-registry (as in
	// TestAKSPodsDocumentReplay).
	src := startDistribution(t, "", "")
	pushTestServerImage(t, src.addr+"/library/nginx:latest", 0)

	// Names of their own: the registries of servers running side by side
	// share /etc/hosts.
	acr := fmt.Sprintf("lifeacr%08x", rand.Uint32())
	const cluster = "life"
	az.ok("group", "create", "-n", "rg", "-l", "eastus", "-o", "none")
	az.ok("acr", "create", "-n", acr, "-g", "rg", "--sku", "basic", "-o", "none")
	login := az.tsv("acr", "show", "-n", acr, "--query", "loginServer")
	az.ok("acr", "import", "-n", acr, "--source", src.addr+"/library/nginx:latest", "--image", "nginx:v1")

	mc := az.obj("aks", "create", "-n", cluster, "-g", "rg", "--attach-acr", acr, "--node-count", "1", "--generate-ssh-keys")
	if str(mc, "provisioningState") != "Succeeded" {
		t.Fatalf("aks create: %v", mc)
	}
	deleted := deleteClusterAtCleanup(t, az, "rg", cluster)
	kubeconfig := filepath.Join(t.TempDir(), "config")
	az.ok("aks", "get-credentials", "-g", "rg", "-n", cluster, "--file", kubeconfig)
	k := &podsKubectl{t: t, az: az, kubeconfig: kubeconfig, s: s, clusterDir: podsClusterDir(t, s)}

	k.eventually("1 node Ready", podsDeadline, func() string { return k.checkNodesReady(1) })
	// The API server refuses pods until the service account controller
	// has made the namespace's default service account.
	k.eventually("the default service account of namespace default", podsDeadline, func() string {
		if r := k.run("get", "serviceaccount", "default", "-o", "name"); r.Code != 0 {
			return r.String()
		}
		return ""
	})
	image := login + "/nginx:v1"

	t.Run("crashloop", func(t *testing.T) {
		k := k.sub(t)
		// kubectl run's default restart policy is Always.
		k.ok("run", "crash", "--image="+image, "--restart=Always", "--command", "--", testServerPath, "-exit", "3")
		k.eventually("pod crash in CrashLoopBackOff after a restart, last terminated with exit code 3 (Error)", podsDeadline, func() string {
			p, x, msg := k.lifePod("crash")
			if msg != "" {
				return msg
			}
			if len(p.Status.ContainerStatuses) == 0 {
				return "pod crash: no container status yet: " + p.String()
			}
			cs := p.Status.ContainerStatuses[0]
			last := x.lastTerminated()
			switch {
			case p.waitingReason() != "CrashLoopBackOff":
				return "pod crash: " + p.String()
			case cs.RestartCount < 1:
				return "pod crash: no restart yet: " + p.String()
			case last == nil:
				return "pod crash: no lastState.terminated: " + p.String()
			case last.ExitCode != 3 || last.Reason != "Error":
				return fmt.Sprintf("pod crash: lastState.terminated is exit code %d reason %q, want 3 \"Error\": %s", last.ExitCode, last.Reason, p)
			}
			t.Logf("pod crash: %s; last terminated: exit code %d, %s", p, last.ExitCode, last.Reason)
			return ""
		})
		k.eventually("kubectl logs --previous crash says \"exiting with 3\"", podsDeadline, func() string {
			r := k.run("logs", "--previous", "crash")
			if r.Code != 0 || !strings.Contains(r.Stdout, "exiting with 3") {
				return r.String()
			}
			return ""
		})
		k.eventuallyEvent("crash", "BackOff", "Back-off restarting failed container")
	})

	// restartPolicy Never: the pod ends with its container's exit code.
	for _, tc := range []struct {
		pod, phase, reason string
		code               int
	}{
		{"completed", "Succeeded", "Completed", 0},
		{"failed", "Failed", "Error", 2},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			k := k.sub(t)
			k.ok("run", tc.pod, "--image="+image, "--restart=Never", "--command", "--", testServerPath, "-exit", fmt.Sprint(tc.code))
			k.eventually(fmt.Sprintf("pod %s %s, its container terminated %s with exit code %d", tc.pod, tc.phase, tc.reason, tc.code), podsDeadline, func() string {
				p, msg := k.pod(tc.pod)
				if msg != "" {
					return msg
				}
				if (p.Status.Phase == "Failed" || p.Status.Phase == "Succeeded") && p.Status.Phase != tc.phase {
					t.Fatalf("pod %s ended %s: %s\n%s", tc.pod, p.Status.Phase, p, k.diagnostics())
				}
				if p.Status.Phase != tc.phase || len(p.Status.ContainerStatuses) == 0 {
					return "pod " + tc.pod + ": " + p.String()
				}
				term := p.Status.ContainerStatuses[0].State.Terminated
				if term == nil || term.Reason != tc.reason || term.ExitCode != tc.code {
					return fmt.Sprintf("pod %s is %s, but its container is not terminated %s with exit code %d: %s", tc.pod, tc.phase, tc.reason, tc.code, p)
				}
				if n := p.Status.ContainerStatuses[0].RestartCount; n != 0 {
					t.Errorf("pod %s (restartPolicy Never) restarted %d times: %s", tc.pod, n, p)
				}
				return ""
			})
			want := fmt.Sprintf("exiting with %d", tc.code)
			k.eventually("kubectl logs "+tc.pod+" says \""+want+"\"", podsDeadline, func() string {
				r := k.run("logs", tc.pod)
				if r.Code != 0 || !strings.Contains(r.Stdout, want) {
					return r.String()
				}
				return ""
			})
		})
	}

	t.Run("never-pull", func(t *testing.T) {
		k := k.sub(t)
		k.ok("run", "neverpull", "--image="+login+"/nginx:absent", "--image-pull-policy=Never", "--restart=Never")
		k.waitPod("neverpull", "ErrImageNeverPull", func(p podsPod) bool { return p.waitingReason() == "ErrImageNeverPull" })
		// And it stays so: a kubelet never backs off pulling an image it
		// must not pull (imagePullPolicy Never is checked before the
		// image pull back-off), so the reason is not ImagePullBackOff in
		// between.
		var seen []string
		for i := 0; i < 15; i++ {
			time.Sleep(time.Second)
			p, msg := k.pod("neverpull")
			if msg != "" {
				t.Fatal(msg)
			}
			if r := p.waitingReason(); r != "ErrImageNeverPull" {
				seen = append(seen, fmt.Sprintf("after %ds: %s", i+1, p))
			}
		}
		if len(seen) > 0 {
			events, _ := k.events("neverpull")
			t.Errorf("pod neverpull (imagePullPolicy Never, image absent) left ErrImageNeverPull:\n%s\nevents: %s\n%s",
				strings.Join(seen, "\n"), podsEventsSummary(events), k.describe("neverpull"))
		}
	})

	t.Run("not-found", func(t *testing.T) {
		k := k.sub(t)
		k.ok("run", "notfound", "--image="+login+"/nginx:nosuchtag", "--image-pull-policy=IfNotPresent", "--restart=Never")
		k.waitPod("notfound", "ErrImagePull or ImagePullBackOff", func(p podsPod) bool {
			r := p.waitingReason()
			return r == "ErrImagePull" || r == "ImagePullBackOff"
		})
		k.eventuallyEvent("notfound", "Failed", "not found")
	})

	t.Run("pull-secret", func(t *testing.T) {
		k := k.sub(t)
		az := az.with(t)
		// A second registry, not attached to the cluster, with its admin
		// user.
		acr2 := fmt.Sprintf("lifesec%08x", rand.Uint32())
		az.ok("acr", "create", "-n", acr2, "-g", "rg", "--sku", "basic", "-o", "none")
		login2 := az.tsv("acr", "show", "-n", acr2, "--query", "loginServer")
		az.ok("acr", "update", "-n", acr2, "--admin-enabled", "true", "-o", "none")
		user := az.tsv("acr", "credential", "show", "-n", acr2, "--query", "username")
		pass := az.tsv("acr", "credential", "show", "-n", acr2, "--query", "passwords[0].value")
		az.ok("acr", "import", "-n", acr2, "--source", src.addr+"/library/nginx:latest", "--image", "nginx:v1")
		image2 := login2 + "/nginx:v1"

		// Without a pull secret the node cannot pull (its kubelet identity
		// has no role on the registry).
		k.apply("nosecret", lifePodYAML("nosecret", image2, "", ""))
		k.eventually("pod nosecret refused its image (ErrImagePull or ImagePullBackOff, a Failed event with 401 Unauthorized)", podsDeadline, func() string {
			p, msg := k.pod("nosecret")
			if msg != "" {
				return msg
			}
			if p.Status.Phase == "Running" || p.Status.Phase == "Succeeded" {
				t.Fatalf("pod nosecret pulled %s from a registry not attached to the cluster without a pull secret: %s\n%s", image2, p, k.diagnostics())
			}
			if r := p.waitingReason(); r != "ErrImagePull" && r != "ImagePullBackOff" {
				return "pod nosecret: " + p.String()
			}
			events, msg := k.events("nosecret")
			if msg != "" {
				return msg
			}
			for _, e := range events {
				if e.Reason == "Failed" && strings.Contains(e.Message, "401 Unauthorized") {
					t.Logf("pod nosecret: %s; event %s %s: %s", p, e.Type, e.Reason, e.Message)
					return ""
				}
			}
			return fmt.Sprintf("pod nosecret is %s, but no Failed event mentions \"401 Unauthorized\": %s", p.waitingReason(), podsEventsSummary(events))
		})

		// With the admin user's credentials in an image pull secret it
		// runs.
		k.ok("create", "secret", "docker-registry", "regcred", "--docker-server="+login2, "--docker-username="+user, "--docker-password="+pass)
		k.apply("withsecret", lifePodYAML("withsecret", image2, "", "  imagePullSecrets:\n  - name: regcred\n"))
		k.waitRunningAndReady("withsecret")
	})

	t.Run("config", func(t *testing.T) {
		k := k.sub(t)
		k.ok("create", "configmap", "greetings", "--from-literal=greeting=hello-config")
		k.ok("create", "secret", "generic", "tokens", "--from-literal=token=s3cret")
		k.apply("config", lifePodYAML("config", image, `    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef:
          name: greetings
          key: greeting
    volumeMounts:
    - name: cfg
      mountPath: /etc/cfg
    - name: sec
      mountPath: /etc/sec
      readOnly: true
`, `  volumes:
  - name: cfg
    configMap:
      name: greetings
  - name: sec
    secret:
      secretName: tokens
`))
		k.waitRunningAndReady("config")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"-getenv", "GREETING"}, "hello-config"},
			{[]string{"-cat", "/etc/cfg/greeting"}, "hello-config"},
			{[]string{"-cat", "/etc/sec/token"}, "s3cret"},
			{[]string{"-cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace"}, "default"},
		} {
			args := append([]string{"exec", "config", "--", testServerPath}, c.args...)
			r := k.run(args...)
			if got := strings.TrimSpace(r.Stdout); r.Code != 0 || got != c.want {
				t.Errorf("kubectl %s: want %q:\n%s\n%s", strings.Join(args, " "), c.want, r, k.describe("config"))
			}
		}
	})

	t.Run("readiness", func(t *testing.T) {
		k := k.sub(t)
		probe := func(port int) string {
			return fmt.Sprintf(`    readinessProbe:
      httpGet:
        path: /
        port: %d
      periodSeconds: 1
`, port)
		}
		k.apply("probe-ok", lifePodYAML("probe-ok", image, probe(80), ""))
		k.apply("probe-bad", lifePodYAML("probe-bad", image, probe(81), ""))
		k.eventually("pod probe-ok Ready", podsDeadline, func() string {
			p, x, msg := k.lifePod("probe-ok")
			if msg != "" {
				return msg
			}
			if !p.runningAndReady() || x.condition("Ready") != "True" {
				return fmt.Sprintf("pod probe-ok: %s, condition Ready=%q", p, x.condition("Ready"))
			}
			return ""
		})
		k.waitPod("probe-bad", "Running", func(p podsPod) bool {
			return p.Status.Phase == "Running" && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil
		})
		// Running, it stays not Ready: its probe gets no answer on port 81.
		for i := 0; i < 6; i++ {
			p, x, msg := k.lifePod("probe-bad")
			if msg != "" {
				t.Fatal(msg)
			}
			ready := len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready
			if p.Status.Phase != "Running" || ready || x.condition("Ready") != "False" {
				t.Fatalf("pod probe-bad, probed on a closed port, must stay Running and not Ready: %s, condition Ready=%q\n%s",
					p, x.condition("Ready"), k.diagnostics())
			}
			time.Sleep(time.Second)
		}
		k.eventuallyEvent("probe-bad", "Unhealthy", "Readiness probe failed")
	})

	t.Run("delete", func(t *testing.T) {
		k := k.sub(t)
		pod := "probe-ok"
		if p, msg := k.pod(pod); msg != "" || !p.runningAndReady() {
			// The readiness step failed: a running pod of its own.
			pod = "doomed"
			k.ok("run", pod, "--image="+image)
			k.waitRunningAndReady("doomed")
		}
		began := time.Now()
		// --timeout only bounds kubectl's wait for the pod to go, against
		// a hang; the grace period is the default one.
		k.ok("delete", "pod", pod, "--timeout="+podsDeadline.String())
		t.Logf("kubectl delete pod %s returned after %s", pod, time.Since(began).Round(time.Millisecond))
		k.eventually("pod "+pod+" gone", podsDeadline, func() string {
			r := k.run("get", "pod", pod, "-o", "name")
			if r.Code == 0 || !strings.Contains(r.Stderr, "NotFound") {
				return r.String()
			}
			return ""
		})
	})

	az.ok("aks", "delete", "-n", cluster, "-g", "rg", "--yes")
	*deleted = true
}

// sub is k reporting to a sub-test.
func (k *podsKubectl) sub(t *testing.T) *podsKubectl {
	c := *k
	c.t = t
	c.az = k.az.with(t)
	return &c
}

// apply writes a manifest to a file and runs kubectl apply -f on it.
func (k *podsKubectl) apply(name, manifest string) {
	k.t.Helper()
	path := filepath.Join(k.t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		k.t.Fatal(err)
	}
	k.ok("apply", "-f", path)
}

// describe is kubectl describe pod, for messages.
func (k *podsKubectl) describe(pod string) string {
	r := k.az.run(k.args([]string{"describe", "pod", pod})...)
	return fmt.Sprintf("--- kubectl describe pod %s (exit %d)\n%s%s", pod, r.Code, r.Stdout, r.Stderr)
}

// eventuallyEvent waits for an event about pod with the reason whose
// message contains text.
func (k *podsKubectl) eventuallyEvent(pod, reason, text string) {
	k.t.Helper()
	k.eventually(fmt.Sprintf("an event %s about pod %s whose message contains %q", reason, pod, text), podsDeadline, func() string {
		events, msg := k.events(pod)
		if msg != "" {
			return msg
		}
		for _, e := range events {
			if e.Reason == reason && strings.Contains(e.Message, text) {
				k.t.Logf("event about pod %s: %s %s: %s", pod, e.Type, e.Reason, e.Message)
				return ""
			}
		}
		return podsEventsSummary(events)
	})
}

// lifePodYAML is a pod of one container named server, pulling its image
// Always: container adds lines to the container (indented by four), spec
// to the pod's spec (indented by two).
func lifePodYAML(name, image, container, spec string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  containers:
  - name: server
    image: ` + image + `
    imagePullPolicy: Always
` + container + spec
}

// lifePodStatus is the part of a pod's status podsPod leaves out.
type lifePodStatus struct {
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		ContainerStatuses []struct {
			LastState struct {
				Terminated *lifeTerminated `json:"terminated"`
			} `json:"lastState"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// lifeTerminated is a container's terminated state.
type lifeTerminated struct {
	Reason   string `json:"reason"`
	ExitCode int    `json:"exitCode"`
}

// condition is the status of the pod's condition typ ("" if absent).
func (x lifePodStatus) condition(typ string) string {
	for _, c := range x.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

// lastTerminated is the first container's lastState.terminated.
func (x lifePodStatus) lastTerminated() *lifeTerminated {
	if len(x.Status.ContainerStatuses) == 0 {
		return nil
	}
	return x.Status.ContainerStatuses[0].LastState.Terminated
}

// lifePod gets a pod of namespace default with its conditions and last
// states.
func (k *podsKubectl) lifePod(name string) (podsPod, lifePodStatus, string) {
	k.t.Helper()
	var p podsPod
	var x lifePodStatus
	r := k.run("get", "pod", name, "-o", "json")
	if r.Code != 0 {
		return p, x, r.String()
	}
	if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil {
		return p, x, fmt.Sprintf("kubectl get pod %s -o json: %v\n%s", name, err, r.Stdout)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &x); err != nil {
		return p, x, fmt.Sprintf("kubectl get pod %s -o json: %v\n%s", name, err, r.Stdout)
	}
	return p, x, ""
}
