package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/containerd"
	"github.com/drydock-dev/drydock/internal/resourceid"
)

// Pod networks. Every node gets a /24 of defaultPodCIDR (as kubenet gives
// AKS nodes). All nodes' bridges share this machine's routing table, so the
// /24s are allocated machine-wide, across clusters and drydock servers, in
// subnetsFile (locked while it is read and written). An entry whose node
// directory is gone is free again.
const defaultPodCIDR = "10.244.0.0/16"

// subnetsFile is the machine's pod-subnet allocation table. A variable for
// tests.
var subnetsFile = "/var/lib/drydock/pod-subnets.json"

// withSubnets runs fn on the allocation table (subnet -> node directory)
// under an exclusive lock and saves what fn leaves in it.
func withSubnets(fn func(m map[string]string) error) error {
	if err := os.MkdirAll(filepath.Dir(subnetsFile), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(subnetsFile+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	m := map[string]string{}
	if b, err := os.ReadFile(subnetsFile); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %v", subnetsFile, err)
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	for subnet, dir := range m {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			delete(m, subnet)
		}
	}
	if err := fn(m); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return atomicfile.Write(subnetsFile, b, 0o644)
}

// allocSubnet gives the node in dir a free /24 of defaultPodCIDR: one no
// other node on this machine holds and no interface uses.
func allocSubnet(dir string) (string, error) {
	var out string
	err := withSubnets(func(m map[string]string) error {
		for subnet, owner := range m {
			if owner == dir {
				out = subnet
				return nil
			}
		}
		inUse := hostNetworks()
		base := netip.MustParsePrefix(defaultPodCIDR).Addr().As4()
		for i := 0; i < 256; i++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(i), 0}), 24)
			if _, taken := m[p.String()]; taken || inUse(p) {
				continue
			}
			m[p.String()] = dir
			out = p.String()
			return nil
		}
		return arm.Errorf(http.StatusConflict, "SubnetIsFull", "All 256 node pod subnets of %s on this machine are in use; delete a cluster or scale a node pool down.", defaultPodCIDR)
	})
	return out, err
}

// releaseSubnet frees the subnet of the node in dir.
func releaseSubnet(dir string) error {
	return withSubnets(func(m map[string]string) error {
		for subnet, owner := range m {
			if owner == dir {
				delete(m, subnet)
			}
		}
		return nil
	})
}

// hostNetworks reports whether a prefix overlaps a network of one of this
// machine's interfaces.
func hostNetworks() func(netip.Prefix) bool {
	var nets []netip.Prefix
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				nets = append(nets, p.Masked())
			}
		}
	}
	return func(p netip.Prefix) bool {
		for _, n := range nets {
			if n.Overlaps(p) {
				return true
			}
		}
		return false
	}
}

// bridgeName is the node's Linux bridge: unique per node directory, within
// the 15 bytes Linux allows.
func bridgeName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "dd" + hex.EncodeToString(sum[:5])
}

// nodeConfigs are the node agents' configurations of a cluster.
func (p *Provider) nodeConfigs(id resourceid.ID, loc string, props Properties, st state) []agentconfig.Node {
	pools := map[string]Pool{}
	for _, pl := range props.AgentPoolProfiles {
		pools[pl.Name] = pl
	}
	suffix := p.cfg.LoginServerSuffix
	if port := p.cfg.LoginServerPort; port != "" && port != "443" {
		suffix += ":" + port
	}
	out := make([]agentconfig.Node, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		if err := upgradeNodeFiles(n.Dir, id); err != nil {
			p.log.Warn("giving a node its /etc/kubernetes", "node", n.Name, "err", err)
		}
		pl := pools[n.Pool]
		out = append(out, agentconfig.Node{
			Name: n.Name, Cluster: id.Name(), Pool: n.Pool, Mode: pl.Mode, VMSize: pl.VMSize, Location: loc,
			NodeResourceGroup: props.NodeResourceGroup, ProviderID: "azure://" + n.HostID,
			Dir: n.Dir, ControlPlaneDir: filepath.Join(st.Dir, "controlplane"),
			APIServer: fmt.Sprintf("https://127.0.0.1:%d", st.Port), PodSubnet: n.PodSubnet, Bridge: n.Bridge,
			MaxPods: pl.MaxPods, KubeletIdentityClientID: props.IdentityProfile["kubeletidentity"].ClientID,
			RegistryCAFile: p.cfg.CAFile, RegistrySuffix: suffix, ImageCacheDir: p.imageCacheDir(),
		})
	}
	return out
}

// imageCacheDir is where node agents cache what building drydock's node
// images computes (agentconfig.Node.ImageCacheDir): <data-dir>/clusters/images.
func (p *Provider) imageCacheDir() string { return filepath.Join(p.cfg.DataDir, "images") }

// reconcileNodes brings a running cluster's node agents in line with its
// state after a pool change, and removes the directories of nodes that
// are gone.
func (p *Provider) reconcileNodes(ctx context.Context, id resourceid.ID) error {
	res, props, err := p.load(ctx, id.String())
	if err != nil {
		return err
	}
	st, err := p.viewState(ctx, id.String())
	if err != nil {
		return err
	}
	key := strings.ToLower(id.String())
	if p.sup.Running(key) {
		if p.leases != nil {
			// Nodes added through another replica get their files and
			// subnet on this one, which runs them.
			if err := p.prepareNodes(ctx, id, res.Location, props, &st, false); err != nil {
				return clusterStartError(id, err)
			}
		}
		if err := p.sup.SetNodes(ctx, key, p.nodeConfigs(id, res.Location, props, st)); err != nil {
			return clusterStartError(id, err)
		}
	}
	keep := map[string]bool{}
	for _, n := range st.Nodes {
		keep[filepath.Base(n.Dir)] = true
	}
	entries, _ := os.ReadDir(filepath.Join(st.Dir, "nodes"))
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		dir := filepath.Join(st.Dir, "nodes", e.Name())
		p.sup.Teardown(agentconfig.Path(dir))
		os.RemoveAll(dir)
	}
	return nil
}

// teardownNodes removes, in parallel, what the nodes of st left on this
// machine (pods, runtime state, bridges); their agents must be stopped.
// Nodes without runtime state (never started, or torn down already) are
// skipped.
func (p *Provider) teardownNodes(st state) {
	var wg sync.WaitGroup
	for _, n := range st.Nodes {
		if _, err := os.Stat(filepath.Join(n.Dir, agentconfig.RuntimeDir)); err != nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); p.sup.Teardown(agentconfig.Path(n.Dir)) }()
	}
	wg.Wait()
}

// checkRuntime refuses nodes on a machine that cannot run containers, with
// the reason and the fix.
func checkRuntime(pools []Pool) error {
	n := 0
	for _, pl := range pools {
		n += pl.Count
	}
	if n == 0 {
		return nil
	}
	if err := containerd.Requirements(); err != nil {
		return arm.BadRequest("ContainerRuntimeUnavailable", "The nodes of this cluster cannot run on this machine: %v.", err)
	}
	return nil
}

// clusterStartError is the operation error of a cluster whose control
// plane or nodes did not come up.
func clusterStartError(id resourceid.ID, err error) error {
	var ns *nodeStartError
	if errors.As(err, &ns) {
		return arm.Errorf(http.StatusInternalServerError, "NodeNotReady", "A node of %s did not start: %v", id.Name(), err)
	}
	return arm.Errorf(http.StatusInternalServerError, "ControlPlaneFailed", "The control plane of %s did not start: %v", id.Name(), err)
}
