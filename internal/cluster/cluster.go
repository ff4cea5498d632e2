// Package cluster owns managed clusters: the Microsoft.ContainerService ARM
// provider (managedClusters, agent pools, credentials, drydock's checkAcr),
// the identities each cluster gets (control-plane identity, kubelet
// identity in the node resource group), the node hosts registered with the
// directory, and the supervisor that runs each running cluster's upstream
// Kubernetes control plane as a child process.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/cpconfig"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/identity"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	clusterType   = "Microsoft.ContainerService/managedClusters"
	poolType      = "Microsoft.ContainerService/managedClusters/agentPools"
	groupType     = "Microsoft.Resources/resourceGroups"
	identityType  = "Microsoft.ManagedIdentity/userAssignedIdentities"
	k8sVersion    = "1.37.2"
	defaultVMSize = "Standard_DS2_v2"
)

// Config holds cluster settings.
type Config struct {
	DataDir           string // <data-dir>/clusters
	BaseURL           string // drydock's API, for nodes' azure.json
	CAFile            string
	LoginServerSuffix string
	LoginServerPort   string // "" or "443" when login servers carry no port
	RegistryAddress   string
	// Database is the metadata database's postgres:// URL when the server
	// runs on PostgreSQL, "" on SQLite. Clusters created on PostgreSQL
	// keep their objects there (kine) rather than in a SQLite file of
	// their data directory: each in a schema of its own of that database,
	// "kine_<16 hex digits of its ID's hash>". A schema rather than a
	// database per cluster: drydock's user, which owns its database, may
	// create schemas there but need not be allowed to create databases;
	// one pg_dump backs up the tenant and its clusters together,
	// consistently; and deleting a cluster drops its schema in the
	// deletion's transaction.
	Database string
	// Replication, on a replica of a set, runs each cluster on the
	// replica holding its lease (see lease.go); nil on a single server.
	Replication *Replication
}

// Directory is what clusters need of the directory: the service principal
// of a system-assigned identity and the nodes' host credentials.
type Directory interface {
	TenantID() string
	CreateManagedIdentity(tx *store.Tx, resourceID, displayName string) (directory.Principal, error)
	RegisterHost(tx *store.Tx, hostID string, identities []string) (string, error)
	UnregisterHost(tx *store.Tx, hostID string) error
	DeleteResourcePrincipal(tx *store.Tx, resourceID string) error
}

// Provider serves Microsoft.ContainerService.
type Provider struct {
	kit     *arm.Kit
	tracked arm.Tracked // clusters, as the kit serves them
	dir     Directory
	ids     *identity.Provider
	sup     *Supervisor
	cfg     Config
	log     *slog.Logger
	// leases runs clusters under leases on a replica of a set (nil on a
	// single server).
	leases *leaseRunner
}

// Register adds the provider's routes: the kit serves a cluster's read,
// list and delete (a long-running operation that stops it first).
func Register(rt arm.Routes, kit *arm.Kit, dir Directory, ids *identity.Provider, sup *Supervisor, cfg Config, log *slog.Logger) *Provider {
	p := &Provider{kit: kit, dir: dir, ids: ids, sup: sup, cfg: cfg, log: log}
	if cfg.Replication != nil {
		p.leases = newLeaseRunner(p, *cfg.Replication)
	}
	p.tracked = arm.Tracked{Type: clusterType, View: p.viewRow, AsyncDelete: true, BeforeDelete: p.beforeDelete, OnDelete: p.onDelete}
	kit.Serve(rt, p.tracked)
	rt.Handle("PUT", clusterType, p.put)
	rt.Handle("POST", clusterType+"/stop", p.power(false))
	rt.Handle("POST", clusterType+"/start", p.power(true))
	rt.Handle("POST", clusterType+"/listClusterUserCredential", p.credential("user"))
	rt.Handle("POST", clusterType+"/listClusterAdminCredential", p.credential("admin"))
	rt.Handle("POST", clusterType+"/checkAcr", p.checkAcr)
	rt.Handle("GET", poolType+"[]", p.listPools)
	rt.Handle("GET", poolType, p.getPool)
	rt.Handle("PUT", poolType, p.putPool)
	rt.Handle("DELETE", poolType, p.deletePool)
	return p
}

// Pool is an agent pool profile.
type Pool struct {
	Name                string `json:"name"`
	Count               int    `json:"count"`
	VMSize              string `json:"vmSize"`
	OSType              string `json:"osType"`
	Mode                string `json:"mode"`
	Type                string `json:"type"`
	OrchestratorVersion string `json:"orchestratorVersion"`
	MaxPods             int    `json:"maxPods"`
	OSDiskSizeGB        int    `json:"osDiskSizeGB"`
	ProvisioningState   string `json:"provisioningState"`
	PowerState          Power  `json:"powerState"`
}

// Power is a powerState.
type Power struct {
	Code string `json:"code"`
}

// KubeletIdentity is identityProfile.kubeletidentity.
type KubeletIdentity struct {
	ResourceID string `json:"resourceId"`
	ClientID   string `json:"clientId"`
	ObjectID   string `json:"objectId"`
}

// Properties of a managed cluster, as AKS returns them.
type Properties struct {
	ProvisioningState        string                     `json:"provisioningState"`
	PowerState               Power                      `json:"powerState"`
	KubernetesVersion        string                     `json:"kubernetesVersion"`
	CurrentKubernetesVersion string                     `json:"currentKubernetesVersion"`
	DNSPrefix                string                     `json:"dnsPrefix"`
	FQDN                     string                     `json:"fqdn"`
	AzurePortalFQDN          string                     `json:"azurePortalFQDN"`
	AgentPoolProfiles        []Pool                     `json:"agentPoolProfiles"`
	ServicePrincipalProfile  map[string]string          `json:"servicePrincipalProfile"`
	NodeResourceGroup        string                     `json:"nodeResourceGroup"`
	EnableRBAC               bool                       `json:"enableRBAC"`
	IdentityProfile          map[string]KubeletIdentity `json:"identityProfile"`
	NetworkProfile           map[string]any             `json:"networkProfile"`
	MaxAgentPools            int                        `json:"maxAgentPools"`
}

// Identity is the cluster's (control-plane) identity block.
type Identity struct {
	Type                   string                       `json:"type"`
	PrincipalID            string                       `json:"principalId,omitempty"`
	TenantID               string                       `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]map[string]string `json:"userAssignedIdentities,omitempty"`
}

// state is what drydock keeps about a cluster beside its ARM body.
type state struct {
	Dir                   string `json:"dir"`
	Port                  int    `json:"port"`
	ControlPlanePrincipal string `json:"controlPlanePrincipal"`
	Nodes                 []Node `json:"nodes"`
	// Datastore is where kine keeps the cluster's objects: "" for SQLite
	// in its control plane's directory, "postgres" for the schema
	// DatastoreSchema of the metadata database (Config.Database).
	Datastore       string `json:"datastore,omitempty"`
	DatastoreSchema string `json:"datastoreSchema,omitempty"`
}

// Node is one node of an agent pool: a host registered with the directory.
type Node struct {
	Name   string `json:"name"`
	Pool   string `json:"pool"`
	HostID string `json:"hostId"`
	Dir    string `json:"dir"`
	// PodSubnet and Bridge are the node's pod network on this machine.
	PodSubnet string `json:"podSubnet"`
	Bridge    string `json:"bridge"`
}

func stateKey(id string) string { return "cluster/" + strings.ToLower(id) }

func loadState(tx *store.Tx, id string) (state, error) {
	var st state
	s, err := tx.Meta(stateKey(id))
	if err != nil || s == "" {
		return st, err
	}
	return st, json.Unmarshal([]byte(s), &st)
}

// viewState reads the state of cluster id in a read transaction of its
// own, with this machine's paths (localState).
func (p *Provider) viewState(ctx context.Context, id string) (st state, err error) {
	err = p.kit.Store.View(ctx, func(tx *store.Tx) error {
		st, err = loadState(tx, id)
		return err
	})
	if err != nil {
		return st, err
	}
	rid, err := resourceid.Parse(id)
	if err != nil {
		return st, err
	}
	return p.localState(rid, st), nil
}

// clusterDir is the directory of cluster id on this machine.
func (p *Provider) clusterDir(id resourceid.ID) string {
	sum := sha256.Sum256([]byte(strings.ToLower(id.String())))
	return filepath.Join(p.cfg.DataDir, hex.EncodeToString(sum[:8]))
}

func saveState(tx *store.Tx, id string, st state) error {
	b, _ := json.Marshal(st)
	return tx.SetMeta(stateKey(id), string(b))
}

var (
	clusterNameRE = regexp.MustCompile(`^[a-zA-Z0-9][-_a-zA-Z0-9]{0,62}$`)
	poolNameRE    = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
)

func (p *Provider) load(ctx context.Context, id string) (arm.Resource, Properties, error) {
	rid, err := resourceid.Parse(id)
	if err != nil {
		return arm.Resource{}, Properties{}, err
	}
	row, err := p.kit.Load(ctx, p.tracked, rid)
	if err != nil {
		return arm.Resource{}, Properties{}, err
	}
	return decode(row)
}

// authorizeLoad authorizes action on the request's resource and loads
// cluster (the resource itself, or the cluster of an agent pool).
func (p *Provider) authorizeLoad(r *arm.Request, action string, cluster resourceid.ID) (arm.Resource, Properties, error) {
	if err := p.kit.Authorize(r, action); err != nil {
		return arm.Resource{}, Properties{}, err
	}
	return p.load(r.Context(), cluster.String())
}

func decode(row store.Resource) (arm.Resource, Properties, error) {
	res, err := arm.FromRow(row)
	if err != nil {
		return res, Properties{}, err
	}
	var props Properties
	err = json.Unmarshal(res.Properties, &props)
	return res, props, err
}

// viewRow is what a GET or list answers for a stored cluster.
func (p *Provider) viewRow(row store.Resource) (any, error) {
	res, props, err := decode(row)
	if err != nil {
		return nil, err
	}
	return p.view(res, props), nil
}

func (p *Provider) save(tx *store.Tx, id resourceid.ID, res arm.Resource, props Properties) error {
	var err error
	if res.Properties, err = json.Marshal(props); err != nil {
		return err
	}
	row, err := res.Row(id)
	if err != nil {
		return err
	}
	return tx.PutResource(row)
}

// setStatus updates provisioning and power state after background work.
func (p *Provider) setStatus(ctx context.Context, id resourceid.ID, prov, power string) error {
	return p.kit.Store.Update(ctx, func(tx *store.Tx) error {
		row, err := tx.GetResource(id.String())
		if err != nil {
			return err
		}
		res, err := arm.FromRow(row)
		if err != nil {
			return err
		}
		var props Properties
		if err := json.Unmarshal(res.Properties, &props); err != nil {
			return err
		}
		props.ProvisioningState = prov
		if power != "" {
			props.PowerState.Code = power
			for i := range props.AgentPoolProfiles {
				props.AgentPoolProfiles[i].PowerState.Code = power
				props.AgentPoolProfiles[i].ProvisioningState = prov
			}
		}
		return p.save(tx, id, res, props)
	})
}

type putBody struct {
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
	Identity *Identity         `json:"identity"`
	Props    struct {
		KubernetesVersion string                     `json:"kubernetesVersion"`
		DNSPrefix         string                     `json:"dnsPrefix"`
		AgentPoolProfiles []Pool                     `json:"agentPoolProfiles"`
		NodeResourceGroup string                     `json:"nodeResourceGroup"`
		IdentityProfile   map[string]KubeletIdentity `json:"identityProfile"`
		EnableRBAC        *bool                      `json:"enableRBAC"`
	} `json:"properties"`
}

func (p *Provider) put(r *arm.Request) (int, any, error) {
	id := r.ID
	if !clusterNameRE.MatchString(id.Name()) {
		return 0, nil, arm.BadRequest("InvalidParameter", "The cluster name '%s' is invalid: use 1 to 63 letters, digits, '-' and '_', starting with a letter or digit.", id.Name())
	}
	var b putBody
	if err := p.kit.Accept(r, clusterType+"/write", &b); err != nil {
		return 0, nil, err
	}
	if existing, props, err := p.load(r.Context(), id.String()); err == nil {
		return p.update(r, existing, props, b)
	}
	loc, err := arm.CheckLocation(b.Location, "")
	if err != nil {
		return 0, nil, err
	}
	if v := b.Props.KubernetesVersion; v != "" && v != k8sVersion && v != "1.37" {
		return 0, nil, arm.BadRequest("K8sVersionNotSupported", "Version %s is not supported in this region. Supported versions: %s.", v, k8sVersion)
	}
	pools := b.Props.AgentPoolProfiles
	if len(pools) == 0 {
		pools = []Pool{{Name: "nodepool1", Count: 3}}
	}
	for i := range pools {
		if err := normalizePool(&pools[i], i == 0); err != nil {
			return 0, nil, err
		}
	}
	if err := checkRuntime(pools); err != nil {
		return 0, nil, err
	}
	nodeRG := b.Props.NodeResourceGroup
	if nodeRG == "" {
		nodeRG = fmt.Sprintf("MC_%s_%s_%s", id.ResourceGroup, id.Name(), loc)
	}
	dnsPrefix := b.Props.DNSPrefix
	if dnsPrefix == "" {
		dnsPrefix = fmt.Sprintf("%s-%s-%s", trim(id.Name(), 10), trim(id.ResourceGroup, 16), id.SubscriptionID[:6])
	}
	sum := sha256.Sum256([]byte(strings.ToLower(id.String())))
	fqdn := strings.ToLower(fmt.Sprintf("%s-%s.hcp.%s.azmk8s.io", dnsPrefix, hex.EncodeToString(sum[:4]), loc))

	// Identities: the control plane's, and the kubelet's (created in the
	// node resource group, or brought by the caller).
	ident := Identity{Type: "SystemAssigned"}
	if b.Identity != nil && b.Identity.Type != "" {
		ident.Type = b.Identity.Type
	}
	var userCP string
	switch strings.ToLower(ident.Type) {
	case "systemassigned":
		ident.Type = "SystemAssigned"
	case "userassigned":
		ident.Type = "UserAssigned"
		if len(b.Identity.UserAssignedIdentities) != 1 {
			return 0, nil, arm.BadRequest("InvalidParameter", "Exactly one user-assigned identity must be given for the control plane.")
		}
		for k := range b.Identity.UserAssignedIdentities {
			userCP = k
		}
		if err := p.linked(r, userCP); err != nil {
			return 0, nil, err
		}
	default:
		return 0, nil, arm.BadRequest("InvalidParameter", "The identity type '%s' is not supported; use SystemAssigned or UserAssigned.", ident.Type)
	}
	byoKubelet := b.Props.IdentityProfile["kubeletidentity"].ResourceID
	if byoKubelet != "" {
		if ident.Type != "UserAssigned" {
			return 0, nil, arm.BadRequest("InvalidParameter", "A kubelet identity can only be brought with a user-assigned control-plane identity.")
		}
		if err := p.linked(r, byoKubelet); err != nil {
			return 0, nil, err
		}
	}

	port, err := freePort()
	if err != nil {
		return 0, nil, err
	}
	st := state{Dir: p.clusterDir(id), Port: port}
	if p.cfg.Database != "" {
		st.Datastore, st.DatastoreSchema = "postgres", "kine_"+hex.EncodeToString(sum[:8])
	}
	res := arm.Resource{ID: id.String(), Name: id.Name(), Type: clusterType, Location: loc, Tags: b.Tags}
	props := Properties{
		ProvisioningState: "Creating", PowerState: Power{"Running"}, KubernetesVersion: k8sVersion, CurrentKubernetesVersion: k8sVersion,
		DNSPrefix: dnsPrefix, FQDN: fqdn, AzurePortalFQDN: strings.Replace(fqdn, ".hcp.", ".portal.hcp.", 1), AgentPoolProfiles: pools,
		ServicePrincipalProfile: map[string]string{"clientId": "msi"}, NodeResourceGroup: nodeRG, EnableRBAC: true, MaxAgentPools: 100,
		NetworkProfile: map[string]any{"networkPlugin": "kubenet", "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16", "dnsServiceIp": "10.0.0.10",
			"loadBalancerSku": "standard", "outboundType": "loadBalancer"},
	}
	err = p.kit.Store.Update(r.Context(), func(tx *store.Tx) error {
		// Control-plane identity.
		switch ident.Type {
		case "SystemAssigned":
			sp, err := p.dir.CreateManagedIdentity(tx, id.String(), id.Name())
			if err != nil {
				return err
			}
			ident.PrincipalID, ident.TenantID = sp.ObjectID, p.dir.TenantID()
			st.ControlPlanePrincipal = sp.ObjectID
		default:
			sp, err := directorydb.PrincipalByResourceID(tx, userCP)
			if err != nil {
				return arm.BadRequest("InvalidParameter", "The user-assigned identity '%s' was not found.", userCP)
			}
			canon, _ := resourceid.Parse(userCP)
			ident.UserAssignedIdentities = map[string]map[string]string{canon.String(): {"principalId": sp.ObjectID, "clientId": sp.AppID}}
			st.ControlPlanePrincipal = sp.ObjectID
		}
		// Node resource group.
		nodeRGID := resourceid.ResourceGroupID(id.SubscriptionID, nodeRG)
		if _, err := tx.GetResource(nodeRGID.String()); err == nil && b.Props.NodeResourceGroup == "" {
			return arm.Errorf(http.StatusConflict, "NodeResourceGroupAlreadyExists", "The node resource group '%s' already exists; delete it or name another with --node-resource-group.", nodeRG)
		}
		rg := arm.Resource{ID: nodeRGID.String(), Name: nodeRG, Type: groupType, Location: loc, ManagedBy: id.String()}
		rg.Touch(r.Caller)
		row, err := rg.Row(nodeRGID)
		if err != nil {
			return err
		}
		if err := tx.PutResource(row); err != nil {
			return err
		}
		// Kubelet identity.
		var kubelet KubeletIdentity
		if byoKubelet != "" {
			sp, err := directorydb.PrincipalByResourceID(tx, byoKubelet)
			if err != nil {
				return arm.BadRequest("InvalidParameter", "The kubelet identity '%s' was not found.", byoKubelet)
			}
			if !p.kit.Auth.Decide(st.ControlPlanePrincipal, identity.ActionAssign, false, byoKubelet).Allowed {
				return arm.BadRequest("CustomKubeletIdentityMissingPermission",
					"The cluster identity must be granted 'Managed Identity Operator' on the kubelet identity '%s' to use it; assign that role to principal %s at that scope.", byoKubelet, st.ControlPlanePrincipal)
			}
			canon, _ := resourceid.Parse(byoKubelet)
			kubelet = KubeletIdentity{ResourceID: canon.String(), ClientID: sp.AppID, ObjectID: sp.ObjectID}
		} else {
			kid := resourceid.New(id.SubscriptionID, nodeRG, "Microsoft.ManagedIdentity", "userAssignedIdentities", id.Name()+"-agentpool")
			mi, err := p.ids.CreateIdentity(tx, kid, loc, r.Caller)
			if err != nil {
				return err
			}
			var ip identity.IdentityProperties
			if err := json.Unmarshal(mi.Properties, &ip); err != nil {
				return err
			}
			kubelet = KubeletIdentity{ResourceID: kid.String(), ClientID: ip.ClientID, ObjectID: ip.PrincipalID}
		}
		props.IdentityProfile = map[string]KubeletIdentity{"kubeletidentity": kubelet}
		res.Identity, _ = json.Marshal(ident)
		res.Touch(r.Caller)
		// Nodes: hosts holding the kubelet identity.
		for _, pool := range pools {
			if err := p.addNodes(tx, id, loc, &st, props, pool.Name, pool.Count); err != nil {
				return err
			}
		}
		if err := saveState(tx, id.String(), st); err != nil {
			return err
		}
		return p.save(tx, id, res, props)
	})
	if err != nil {
		return 0, nil, err
	}
	if _, err := p.kit.Ops.Start(r, func(ctx context.Context) (any, error) {
		if p.leases != nil {
			// The replica that takes its lease starts it.
			p.leases.poke()
			return nil, p.awaitSettled(ctx, id)
		}
		err := p.sup.Start(ctx, strings.ToLower(id.String()), p.controlPlaneConfig(id, props, st), p.nodeConfigs(id, res.Location, props, st))
		if err != nil {
			p.setStatus(context.Background(), id, "Failed", "")
			return nil, clusterStartError(id, err)
		}
		return nil, p.setStatus(context.Background(), id, "Succeeded", "Running")
	}); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, p.view(res, props), nil
}

// linked checks the caller may assign the identity to a resource.
func (p *Provider) linked(r *arm.Request, identityID string) error {
	if !p.kit.Auth.Decide(r.Caller.ObjectID, identity.ActionAssign, false, identityID).Allowed {
		return arm.Errorf(http.StatusForbidden, "LinkedAuthorizationFailed",
			"The client '%s' with object id '%s' has permission to perform action '%s/write' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
			r.Caller.Name, r.Caller.ObjectID, clusterType, r.ID.String(), identity.ActionAssign, identityID)
	}
	return nil
}

func trim(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '_' || r == '.' || r == '(' || r == ')' {
			return '-'
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	return strings.Trim(s, "-")
}

func normalizePool(pl *Pool, first bool) error {
	if pl.Name == "" {
		pl.Name = "nodepool1"
	}
	if !poolNameRE.MatchString(pl.Name) {
		return arm.BadRequest("InvalidParameter", "The agent pool name '%s' is invalid: use 1 to 12 lower-case letters and digits, starting with a letter.", pl.Name)
	}
	if pl.Count < 0 || pl.Count > 100 {
		return arm.BadRequest("InvalidParameter", "The node count %d of agent pool '%s' is invalid: use 0 to 100.", pl.Count, pl.Name)
	}
	if pl.VMSize == "" {
		pl.VMSize = defaultVMSize
	}
	pl.OSType, pl.Type, pl.OrchestratorVersion, pl.MaxPods, pl.OSDiskSizeGB = "Linux", "VirtualMachineScaleSets", k8sVersion, 110, 128
	if pl.Mode == "" {
		pl.Mode = "User"
		if first {
			pl.Mode = "System"
		}
	}
	pl.ProvisioningState, pl.PowerState = "Succeeded", Power{"Running"}
	return nil
}

// addNodes registers count more nodes of pool as hosts holding the kubelet
// identity, each with its credential and azure.json in its directory.
func (p *Provider) addNodes(tx *store.Tx, id resourceid.ID, loc string, st *state, props Properties, pool string, count int) error {
	kubelet := props.IdentityProfile["kubeletidentity"]
	sum := sha256.Sum256([]byte(strings.ToLower(id.String()) + "/" + pool))
	vmss := fmt.Sprintf("aks-%s-%08d-vmss", pool, int(sum[0])<<16|int(sum[1])<<8|int(sum[2]))
	existing := 0
	for _, n := range st.Nodes {
		if n.Pool == pool {
			existing++
		}
	}
	for i := existing; i < existing+count; i++ {
		name := fmt.Sprintf("%s%06x", vmss, i)
		hostID := resourceid.New(id.SubscriptionID, props.NodeResourceGroup, "Microsoft.Compute", "virtualMachineScaleSets", vmss, "virtualMachines", fmt.Sprint(i)).String()
		cred, err := p.dir.RegisterHost(tx, hostID, []string{kubelet.ObjectID})
		if err != nil {
			return err
		}
		dir := filepath.Join(st.Dir, "nodes", name)
		if p.leases != nil {
			// On a replica, the holder of the cluster's lease gives the
			// node its files, credential and subnet on its machine
			// (prepareNodes).
			st.Nodes = append(st.Nodes, Node{Name: name, Pool: pool, HostID: hostID, Dir: dir})
			continue
		}
		if err := writeNodeFiles(dir, cred, p.cfg.CAFile, p.azureJSON(id, loc, props, kubelet)); err != nil {
			return err
		}
		subnet, err := allocSubnet(dir)
		if err != nil {
			return err
		}
		st.Nodes = append(st.Nodes, Node{Name: name, Pool: pool, HostID: hostID, Dir: dir, PodSubnet: subnet, Bridge: bridgeName(dir)})
	}
	return nil
}

// removeNodes unregisters the last count nodes of pool (all when count < 0).
func (p *Provider) removeNodes(tx *store.Tx, st *state, pool string, count int) error {
	var keep []Node
	var remove []Node
	for i := len(st.Nodes) - 1; i >= 0; i-- {
		n := st.Nodes[i]
		if n.Pool == pool && (count < 0 || len(remove) < count) {
			remove = append(remove, n)
			continue
		}
		keep = append([]Node{n}, keep...)
	}
	for _, n := range remove {
		if err := p.dir.UnregisterHost(tx, n.HostID); err != nil {
			return err
		}
		if p.leases == nil {
			if err := releaseSubnet(n.Dir); err != nil {
				return err
			}
		}
		// The node's directory goes once its agent tore the node down
		// (reconcileNodes).
	}
	st.Nodes = keep
	return nil
}

// azureJSON is a node's azure.json, without the paths of its files (which
// writeNodeFiles fills in).
func (p *Provider) azureJSON(id resourceid.ID, loc string, props Properties, kubelet KubeletIdentity) credprovider.AzureConfig {
	return credprovider.AzureConfig{
		Cloud: "drydock", TenantID: p.dir.TenantID(), SubscriptionID: id.SubscriptionID, ResourceGroup: props.NodeResourceGroup, Location: loc,
		AADClientID: "msi", AADClientSecret: "msi", UseManagedIdentityExtension: true, UserAssignedIdentityID: kubelet.ClientID,
		ResourceManagerEndpoint: p.cfg.BaseURL, IdentityEndpoint: p.cfg.BaseURL + "/metadata/identity/oauth2/token",
		ContainerRegistryDNSSuffix: p.cfg.LoginServerSuffix, RegistryAddress: p.cfg.RegistryAddress,
		ClusterName: id.Name(), ClusterResourceGroup: id.ResourceGroup,
	}
}

// writeNodeFiles writes the node's /etc/kubernetes (agentconfig.EtcKubernetesDir
// of its directory dir): the host credential cred, a copy of the CA in
// caFile ("" for none), and cfg as azure.json naming both relative to
// itself, so that it reads the same on the host and in a pod.
func writeNodeFiles(dir, cred, caFile string, cfg credprovider.AzureConfig) error {
	etc := agentconfig.EtcKubernetes(dir)
	if err := os.MkdirAll(etc, 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(etc, agentconfig.HostCredentialFile), []byte(cred+"\n"), 0o600); err != nil {
		return err
	}
	cfg.HostCredentialFile, cfg.CAFile = agentconfig.HostCredentialFile, ""
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(etc, agentconfig.CAFile), ca, 0o644); err != nil {
			return err
		}
		cfg.CAFile = agentconfig.CAFile
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return atomicfile.Write(agentconfig.AzureJSON(dir), b, 0o600)
}

// upgradeNodeFiles gives a node created before nodes had their own
// /etc/kubernetes (its azure.json, with absolute paths, and host-credential
// at the top of its directory dir) the current layout; other nodes are
// left alone. cluster names the fixes check-acr prints on the node.
func upgradeNodeFiles(dir string, cluster resourceid.ID) error {
	legacy := filepath.Join(dir, agentconfig.AzureJSONFile)
	if _, err := os.Stat(agentconfig.AzureJSON(dir)); err == nil {
		return nil
	} else if _, lerr := os.Stat(legacy); lerr != nil {
		return err
	}
	cfg, err := credprovider.LoadConfig(legacy)
	if err != nil {
		return err
	}
	cred, err := os.ReadFile(cfg.HostCredentialFile)
	if err != nil {
		return err
	}
	cfg.ClusterName, cfg.ClusterResourceGroup = cluster.Name(), cluster.ResourceGroup
	if err := writeNodeFiles(dir, strings.TrimSpace(string(cred)), cfg.CAFile, *cfg); err != nil {
		return err
	}
	if filepath.Dir(cfg.HostCredentialFile) == dir {
		os.Remove(cfg.HostCredentialFile)
	}
	return os.Remove(legacy)
}

func (p *Provider) controlPlaneConfig(id resourceid.ID, props Properties, st state) cpconfig.Config {
	cfg := cpconfig.Default(id.Name(), filepath.Join(st.Dir, "controlplane"), st.Port)
	cfg.FQDN = props.FQDN
	if st.Datastore == "postgres" {
		cfg.Datastore, cfg.DatastoreSchema = p.cfg.Database, st.DatastoreSchema
	}
	return cfg
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (p *Provider) view(res arm.Resource, props Properties) arm.Resource {
	res.Properties, _ = json.Marshal(props)
	return res
}

// update applies a PUT to an existing cluster: tags and pool counts.
func (p *Provider) update(r *arm.Request, res arm.Resource, props Properties, b putBody) (int, any, error) {
	if k := b.Props.IdentityProfile["kubeletidentity"].ResourceID; k != "" && !strings.EqualFold(k, props.IdentityProfile["kubeletidentity"].ResourceID) {
		return 0, nil, arm.BadRequest("BadRequest", "Changing the kubelet identity of an existing cluster is not supported by drydock; create a new cluster with --assign-kubelet-identity.")
	}
	err := p.change(r.Context(), r.ID, &res, &props, func(tx *store.Tx, st *state) error {
		if b.Tags != nil {
			res.Tags = b.Tags
		}
		for _, want := range b.Props.AgentPoolProfiles {
			if err := p.resizePool(tx, r.ID, res.Location, st, &props, want); err != nil {
				return err
			}
		}
		res.Touch(r.Caller)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p.view(res, props), nil
}

// change changes a cluster in one transaction: fn edits its state (and,
// through the pointers it shares, res and props), which are then saved;
// after the commit its nodes are brought in line (reconcileNodes).
func (p *Provider) change(ctx context.Context, id resourceid.ID, res *arm.Resource, props *Properties, fn func(tx *store.Tx, st *state) error) error {
	err := p.kit.Store.Update(ctx, func(tx *store.Tx) error {
		st, err := loadState(tx, id.String())
		if err != nil {
			return err
		}
		if err := fn(tx, &st); err != nil {
			return err
		}
		if err := saveState(tx, id.String(), st); err != nil {
			return err
		}
		return p.save(tx, id, *res, *props)
	})
	if err != nil {
		return err
	}
	return p.reconcileNodes(ctx, id)
}

// resizePool adds or resizes one pool of props in place.
func (p *Provider) resizePool(tx *store.Tx, id resourceid.ID, loc string, st *state, props *Properties, want Pool) error {
	for i, have := range props.AgentPoolProfiles {
		if have.Name != want.Name {
			continue
		}
		if want.Count < 0 || want.Count > 100 {
			return arm.BadRequest("InvalidParameter", "The node count %d is invalid: use 0 to 100.", want.Count)
		}
		switch {
		case want.Count > have.Count:
			if err := checkRuntime([]Pool{want}); err != nil {
				return err
			}
			if err := p.addNodes(tx, id, loc, st, *props, have.Name, want.Count-have.Count); err != nil {
				return err
			}
		case want.Count < have.Count:
			if err := p.removeNodes(tx, st, have.Name, have.Count-want.Count); err != nil {
				return err
			}
		}
		props.AgentPoolProfiles[i].Count = want.Count
		return nil
	}
	if err := normalizePool(&want, false); err != nil {
		return err
	}
	if err := checkRuntime([]Pool{want}); err != nil {
		return err
	}
	props.AgentPoolProfiles = append(props.AgentPoolProfiles, want)
	return p.addNodes(tx, id, loc, st, *props, want.Name, want.Count)
}

// beforeDelete stops a cluster being deleted and tears its nodes down,
// outside the deletion's transaction, so the store is not held meanwhile.
func (p *Provider) beforeDelete(ctx context.Context, id resourceid.ID) {
	if p.leases != nil {
		// Its holder stops it and tears its nodes down, then gives its
		// lease up (or the lease expires, if the holder is dead).
		if err := p.setStatus(ctx, id, "Deleting", ""); err != nil && !errdefs.IsNotFound(err) {
			p.log.Warn("marking a cluster being deleted", "cluster", id.String(), "err", err)
		}
		p.leases.poke()
		if err := p.awaitLeaseFree(ctx, id); err != nil {
			p.log.Warn("waiting for a deleted cluster's holder to stop it", "cluster", id.String(), "err", err)
		}
	}
	p.sup.Stop(strings.ToLower(id.String()))
	st, err := p.viewState(ctx, id.String())
	if err == nil {
		p.teardownNodes(st)
	}
}

// onDelete stops the control plane and removes what the cluster owns: its
// nodes, its node resource group (with the kubelet identity), its
// system-assigned identity and its data.
func (p *Provider) onDelete(tx *store.Tx, row store.Resource) ([]string, error) {
	res, err := arm.FromRow(row)
	if err != nil {
		return nil, err
	}
	var props Properties
	json.Unmarshal(res.Properties, &props)
	p.sup.Stop(strings.ToLower(row.ID))
	st, err := loadState(tx, row.ID)
	if err != nil {
		return nil, err
	}
	id, _ := resourceid.Parse(row.ID)
	st = p.localState(id, st)
	p.teardownNodes(st)
	for _, n := range st.Nodes {
		if err := p.dir.UnregisterHost(tx, n.HostID); err != nil {
			return nil, err
		}
		if err := releaseSubnet(n.Dir); err != nil {
			return nil, err
		}
	}
	if err := p.dir.DeleteResourcePrincipal(tx, row.ID); err != nil {
		return nil, err
	}
	if st.Datastore == "postgres" {
		if err := tx.DropSchema(st.DatastoreSchema); err != nil {
			return nil, err
		}
	}
	key := strings.ToLower(row.ID)
	if err := tx.DeleteSharedSecretsUnder(filesPrefix(key)); err != nil {
		return nil, err
	}
	if err := tx.DeleteLease(leaseName(key)); err != nil {
		return nil, err
	}
	if err := tx.SetMeta(errorKey(row.ID), ""); err != nil {
		return nil, err
	}
	var removed []string
	if props.NodeResourceGroup != "" {
		nodeRG := resourceid.ResourceGroupID(id.SubscriptionID, props.NodeResourceGroup)
		if _, err := tx.GetResource(nodeRG.String()); err == nil {
			if removed, err = p.kit.Scopes.Delete(tx, nodeRG); err != nil {
				return nil, err
			}
		}
	}
	if err := tx.SetMeta(stateKey(row.ID), ""); err != nil {
		return nil, err
	}
	if st.Dir != "" {
		os.RemoveAll(st.Dir)
	}
	return removed, nil
}

func (p *Provider) power(on bool) arm.Handler {
	return func(r *arm.Request) (int, any, error) {
		action := "/stop/action"
		if on {
			action = "/start/action"
		}
		res, props, err := p.authorizeLoad(r, clusterType+action, r.ID)
		if err != nil {
			return 0, nil, err
		}
		st, err := p.viewState(r.Context(), r.ID.String())
		if err != nil {
			return 0, nil, err
		}
		id := r.ID
		key := strings.ToLower(id.String())
		if _, err := p.kit.Ops.Start(r, func(ctx context.Context) (any, error) {
			if p.leases != nil {
				// The cluster's holder stops or starts it (a stopped
				// cluster, the replica that takes its lease).
				prov := "Stopping"
				if on {
					prov = "Starting"
				}
				if err := p.setStatus(ctx, id, prov, ""); err != nil {
					return nil, err
				}
				p.leases.poke()
				return nil, p.awaitSettled(ctx, id)
			}
			if !on {
				p.setStatus(ctx, id, "Stopping", "")
				// Like deallocated VMs, stopped nodes keep no containers.
				p.sup.Stop(key)
				p.teardownNodes(st)
				return nil, p.setStatus(ctx, id, "Succeeded", "Stopped")
			}
			p.setStatus(ctx, id, "Starting", "")
			if err := p.sup.Start(ctx, key, p.controlPlaneConfig(id, props, st), p.nodeConfigs(id, res.Location, props, st)); err != nil {
				p.setStatus(context.Background(), id, "Failed", "")
				return nil, clusterStartError(id, err)
			}
			return nil, p.setStatus(ctx, id, "Succeeded", "Running")
		}); err != nil {
			return 0, nil, err
		}
		return http.StatusAccepted, nil, nil
	}
}

func (p *Provider) credential(kind string) arm.Handler {
	return func(r *arm.Request) (int, any, error) {
		action, file, name := "/listClusterUserCredential/action", "user.kubeconfig", "clusterUser"
		if kind == "admin" {
			action, file, name = "/listClusterAdminCredential/action", "admin.kubeconfig", "clusterAdmin"
		}
		cluster := r.ID
		_, _, err := p.authorizeLoad(r, clusterType+action, cluster)
		if err != nil {
			return 0, nil, err
		}
		var b []byte
		if p.leases != nil {
			// The holder seals it into the database once its control
			// plane first started.
			if b, err = p.sealedKubeconfig(r.Context(), cluster, file); errdefs.IsNotFound(err) {
				err = os.ErrNotExist
			}
		} else {
			var st state
			if st, err = p.viewState(r.Context(), cluster.String()); err != nil {
				return 0, nil, err
			}
			b, err = os.ReadFile(filepath.Join(st.Dir, "controlplane", file))
		}
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil, arm.Errorf(http.StatusConflict, "ControlPlaneNotReady", "The credentials of %s are not ready yet: the control plane is still being created.", cluster.Name())
		}
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"kubeconfigs": []map[string]string{{"name": name, "value": base64.StdEncoding.EncodeToString(b)}}}, nil
	}
}

// resumeAction is what Resume does with a cluster it finds in the store.
type resumeAction int

const (
	resumeNone   resumeAction = iota // stopped, or stopping done: nothing to run
	resumeStart                      // running: start it again, its state unchanged
	resumeFinish                     // a create or start the last server did not finish: start it, then Succeeded (or Failed)
	resumeStop                       // a stop the last server did not finish: finish it, then Stopped
)

// resumeFor decides from a cluster's provisioning and power state. A
// server stopped (or killed) during a create, start or stop leaves the
// cluster "Creating", "Starting" or "Stopping": its operation reads Failed
// (arm.Interrupted), and the cluster is brought to where it was going, so
// that it neither stays in a transitional state for good nor shows
// Succeeded before it is so.
func resumeFor(props Properties) resumeAction {
	switch props.ProvisioningState {
	case "Creating", "Starting", "Updating":
		return resumeFinish
	case "Stopping":
		return resumeStop
	}
	if props.PowerState.Code == "Running" {
		return resumeStart
	}
	return resumeNone
}

// Resume restarts, in the background, the control planes of clusters that
// were running when the server stopped, and finishes the creates, starts
// and stops it interrupted (resumeFor).
//
// On a replica of a set, it starts instead the loop that runs, until ctx
// ends, the clusters whose leases this replica holds (see lease.go); Stop
// waits for that loop to stop them.
func (p *Provider) Resume(ctx context.Context) {
	if p.leases != nil {
		p.leases.running.Store(true)
		go p.leases.run(ctx)
		return
	}
	var rows []store.Resource
	if err := p.kit.Store.View(ctx, func(tx *store.Tx) (err error) {
		rows, err = tx.ListResources(store.ResourceFilter{Type: clusterType})
		return err
	}); err != nil {
		p.log.Error("listing clusters to resume", "err", err)
		return
	}
	for _, row := range rows {
		res, err := arm.FromRow(row)
		if err != nil {
			continue
		}
		var props Properties
		json.Unmarshal(res.Properties, &props)
		action := resumeFor(props)
		if action == resumeNone {
			continue
		}
		st, _ := p.viewState(ctx, row.ID)
		id, _ := resourceid.Parse(row.ID)
		if action != resumeStart {
			p.log.Warn("finishing what the last server left unfinished", "cluster", row.ID, "provisioningState", props.ProvisioningState)
		}
		go func() {
			if action == resumeStop {
				p.teardownNodes(st)
				if err := p.setStatus(ctx, id, "Succeeded", "Stopped"); err != nil {
					p.log.Error("finishing a cluster's stop", "cluster", row.ID, "err", err)
				}
				return
			}
			err := p.sup.Start(ctx, strings.ToLower(row.ID), p.controlPlaneConfig(id, props, st), p.nodeConfigs(id, res.Location, props, st))
			if err != nil {
				p.log.Error("resuming cluster", "cluster", row.ID, "err", err)
			}
			if action != resumeFinish || ctx.Err() != nil {
				// Unchanged; a server stopping meanwhile leaves the
				// cluster to the next one.
				return
			}
			prov, power := "Succeeded", "Running"
			if err != nil {
				prov, power = "Failed", ""
			}
			if err := p.setStatus(context.WithoutCancel(ctx), id, prov, power); err != nil {
				p.log.Error("settling a resumed cluster's state", "cluster", row.ID, "err", err)
			}
		}()
	}
}

// Stop waits, once Resume's context ended, until a replica stopped the
// clusters it held and gave their leases up. A single server returns at
// once (its supervisor's StopAll stops its clusters).
func (p *Provider) Stop() {
	if p.leases != nil && p.leases.running.Load() {
		<-p.leases.done
	}
}
