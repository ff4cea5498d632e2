package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// testRegistryGGCR does what crane does, with go-containerregistry: it
// reads the credentials `acr login` wrote to the Docker configuration
// ($DOCKER_CONFIG) through authn.DefaultKeychain, pushes a multi-layer
// image and a multi-platform index, pulls them back (digests and contents
// verified), tags, lists tags and the catalog, mounts across repositories
// and deletes.
func testRegistryGGCR(t *testing.T, e *regEnv) {
	ctx := t.Context()
	dockerConfig := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dockerConfig) // for authn.DefaultKeychain in this process
	az := e.s.admin(t).withEnv("DOCKER_CONFIG=" + dockerConfig)
	const acr = "e2eggcr"
	login, _ := e.registry(t, acr)

	if out := az.ok("acr", "login", "-n", acr); strings.TrimSpace(out) != "Login Succeeded" {
		t.Errorf("acr login printed %q, want Login Succeeded", out)
	}
	raw, err := os.ReadFile(filepath.Join(dockerConfig, "config.json"))
	if err != nil {
		t.Fatalf("acr login wrote no Docker configuration: %v", err)
	}
	var dc struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(raw, &dc); err != nil || dc.Auths[login].Auth == "" {
		t.Fatalf("Docker configuration has no auths[%q] (%v):\n%s", login, err, raw)
	}
	reg, err := name.NewRegistry(login)
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil || cfg.Username != nullGUID || cfg.Password == "" {
		t.Fatalf("DefaultKeychain for %s: user %q (%v), want %s and a refresh token", login, cfg.Username, err, nullGUID)
	}
	opts := func() []remote.Option {
		return []remote.Option{remote.WithContext(ctx), remote.WithTransport(e.transport()), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	}

	// A random image with several layers, one of them larger than the
	// others.
	img, err := random.Image(64<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	big, err := random.Image(3<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	bigLayers, _ := big.Layers()
	layers, _ := img.Layers()
	img, err = mutate.AppendLayers(img, bigLayers[0])
	if err != nil {
		t.Fatal(err)
	}
	appRef := mustTag(t, login+"/ggcr/app:v1")
	if err := remote.Write(appRef, img, opts()...); err != nil {
		t.Fatalf("push %s: %v", appRef, err)
	}
	pulled, err := remote.Image(appRef, opts()...)
	if err != nil {
		t.Fatalf("pull %s: %v", appRef, err)
	}
	if got, want := mustDigest(t, pulled), mustDigest(t, img); got != want {
		t.Errorf("pulled %s has digest %s, pushed %s", appRef, got, want)
	}
	// validate.Image reads every blob and checks digests and sizes.
	if err := validate.Image(pulled); err != nil {
		t.Errorf("pulled image does not validate: %v", err)
	}
	pulledLayers, _ := pulled.Layers()
	if len(pulledLayers) != len(layers)+1 {
		t.Errorf("pulled image has %d layers, want %d", len(pulledLayers), len(layers)+1)
	}

	// A second tag, and the same image in another repository (its blobs
	// are mounted from ggcr/app).
	v2 := mustTag(t, login+"/ggcr/app:v2")
	if err := remote.Tag(v2, pulled, opts()...); err != nil {
		t.Fatalf("tag %s: %v", v2, err)
	}
	copyRef := mustTag(t, login+"/ggcr/copy:v1")
	if err := remote.Write(copyRef, pulled, opts()...); err != nil {
		t.Fatalf("push %s (mounting from ggcr/app): %v", copyRef, err)
	}
	if d, err := remote.Head(copyRef, opts()...); err != nil || d.Digest != mustDigest(t, img) {
		t.Errorf("HEAD %s: %v %v, want %s", copyRef, d, err, mustDigest(t, img))
	}

	// A multi-platform index: linux/amd64, linux/arm64/v8, linux/s390x.
	idx := randomOCIIndex(t, 32<<10)
	idxRef := mustTag(t, login+"/ggcr/multi:v1")
	if err := remote.WriteIndex(idxRef, idx, opts()...); err != nil {
		t.Fatalf("push index %s: %v", idxRef, err)
	}
	pulledIdx, err := remote.Index(idxRef, opts()...)
	if err != nil {
		t.Fatalf("pull index %s: %v", idxRef, err)
	}
	if got, want := mustDigest(t, pulledIdx), mustDigest(t, idx); got != want {
		t.Errorf("pulled index digest %s, pushed %s", got, want)
	}
	if err := validate.Index(pulledIdx); err != nil {
		t.Errorf("pulled index does not validate: %v", err)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		child, err := remote.Image(mustDigestRef(t, login+"/ggcr/multi@"+m.Digest.String()), opts()...)
		if err != nil {
			t.Errorf("pull child %s: %v", m.Digest, err)
			continue
		}
		if got := mustDigest(t, child); got != m.Digest {
			t.Errorf("child %s pulled with digest %s", m.Digest, got)
		}
		// What `crane pull --platform` does: resolve the tag to the
		// platform's image.
		byPlatform, err := remote.Image(idxRef, append(opts(), remote.WithPlatform(*m.Platform))...)
		if err != nil {
			t.Errorf("pull %s for %s: %v", idxRef, m.Platform, err)
		} else if got := mustDigest(t, byPlatform); got != m.Digest {
			t.Errorf("pull %s for %s: digest %s, want %s", idxRef, m.Platform, got, m.Digest)
		}
	}

	// Tags and the catalog.
	tags, err := remote.List(appRef.Context(), opts()...)
	if err != nil || !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Errorf("tags of ggcr/app: %v %v, want [v1 v2]", tags, err)
	}
	repos, err := remote.Catalog(ctx, reg, opts()...)
	if err != nil || !slices.Equal(repos, []string{"ggcr/app", "ggcr/copy", "ggcr/multi"}) {
		t.Errorf("catalog: %v %v, want [ggcr/app ggcr/copy ggcr/multi]", repos, err)
	}

	// Delete: a tag, then the image by digest (which takes its last tag
	// with it), then the index.
	if err := remote.Delete(v2, opts()...); err != nil {
		t.Errorf("delete %s: %v", v2, err)
	}
	if tags, err := remote.List(appRef.Context(), opts()...); err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("tags after deleting v2: %v %v, want [v1]", tags, err)
	}
	byDigest := mustDigestRef(t, login+"/ggcr/app@"+mustDigest(t, img).String())
	if err := remote.Delete(byDigest, opts()...); err != nil {
		t.Errorf("delete %s: %v", byDigest, err)
	}
	if _, err := remote.Get(byDigest, opts()...); transportStatus(err) != http.StatusNotFound {
		t.Errorf("GET a deleted manifest: %v, want 404", err)
	}
	if _, err := remote.Get(appRef, opts()...); transportStatus(err) != http.StatusNotFound {
		t.Errorf("GET %s after its manifest was deleted: %v, want 404", appRef, err)
	}
	// ggcr/copy still has the image (its own reference to the blobs).
	if c, err := remote.Image(copyRef, opts()...); err != nil {
		t.Errorf("pull %s after deleting the image from ggcr/app: %v", copyRef, err)
	} else if err := validate.Image(c); err != nil {
		t.Errorf("%s after deleting the image from ggcr/app: %v", copyRef, err)
	}
	if err := remote.Delete(mustDigestRef(t, login+"/ggcr/multi@"+mustDigest(t, idx).String()), opts()...); err != nil {
		t.Errorf("delete the index: %v", err)
	}
	if _, err := remote.Index(idxRef, opts()...); transportStatus(err) != http.StatusNotFound {
		t.Errorf("GET the deleted index's tag: %v, want 404", err)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	r, err := name.NewTag(s, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDigestRef(t *testing.T, s string) name.Digest {
	t.Helper()
	r, err := name.NewDigest(s, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
