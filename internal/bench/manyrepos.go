package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/store"
)

// The many-repositories lines compare a registry holding opts.Repositories
// repositories of tagsPerRepo tags each with the benchmark's nearly empty
// one (one repository, one tag) on the same requests: manifest GET by tag,
// tag list, catalog page. The repositories are written straight into the
// running drydock's store (a second SQLite connection; the server reads
// registry metadata from the store and has cached none of these), since
// pushing them one by one would take minutes.

const tagsPerRepo = 10

// scaleRepoName is the name of the i-th seeded repository.
func scaleRepoName(i int) string { return fmt.Sprintf("scale/r%05d", i) }

// seedRepositories writes n repositories into the registry regID of the
// drydock whose data directory is dir: each links the benchmark's config
// and a layer and holds one image manifest tagged v0…v9.
func seedRepositories(ctx context.Context, dir, regID string, n int, layer string, layerSize int64) error {
	st, err := store.Open(filepath.Join(dir, "drydock.db"))
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
			if err := tx.LinkBlob(regID, repo, cfg, int64(len(benchConfig))); err != nil {
				return err
			}
			if err := tx.LinkBlob(regID, repo, layer, layerSize); err != nil {
				return err
			}
			if _, err := tx.PutRegistryManifest(store.RegistryManifest{Registry: regID, Repository: repo, Digest: digest,
				MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/vnd.oci.image.config.v1+json", Body: body},
				[]store.ManifestRef{{Digest: cfg}, {Digest: layer}}); err != nil {
				return err
			}
			for t := range tagsPerRepo {
				if err := tx.PutRegistryTag(regID, repo, fmt.Sprintf("v%d", t), digest); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// tokenFor asks drydock for an access token with the given scopes, with
// the client's refresh token.
func (c *regClient) tokenFor(ctx context.Context, scopes ...string) (string, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "service": {c.host}, "scope": scopes, "refresh_token": {c.refresh}}
	resp, err := c.do(ctx, "POST", "/oauth2/token", strings.NewReader(form.Encode()), 0,
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var at struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", drain(resp, http.StatusOK)
	}
	return at.AccessToken, json.NewDecoder(resp.Body).Decode(&at)
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

// repoLine is one compared request: the nearly empty registry's path, and
// a function giving one of the large registry's, with the client (token)
// to send it with.
type repoLine struct {
	name  string
	empty string
	large func(clients []*regClient) (*regClient, string)
}

func repoLines() []repoLine {
	return []repoLine{
		{"manifest GET by tag", "/v2/bench/manifests/v1", func(cs []*regClient) (*regClient, string) {
			i := rand.IntN(len(cs))
			return cs[i], "/v2/" + scaleRepoName(i) + "/manifests/v" + fmt.Sprint(rand.IntN(tagsPerRepo))
		}},
		{"tag list", "/v2/bench/tags/list", func(cs []*regClient) (*regClient, string) {
			i := rand.IntN(len(cs))
			return cs[i], "/v2/" + scaleRepoName(i) + "/tags/list"
		}},
		{"catalog, 100 a page", "/v2/_catalog?n=100", func(cs []*regClient) (*regClient, string) {
			return cs[0], "/v2/_catalog?n=100&last=" + url.QueryEscape(scaleRepoName(rand.IntN(len(cs))))
		}},
	}
}

// clientsForRepos returns the nearly empty registry's client with a token
// for its repository and the catalog, and the large registry's clients,
// one for each sampled repository, with a token for it and the catalog.
func clientsForRepos(ctx context.Context, empty, large *regClient) (*regClient, []*regClient, error) {
	et, err := empty.tokenFor(ctx, "repository:bench:pull", "registry:catalog:*")
	if err != nil {
		return nil, nil, err
	}
	var cs []*regClient
	for i := range sampledRepos {
		t, err := large.tokenFor(ctx, "repository:"+scaleRepoName(i)+":pull", "registry:catalog:*")
		if err != nil {
			return nil, nil, err
		}
		cs = append(cs, large.withBearer(t))
	}
	return empty.withBearer(et), cs, nil
}

// repoScale is what the many-repositories stage measured.
type repoScale struct {
	lines        []repoLine
	empty, large [][]float64 // per line: rate (req/s)
	seedSecs     float64
	rssGrowthMiB float64 // the large registry's drydock, from before seeding to after the requests
}

// manyRepositories runs the many-repositories stage on a drydock of its
// own in dir, against the nearly empty registry of dd.
func manyRepositories(ctx context.Context, opts Options, dir string, dd *proc) (*repoScale, error) {
	big, err := startDrydock(ctx, opts.Drydock, dir)
	if err != nil {
		return nil, fmt.Errorf("starting drydock for %d repositories: %w", opts.Repositories, err)
	}
	defer big.stop()
	layer := make([]byte, 4096)
	layerDigest, err := big.client.putBlob(ctx, layer)
	if err != nil {
		return nil, err
	}
	if err := big.client.putManifest(ctx, layerDigest, int64(len(layer))); err != nil {
		return nil, err
	}
	rssBefore := big.rss()
	start := time.Now()
	if err := seedRepositories(ctx, dir, big.registryID, opts.Repositories, layerDigest, int64(len(layer))); err != nil {
		return nil, fmt.Errorf("seeding %d repositories: %w", opts.Repositories, err)
	}
	out := &repoScale{lines: repoLines(), seedSecs: time.Now().Sub(start).Seconds()}
	empty, large, err := clientsForRepos(ctx, dd.client, big.client)
	if err != nil {
		return nil, err
	}
	n := max(1, opts.ManifestGETs/max(1, opts.Rounds))
	for _, l := range out.lines {
		e, g, err := alternate(max(1, opts.Rounds),
			func() ([]float64, error) {
				r, err := rate(ctx, n, opts.Concurrency, func(ctx context.Context) error { return empty.getOK(ctx, l.empty) })
				return []float64{r}, err
			},
			func() ([]float64, error) {
				r, err := rate(ctx, n, opts.Concurrency, func(ctx context.Context) error {
					c, path := l.large(large)
					return c.getOK(ctx, path)
				})
				return []float64{r}, err
			})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		out.empty, out.large = append(out.empty, e), append(out.large, g)
	}
	out.rssGrowthMiB = float64(big.rss()-rssBefore) / (1 << 20)
	return out, nil
}
