// Package controlplane runs one cluster's upstream Kubernetes control plane
// in the current process: kube-apiserver, kube-controller-manager and
// kube-scheduler (k8s.io/kubernetes, KubernetesVersion), with kine keeping
// the cluster state in SQLite (or PostgreSQL) in place of etcd.
//
// It is the only package of drydock that imports Kubernetes' server code.
// Kubernetes keeps much of its state in globals (feature gates, metrics,
// component registries), so a process runs at most one control plane: the
// drydock server starts `drydock cluster-controlplane --config <file>` once
// per running cluster, and stopping that process frees the cluster's memory.
//
// Everything lives in Config.DataDir:
//
//	pki/                 cluster CA, front-proxy CA, service-account keys,
//	                     serving and client certificates, the components' kubeconfigs
//	admin.kubeconfig     cluster-admin credentials (system:masters)
//	user.kubeconfig      user credentials (the same for a local-accounts cluster)
//	state.db             kine's SQLite database (WAL), unless Config.Datastore
//	                     names a PostgreSQL database (then kine's table is
//	                     there, in schema Config.DatastoreSchema)
//	kine.sock            kine's endpoint for the apiserver (mode 0600)
//	controlplane.log     the components' logs (errors also go to stderr)
//	flexvolume/          the controller manager's (empty) FlexVolume plugin directory
//
// The control plane is ready when https://<apiServerAddress>:<apiServerPort>/readyz
// answers 200 to a client trusting pki/ca.crt. Run again on the same DataDir,
// it brings the cluster back with its objects.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/drydock-dev/drydock/internal/cluster/cpconfig"
)

// KubernetesVersion is the one Kubernetes version compiled into drydock.
const KubernetesVersion = cpconfig.KubernetesVersion

// Config describes one cluster's control plane: the file the drydock
// server writes and passes to `drydock cluster-controlplane --config`.
type Config = cpconfig.Config

// settings is a validated Config with its values parsed.
type settings struct {
	Config
	bindIP      net.IP
	serviceCIDR netip.Prefix
	podCIDR     netip.Prefix
	// apiServerIP is the first IP of the service CIDR (the kubernetes service).
	apiServerIP net.IP
}

// complete fills in defaults for empty fields and validates the result.
func complete(c Config) (*settings, error) {
	d := cpconfig.Default(c.Name, c.DataDir, c.APIServerPort)
	if c.APIServerAddress == "" {
		c.APIServerAddress = d.APIServerAddress
	}
	if c.FQDN == "" {
		c.FQDN = d.FQDN
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = d.ServiceCIDR
	}
	if c.PodCIDR == "" {
		c.PodCIDR = d.PodCIDR
	}
	if c.DNSServiceIP == "" && c.ServiceCIDR == d.ServiceCIDR {
		c.DNSServiceIP = d.DNSServiceIP
	}
	if c.KubernetesVersion == "" {
		c.KubernetesVersion = KubernetesVersion
	}

	s := &settings{Config: c}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(c.Name) == "" {
		bad("name is empty")
	}
	if c.DataDir == "" {
		bad("dataDir is empty")
	} else if abs, err := filepath.Abs(c.DataDir); err != nil {
		bad("dataDir: %v", err)
	} else {
		s.DataDir = abs
	}
	if s.bindIP = net.ParseIP(c.APIServerAddress); s.bindIP == nil {
		bad("apiServerAddress %q is not an IP address", c.APIServerAddress)
	}
	if c.APIServerPort < 1 || c.APIServerPort > 65535 {
		bad("apiServerPort %d is not a port number", c.APIServerPort)
	}
	if strings.ContainsAny(c.FQDN, "/: ") {
		bad("fqdn %q is not a host name", c.FQDN)
	}
	var err error
	if s.serviceCIDR, err = netip.ParsePrefix(c.ServiceCIDR); err != nil {
		bad("serviceCIDR: %v", err)
	} else {
		s.serviceCIDR = s.serviceCIDR.Masked()
		first := s.serviceCIDR.Addr().Next()
		s.apiServerIP = net.IP(first.AsSlice())
		dns, err := netip.ParseAddr(c.DNSServiceIP)
		switch {
		case err != nil:
			bad("dnsServiceIP: %v", err)
		case !s.serviceCIDR.Contains(dns) || dns == first || dns == s.serviceCIDR.Addr():
			bad("dnsServiceIP %s must be inside serviceCIDR %s and not its first address", c.DNSServiceIP, s.serviceCIDR)
		}
	}
	if s.podCIDR, err = netip.ParsePrefix(c.PodCIDR); err != nil {
		bad("podCIDR: %v", err)
	} else {
		s.podCIDR = s.podCIDR.Masked()
		if s.serviceCIDR.IsValid() && s.podCIDR.Overlaps(s.serviceCIDR) {
			bad("podCIDR %s overlaps serviceCIDR %s", s.podCIDR, s.serviceCIDR)
		}
	}
	if v := strings.TrimPrefix(c.KubernetesVersion, "v"); v != KubernetesVersion && v != majorMinor(KubernetesVersion) {
		bad("kubernetesVersion %s is not available: this drydock runs Kubernetes %s", c.KubernetesVersion, KubernetesVersion)
	}
	switch {
	case c.Datastore == "" && c.DatastoreSchema != "":
		bad("datastoreSchema is set without a datastore")
	case c.Datastore == "":
	case !strings.HasPrefix(c.Datastore, "postgres://") && !strings.HasPrefix(c.Datastore, "postgresql://"):
		bad("datastore: want \"\" (SQLite in dataDir) or a postgres:// URL")
	case !schemaRE.MatchString(c.DatastoreSchema) || c.DatastoreSchema == "public" || strings.HasPrefix(c.DatastoreSchema, "pg_"):
		bad("datastoreSchema %q: want a lower-case identifier of letters, digits and '_' (not public)", c.DatastoreSchema)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("control plane configuration: %w", errors.Join(errs...))
	}
	s.KubernetesVersion = KubernetesVersion
	return s, nil
}

// schemaRE is a PostgreSQL schema name that needs no quoting.
var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func majorMinor(v string) string {
	if i := strings.LastIndexByte(v, '.'); i > 0 {
		return v[:i]
	}
	return v
}

// loopbackHost is the host clients on this machine use to reach the
// apiserver: 127.0.0.1 when it binds to a loopback or unspecified address.
func (s *settings) loopbackHost() string {
	if s.bindIP.IsLoopback() || s.bindIP.IsUnspecified() {
		if s.bindIP.To4() == nil && !s.bindIP.IsUnspecified() {
			return "[::1]"
		}
		return "127.0.0.1"
	}
	if s.bindIP.To4() == nil {
		return "[" + s.bindIP.String() + "]"
	}
	return s.bindIP.String()
}

// serverURL is the apiserver's URL in the kubeconfigs.
func (s *settings) serverURL() string {
	return fmt.Sprintf("https://%s:%d", s.loopbackHost(), s.APIServerPort)
}

func (s *settings) path(elem ...string) string {
	return filepath.Join(append([]string{s.DataDir}, elem...)...)
}

// Run runs the control plane until ctx is cancelled, then stops it
// gracefully and returns nil. It returns an error if the control plane
// cannot start or one of its components fails. Run may be called once per
// process.
func Run(ctx context.Context, cfg Config) error {
	s, err := complete(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return err
	}
	if !running.CompareAndSwap(false, true) {
		return errors.New("controlplane: a control plane already ran in this process")
	}
	unlock, err := lockDataDir(s.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	logs, err := setupLogging(s.path(LogFile))
	if err != nil {
		return err
	}
	defer logs.close()
	err = run(ctx, s)
	if err != nil {
		logError(err, "control plane stopped")
	}
	return err
}

// lockDataDir takes an exclusive lock on the data directory for as long as
// the control plane runs: a second control plane on the same data would
// take over kine's socket and share its database.
func lockDataDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another control plane runs on %s", dir)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
