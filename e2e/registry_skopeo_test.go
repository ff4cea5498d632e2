package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// skopeo runs skopeo commands with an environment of their own: no Docker
// or containers auth file of the machine, temporary files in the test's
// directory, a trust policy that accepts anything.
type skopeo struct {
	t   *testing.T
	exe string
	env []string
}

func newSkopeo(t *testing.T) *skopeo {
	t.Helper()
	exe := needCommand(t, "skopeo", "skopeo")
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "TMPDIR="+t.TempDir(), "XDG_RUNTIME_DIR="+home,
		"REGISTRY_AUTH_FILE="+filepath.Join(home, "auth.json"))
	return &skopeo{t: t, exe: exe, env: env}
}

// run runs skopeo and returns its stdout, stderr and whether it succeeded.
func (s *skopeo) run(args ...string) (string, string, bool) {
	s.t.Helper()
	cmd := exec.Command(s.exe, append([]string{"--insecure-policy"}, args...)...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		s.t.Fatalf("running skopeo: %v", err)
	}
	return stdout.String(), stderr.String(), err == nil
}

// ok runs a skopeo command that must succeed.
func (s *skopeo) ok(args ...string) string {
	s.t.Helper()
	out, errOut, ok := s.run(args...)
	if !ok {
		s.t.Fatalf("skopeo %s failed:\n%s%s", redactArgs(args), out, errOut)
	}
	return out
}

// redactArgs hides credentials in logged command lines.
func redactArgs(args []string) string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && strings.HasSuffix(out[i-1], "creds") {
			if u, _, ok := strings.Cut(out[i], ":"); ok {
				out[i] = u + ":***"
			}
		}
	}
	return strings.Join(out, " ")
}

// testRegistrySkopeo copies images into a registry with skopeo (an OCI
// archive of one image and an OCI layout of a multi-platform index),
// authenticating as the null GUID with the refresh token that
// `acr login --expose-token` prints, and then with the admin user's
// credentials: copy, inspect (digest and raw manifest), list-tags, copy
// back to a directory, delete.
func testRegistrySkopeo(t *testing.T, e *regEnv) {
	sk := newSkopeo(t)
	const acr = "e2eskopeo"
	az, login, _ := e.adminRegistry(t, acr)
	rt := refreshToken(t, az, acr)
	creds := nullGUID + ":" + rt
	repo := "docker://" + login + "/skopeo/app"

	// An OCI archive of a random image, tagged v1. (skopeo's OCI layouts
	// name OCI manifests only, so the images use OCI media types.)
	img := randomOCIImage(t, 128<<10, 3, nil)
	layoutDir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "app.tar")
	tarDir(t, layoutDir, archive)
	digestFile := filepath.Join(t.TempDir(), "digest")

	sk.ok("copy", "--dest-cert-dir", e.certDir, "--dest-creds", creds, "--digestfile", digestFile,
		"oci-archive:"+archive+":v1", repo+":v1")
	want := mustDigest(t, img).String()
	if b, err := os.ReadFile(digestFile); err != nil || strings.TrimSpace(string(b)) != want {
		t.Errorf("skopeo copy --digestfile: %q %v, want %s", b, err, want)
	}

	var info struct {
		Digest       string
		Layers       []string
		Architecture string
		Os           string
	}
	out := sk.ok("inspect", "--cert-dir", e.certDir, "--creds", creds, repo+":v1")
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	m, _ := img.Manifest()
	if info.Digest != want || len(info.Layers) != len(m.Layers) {
		t.Errorf("skopeo inspect: digest %s with %d layers, want %s with %d", info.Digest, len(info.Layers), want, len(m.Layers))
	}
	rawWant, _ := img.RawManifest()
	if raw := sk.ok("inspect", "--raw", "--cert-dir", e.certDir, "--creds", creds, repo+":v1"); raw != string(rawWant) {
		t.Errorf("skopeo inspect --raw returned other manifest bytes:\n%s\nwant:\n%s", raw, rawWant)
	}

	// A multi-platform index from an OCI layout, copied with --all.
	idx := randomOCIIndex(t, 32<<10)
	idxDir := filepath.Join(t.TempDir(), "index")
	ip, err := layout.Write(idxDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := ip.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	idxDigestFile := filepath.Join(t.TempDir(), "index-digest")
	sk.ok("copy", "--all", "--dest-cert-dir", e.certDir, "--dest-creds", creds, "--digestfile", idxDigestFile, "oci:"+idxDir+":multi", repo+":multi")
	// skopeo writes the index anew (it drops the descriptors'
	// artifactType), so its digest is the one skopeo reports, and every
	// platform's manifest is the source's.
	idxDigest, _ := os.ReadFile(idxDigestFile)
	rawIdx := sk.ok("inspect", "--raw", "--cert-dir", e.certDir, "--creds", creds, repo+":multi")
	if got := digest.FromString(rawIdx).String(); got != strings.TrimSpace(string(idxDigest)) {
		t.Errorf("skopeo inspect --raw of the index: digest %s, skopeo pushed %s", got, idxDigest)
	}
	var pushedIdx v1.IndexManifest
	if err := json.Unmarshal([]byte(rawIdx), &pushedIdx); err != nil {
		t.Fatalf("the index skopeo pushed: %v\n%s", err, rawIdx)
	}
	srcIdx, _ := idx.IndexManifest()
	var gotChildren, wantChildren []string
	for _, m := range pushedIdx.Manifests {
		gotChildren = append(gotChildren, m.Digest.String()+" "+m.Platform.String())
	}
	for _, m := range srcIdx.Manifests {
		wantChildren = append(wantChildren, m.Digest.String()+" "+m.Platform.String())
	}
	if !slices.Equal(gotChildren, wantChildren) {
		t.Errorf("the index skopeo pushed lists %v, want %v", gotChildren, wantChildren)
	}
	for _, m := range srcIdx.Manifests {
		var child struct{ Digest string }
		out := sk.ok("inspect", "--cert-dir", e.certDir, "--creds", creds, repo+"@"+m.Digest.String())
		if err := json.Unmarshal([]byte(out), &child); err != nil || child.Digest != m.Digest.String() {
			t.Errorf("skopeo inspect of the %s manifest: %q (%v)", m.Platform, child.Digest, err)
		}
	}

	var tags struct {
		Repository string
		Tags       []string
	}
	out = sk.ok("list-tags", "--cert-dir", e.certDir, "--creds", creds, repo)
	if err := json.Unmarshal([]byte(out), &tags); err != nil {
		t.Fatalf("skopeo list-tags: %v\n%s", err, out)
	}
	slices.Sort(tags.Tags)
	if !slices.Equal(tags.Tags, []string{"multi", "v1"}) || tags.Repository != login+"/skopeo/app" {
		t.Errorf("skopeo list-tags: %s %v, want %s/skopeo/app [multi v1]", tags.Repository, tags.Tags, login)
	}

	// Pull back into a directory: the manifest and every blob.
	dir := filepath.Join(t.TempDir(), "pulled")
	sk.ok("copy", "--src-cert-dir", e.certDir, "--src-creds", creds, repo+":v1", "dir:"+dir)
	if got, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err != nil || !bytes.Equal(got, rawWant) {
		t.Errorf("dir: manifest.json differs from the pushed manifest (%v)", err)
	}
	for _, l := range m.Layers {
		if _, err := os.Stat(filepath.Join(dir, l.Digest.Hex)); err != nil {
			t.Errorf("dir: layer %s missing: %v", l.Digest, err)
		}
	}

	// And push from the directory to a new tag.
	sk.ok("copy", "--dest-cert-dir", e.certDir, "--dest-creds", creds, "dir:"+dir, repo+":fromdir")
	if raw := sk.ok("inspect", "--raw", "--cert-dir", e.certDir, "--creds", creds, repo+":fromdir"); raw != string(rawWant) {
		t.Errorf("the image copied from dir: differs:\n%s", raw)
	}

	// Wrong credentials are refused.
	if _, errOut, ok := sk.run("inspect", "--cert-dir", e.certDir, "--creds", nullGUID+":not-a-token", repo+":v1"); ok {
		t.Errorf("skopeo inspect with a bogus token succeeded")
	} else if !strings.Contains(strings.ToLower(errOut), "unauthorized") && !strings.Contains(errOut, "401") {
		t.Errorf("skopeo inspect with a bogus token: want an unauthorized error, got:\n%s", errOut)
	}

	// The admin user.
	if _, errOut, ok := sk.run("inspect", "--cert-dir", e.certDir, "--creds", acr+":whatever", repo+":v1"); ok {
		t.Errorf("skopeo inspect as the disabled admin user succeeded:\n%s", errOut)
	}
	az.ok("acr", "update", "-n", acr, "--admin-enabled", "true", "-o", "none")
	cred := az.obj("acr", "credential", "show", "-n", acr)
	pw := passwords(t, cred)
	admin := str(cred, "username") + ":" + pw["password"]
	out = sk.ok("inspect", "--cert-dir", e.certDir, "--creds", admin, repo+":v1")
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.Digest != want {
		t.Errorf("skopeo inspect as admin: digest %s (%v), want %s", info.Digest, err, want)
	}
	sk.ok("copy", "--dest-cert-dir", e.certDir, "--dest-creds", str(cred, "username")+":"+pw["password2"],
		"oci-archive:"+archive+":v1", repo+":admin")
	if raw := sk.ok("inspect", "--raw", "--cert-dir", e.certDir, "--creds", admin, repo+":admin"); raw != string(rawWant) {
		t.Errorf("the image pushed as admin differs")
	}

	// Delete (by tag: skopeo resolves it and deletes the manifest).
	sk.ok("delete", "--cert-dir", e.certDir, "--creds", admin, repo+":multi")
	if _, errOut, ok := sk.run("inspect", "--raw", "--cert-dir", e.certDir, "--creds", admin, repo+":multi"); ok {
		t.Errorf("skopeo inspect of a deleted manifest succeeded")
	} else if !strings.Contains(errOut, "manifest unknown") && !strings.Contains(errOut, "not found") {
		t.Errorf("skopeo inspect of a deleted manifest: want manifest unknown, got:\n%s", errOut)
	}
}
