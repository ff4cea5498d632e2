package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// testRegistryOras pushes OCI 1.1 artifacts that refer to an image
// (subject) with oras-go, authenticated as the null GUID with a refresh
// token, and lists them through the referrers API, with and without an
// artifactType filter.
func testRegistryOras(t *testing.T, e *regEnv) {
	ctx := t.Context()
	const acr = "e2eoras"
	az, login, _ := e.adminRegistry(t, acr)
	rt := refreshToken(t, az, acr)
	repoName := login + "/oras/app"

	// A fresh oras client: its own HTTP client, token cache and referrers
	// state.
	newRepo := func() *remote.Repository {
		repo, err := remote.NewRepository(repoName)
		if err != nil {
			t.Fatal(err)
		}
		repo.Client = &auth.Client{
			Client:     e.httpClient(),
			Cache:      auth.NewCache(),
			Credential: auth.StaticCredential(login, auth.Credential{Username: nullGUID, Password: rt}),
		}
		return repo
	}
	repo := newRepo()

	// The subject: an image manifest with one layer.
	layer, err := oras.PushBytes(ctx, repo, "application/vnd.oci.image.layer.v1.tar", []byte("not really a tar, but bytes"))
	if err != nil {
		t.Fatalf("push layer: %v", err)
	}
	subject, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, "application/vnd.drydock.e2e.app",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatalf("push subject manifest: %v", err)
	}
	if err := repo.Tag(ctx, subject, "v1"); err != nil {
		t.Fatalf("tag subject: %v", err)
	}

	// Three referrers: two SBOMs and a signature.
	push := func(artifactType, content string, annotations map[string]string) ocispec.Descriptor {
		t.Helper()
		blob, err := oras.PushBytes(ctx, repo, "application/json", []byte(content))
		if err != nil {
			t.Fatalf("push %s blob: %v", artifactType, err)
		}
		desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
			Subject: &subject, Layers: []ocispec.Descriptor{blob}, ManifestAnnotations: annotations,
		})
		if err != nil {
			t.Fatalf("push %s referrer: %v", artifactType, err)
		}
		return desc
	}
	const sbomType, sigType = "application/vnd.drydock.e2e.sbom+json", "application/vnd.drydock.e2e.signature"
	sbom1 := push(sbomType, `{"sbom":1}`, map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "e2e": "sbom1"})
	sbom2 := push(sbomType, `{"sbom":2}`, map[string]string{"org.opencontainers.image.created": "2024-01-02T00:00:00Z", "e2e": "sbom2"})
	sig := push(sigType, `{"sig":true}`, map[string]string{"org.opencontainers.image.created": "2024-01-03T00:00:00Z"})

	// The registry said it processed the subject (OCI-Subject), so oras did
	// not fall back to the referrers tag schema.
	var tags []string
	if err := repo.Tags(ctx, "", func(ts []string) error { tags = append(tags, ts...); return nil }); err != nil {
		t.Fatalf("list tags: %v", err)
	}
	if !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("tags %v, want [v1]: a sha256-<hex> tag means oras saw no OCI-Subject header and used the referrers tag schema", tags)
	}

	referrers := func(r *remote.Repository, artifactType string) []ocispec.Descriptor {
		t.Helper()
		var all []ocispec.Descriptor
		if err := r.Referrers(ctx, subject, artifactType, func(rs []ocispec.Descriptor) error { all = append(all, rs...); return nil }); err != nil {
			t.Fatalf("referrers (artifactType %q): %v", artifactType, err)
		}
		return all
	}
	digests := func(ds []ocispec.Descriptor) []digest.Digest {
		var out []digest.Digest
		for _, d := range ds {
			out = append(out, d.Digest)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(ds ...digest.Digest) []digest.Digest { slices.Sort(ds); return ds }

	fresh := newRepo()
	all := referrers(fresh, "")
	if got, want := digests(all), sorted(sbom1.Digest, sbom2.Digest, sig.Digest); !slices.Equal(got, want) {
		t.Errorf("referrers: %v, want %v", got, want)
	}
	// The referrers API answered (a registry without it would have made
	// oras fall back to the tag schema and record that).
	if err := fresh.SetReferrersCapability(false); err == nil {
		t.Errorf("oras did not record that the registry supports the referrers API")
	}
	for _, d := range all {
		switch d.Digest {
		case sbom1.Digest:
			if d.ArtifactType != sbomType || d.Annotations["e2e"] != "sbom1" || d.MediaType != ocispec.MediaTypeImageManifest || d.Size != sbom1.Size {
				t.Errorf("referrer descriptor of sbom1: %+v", d)
			}
		case sig.Digest:
			if d.ArtifactType != sigType {
				t.Errorf("referrer descriptor of the signature: %+v", d)
			}
		}
	}
	if got, want := digests(referrers(newRepo(), sbomType)), sorted(sbom1.Digest, sbom2.Digest); !slices.Equal(got, want) {
		t.Errorf("referrers with artifactType %s: %v, want %v", sbomType, got, want)
	}
	if got := digests(referrers(newRepo(), sigType)); !slices.Equal(got, []digest.Digest{sig.Digest}) {
		t.Errorf("referrers with artifactType %s: %v, want [%s]", sigType, got, sig.Digest)
	}
	if got := referrers(newRepo(), "application/vnd.drydock.e2e.none"); len(got) != 0 {
		t.Errorf("referrers of an absent artifactType: %v", got)
	}

	// The filter is applied by the registry, which says so.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"https://"+login+"/v2/oras/app/referrers/"+subject.Digest.String()+"?artifactType="+sigType, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := newRepo().Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var index ocispec.Index
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &index) != nil {
		t.Fatalf("GET referrers?artifactType: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ocispec.MediaTypeImageIndex {
		t.Errorf("referrers Content-Type %q, want %s", ct, ocispec.MediaTypeImageIndex)
	}
	if !strings.Contains(resp.Header.Get("OCI-Filters-Applied"), "artifactType") {
		t.Errorf("referrers with artifactType: OCI-Filters-Applied %q, want artifactType", resp.Header.Get("OCI-Filters-Applied"))
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != sig.Digest {
		t.Errorf("referrers?artifactType=%s: %s", sigType, body)
	}

	// The referrer manifest carries its subject.
	_, raw, err := oras.FetchBytes(ctx, newRepo(), sbom1.Digest.String(), oras.DefaultFetchBytesOptions)
	if err != nil {
		t.Fatalf("fetch sbom1: %v", err)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(raw, &man); err != nil || man.Subject == nil || man.Subject.Digest != subject.Digest || man.ArtifactType != sbomType {
		t.Errorf("sbom1 manifest (%v): %s", err, raw)
	}
	if d := digest.FromBytes(raw); d != sbom1.Digest {
		t.Errorf("fetched sbom1 has digest %s, want %s", d, sbom1.Digest)
	}
	// Copy the subject with its referrers into memory (oras cp -r).
	mem := memory.New()
	if _, err := oras.ExtendedCopy(ctx, newRepo(), "v1", mem, "v1", oras.DefaultExtendedCopyOptions); err != nil {
		t.Errorf("extended copy of the subject and its referrers: %v", err)
	}
	for _, d := range []ocispec.Descriptor{subject, sbom1, sbom2, sig, layer} {
		if ok, err := mem.Exists(ctx, d); !ok || err != nil {
			t.Errorf("extended copy lacks %s (%s): %v", d.Digest, d.MediaType, err)
		}
	}

	// Deleting a referrer removes it from the list.
	if err := newRepo().Delete(ctx, sbom2); err != nil {
		t.Fatalf("delete sbom2: %v", err)
	}
	if got, want := digests(referrers(newRepo(), "")), sorted(sbom1.Digest, sig.Digest); !slices.Equal(got, want) {
		t.Errorf("referrers after deleting sbom2: %v, want %v", got, want)
	}
}
