package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/replica"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/store"
)

// Clusters in a replica set.
//
// On a replica of a set, a cluster runs (its control plane and its nodes)
// on the replica holding its lease, "cluster/<lower-case resource ID>" in
// the table leases. Every replica runs a leaseRunner: every LeaseTTL/3 it
// reads the clusters from the database and, for each,
//
//   - takes the lease of a cluster that should run (Running, or being
//     created or started) when it is free or expired, and starts the
//     cluster here;
//   - renews the leases it holds, and stops a cluster whose lease another
//     replica took, or that it could not renew before it expired;
//   - stops (and tears down the nodes of) a cluster it holds that is
//     being stopped or deleted, then gives its lease up.
//
// ARM's long-running operations only record where a cluster is going
// (Creating, Starting, Stopping, Deleting) and wait until the holder has
// brought it there, so any replica answers any request. A control plane
// restarts on another replica with the same state: its objects are in
// PostgreSQL (kine, a schema per cluster), and the files that make it the
// same cluster (controlPlaneFiles: its CAs, service-account keys, the
// local accounts' certificate and kubeconfigs) are sealed in the table
// shared_secrets with the set's secretKey, and written back into the
// holder's data directory before it starts the control plane. Everything
// else is re-derived on the holder: serving and component certificates
// (issued by the same CAs), each node's directory, pod subnet and bridge,
// and its host credential (issued again, which revokes the old holder's).
//
// A single server has no leaseRunner: it runs every cluster itself, as
// Resume and the operations do.

// Replication makes clusters run under leases, on one replica of a set at
// a time.
type Replication struct {
	// ReplicaID is this replica's ID (the lease holder's name).
	ReplicaID string
	// Store is the set's database, where the leases are.
	Store *store.Store
	// Box seals the control planes' files with the set's secretKey.
	Box *secretbox.Box
	// LeaseTTL is how long a cluster's lease lasts without renewal: the
	// time after which a dead holder's clusters start on another replica.
	// It is renewed every LeaseTTL/3.
	LeaseTTL time.Duration
}

// leaseName is the lease of the cluster whose lower-cased ID is key.
func leaseName(key string) string { return "cluster/" + key }

// filesPrefix is what the names of a cluster's sealed files start with.
func filesPrefix(key string) string { return "cluster/" + key + "/" }

// errorKey is the meta key of the last start failure of cluster id, which
// the replica running its operation reports.
func errorKey(id string) string { return stateKey(id) + "#error" }

// controlPlaneFiles are the files of a control plane's data directory
// (slash-separated, relative to it) that make it the same cluster wherever
// it runs: kubeconfigs handed out before a failover keep working (same
// CA, same client certificate), service-account tokens stay valid (same
// key), nodes trust it (same CA). The serving certificate and the
// components' certificates are issued again by these CAs on each holder.
var controlPlaneFiles = []string{
	"pki/ca.crt", "pki/ca.key",
	"pki/front-proxy/ca.crt", "pki/front-proxy/ca.key",
	"pki/sa.key", "pki/sa.pub",
	"pki/masterclient.crt", "pki/masterclient.key",
	"admin.kubeconfig", "user.kubeconfig",
}

// restoreControlPlane writes the sealed files of cluster key into the
// control plane's data directory dir, replacing what is there.
func (p *Provider) restoreControlPlane(ctx context.Context, key, dir string) error {
	sealed, err := store.Read(ctx, p.kit.Store, func(tx *store.Tx) (map[string]string, error) { return tx.SharedSecretsUnder(filesPrefix(key)) })
	if err != nil {
		return err
	}
	for name, v := range sealed {
		content, err := p.cfg.Replication.Box.Open(v, "replica/"+name)
		if err != nil {
			return fmt.Errorf("the cluster's %s is in the database but does not open with secretKey: %w", name, err)
		}
		path := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(name, filesPrefix(key))))
		if old, err := os.ReadFile(path); err == nil && string(old) == content {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if ext := filepath.Ext(path); ext == ".crt" || ext == ".pub" {
			mode = 0o644
		}
		if err := atomicfile.Write(path, []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

// saveControlPlane seals into the database the files of cluster key's
// control plane (in dir) that differ from the database's. Only the lease
// holder calls it.
func (p *Provider) saveControlPlane(ctx context.Context, key, dir string) error {
	box := p.cfg.Replication.Box
	return p.kit.Store.Update(ctx, func(tx *store.Tx) error {
		have, err := tx.SharedSecretsUnder(filesPrefix(key))
		if err != nil {
			return err
		}
		for _, f := range controlPlaneFiles {
			content, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			name := filesPrefix(key) + f
			if old, ok := have[name]; ok {
				if v, err := box.Open(old, "replica/"+name); err == nil && v == string(content) {
					continue
				}
			}
			if err := tx.PutSharedSecret(name, box.Seal(string(content), "replica/"+name)); err != nil {
				return err
			}
		}
		return nil
	})
}

// sealedKubeconfig returns the kubeconfig file ("admin.kubeconfig",
// "user.kubeconfig") of cluster id from the database, or
// errdefs.ErrNotFound before its control plane first started.
func (p *Provider) sealedKubeconfig(ctx context.Context, id resourceid.ID, file string) ([]byte, error) {
	name := filesPrefix(strings.ToLower(id.String())) + file
	sealed, err := store.Read(ctx, p.kit.Store, func(tx *store.Tx) (string, error) { return tx.SharedSecret(name) })
	if err != nil {
		return nil, err
	}
	v, err := p.cfg.Replication.Box.Open(sealed, "replica/"+name)
	return []byte(v), err
}

// localState is st with this machine's paths: on a replica, the cluster's
// directory is under this replica's data directory whichever replica
// created it, and each node's directory (and so its bridge) under it. A
// single server keeps st's.
func (p *Provider) localState(id resourceid.ID, st state) state {
	if p.cfg.Replication == nil {
		return st
	}
	st.Dir = p.clusterDir(id)
	nodes := make([]Node, len(st.Nodes))
	for i, n := range st.Nodes {
		n.Dir = filepath.Join(st.Dir, "nodes", n.Name)
		n.Bridge = bridgeName(n.Dir)
		nodes[i] = n
	}
	st.Nodes = nodes
	return st
}

// prepareNodes gives the nodes of st (localState) what they need on this
// machine before their agents start: a pod subnet of this machine, and
// their /etc/kubernetes with a host credential, issued again (revoking the
// previous holder's) when fresh is set or the node has none here.
func (p *Provider) prepareNodes(ctx context.Context, id resourceid.ID, loc string, props Properties, st *state, fresh bool) error {
	kubelet := props.IdentityProfile["kubeletidentity"]
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if _, err := os.Stat(agentconfig.AzureJSON(n.Dir)); err != nil || fresh {
			var cred string
			if err := p.kit.Store.Update(ctx, func(tx *store.Tx) (err error) {
				cred, err = p.dir.RegisterHost(tx, n.HostID, []string{kubelet.ObjectID})
				return err
			}); err != nil {
				return err
			}
			if err := writeNodeFiles(n.Dir, cred, p.cfg.CAFile, p.azureJSON(id, loc, props, kubelet)); err != nil {
				return err
			}
		}
		subnet, err := allocSubnet(n.Dir)
		if err != nil {
			return err
		}
		n.PodSubnet = subnet
	}
	return nil
}

// awaitSettled waits until cluster id leaves its transitional
// provisioning state (the holder brought it where it was going), and
// returns the failure a holder reported, if it failed.
func (p *Provider) awaitSettled(ctx context.Context, id resourceid.ID) error {
	for {
		_, props, err := p.load(ctx, id.String())
		if err != nil {
			return err
		}
		switch props.ProvisioningState {
		case "Creating", "Starting", "Stopping", "Updating":
		case "Failed":
			msg, _ := store.Read(ctx, p.kit.Store, func(tx *store.Tx) (string, error) { return tx.Meta(errorKey(id.String())) })
			if msg == "" {
				msg = "see the log of the replica that ran it"
			}
			return arm.Errorf(http.StatusInternalServerError, "ControlPlaneFailed", "%s did not start: %s", id.Name(), msg)
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// awaitLeaseFree waits until no replica holds cluster id's lease (its
// holder stopped it and gave the lease up, or died and the lease
// expired).
func (p *Provider) awaitLeaseFree(ctx context.Context, id resourceid.ID) error {
	name := leaseName(strings.ToLower(id.String()))
	for {
		var holder string
		var until time.Time
		err := p.kit.Store.View(ctx, func(tx *store.Tx) (err error) {
			holder, until, err = tx.LeaseHolder(name)
			return err
		})
		if err != nil {
			return err
		}
		if holder == "" || !time.Now().Before(until) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// setFailure records why cluster id did not start ("" clears it).
func (p *Provider) setFailure(ctx context.Context, id resourceid.ID, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if uerr := p.kit.Store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta(errorKey(id.String()), msg) }); uerr != nil {
		p.log.Warn("recording a cluster's failure", "cluster", id.String(), "err", uerr)
	}
}

// leaseRunner runs, on one replica, the clusters whose leases it holds.
type leaseRunner struct {
	p    *Provider
	rep  Replication
	kick chan struct{}
	done chan struct{}
	// running is set once run started (done closes when it ends).
	running atomic.Bool

	mu     sync.Mutex
	held   map[string]*heldCluster // by lower-cased cluster ID
	pinned map[string]bool         // clusters runsHere refused, by ID (logged once)
}

// heldCluster is a cluster whose lease this replica holds.
type heldCluster struct {
	id      resourceid.ID
	ctx     context.Context // ends when the cluster stops here
	cancel  context.CancelFunc
	renewed time.Time   // last successful renewal
	started bool        // its start ended (well or not)
	leaving bool        // being stopped here
	busy    atomic.Bool // its start or a node reconciliation runs
}

func newLeaseRunner(p *Provider, rep Replication) *leaseRunner {
	return &leaseRunner{p: p, rep: rep, kick: make(chan struct{}, 1), done: make(chan struct{}), held: map[string]*heldCluster{}, pinned: map[string]bool{}}
}

// poke makes the runner look at the clusters now rather than at its next
// tick.
func (r *leaseRunner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *leaseRunner) lease(key string) *replica.Lease {
	return &replica.Lease{St: r.rep.Store, Name: leaseName(key), Holder: r.rep.ReplicaID, TTL: r.rep.LeaseTTL, Log: r.p.log}
}

// run looks at the clusters every LeaseTTL/3 (and when poked) until ctx
// ends; then it hands the clusters it runs over (shutdown).
func (r *leaseRunner) run(ctx context.Context) {
	r.running.Store(true)
	defer close(r.done)
	t := time.NewTicker(r.rep.LeaseTTL / 3)
	defer t.Stop()
	for {
		r.tick(ctx)
		select {
		case <-ctx.Done():
			r.shutdown()
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

// shutdown stops the clusters this replica runs, tears their nodes down
// and gives their leases up, so that another replica takes them over at
// once. Unlike a single server's shutdown, which leaves the containers
// for its next start to adopt, a replica hands its clusters to another
// one, whose nodes start their pods again: containers left here would
// run twice.
func (r *leaseRunner) shutdown() {
	r.mu.Lock()
	held := r.held
	r.held = map[string]*heldCluster{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for key, h := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.cancel()
			r.p.sup.Stop(key)
			if st, err := r.p.viewState(context.Background(), h.id.String()); err == nil {
				r.p.teardownNodes(st)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := r.lease(key).Release(ctx); err != nil {
				r.p.log.Warn("giving a cluster's lease up", "cluster", h.id.String(), "err", err)
			}
		}()
	}
	wg.Wait()
}

// tick brings the clusters of this replica in line with the database.
func (r *leaseRunner) tick(ctx context.Context) {
	rows, err := store.Read(ctx, r.p.kit.Store, func(tx *store.Tx) ([]store.Resource, error) {
		return tx.ListResources(store.ResourceFilter{Type: clusterType})
	})
	if err != nil {
		if ctx.Err() == nil {
			r.p.log.Warn("listing clusters", "err", err)
			r.dropExpired()
		}
		return
	}
	seen := map[string]bool{}
	for _, row := range rows {
		res, props, err := decode(row)
		if err != nil {
			continue
		}
		id, err := resourceid.Parse(row.ID)
		if err != nil {
			continue
		}
		key := strings.ToLower(row.ID)
		seen[key] = true
		r.mu.Lock()
		h := r.held[key]
		leaving := h != nil && h.leaving
		r.mu.Unlock()
		if leaving {
			continue
		}
		prov := props.ProvisioningState
		action := resumeFor(props)
		switch {
		case prov == "Stopping" || prov == "Deleting":
			if h != nil {
				r.leave(key, h, prov)
			} else if prov == "Stopping" {
				r.finishStop(ctx, key, id)
			}
			continue
		case action == resumeNone:
			if h != nil {
				r.leave(key, h, "Stopped")
			}
			continue
		}
		if h == nil && !r.runsHere(ctx, row.ID, id) {
			continue
		}
		ok, err := r.lease(key).Acquire(ctx)
		if ctx.Err() != nil {
			return
		}
		if h != nil {
			r.renewed(key, h, id, res.Location, props, ok, err)
			continue
		}
		if err != nil || !ok {
			continue
		}
		hctx, cancel := context.WithCancel(ctx)
		h = &heldCluster{id: id, ctx: hctx, cancel: cancel, renewed: time.Now()}
		h.busy.Store(true)
		r.mu.Lock()
		r.held[key] = h
		r.mu.Unlock()
		r.p.log.Info("holding a cluster's lease; starting it here", "cluster", row.ID)
		go r.start(key, h, res.Location, props, action)
	}
	r.removeStale(rows)
	for key, h := range r.heldWhere(func(key string, h *heldCluster) bool { return !seen[key] && !h.leaving }) {
		r.leave(key, h, "Deleting")
	}
}

// heldWhere returns the held clusters that match, as they are now.
func (r *leaseRunner) heldWhere(match func(key string, h *heldCluster) bool) map[string]*heldCluster {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]*heldCluster{}
	for key, h := range r.held {
		if match(key, h) {
			out[key] = h
		}
	}
	return out
}

// runsHere reports whether this replica may take the cluster's lease: a
// cluster keeps its objects in PostgreSQL (any replica can run it), or, if
// it was created before clusters did, in a SQLite file of one machine's
// data directory, and then only the replica that has that file may run it.
// Another one would start its control plane on an empty datastore, and
// its nodes would register into a cluster that lost every object.
func (r *leaseRunner) runsHere(ctx context.Context, name string, id resourceid.ID) bool {
	st, err := store.Read(ctx, r.p.kit.Store, func(tx *store.Tx) (state, error) { return loadState(tx, id.String()) })
	if err != nil || st.Dir == "" || st.Datastore == "postgres" {
		return err == nil && st.Dir != "" // no state yet: the create's transaction is not visible
	}
	if _, err := os.Stat(filepath.Join(r.p.clusterDir(id), "controlplane", localDatastore)); err == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.pinned[name] {
		r.pinned[name] = true
		r.p.log.Warn("not taking over a cluster whose objects are in another machine's data directory (created before clusters kept them in PostgreSQL); it runs on that machine's replica only",
			"cluster", name)
	}
	return false
}

// localDatastore is the control plane's SQLite file, in its directory, of
// a cluster that keeps its objects on its machine (controlplane.StateDB).
const localDatastore = "state.db"

// renewed handles a held cluster's renewal: ok and err are the lease's.
func (r *leaseRunner) renewed(key string, h *heldCluster, id resourceid.ID, loc string, props Properties, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		if time.Since(h.renewed) >= r.rep.LeaseTTL {
			r.p.log.Warn("could not renew a cluster's lease before it expired; stopping the cluster here", "cluster", id.String(), "err", err)
			go r.drop(key, h)
		}
		return
	case !ok:
		r.p.log.Warn("another replica holds the lease of a cluster running here; stopping it here", "cluster", id.String())
		go r.drop(key, h)
		return
	}
	h.renewed = time.Now()
	if !h.started || !h.busy.CompareAndSwap(false, true) {
		return
	}
	// Running here: bring its nodes in line with pool changes made
	// through any replica, and settle a start asked of a running cluster.
	go func() {
		defer h.busy.Store(false)
		if err := r.p.reconcileNodes(h.ctx, id); err != nil && h.ctx.Err() == nil {
			r.p.log.Warn("reconciling a cluster's nodes", "cluster", id.String(), "err", err)
		}
		if resumeFor(props) == resumeFinish && h.ctx.Err() == nil {
			r.p.setStatus(h.ctx, id, "Succeeded", "Running")
		}
	}()
}

// markLeaving marks h as leaving, once: it reports whether this call did.
func (r *leaseRunner) markLeaving(h *heldCluster) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.leaving {
		return false
	}
	h.leaving = true
	return true
}

// drop stops a cluster whose lease this replica lost, leaving its
// containers (another replica runs the cluster now).
func (r *leaseRunner) drop(key string, h *heldCluster) {
	if !r.markLeaving(h) {
		return
	}
	h.cancel()
	r.p.sup.Stop(key)
	r.mu.Lock()
	delete(r.held, key)
	r.mu.Unlock()
}

// leave stops a held cluster that is being stopped ("Stopping"), deleted
// ("Deleting") or is stopped, tears its nodes down, settles a stop, and
// gives the lease up; in the background.
func (r *leaseRunner) leave(key string, h *heldCluster, why string) {
	if !r.markLeaving(h) {
		return
	}
	r.p.log.Info("stopping a cluster held here", "cluster", h.id.String(), "because", why)
	go func() {
		h.cancel()
		ctx := context.Background()
		r.p.sup.Stop(key)
		st, err := r.p.viewState(ctx, h.id.String())
		if err == nil {
			r.p.teardownNodes(st)
		}
		switch why {
		case "Stopping":
			if err := r.p.setStatus(ctx, h.id, "Succeeded", "Stopped"); err != nil {
				r.p.log.Error("settling a cluster's stop", "cluster", h.id.String(), "err", err)
			}
		case "Deleting":
			os.RemoveAll(r.p.clusterDir(h.id))
		}
		if err := r.lease(key).Release(ctx); err != nil {
			r.p.log.Warn("giving a cluster's lease up", "cluster", h.id.String(), "err", err)
		}
		r.mu.Lock()
		delete(r.held, key)
		r.mu.Unlock()
	}()
}

// finishStop settles the stop of a cluster no replica runs (its holder
// died, or it was not running), once its lease is free: what its nodes
// left on this machine is torn down.
func (r *leaseRunner) finishStop(ctx context.Context, key string, id resourceid.ID) {
	l := r.lease(key)
	if ok, err := l.Acquire(ctx); err != nil || !ok {
		return
	}
	if st, err := r.p.viewState(ctx, id.String()); err == nil {
		r.p.teardownNodes(st)
	}
	if err := r.p.setStatus(ctx, id, "Succeeded", "Stopped"); err != nil {
		r.p.log.Error("settling a cluster's stop", "cluster", id.String(), "err", err)
	}
	if err := l.Release(ctx); err != nil {
		r.p.log.Warn("giving a cluster's lease up", "cluster", id.String(), "err", err)
	}
}

// start starts a cluster whose lease this replica took: its control
// plane's files from the database, its nodes prepared for this machine,
// then the processes; it settles a create or start (action resumeFinish).
func (r *leaseRunner) start(key string, h *heldCluster, loc string, props Properties, action resumeAction) {
	defer h.busy.Store(false)
	ctx, p, id := h.ctx, r.p, h.id
	st, err := p.viewState(ctx, id.String())
	cfg := p.controlPlaneConfig(id, props, st)
	if err == nil {
		err = p.restoreControlPlane(ctx, key, cfg.DataDir)
	}
	if err == nil {
		err = p.prepareNodes(ctx, id, loc, props, &st, true)
	}
	if err == nil {
		err = p.sup.Start(ctx, key, cfg, p.nodeConfigs(id, loc, props, st))
	}
	if serr := p.saveControlPlane(context.WithoutCancel(ctx), key, cfg.DataDir); serr != nil {
		p.log.Error("sealing a control plane's files into the database", "cluster", id.String(), "err", serr)
		if err == nil {
			err = serr
		}
	}
	r.mu.Lock()
	h.started = true
	r.mu.Unlock()
	if ctx.Err() != nil {
		return // stopped here meanwhile: settled by whoever stopped it
	}
	if err != nil {
		p.log.Error("starting a cluster held here", "cluster", id.String(), "err", err)
	}
	if action != resumeFinish {
		return
	}
	prov, power := "Succeeded", "Running"
	if err != nil {
		prov, power = "Failed", ""
		p.setFailure(ctx, id, clusterStartError(id, err))
	}
	if err := p.setStatus(ctx, id, prov, power); err != nil {
		p.log.Error("settling a started cluster's state", "cluster", id.String(), "err", err)
	}
}

// dropExpired stops the clusters whose leases expired while the database
// could not be read.
func (r *leaseRunner) dropExpired() {
	expired := r.heldWhere(func(_ string, h *heldCluster) bool { return !h.leaving && time.Since(h.renewed) >= r.rep.LeaseTTL })
	for key, h := range expired {
		r.p.log.Warn("could not renew a cluster's lease before it expired; stopping the cluster here", "cluster", h.id.String())
		go r.drop(key, h)
	}
}

// removeStale removes the directories this replica keeps of clusters that
// no longer exist (deleted through another replica, or while this one was
// down), after tearing down what their nodes left on this machine. rows
// are the clusters that exist; a cluster's directory is made only by its
// holder, after its row was committed, so a directory of no row is stale.
func (r *leaseRunner) removeStale(rows []store.Resource) {
	want := map[string]bool{filepath.Base(r.p.imageCacheDir()): true}
	for _, row := range rows {
		if id, err := resourceid.Parse(row.ID); err == nil {
			want[filepath.Base(r.p.clusterDir(id))] = true
		}
	}
	entries, err := os.ReadDir(r.p.cfg.DataDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || want[e.Name()] {
			continue
		}
		dir := filepath.Join(r.p.cfg.DataDir, e.Name())
		nodes, _ := os.ReadDir(filepath.Join(dir, "nodes"))
		for _, n := range nodes {
			nodeDir := filepath.Join(dir, "nodes", n.Name())
			if _, err := os.Stat(filepath.Join(nodeDir, agentconfig.RuntimeDir)); err == nil {
				r.p.sup.Teardown(agentconfig.Path(nodeDir))
			}
		}
		r.p.log.Info("removing the directory of a deleted cluster", "dir", dir)
		os.RemoveAll(dir)
	}
}
