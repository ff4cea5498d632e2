// Package agentconfig is the wire format between the drydock server and
// the node agents it runs (`drydock cluster-node --config <file>`): one JSON
// file per node. It lives apart from the agent so that the server, which
// writes it, does not link Kubernetes.
package agentconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// Files in a node's directory.
const (
	// FileName is the node's configuration.
	FileName = "node.json"
	// ReadyFile is written by the agent once its Node is registered; the
	// server removes it before starting the agent and waits for it.
	ReadyFile = "agent.ready"
	// RuntimeDir holds the node's containerd: config, root, state, socket.
	RuntimeDir = "runtime"
	// EtcKubernetesDir is the node's /etc/kubernetes, as on an AKS node:
	// azure.json, the host credential (HostCredentialFile) and drydock's
	// CA (CAFile), azure.json naming the other two relative to itself.
	// Pods' hostPath volumes of /etc/kubernetes show this directory, so
	// the same azure.json serves the credential provider on the host and
	// canipull in a pod.
	EtcKubernetesDir = "etc-kubernetes"
	// AzureJSONFile, HostCredentialFile and CAFile are in EtcKubernetesDir.
	AzureJSONFile      = "azure.json"
	HostCredentialFile = "host-credential"
	CAFile             = "ca.crt"
)

// EtcKubernetes is the node's /etc/kubernetes directory on the host.
func EtcKubernetes(dir string) string { return filepath.Join(dir, EtcKubernetesDir) }

// AzureJSON is the path of the node's azure.json on the host.
func AzureJSON(dir string) string { return filepath.Join(dir, EtcKubernetesDir, AzureJSONFile) }

// Node describes one node of an agent pool.
type Node struct {
	// Name is the Kubernetes node name (aks-<pool>-<n>-vmss<index>).
	Name string `json:"name"`
	// Cluster, Pool, Mode, VMSize, Location and NodeResourceGroup end up in
	// the node's labels, as on AKS.
	Cluster           string `json:"cluster"`
	Pool              string `json:"pool"`
	Mode              string `json:"mode"`
	VMSize            string `json:"vmSize"`
	Location          string `json:"location"`
	NodeResourceGroup string `json:"nodeResourceGroup"`
	// ProviderID is the node's spec.providerID (azure:///subscriptions/…).
	ProviderID string `json:"providerID"`
	// Dir is the node's directory: its /etc/kubernetes (EtcKubernetesDir),
	// the runtime (containerd root, state, socket), pod volumes and logs.
	Dir string `json:"dir"`
	// ControlPlaneDir is the cluster's control-plane directory; the agent
	// reads the cluster CA there to issue its own certificates.
	ControlPlaneDir string `json:"controlPlaneDir"`
	// APIServer is the API server's URL.
	APIServer string `json:"apiServer"`
	// PodSubnet is the node's pod CIDR; Bridge the Linux bridge its pods
	// attach to. Both are unique on this machine.
	PodSubnet string `json:"podSubnet"`
	Bridge    string `json:"bridge"`
	// MaxPods is the node's pod capacity.
	MaxPods int `json:"maxPods"`
	// KubeletIdentityClientID is the client ID of the kubelet identity.
	KubeletIdentityClientID string `json:"kubeletIdentityClientId"`
	// RegistryCAFile is drydock's CA, which the runtime trusts for
	// registries.
	RegistryCAFile string `json:"registryCAFile"`
	// RegistrySuffix is the login-server suffix (optionally with a port)
	// the credential provider is configured for.
	RegistrySuffix string `json:"registrySuffix"`
	// ImageCacheDir is shared by the nodes of every cluster of the server:
	// what building the images drydock gives its nodes (the canipull
	// image) computes once per drydock executable. "" for no cache.
	ImageCacheDir string `json:"imageCacheDir,omitempty"`
}

// Validate checks the fields the agent cannot do without.
func (n *Node) Validate() error {
	switch {
	case n.Name == "":
		return fmt.Errorf("node config: name is required")
	case n.Dir == "" || !filepath.IsAbs(n.Dir):
		return fmt.Errorf("node config: dir must be an absolute path")
	case n.ControlPlaneDir == "" || !filepath.IsAbs(n.ControlPlaneDir):
		return fmt.Errorf("node config: controlPlaneDir must be an absolute path")
	case n.APIServer == "":
		return fmt.Errorf("node config: apiServer is required")
	case n.Bridge == "" || len(n.Bridge) > 15:
		return fmt.Errorf("node config: bridge must be 1 to 15 characters")
	}
	if _, err := netip.ParsePrefix(n.PodSubnet); err != nil {
		return fmt.Errorf("node config: podSubnet: %v", err)
	}
	return nil
}

// Path is the configuration file of the node in dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// Load reads and validates a node configuration file, refusing unknown
// fields.
func Load(path string) (*Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var n Node
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := n.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &n, nil
}
