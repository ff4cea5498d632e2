package nodeagent

import "testing"

func TestNodeHostPath(t *testing.T) {
	const node = "/data/clusters/c1/nodes/n0"
	for _, tc := range []struct{ path, want string }{
		{"/etc/kubernetes", node + "/etc-kubernetes"},
		{"/etc/kubernetes/", node + "/etc-kubernetes"},
		{"/etc/kubernetes/azure.json", node + "/etc-kubernetes/azure.json"},
		{"/etc/kubernetes/certs/./ca.crt", node + "/etc-kubernetes/certs/ca.crt"},
		{"//etc//kubernetes", node + "/etc-kubernetes"},
		{"/etc/kubernetes/../hosts", "/etc/kubernetes/../hosts"}, // not below /etc/kubernetes
		{"/etc/kubernetes-other", "/etc/kubernetes-other"},
		{"/etc/ssl/certs", "/etc/ssl/certs"},
		{"/var/log", "/var/log"},
		{"/etc", "/etc"},
	} {
		if got := nodeHostPath(node, tc.path); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, got, tc.want)
		}
	}
}
