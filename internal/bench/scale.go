package bench

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/internal/access"
	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
)

// The scale lines run a second drydock whose data directory was seeded
// before it started, straight through the store in one transaction (the
// server loads what the store holds at start, as after any restart): a
// directory with many role assignments, for token issuance.

// seedAssignments writes n role assignments into the store of the data
// directory dir, before drydock first starts there: about n/5 principals
// holding roles that the registry's token service consults (AcrPull,
// AcrPush, Reader, Contributor, Owner, Repository Reader) at subscription,
// resource-group and registry scopes of 50 subscriptions. None is the
// benchmark's own principal, whose decisions the engine answers from its
// own assignments whatever the directory holds.
func seedAssignments(ctx context.Context, dir string, n int) error {
	st, err := store.Open(filepath.Join(dir, "drydock.db"), domains.Migrations())
	if err != nil {
		return err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(13, 2))
	roles := []string{authz.AcrPullGUID, authz.AcrPushGUID, authz.ReaderGUID, authz.ContributorGUID, authz.OwnerGUID,
		authz.ContainerRegistryRepositoryReaderGUID}
	guid := func(kind, i int) string { return fmt.Sprintf("%08x-%04x-4000-8000-%012x", i, kind, i) }
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return st.Update(ctx, func(tx *store.Tx) error {
		// A principal holds a role at a scope at most once: draw again.
		for i, made := 0, 0; made < n; i++ {
			sub := "/subscriptions/" + guid(1, rng.IntN(50))
			scope := sub
			switch rng.IntN(3) {
			case 1:
				scope = fmt.Sprintf("%s/resourceGroups/rg-%d", sub, rng.IntN(20))
			case 2:
				scope = fmt.Sprintf("%s/resourceGroups/rg-%d/providers/Microsoft.ContainerRegistry/registries/acr%d", sub, rng.IntN(20), rng.IntN(10))
			}
			name := guid(3, i)
			role := roles[rng.IntN(len(roles))]
			a := access.Assignment{
				ID:   scope + "/providers/Microsoft.Authorization/roleAssignments/" + name,
				Name: name, Type: "Microsoft.Authorization/roleAssignments",
				Properties: access.Properties{
					RoleDefinitionID: sub + authz.RoleDefinitionsPath + role,
					PrincipalID:      guid(2, rng.IntN(max(1, n/5))), PrincipalType: "ServicePrincipal",
					Scope: scope, CreatedOn: created, UpdatedOn: created,
				},
			}
			body, err := json.Marshal(a)
			if err != nil {
				return err
			}
			err = accessdb.CreateRoleAssignment(tx, accessdb.RoleAssignment{Name: name, Scope: scope, RoleGUID: role, PrincipalID: a.Properties.PrincipalID, Body: body})
			switch {
			case err == nil:
				made++
			case !errors.Is(err, errdefs.ErrAlreadyExists):
				return fmt.Errorf("seeding assignment %d: %w", i, err)
			}
		}
		return nil
	})
}

// startWithAssignments starts a drydock of its own in dir after seeding n
// role assignments there, and says how long the seeding took.
func startWithAssignments(ctx context.Context, bin, dir string, n int) (*proc, time.Duration, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	if err := seedAssignments(ctx, dir, n); err != nil {
		return nil, 0, err
	}
	took := time.Since(start)
	dd, err := startDrydock(ctx, bin, dir)
	if err != nil {
		return nil, 0, fmt.Errorf("starting drydock with %d assignments: %w", n, err)
	}
	return dd, took, nil
}

// cpu is the CPU time the process has used so far (user and system), from
// /proc/PID/stat in clock ticks of 10 ms.
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sy, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+sy) * 10 * time.Millisecond
}

// rateWithCPU runs n calls of f over conc clients against the servers ps:
// the rate, and the servers' CPU time per call (all of them together),
// which says what they need of the machine whatever else runs there.
func rateWithCPU(ctx context.Context, ps []*proc, n, conc int, f func(context.Context) error) (perSec float64, cpuPer time.Duration, err error) {
	cpu := func() (t time.Duration) {
		for _, p := range ps {
			t += p.cpu()
		}
		return t
	}
	before := cpu()
	perSec, err = rate(ctx, n, conc, f)
	return perSec, (cpu() - before) / time.Duration(n), err
}

// measureWithCPU is rateWithCPU of one server for alternate: [rate, µs of
// server CPU].
func measureWithCPU(ctx context.Context, p *proc, n, conc int, f func(context.Context) error) func() ([]float64, error) {
	return measureSetWithCPU(ctx, []*proc{p}, n, conc, f)
}

// measureSetWithCPU is measureWithCPU of several servers serving together
// (a replica set), their CPU summed.
func measureSetWithCPU(ctx context.Context, ps []*proc, n, conc int, f func(context.Context) error) func() ([]float64, error) {
	return func() ([]float64, error) {
		r, c, err := rateWithCPU(ctx, ps, n, conc, f)
		return []float64{r, float64(c.Nanoseconds()) / 1e3}, err
	}
}

// alternate measures a and b in turn, rounds times each, so that both see
// the same load on a shared machine, and returns the medians of each one's
// measures (each measure is a list of numbers, e.g. a rate and a cost).
func alternate(rounds int, a, b func() ([]float64, error)) ([]float64, []float64, error) {
	var as, bs [][]float64
	for range rounds {
		x, err := a()
		if err != nil {
			return nil, nil, err
		}
		y, err := b()
		if err != nil {
			return nil, nil, err
		}
		as, bs = append(as, x), append(bs, y)
	}
	return medians(as), medians(bs), nil
}

// medians returns the median of each column of rows.
func medians(rows [][]float64) []float64 {
	out := make([]float64, len(rows[0]))
	for i := range out {
		col := make([]float64, len(rows))
		for j, r := range rows {
			col[j] = r[i]
		}
		out[i] = median(col)
	}
	return out
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// concurrentPushSize is the size of each blob of the concurrent-push line.
const concurrentPushSize = 20 << 20

// concurrentPush is what the concurrent-push line measured: aggregate MB/s
// of the sink, drydock and docker-registry (medians of the rounds), and
// each registry's median share of its round's sink.
type concurrentPush struct {
	n                       int
	sink, drydock, peer     float64
	drydockShare, peerShare float64
	drydockPerPeer          float64 // median of each round's drydock ÷ docker-registry
	rounds                  int
}

// concurrentPushes runs opts.ConcurrentPushes pushes of 20 MiB at once to
// the sink, then drydock, then docker-registry, in rounds, each push with
// content of its own (so that no registry finds a blob it already has):
// the aggregate rate is all the bytes over the time from the first request
// to the last answer.
func concurrentPushes(ctx context.Context, opts Options, sink *sinkProc, sinkDir string, dd, peer *proc) (*concurrentPush, error) {
	n := opts.ConcurrentPushes
	blobs := make([][]byte, n)
	for i := range blobs {
		blobs[i] = make([]byte, concurrentPushSize)
		if _, err := crand.Read(blobs[i]); err != nil {
			return nil, err
		}
	}
	targets := []func(context.Context, []byte, string) (float64, error){sink.push, dd.client.push, peer.client.push}
	var rows [][]float64
	for r := range max(1, opts.Rounds) {
		var row []float64
		for t, push := range targets {
			digests := make([]string, n)
			for i, b := range blobs {
				binary.BigEndian.PutUint32(b, uint32(r<<8|t)) // fresh content for each round and server
				sum := sha256.Sum256(b)
				digests[i] = "sha256:" + hex.EncodeToString(sum[:])
			}
			mbs, err := pushAll(ctx, blobs, digests, push)
			if err != nil {
				return nil, fmt.Errorf("%d concurrent pushes to %s: %w", n, [...]string{"the sink", "drydock", "docker-registry"}[t], err)
			}
			if t == 0 {
				for _, d := range digests {
					os.Remove(filepath.Join(sinkDir, strings.TrimPrefix(d, "sha256:")))
				}
			}
			row = append(row, mbs)
		}
		rows = append(rows, append(row, row[1]/row[0], row[2]/row[0], row[1]/row[2]))
	}
	m := medians(rows)
	return &concurrentPush{n: n, sink: m[0], drydock: m[1], peer: m[2], drydockShare: m[3], peerShare: m[4], drydockPerPeer: m[5], rounds: len(rows)}, nil
}

// pushAll pushes every blob at once and returns the aggregate MB/s.
func pushAll(ctx context.Context, blobs [][]byte, digests []string, push func(context.Context, []byte, string) (float64, error)) (float64, error) {
	errs := make([]error, len(blobs))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range blobs {
		wg.Go(func() { _, errs[i] = push(ctx, blobs[i], digests[i]) })
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return mbps(int64(len(blobs))*concurrentPushSize, took), nil
}

// report writes the concurrent-push lines of the summary table.
func (c *concurrentPush) report(w io.Writer) {
	fmt.Fprintf(w, "%d concurrent %d MiB pushes, aggregate (MB/s)\t%.0f\t%.0f\t%.2fx\t>= 1x peer\n",
		c.n, concurrentPushSize>>20, c.drydock, c.peer, c.drydock/c.peer)
	fmt.Fprintf(w, "  %% of the sink's %d concurrent pushes, medians of %d rounds\t%.0f%%\t%.0f%%\t\t\n",
		c.n, c.rounds, 100*c.drydockShare, 100*c.peerShare)
	fmt.Fprintf(w, "  drydock / docker-registry in each round, median\t\t\t%.2fx\t\n", c.drydockPerPeer)
	fmt.Fprintf(w, "  the sink, same rounds (MB/s)\t%.0f\t\t\t\n", c.sink)
}
