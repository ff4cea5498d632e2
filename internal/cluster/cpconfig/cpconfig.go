// Package cpconfig is the wire format between the drydock server and the
// control planes it runs (`drydock cluster-controlplane --config <file>`):
// one JSON file per cluster, with its defaults. It lives apart from
// internal/cluster/controlplane, which links Kubernetes, so that the server
// (which writes the file) and the tests (which write it by hand) do not;
// internal/cluster/agentconfig is its counterpart for node agents.
package cpconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// KubernetesVersion is the one Kubernetes version compiled into drydock.
const KubernetesVersion = "1.37.2"

// FileName is the configuration file's name in the control plane's data
// directory.
const FileName = "controlplane.json"

// AKS's default networks, and the address the apiserver binds to.
const (
	DefaultAPIServerAddress = "127.0.0.1"
	DefaultServiceCIDR      = "10.0.0.0/16"
	DefaultPodCIDR          = "10.244.0.0/16"
	DefaultDNSServiceIP     = "10.0.0.10"
)

// Config describes one cluster's control plane.
type Config struct {
	// Name is the cluster's name (the kubeconfigs' cluster and context name).
	Name string `json:"name"`
	// DataDir holds the cluster's certificates, kubeconfigs, state and log.
	DataDir string `json:"dataDir"`
	// APIServerAddress is the IP address the apiserver binds to.
	APIServerAddress string `json:"apiServerAddress"`
	// APIServerPort is the apiserver's HTTPS port.
	APIServerPort int `json:"apiServerPort"`
	// FQDN is the cluster's API server name (in the serving certificate, and
	// the service-account token issuer https://<fqdn>).
	FQDN string `json:"fqdn"`
	// ServiceCIDR is the range of service cluster IPs.
	ServiceCIDR string `json:"serviceCIDR"`
	// PodCIDR is the range from which nodes get their pod CIDRs.
	PodCIDR string `json:"podCIDR"`
	// DNSServiceIP is the cluster DNS service's IP, inside ServiceCIDR.
	DNSServiceIP string `json:"dnsServiceIP"`
	// KubernetesVersion must be KubernetesVersion (or its major.minor).
	KubernetesVersion string `json:"kubernetesVersion"`
	// Datastore is where kine keeps the cluster's objects: "" for SQLite
	// (state.db in DataDir), or a postgres:// URL (the drydock server's
	// metadata database), with DatastoreSchema the schema of the cluster's
	// tables there, which the control plane creates if it is missing.
	Datastore       string `json:"datastore,omitempty"`
	DatastoreSchema string `json:"datastoreSchema,omitempty"`
}

// Default returns the configuration of a cluster named name whose
// apiserver listens on 127.0.0.1:port, with AKS's default networks.
func Default(name, dataDir string, port int) Config {
	return Config{
		Name:              name,
		DataDir:           dataDir,
		APIServerAddress:  DefaultAPIServerAddress,
		APIServerPort:     port,
		FQDN:              dnsLabel(name) + ".hcp.eastus.azmk8s.io",
		ServiceCIDR:       DefaultServiceCIDR,
		PodCIDR:           DefaultPodCIDR,
		DNSServiceIP:      DefaultDNSServiceIP,
		KubernetesVersion: KubernetesVersion,
	}
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsLabel turns a cluster name into a DNS label.
func dnsLabel(name string) string {
	l := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(l) > 63 {
		l = strings.TrimRight(l[:63], "-")
	}
	if l == "" {
		l = "cluster"
	}
	return l
}

// Path is the configuration file of the control plane whose data
// directory is dataDir.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Encode is the file's content.
func (c Config) Encode() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return b
}

// Load reads a configuration file, refusing unknown fields. It does not
// validate the values: the control plane does, with its defaults.
func Load(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %v", path, err)
	}
	return c, nil
}
