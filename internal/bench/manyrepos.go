package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/store"
)

// The many-repositories lines compare a registry holding opts.Repositories
// repositories of tagsPerRepo tags each with the benchmark's small one (its
// "bench" repository and one repository of the same shape) on the same
// requests about a repository of that shape: manifest GET by tag, tag
// list, a catalog page of 100 (which the small registry fills with its 2
// names) and one of 2 (a page as long from both). The repositories are written straight into the running
// drydock's store (a second SQLite connection; the server reads registry
// metadata from the store and has cached none of these), since pushing
// them one by one would take minutes.

const tagsPerRepo = 10

// scaleRepoName is the name of the i-th seeded repository.
func scaleRepoName(i int) string { return fmt.Sprintf("scale/r%05d", i) }

// seedRepositories writes n repositories into the registry regID of the
// drydock whose data directory is dir: each links the benchmark's config
// and a layer and holds one image manifest tagged v0…v9.
func seedRepositories(ctx context.Context, dir, regID string, n int, layer string, layerSize int64) error {
	st, err := store.Open(filepath.Join(dir, "drydock.db"), domains.Migrations())
	if err != nil {
		return err
	}
	defer st.Close()
	body := imageManifest(layer, layerSize)
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	cfgSum := sha256.Sum256(benchConfig)
	cfg := "sha256:" + hex.EncodeToString(cfgSum[:])
	return st.Update(ctx, func(tx *store.Tx) error {
		for i := range n {
			repo := scaleRepoName(i)
			if err := metadata.LinkBlob(tx, regID, repo, cfg, int64(len(benchConfig))); err != nil {
				return err
			}
			if err := metadata.LinkBlob(tx, regID, repo, layer, layerSize); err != nil {
				return err
			}
			if _, err := metadata.PutRegistryManifest(tx, metadata.Manifest{Registry: regID, Repository: repo, Digest: digest,
				MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/vnd.oci.image.config.v1+json", Body: body},
				[]metadata.ManifestRef{{Digest: cfg}, {Digest: layer}}); err != nil {
				return err
			}
			for t := range tagsPerRepo {
				if err := metadata.PutRegistryTag(tx, regID, repo, fmt.Sprintf("v%d", t), digest); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// withBearer is a copy of c that sends bearer.
func (c *regClient) withBearer(bearer string) *regClient {
	cc := *c
	cc.bearer = bearer
	return &cc
}

// getOK GETs path and reads the answer, which must be 200.
func (c *regClient) getOK(ctx context.Context, path string) error {
	resp, err := c.do(ctx, "GET", path, nil, 0, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return drain(resp, http.StatusOK)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// sampledRepos is how many of the seeded repositories the requests go
// to, each with a token of its own as a client pulling it would hold.
const sampledRepos = 200

// repoLine is one compared request, as a function giving its path for
// the i-th seeded repository. The small registry is asked about its one
// seeded repository (i = 0), the large one about one of sampledRepos.
type repoLine struct {
	name string
	path func(i int) string
}

func repoLines() []repoLine {
	return []repoLine{
		{"manifest GET by tag", func(i int) string {
			return "/v2/" + scaleRepoName(i) + "/manifests/v" + fmt.Sprint(rand.IntN(tagsPerRepo))
		}},
		{"tag list", func(i int) string { return "/v2/" + scaleRepoName(i) + "/tags/list" }},
		{"catalog, 100 a page", func(i int) string {
			if i == 0 {
				return "/v2/_catalog?n=100"
			}
			return "/v2/_catalog?n=100&last=" + url.QueryEscape(scaleRepoName(i))
		}},
		// Pages of the same length from both registries: what the
		// registry's size costs, apart from the names a page carries.
		{"catalog, 2 a page", func(i int) string {
			if i == 0 {
				return "/v2/_catalog?n=2"
			}
			return "/v2/_catalog?n=2&last=" + url.QueryEscape(scaleRepoName(i))
		}},
	}
}

// scopedClients returns clients of c, one for each of the first n seeded
// repositories, with a token for it and the catalog.
func scopedClients(ctx context.Context, c *regClient, n int) ([]*regClient, error) {
	var cs []*regClient
	for i := range n {
		t, err := c.scoped(ctx, "repository:"+scaleRepoName(i)+":pull registry:catalog:*")
		if err != nil {
			return nil, err
		}
		cs = append(cs, c.withBearer(t))
	}
	return cs, nil
}

// seedRegistry pushes a small layer (and the benchmark's manifest) to the
// drydock p in dataDir and seeds n repositories beside it.
func seedRegistry(ctx context.Context, p *proc, dataDir string, n int) error {
	layer := make([]byte, 4096)
	layerDigest, err := p.client.putBlob(ctx, layer)
	if err != nil {
		return err
	}
	if err := p.client.putManifest(ctx, layerDigest, int64(len(layer))); err != nil {
		return err
	}
	if err := seedRepositories(ctx, dataDir, p.registryID, n, layerDigest, int64(len(layer))); err != nil {
		return fmt.Errorf("seeding %d repositories: %w", n, err)
	}
	return nil
}

// repoScale is what the many-repositories stage measured.
type repoScale struct {
	lines        []repoLine
	empty, large [][]float64 // per line: rate (req/s) and server CPU per request (µs)
	seedSecs     float64
	rssGrowthMiB float64 // the large registry's drydock, from before seeding to after the requests
}

// manyRepositories runs the many-repositories stage on a drydock of its
// own in dir, against the small registry of dd (data directory ddDir), to
// which it adds the first of the seeded repositories, so that both answer
// the same requests about a repository of the same shape.
func manyRepositories(ctx context.Context, opts Options, dir string, dd *proc, ddDir string) (*repoScale, error) {
	big, err := startDrydock(ctx, opts.Drydock, dir)
	if err != nil {
		return nil, fmt.Errorf("starting drydock for %d repositories: %w", opts.Repositories, err)
	}
	defer big.stop()
	if err := seedRegistry(ctx, dd, ddDir, 1); err != nil {
		return nil, err
	}
	rssBefore := big.rss()
	start := time.Now()
	if err := seedRegistry(ctx, big, dir, opts.Repositories); err != nil {
		return nil, err
	}
	out := &repoScale{lines: repoLines(), seedSecs: time.Since(start).Seconds()}
	small, err := scopedClients(ctx, dd.client, 1)
	if err != nil {
		return nil, err
	}
	large, err := scopedClients(ctx, big.client, min(sampledRepos, opts.Repositories))
	if err != nil {
		return nil, err
	}
	n := max(1, opts.ManifestGETs/max(1, opts.Rounds))
	for _, l := range out.lines {
		e, g, err := alternate(max(1, opts.Rounds),
			measureWithCPU(ctx, dd, n, opts.Concurrency, func(ctx context.Context) error { return small[0].getOK(ctx, l.path(0)) }),
			measureWithCPU(ctx, big, n, opts.Concurrency, func(ctx context.Context) error {
				i := rand.IntN(len(large))
				return large[i].getOK(ctx, l.path(i))
			}))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		out.empty, out.large = append(out.empty, e), append(out.large, g)
	}
	out.rssGrowthMiB = float64(big.rss()-rssBefore) / (1 << 20)
	return out, nil
}
