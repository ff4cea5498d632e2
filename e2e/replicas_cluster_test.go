package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// TestReplicasClusterFailover: a cluster created through the load balancer
// of a replica set runs on one replica only (the holder of its lease), with
// its objects in the set's PostgreSQL database. Killed with SIGKILL, the
// holder's cluster restarts on another replica: the ConfigMap written
// before is read with the kubeconfig az aks get-credentials wrote before
// (same CA, same client certificate), the node is Ready again and its pod
// runs again, in a container of the new holder's node. The
// killed replica, restarted, does not take the cluster back. Scaled,
// stopped and started through the load balancer, it is scaled, stopped
// and started by its holder. A replica stopped gracefully hands it over
// at once. Deleting it drops its schema, its sealed files and its lease.
func TestReplicasClusterFailover(t *testing.T) {
	needContainerRuntime(t)
	rs := startReplicaSet(t)
	az := rs.replicas[0].admin(t)
	az.ok("group", "create", "-n", "failover", "-l", "eastus", "-o", "none")
	const cluster = "failover"
	mc := az.obj("aks", "create", "-n", cluster, "-g", "failover", "--node-count", "1", "--generate-ssh-keys")
	if str(mc, "provisioningState") != "Succeeded" {
		t.Fatalf("aks create through the load balancer: %v", mc)
	}
	deleted := deleteClusterAtCleanup(t, az, "failover", cluster)
	kubeconfig := filepath.Join(t.TempDir(), "config")
	az.ok("aks", "get-credentials", "-g", "failover", "-n", cluster, "--file", kubeconfig)

	holder := rs.clusterHolder(t)
	k := &podsKubectl{t: t, az: az, kubeconfig: kubeconfig, s: holder.server, clusterDir: filepath.Join(holder.dataDir, "clusters")}
	k.eventually("1 node Ready", podsDeadline, func() string { return k.checkNodesReady(1) })
	k.ok("create", "configmap", "survivor", "--from-literal=state=kept")
	// A pod that needs no registry: the node's own sandbox image.
	k.ok("run", "sleeper", "--image=drydock.local/pause:3.10", "--image-pull-policy=Never", "--restart=Never")
	before := waitContainer(t, az, kubeconfig, "sleeper")
	// Its objects are in PostgreSQL (kine's table in a schema of the
	// cluster's), not in a SQLite file of the holder's.
	db, err := sql.Open("pgx", rs.database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkKineOnPostgres(t, db, holder.server)

	// kill -9 the holder: its control plane and node agents get SIGTERM
	// from the kernel (their parent died); its lease expires.
	killed := time.Now()
	holder.kill9()
	t.Logf("killed the holder %s", holder.name)
	var took time.Duration
	k.eventually("the ConfigMap, read with the same kubeconfig after the failover", podsDeadline, func() string {
		r := k.run("get", "configmap", "survivor", "-o", "jsonpath={.data.state}")
		if r.Code != 0 || r.Stdout != "kept" {
			return r.String()
		}
		took = time.Since(killed)
		return ""
	})
	successor := rs.clusterHolder(t)
	if successor == holder {
		t.Fatalf("the killed replica %s still runs the cluster", holder.name)
	}
	t.Logf("timing: %s serves the cluster's API %v after %s was killed", successor.name, took.Round(time.Millisecond), holder.name)
	k.s, k.clusterDir = successor.server, filepath.Join(successor.dataDir, "clusters")
	// The node is Ready again, registered by an agent on the new holder
	// (its ready file, written once its Node is registered, in the new
	// holder's data directory).
	k.eventually("1 node Ready, run by "+successor.name, podsDeadline, func() string {
		agents := 0
		for _, cmdline := range clusterProcesses(rs)[successor] {
			if strings.Contains(cmdline, " cluster-node ") {
				agents++
			}
		}
		if agents != 1 {
			return fmt.Sprintf("%s runs %d node agents of the cluster, want 1", successor.name, agents)
		}
		if ready, _ := filepath.Glob(filepath.Join(successor.dataDir, "clusters", "*", "nodes", "*", agentconfig.ReadyFile)); len(ready) != 1 {
			return fmt.Sprintf("ready files of nodes on %s: %v", successor.name, ready)
		}
		return k.checkNodesReady(1)
	})
	// The pod runs again, in a new container on the new holder's node
	// (containers are local to a machine's containerd).
	k.eventually("pod sleeper running in a container of the new holder's node", podsDeadline, func() string {
		r := k.run("get", "pod", "sleeper", "-o", "jsonpath={.status.phase} {.status.containerStatuses[0].containerID}")
		if f := strings.Fields(r.Stdout); r.Code != 0 || len(f) != 2 || f[0] != "Running" || strings.HasPrefix(before, f[1]+" ") {
			return fmt.Sprintf("pod sleeper: %s (before the kill: %s)", r, before)
		}
		return ""
	})
	t.Logf("timing: the node is Ready again %v after the kill", time.Since(killed).Round(time.Millisecond))
	if got := az.tsv("aks", "show", "-g", "failover", "-n", cluster, "--query", "powerState.code"); got != "Running" {
		t.Errorf("aks show after the failover: powerState %q, want Running", got)
	}

	// The killed replica comes back; the cluster stays where it is.
	if err := rs.launchReplica(holder); err != nil {
		t.Fatal(err)
	}
	if again := rs.clusterHolder(t); again != successor {
		t.Errorf("after %s restarted, %s runs the cluster, want %s", holder.name, again.name, successor.name)
	}

	// Whichever replica the load balancer gives them to, a scale, a stop
	// and a start are carried out by the cluster's holder.
	az.ok("aks", "nodepool", "scale", "-g", "failover", "--cluster-name", cluster, "-n", "nodepool1", "--node-count", "2", "-o", "none")
	k.eventually("2 nodes Ready", podsDeadline, func() string {
		if n := len(clusterProcesses(rs)[successor]); n != 3 {
			return fmt.Sprintf("%s runs %d processes of the cluster, want its control plane and 2 node agents", successor.name, n)
		}
		return k.checkNodesReady(2)
	})
	az.ok("aks", "stop", "-g", "failover", "-n", cluster)
	if left := clusterProcesses(rs); len(left) != 0 {
		t.Errorf("processes of the stopped cluster: %v", left)
	}
	az.ok("aks", "start", "-g", "failover", "-n", cluster)
	started := rs.clusterHolder(t)
	k.s, k.clusterDir = started.server, filepath.Join(started.dataDir, "clusters")
	if r := k.run("get", "configmap", "survivor", "-o", "jsonpath={.data.state}"); r.Code != 0 || r.Stdout != "kept" {
		t.Errorf("the ConfigMap after aks stop and start (on %s): %s", started.name, r)
	}
	k.eventually("2 nodes Ready after aks start", podsDeadline, func() string { return k.checkNodesReady(2) })

	// A replica stopped gracefully hands its cluster over at once, its
	// nodes torn down (their pods start again on the next holder's).
	if err := started.stop(); err != nil {
		t.Fatal(err)
	}
	next := rs.clusterHolder(t)
	k.s, k.clusterDir = next.server, filepath.Join(next.dataDir, "clusters")
	k.eventually("2 nodes Ready, run by "+next.name, podsDeadline, func() string {
		if n := len(clusterProcesses(rs)[next]); n != 3 {
			return fmt.Sprintf("%s runs %d processes of the cluster, want its control plane and 2 node agents", next.name, n)
		}
		return k.checkNodesReady(2)
	})
	if runtimes, _ := filepath.Glob(filepath.Join(started.dataDir, "clusters", "*", "nodes", "*", agentconfig.RuntimeDir)); len(runtimes) != 0 {
		t.Errorf("%s stopped gracefully but left its nodes' runtimes: %v", started.name, runtimes)
	}
	if err := rs.launchReplica(started); err != nil {
		t.Fatal(err)
	}
	// The old holder's node left its containers on this machine (its
	// machine survived); it removes them once the cluster is deleted.
	az.ok("aks", "delete", "-g", "failover", "-n", cluster, "--yes")
	*deleted = true
	checkClusterDataDropped(t, db)
	// Every replica's processes of the cluster are gone, and the old
	// holder removes its directory of the deleted cluster.
	ctx, cancel := context.WithTimeout(t.Context(), podsDeadline)
	defer cancel()
	for {
		left := clusterProcesses(rs)
		dirs, _ := filepath.Glob(filepath.Join(holder.dataDir, "clusters", "*", "nodes"))
		if len(left) == 0 && len(dirs) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after aks delete: processes %v, directories %v remain", left, dirs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// clusterHolder returns the one replica running a cluster's control plane
// (a `drydock cluster-controlplane` whose configuration is in its data
// directory), waiting while none does; it fails the test if several do.
func (rs *replicaSet) clusterHolder(t *testing.T) *replica {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), podsDeadline)
	defer cancel()
	for {
		byReplica := clusterProcesses(rs)
		var running []*replica
		for _, r := range rs.replicas {
			for _, cmdline := range byReplica[r] {
				if strings.Contains(cmdline, "cluster-controlplane") {
					running = append(running, r)
					break
				}
			}
		}
		switch {
		case len(running) == 1:
			return running[0]
		case len(running) > 1:
			t.Fatalf("several replicas run the cluster's control plane: %v", byReplica)
		}
		if ctx.Err() != nil {
			t.Fatal("no replica runs the cluster's control plane")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clusterProcesses lists, by replica, the command lines of the cluster
// processes (control planes, node agents) whose configuration is in the
// replica's data directory.
func clusterProcesses(rs *replicaSet) map[*replica][]string {
	out := map[*replica][]string{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if !strings.Contains(cmdline, " cluster-controlplane ") && !strings.Contains(cmdline, " cluster-node ") {
			continue
		}
		for _, r := range rs.replicas {
			if strings.Contains(cmdline, " "+filepath.Join(rs.root, r.name)+string(filepath.Separator)) {
				out[r] = append(out[r], cmdline)
			}
		}
	}
	return out
}

// kineTables counts the clusters' kine tables in the database.
const kineTables = `SELECT count(*) FROM information_schema.tables WHERE table_schema LIKE 'kine\_%' AND table_name = 'kine'`

// pgCount runs a query of one count.
func pgCount(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// checkKineOnPostgres checks that the one cluster of a server on
// PostgreSQL keeps its objects there (kine's table in a schema of the
// cluster's), not in a SQLite file of the server's data directory.
func checkKineOnPostgres(t *testing.T, db *sql.DB, s *server) {
	t.Helper()
	if n := pgCount(t, db, kineTables); n != 1 {
		t.Errorf("%d kine tables in the database, want the cluster's one", n)
	}
	if files, _ := filepath.Glob(filepath.Join(s.dataDir, "clusters", "*", "controlplane", "state.db")); len(files) != 0 {
		t.Errorf("the server keeps the cluster's objects in %v, want them in PostgreSQL", files)
	}
}

// checkClusterDataDropped checks that nothing of deleted clusters is left
// in the database: kine schemas, sealed files, leases.
func checkClusterDataDropped(t *testing.T, db *sql.DB) {
	t.Helper()
	schemas := pgCount(t, db, `SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'kine\_%'`)
	files := pgCount(t, db, `SELECT count(*) FROM shared_secrets WHERE name LIKE 'cluster/%'`)
	leases := pgCount(t, db, `SELECT count(*) FROM leases WHERE name LIKE 'cluster/%'`)
	if schemas != 0 || files != 0 || leases != 0 {
		t.Errorf("after aks delete: %d kine schemas, %d sealed cluster files, %d cluster leases left in the database, want none", schemas, files, leases)
	}
}

// TestAKSOnPostgres: a single server on PostgreSQL (not a replica set)
// keeps its clusters' objects there; killed and restarted, it brings the
// cluster back with them; deleting the cluster drops its schema.
func TestAKSOnPostgres(t *testing.T) {
	needContainerRuntime(t)
	pg := storetest.StartPostgres(t)
	database := pg.NewDatabase(t)
	s := startServer(t, "DRYDOCK_DATABASE="+database)
	az := s.admin(t)
	az.ok("group", "create", "-n", "rg", "-l", "eastus", "-o", "none")
	az.ok("aks", "create", "-n", "onpg", "-g", "rg", "--node-count", "1", "--generate-ssh-keys", "-o", "none")
	kubeconfig := filepath.Join(t.TempDir(), "config")
	az.ok("aks", "get-credentials", "-g", "rg", "-n", "onpg", "--file", kubeconfig)
	k := &podsKubectl{t: t, az: az, kubeconfig: kubeconfig, s: s, clusterDir: filepath.Join(s.dataDir, "clusters")}
	k.ok("create", "configmap", "survivor", "--from-literal=state=kept")
	db, err := sql.Open("pgx", database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkKineOnPostgres(t, db, s)

	s.kill9()
	s2 := relaunch(t, s, append(isolationEnv(t.TempDir()), "DRYDOCK_DATABASE="+database))
	az2 := s2.admin(t)
	deleted := deleteClusterAtCleanup(t, az2, "rg", "onpg")
	k.az, k.s = az2, s2
	k.eventually("the ConfigMap after the restart", podsDeadline, func() string {
		if r := k.run("get", "configmap", "survivor", "-o", "jsonpath={.data.state}"); r.Code != 0 || r.Stdout != "kept" {
			return r.String()
		}
		return ""
	})
	az2.ok("aks", "delete", "-g", "rg", "-n", "onpg", "--yes")
	*deleted = true
	checkClusterDataDropped(t, db)
}
