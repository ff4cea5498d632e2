package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/drydock-dev/drydock/internal/localengine"
)

// The replica-set and storage lines of `bench registry` (--replicas,
// --storage azureblob): what a replica set costs and gives on this
// machine, and what the Azure Blob Storage driver costs against the
// filesystem one. They start what they need on loopback: PostgreSQL
// (Debian's postgresql), Azurite (npm's azurite) and haproxy (Debian's
// haproxy), the way the end-to-end tests do.

// SetOptions configure the replica-set and storage lines.
type SetOptions struct {
	Replicas      int    // replicas of the set (0: skip the replica lines)
	AzureBlob     bool   // measure push and pull on Azure Blob Storage (Azurite) against the filesystem
	BlobSize      int64  // bytes of the push/pull blob
	ManifestGETs  int    // requests per measure of manifest GETs
	TokenRequests int    // requests per measure of token issuance
	Rounds        int    // alternating rounds (medians are reported)
	Concurrency   int    // parallel clients for request rates
	Drydock       string // path of the drydock binary
	Out           io.Writer
}

// Set runs the replica-set lines and the storage lines that opts asks
// for, and writes a report to opts.Out.
func Set(ctx context.Context, opts SetOptions) ([]Result, error) {
	dir, err := os.MkdirTemp("", "drydock-bench-set-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Check every prerequisite before starting anything.
	var haproxy string
	if opts.Replicas > 0 {
		if haproxy, err = localengine.HAProxyPath(); err != nil {
			return nil, err
		}
	}
	az, stopAzurite, err := localengine.RunAzurite(filepath.Join(dir, "azurite"))
	if errors.Is(err, localengine.ErrNoAzurite) {
		return nil, fmt.Errorf("%w (the replica set and --storage azureblob keep blobs in Azurite)", err)
	}
	if err != nil {
		return nil, err
	}
	defer stopAzurite()
	azureEnv := func() []string {
		return []string{
			"DRYDOCK_STORAGE_TYPE=azureblob",
			"DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_URL=" + az.AccountURL,
			"DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_NAME=" + localengine.AzuriteAccount,
			"DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_KEY=" + localengine.AzuriteKey,
			"DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER=" + localengine.NewContainerName(),
		}
	}
	var results []Result
	w := tabwriter.NewWriter(opts.Out, 0, 0, 2, ' ', 0)
	if opts.Replicas > 0 {
		rs, err := replicaLines(ctx, opts, dir, haproxy, azureEnv())
		if err != nil {
			return nil, err
		}
		results = append(results, rs...)
	}
	if opts.AzureBlob {
		rs, err := storageLines(ctx, opts, dir, azureEnv())
		if err != nil {
			return nil, err
		}
		results = append(results, rs...)
	}
	fmt.Fprintln(w, "\nmetric\tresult\tcompared with\tratio\tnote")
	for _, r := range results {
		fmt.Fprintf(w, "%s (%s)\t%.0f\t%.0f\t%.2fx\t%s\n", r.Name, r.Unit, r.Drydock, r.Peer, r.Drydock/max(r.Peer, 1e-9), r.Note)
	}
	return results, w.Flush()
}

// replicaLines starts a set of opts.Replicas replicas on one PostgreSQL
// database and one Azurite container, with haproxy in front (one API
// frontend over all of them, one registry frontend over the first only,
// and one over all), and measures manifest GETs and token issuance through
// each registry frontend in alternating rounds.
func replicaLines(ctx context.Context, opts SetOptions, dir, haproxy string, storage []string) ([]Result, error) {
	pg, stopPG, err := localengine.LaunchPostgres()
	if errors.Is(err, localengine.ErrNoPostgres) {
		return nil, fmt.Errorf("%w (a replica set keeps its metadata in PostgreSQL)", err)
	}
	if err != nil {
		return nil, err
	}
	defer stopPG()
	db, err := pg.CreateDatabase(ctx)
	if err != nil {
		return nil, err
	}
	fronts, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	apiFront, regOne, regAll := fronts[0], fronts[1], fronts[2]
	_, regPort, _ := net.SplitHostPort(regAll)
	key := make([]byte, 32)
	rand.Read(key)
	env := append([]string{
		"DRYDOCK_DATABASE=" + db,
		"DRYDOCK_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
		"DRYDOCK_PUBLIC_URL=https://" + apiFront,
		"DRYDOCK_REGISTRY_PUBLIC_PORT=" + regPort,
	}, storage...)
	type member struct {
		p        *proc
		dir      string
		api, reg string
	}
	var set []member
	defer func() {
		for _, m := range set {
			m.p.stop()
		}
	}()
	var state serverState
	fmt.Fprintf(opts.Out, "starting %d replicas (PostgreSQL, Azurite, haproxy)\n", opts.Replicas)
	for i := range opts.Replicas {
		addrs, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		m := member{dir: filepath.Join(dir, fmt.Sprintf("r%d", i)), api: addrs[0], reg: addrs[1]}
		if m.p, state, err = launchDrydock(ctx, opts.Drydock, m.dir, m.api, m.reg, env...); err != nil {
			return nil, fmt.Errorf("replica %d: %w", i, err)
		}
		set = append(set, m)
	}
	frontends := []localengine.Frontend{{Name: "api", Bind: apiFront}, {Name: "registry_one", Bind: regOne}, {Name: "registry_all", Bind: regAll}}
	for i, m := range set {
		frontends[0].Servers = append(frontends[0].Servers, m.api)
		if i == 0 {
			frontends[1].Servers = append(frontends[1].Servers, m.reg)
		}
		frontends[2].Servers = append(frontends[2].Servers, m.reg)
	}
	hctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stopHAProxy, err := localengine.HAProxy{Bin: haproxy, Dir: dir, Check: "inter 1s", MaxConn: 4000, Frontends: frontends}.Start(hctx)
	if err != nil {
		return nil, err
	}
	defer stopHAProxy()
	// Sign in through the load balancer, on the last replica's data dir:
	// every replica has the admin password.
	last := set[len(set)-1]
	all, err := last.p.signIn(ctx, last.dir, state, regAll)
	if err != nil {
		return nil, err
	}
	one, err := last.p.signIn(ctx, last.dir, state, regOne)
	if err != nil {
		return nil, err
	}
	layer := make([]byte, 1<<20)
	rand.Read(layer)
	digest, err := all.putBlob(ctx, layer)
	if err != nil {
		return nil, err
	}
	if err := all.putManifest(ctx, digest, int64(len(layer))); err != nil {
		return nil, err
	}
	procs := make([]*proc, len(set))
	for i, m := range set {
		procs[i] = m.p
	}
	rounds := max(1, opts.Rounds)
	var results []Result
	for _, line := range []struct {
		name, unit string
		n          int
		f          func(*regClient) func(context.Context) error
	}{
		{"manifest GET through haproxy", "req/s", opts.ManifestGETs, func(c *regClient) func(context.Context) error { return c.getManifest }},
		{"/oauth2/token through haproxy", "tokens/s", opts.TokenRequests, func(c *regClient) func(context.Context) error { return c.fetchToken }},
	} {
		n := max(1, line.n/rounds)
		single, many, err := alternate(rounds,
			measureSetWithCPU(ctx, procs, n, opts.Concurrency, line.f(one)),
			measureSetWithCPU(ctx, procs, n, opts.Concurrency, line.f(all)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", line.name, err)
		}
		r := Result{Name: fmt.Sprintf("%s, %d replicas", line.name, opts.Replicas), Unit: line.unit, Drydock: many[0], Peer: single[0],
			Note: fmt.Sprintf("vs 1 replica; server CPU per request %.0f µs (%d) / %.0f µs (1); median of %d rounds, %d clients",
				many[1], opts.Replicas, single[1], rounds, opts.Concurrency)}
		fmt.Fprintf(opts.Out, "  %-44s %10.0f %s (1 replica: %.0f)\n", r.Name, r.Drydock, r.Unit, r.Peer)
		results = append(results, r)
	}
	return results, nil
}

// storageLines starts two single servers, one with the filesystem blob
// store and one with Azure Blob Storage (Azurite), and measures blob push
// (monolithic PUT) and pull on each in alternating rounds.
func storageLines(ctx context.Context, opts SetOptions, dir string, azure []string) ([]Result, error) {
	fmt.Fprintf(opts.Out, "starting a drydock on the filesystem and one on Azure Blob Storage (Azurite)\n")
	fs, err := startDrydock(ctx, opts.Drydock, filepath.Join(dir, "filesystem"))
	if err != nil {
		return nil, fmt.Errorf("drydock on the filesystem: %w", err)
	}
	defer fs.stop()
	ab, err := startDrydock(ctx, opts.Drydock, filepath.Join(dir, "azureblob"), azure...)
	if err != nil {
		return nil, fmt.Errorf("drydock on Azure Blob Storage: %w", err)
	}
	defer ab.stop()
	data := make([]byte, opts.BlobSize)
	rand.Read(data)
	rounds := max(1, opts.Rounds)
	// Each round pushes a blob of its own to each server (the first byte
	// differs), so that none is deduplicated, then pulls it back.
	var pushes, pulls [][]float64
	for r := range rounds {
		data[0] = byte(r)
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		var row [2][2]float64
		for i, p := range []*proc{fs, ab} {
			if row[i][0], err = p.client.push(ctx, data, d); err != nil {
				return nil, fmt.Errorf("push: %w", err)
			}
			if row[i][1], err = p.client.pull(ctx, d, opts.BlobSize); err != nil {
				return nil, fmt.Errorf("pull: %w", err)
			}
		}
		pushes = append(pushes, []float64{row[0][0], row[1][0]})
		pulls = append(pulls, []float64{row[0][1], row[1][1]})
	}
	push, pull := medians(pushes), medians(pulls)
	note := fmt.Sprintf("vs the filesystem driver; %s blob, median of %d rounds; Azurite on this machine", size(opts.BlobSize), rounds)
	results := []Result{
		{Name: "blob push (monolithic PUT), Azure Blob", Unit: "MB/s", Drydock: push[1], Peer: push[0], Note: note},
		{Name: "blob pull, Azure Blob", Unit: "MB/s", Drydock: pull[1], Peer: pull[0], Note: note},
	}
	for _, r := range results {
		fmt.Fprintf(opts.Out, "  %-44s %10.0f %s (filesystem: %.0f)\n", r.Name, r.Drydock, r.Unit, r.Peer)
	}
	return results, nil
}
