package nodeagent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
)

// A pod's sandbox gets the pod's host name in its own UTS namespace; a
// hostNetwork pod (az aks check-acr's canipull) shares the node's, where
// the runtime must set none.
func TestSandboxHostname(t *testing.T) {
	w := &podWorker{p: &Provider{cfg: &agentconfig.Node{Dir: "/nodes/n0"}}}
	for _, tc := range []struct {
		name        string
		spec        corev1.PodSpec
		hostname    string
		networkMode runtimeapi.NamespaceMode
	}{
		{"pod name", corev1.PodSpec{}, "web-1", runtimeapi.NamespaceMode_POD},
		{"spec.hostname", corev1.PodSpec{Hostname: "db"}, "db", runtimeapi.NamespaceMode_POD},
		{"host network", corev1.PodSpec{HostNetwork: true, Hostname: "ignored"}, "", runtimeapi.NamespaceMode_NODE},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", UID: "u1"}, Spec: tc.spec}
		cfg := w.sandboxConfig(pod)
		if cfg.Hostname != tc.hostname || cfg.Linux.SecurityContext.NamespaceOptions.Network != tc.networkMode {
			t.Errorf("%s: hostname %q, network %v; want %q, %v", tc.name, cfg.Hostname, cfg.Linux.SecurityContext.NamespaceOptions.Network, tc.hostname, tc.networkMode)
		}
	}
}
