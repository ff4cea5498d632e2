package e2e

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// testRegistryImport imports a multi-platform image (linux/amd64 and
// linux/arm64, each a tiny static binary) from Debian's docker-registry
// (CNCF Distribution 2.8) on a loopback port over plain HTTP with
// `acr import`: every platform arrives with the same digests, a second
// import of the same tag needs --force, a source that requires credentials
// is read with --username/--password, and unreachable or missing sources
// give clear errors.
func testRegistryImport(t *testing.T, e *regEnv) {
	ctx := t.Context()
	src := startDistribution(t, "", "")
	idx, imgs := helloIndex(t)
	srcRef := src.ref(t, "library/nginx:latest")
	if err := remote.WriteIndex(srcRef, idx, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push %s to docker-registry: %v", srcRef, err)
	}
	wantIdx := mustDigest(t, idx)

	const acr = "e2eimport"
	az, login, _ := e.adminRegistry(t, acr)
	pull := e.ggcr(ctx, bearerAuth(refreshToken(t, az, acr)))

	az.ok("acr", "import", "--name", acr, "--source", src.addr+"/library/nginx:latest", "--image", "nginx:v1")
	checkImported := func(tag string, want v1.Hash) {
		t.Helper()
		got, err := remote.Index(mustTag(t, login+"/nginx:"+tag), pull...)
		if err != nil {
			t.Fatalf("pull the imported index nginx:%s: %v", tag, err)
		}
		if d := mustDigest(t, got); d != want {
			t.Errorf("imported index nginx:%s has digest %s, want %s", tag, d, want)
		}
		if err := validate.Index(got); err != nil {
			t.Errorf("imported index nginx:%s: %v", tag, err)
		}
		im, err := got.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 2 {
			t.Fatalf("imported index has %d manifests, want 2", len(im.Manifests))
		}
		for _, m := range im.Manifests {
			if m.Platform == nil {
				t.Errorf("imported index: manifest %s has no platform", m.Digest)
				continue
			}
			img, err := remote.Image(mustDigestRef(t, login+"/nginx@"+m.Digest.String()), pull...)
			if err != nil {
				t.Errorf("pull the %s image: %v", m.Platform.Architecture, err)
				continue
			}
			if want := mustDigest(t, imgs[m.Platform.Architecture]); m.Digest != want {
				t.Errorf("%s image digest %s, want %s", m.Platform.Architecture, m.Digest, want)
			}
			cf, err := img.ConfigFile()
			if err != nil || cf.OS != "linux" || cf.Architecture != m.Platform.Architecture {
				t.Errorf("%s image config: %+v %v", m.Platform.Architecture, cf, err)
			}
		}
	}
	checkImported("v1", wantIdx)
	// The amd64 image runs here: its layer is the program that was pushed.
	amd64, err := remote.Image(mustTag(t, login+"/nginx:v1"), append(pull, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))...)
	if err != nil {
		t.Fatalf("pull nginx:v1 for linux/amd64: %v", err)
	}
	if out := runLayerBinary(t, amd64); out != helloOutput {
		t.Errorf("the imported linux/amd64 binary printed %q, want %q", out, helloOutput)
	}

	// The tag exists: without --force the import is refused, with it the
	// tag moves to the new source image.
	idx2, _ := helloIndexVariant(t, imgs)
	if err := remote.WriteIndex(srcRef, idx2, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push a new latest to docker-registry: %v", err)
	}
	line := az.fails(1, `^ERROR: .*nginx:v1.*already exists`, "acr", "import", "--name", acr, "--source", src.addr+"/library/nginx:latest", "--image", "nginx:v1")
	t.Logf("import onto an existing tag: %s", line)
	if !strings.Contains(line, "--force") {
		t.Errorf("the refused import does not mention --force: %s", line)
	}
	checkImported("v1", wantIdx)
	az.ok("acr", "import", "--name", acr, "--source", src.addr+"/library/nginx:latest", "--image", "nginx:v1", "--force")
	got, err := remote.Index(mustTag(t, login+"/nginx:v1"), pull...)
	if err != nil || mustDigest(t, got) != mustDigest(t, idx2) {
		t.Errorf("after import --force nginx:v1 is %v (%v), want %s", got, err, mustDigest(t, idx2))
	}
	// Several target tags at once, and the default target (the source's
	// repository and tag).
	az.ok("acr", "import", "--name", acr, "--source", src.addr+"/library/nginx:latest", "--image", "web/nginx:a", "--image", "web/nginx:b")
	for _, tag := range []string{"a", "b"} {
		if d, err := remote.Head(mustTag(t, login+"/web/nginx:"+tag), pull...); err != nil || d.Digest != mustDigest(t, idx2) {
			t.Errorf("web/nginx:%s after a multi-tag import: %v %v", tag, d, err)
		}
	}
	az.ok("acr", "import", "--name", acr, "--source", src.addr+"/library/nginx:latest")
	if d, err := remote.Head(mustTag(t, login+"/library/nginx:latest"), pull...); err != nil || d.Digest != mustDigest(t, idx2) {
		t.Errorf("library/nginx:latest after an import with no --image: %v %v", d, err)
	}

	// A source that requires credentials (htpasswd).
	private := startDistribution(t, "importer", "s3cret-Passw0rd")
	privRef := private.ref(t, "team/app:1.0")
	if err := remote.WriteIndex(privRef, idx, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "importer", Password: "s3cret-Passw0rd"})); err != nil {
		t.Fatalf("push to the docker-registry with htpasswd: %v", err)
	}
	t.Logf("import without credentials: %s", az.fails(1, `^ERROR: .*(refused|unauthori[sz]ed|credentials|username)`,
		"acr", "import", "--name", acr, "--source", private.addr+"/team/app:1.0", "--image", "private:1.0"))
	t.Logf("import with a wrong password: %s", az.fails(1, `^ERROR: .*(refused|unauthori[sz]ed|credentials|username)`,
		"acr", "import", "--name", acr, "--source", private.addr+"/team/app:1.0", "--image", "private:1.0", "--username", "importer", "--password", "wrong"))
	az.ok("acr", "import", "--name", acr, "--source", private.addr+"/team/app:1.0", "--image", "private:1.0",
		"--username", "importer", "--password", "s3cret-Passw0rd")
	if d, err := remote.Head(mustTag(t, login+"/private:1.0"), pull...); err != nil || d.Digest != wantIdx {
		t.Errorf("private:1.0 after an import with credentials: %v %v, want %s", d, err, wantIdx)
	}

	// Unreachable and missing sources.
	closed, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import from an unreachable source: %s", az.fails(1, `^ERROR: .*`+strings.ReplaceAll(closed, ".", `\.`)+`.*(could not be reached|unreachable|connection refused)`,
		"acr", "import", "--name", acr, "--source", closed+"/library/nginx:latest", "--image", "nowhere:v1"))
	t.Logf("import of a missing image: %s", az.fails(1, `^ERROR: .*(not found|NotFound|does not exist)`,
		"acr", "import", "--name", acr, "--source", src.addr+"/library/missing:latest", "--image", "missing:v1"))
	for _, tag := range []string{"nowhere:v1", "missing:v1"} {
		if _, err := remote.Head(mustTag(t, login+"/"+tag), pull...); err == nil {
			t.Errorf("a failed import left %s behind", tag)
		}
	}
}

// helloIndexVariant is another index of the same images (an annotation
// makes it differ), for --force.
func helloIndexVariant(t *testing.T, imgs map[string]v1.Image) (v1.ImageIndex, v1.Hash) {
	t.Helper()
	idx, _ := helloIndexFrom(t, imgs, map[string]string{"org.opencontainers.image.version": "2"})
	return idx, mustDigest(t, idx)
}
