package distribution

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestManifestPushPull(t *testing.T) {
	e := newEnv(t)
	body, d := e.image("team/app", 2, nil)
	r := e.putManifest("team/app", "v1", body, MediaTypeOCIManifest)
	e.expect(r, http.StatusCreated, "")
	if r.h.Get("Location") != "/v2/team/app/manifests/"+d.Digest || r.h.Get("Docker-Content-Digest") != d.Digest || r.h.Get("OCI-Subject") != "" {
		t.Fatalf("PUT headers: %v", r.h)
	}
	for _, ref := range []string{"v1", d.Digest} {
		g := e.do("GET", "/v2/team/app/manifests/"+ref, nil, "Accept: "+MediaTypeOCIManifest)
		e.expect(g, http.StatusOK, "")
		if !bytes.Equal(g.body, body) || g.h.Get("Content-Type") != MediaTypeOCIManifest || g.h.Get("Docker-Content-Digest") != d.Digest ||
			g.h.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("GET %s: %s %v", ref, g, g.h)
		}
		hd := e.do("HEAD", "/v2/team/app/manifests/"+ref, nil)
		e.expect(hd, http.StatusOK, "")
		if len(hd.body) != 0 || hd.h.Get("Content-Length") != strconv.Itoa(len(body)) || hd.h.Get("Docker-Content-Digest") != d.Digest {
			t.Fatalf("HEAD %s: %v", ref, hd.h)
		}
	}
	e.expect(e.do("GET", "/v2/team/app/manifests/"+d.Digest, nil, `If-None-Match: "`+d.Digest+`"`), http.StatusNotModified, "")
	// Pushing the same manifest again, by digest, is fine.
	e.expect(e.putManifest("team/app", d.Digest, body, MediaTypeOCIManifest), http.StatusCreated, "")
	// Not visible from another repository or registry.
	e.expect(e.do("GET", "/v2/team/other/manifests/"+d.Digest, nil), http.StatusNotFound, "NAME_UNKNOWN")
	e.expect(e.do("GET", "/v2/team/app/manifests/"+d.Digest, nil, "X-Test-Registry: two"), http.StatusNotFound, "NAME_UNKNOWN")
	e.expect(e.do("GET", "/v2/team/app/manifests/v2", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	e.expect(e.do("HEAD", "/v2/team/app/manifests/v2", nil), http.StatusNotFound, "")
}

func TestManifestKinds(t *testing.T) {
	e := newEnv(t)
	repo := "kinds"
	cfg := []byte(`{"architecture":"arm64","os":"linux"}`)
	layer := randomBytes(50)
	cd, ld := e.pushBlob(repo, cfg), e.pushBlob(repo, layer)
	empty := e.pushBlob(repo, []byte("{}"))
	img, imgDesc := e.image(repo, 1, nil)
	e.expect(e.putManifest(repo, imgDesc.Digest, img, MediaTypeOCIManifest), http.StatusCreated, "")

	docker := mustJSON(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeDockerManifest,
		"config": desc{MediaType: "application/vnd.docker.container.image.v1+json", Digest: cd, Size: int64(len(cfg))},
		"layers": []desc{{MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Digest: ld, Size: int64(len(layer))}}})
	dockerDigest := sha256Digest(docker)
	list := mustJSON(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeDockerManifestList,
		"manifests": []any{map[string]any{"mediaType": MediaTypeDockerManifest, "digest": dockerDigest, "size": len(docker),
			"platform": map[string]string{"architecture": "arm64", "os": "linux"}}}})
	index := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIIndex,
		Manifests: []desc{{MediaType: MediaTypeOCIManifest, Digest: imgDesc.Digest, Size: imgDesc.Size}, {MediaType: MediaTypeDockerManifest, Digest: dockerDigest, Size: int64(len(docker))}}})
	artifact := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest, ArtifactType: "application/vnd.example.sbom",
		Config: &desc{MediaType: "application/vnd.oci.empty.v1+json", Digest: empty, Size: 2},
		Layers: []desc{{MediaType: "application/vnd.oci.empty.v1+json", Digest: empty, Size: 2}}})
	foreign := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
		Config: &desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: int64(len(cfg))},
		Layers: []desc{
			{MediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Digest: sha256Digest([]byte("elsewhere")), Size: 123, URLs: []string{"https://example.com/layer"}},
			{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: ld, Size: int64(len(layer))},
		}})
	noLayers := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
		Config: &desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: int64(len(cfg))}, Layers: []desc{}})
	annotated := []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeOCIManifest + `","config":{"mediaType":"a/b","digest":"` + cd + `","size":` + strconv.Itoa(len(cfg)) + `,"annotations":{"Digest":"x","digest":"y"}},"layers":[],"annotations":{"A":"1","a":"2"},"Custom":{"Layers":[1]}}`)
	emptyIndex := []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeOCIIndex + `","manifests":[]}`)
	noMediaType := mustJSON(map[string]any{"schemaVersion": 2,
		"config": desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: int64(len(cfg))}, "layers": []desc{}, "custom": map[string]int{"x": 1}})
	helm := mustJSON(map[string]any{"schemaVersion": 2,
		"config": desc{MediaType: "application/vnd.cncf.helm.config.v1+json", Digest: cd, Size: int64(len(cfg))},
		"layers": []desc{{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Digest: ld, Size: int64(len(layer))}}})

	for _, tc := range []struct {
		name, ct, wantCT, tag string
		body                  []byte
	}{
		{"docker schema2", MediaTypeDockerManifest, MediaTypeDockerManifest, "docker", docker},
		{"docker list", MediaTypeDockerManifestList, MediaTypeDockerManifestList, "list", list},
		{"oci index", MediaTypeOCIIndex, MediaTypeOCIIndex, "index", index},
		{"artifact", MediaTypeOCIManifest, MediaTypeOCIManifest, "artifact", artifact},
		{"nondistributable layer not pushed", MediaTypeOCIManifest, MediaTypeOCIManifest, "foreign", foreign},
		{"no layers", MediaTypeOCIManifest, MediaTypeOCIManifest, "nolayers", noLayers},
		{"empty index", MediaTypeOCIIndex, MediaTypeOCIIndex, "emptyindex", emptyIndex},
		{"no mediaType, Content-Type given", MediaTypeOCIManifest + "; charset=utf-8", MediaTypeOCIManifest, "ct", noMediaType},
		{"no mediaType nor Content-Type", "", MediaTypeOCIManifest, "inferred", noMediaType},
		{"case-variant annotation keys", MediaTypeOCIManifest, MediaTypeOCIManifest, "annotated", annotated},
		{"helm chart", "application/vnd.oci.image.manifest.v1+json", MediaTypeOCIManifest, "helm", helm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			var hdr []string
			if tc.ct != "" {
				hdr = append(hdr, "Content-Type: "+tc.ct)
			}
			e.expect(e.do("PUT", "/v2/"+repo+"/manifests/"+tc.tag, tc.body, hdr...), http.StatusCreated, "")
			g := e.do("GET", "/v2/"+repo+"/manifests/"+tc.tag, nil)
			e.expect(g, http.StatusOK, "")
			if !bytes.Equal(g.body, tc.body) || g.h.Get("Content-Type") != tc.wantCT {
				t.Errorf("GET: %q %s", g.h.Get("Content-Type"), g)
			}
		})
	}
}

func TestManifestRejected(t *testing.T) {
	e := newEnv(t)
	repo := "rej"
	body, _ := e.image(repo, 1, nil)
	var m testManifest
	json.Unmarshal(body, &m)
	cfg := *m.Config
	with := func(f func(*testManifest)) []byte {
		c := m
		c.Layers = append([]desc{}, m.Layers...)
		f(&c)
		return mustJSON(c)
	}
	unknown := sha256Digest([]byte("never pushed"))
	elsewhere := e.pushBlob("other", []byte("pushed to another repository"))
	big := with(func(c *testManifest) {
		c.Annotations = map[string]string{"big": strings.Repeat("x", MaxManifestSize)}
	})
	for _, tc := range []struct {
		name, ref, ct string
		body          []byte
		code          int
		err           string
	}{
		{"unknown layer", "t", MediaTypeOCIManifest, with(func(c *testManifest) { c.Layers = append(c.Layers, desc{MediaType: "x/y", Digest: unknown, Size: 1}) }), 400, "MANIFEST_BLOB_UNKNOWN"},
		{"unknown config", "t", MediaTypeOCIManifest, with(func(c *testManifest) { c.Config = &desc{MediaType: "x/y", Digest: unknown, Size: 1} }), 400, "MANIFEST_BLOB_UNKNOWN"},
		{"layer of another repository", "t", MediaTypeOCIManifest, with(func(c *testManifest) { c.Layers[0].Digest = elsewhere }), 400, "MANIFEST_BLOB_UNKNOWN"},
		{"index with missing child", "t", MediaTypeOCIIndex, mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIIndex,
			Manifests: []desc{{MediaType: MediaTypeOCIManifest, Digest: unknown, Size: 10}}}), 400, "MANIFEST_BLOB_UNKNOWN"},
		{"too large", "t", MediaTypeOCIManifest, big, 413, "MANIFEST_INVALID"},
		{"digest mismatch", sha256Digest([]byte("x")), MediaTypeOCIManifest, body, 400, "DIGEST_INVALID"},
		{"Content-Type mismatch", "t", MediaTypeOCIIndex, body, 400, "MANIFEST_INVALID"},
		{"not JSON", "t", MediaTypeOCIManifest, []byte("not json"), 400, "MANIFEST_INVALID"},
		{"JSON array", "t", MediaTypeOCIManifest, []byte("[]"), 400, "MANIFEST_INVALID"},
		{"trailing data", "t", MediaTypeOCIManifest, append(append([]byte{}, body...), "{}"...), 400, "MANIFEST_INVALID"},
		{"schema 1", "t", "", []byte(`{"schemaVersion":1,"name":"rej","tag":"t","fsLayers":[]}`), 400, "MANIFEST_INVALID"},
		{"schema 1 media type", "t", "application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(`{"schemaVersion":2}`), 400, "MANIFEST_INVALID"},
		{"no schemaVersion", "t", MediaTypeOCIManifest, []byte(`{"mediaType":"` + MediaTypeOCIManifest + `"}`), 400, "MANIFEST_INVALID"},
		{"image without config", "t", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeOCIManifest + `","layers":[]}`), 400, "MANIFEST_INVALID"},
		{"bad layer digest", "t", MediaTypeOCIManifest, with(func(c *testManifest) { c.Layers[0].Digest = "sha256:nothex" }), 400, "MANIFEST_INVALID"},
		{"negative size", "t", MediaTypeOCIManifest, with(func(c *testManifest) { c.Layers[0].Size = -1 }), 400, "MANIFEST_INVALID"},
		{"missing size", "t", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + cfg.Digest + `"}}`), 400, "MANIFEST_INVALID"},
		{"bad subject", "t", MediaTypeOCIManifest, with(func(c *testManifest) { c.Subject = &desc{MediaType: "a/b", Digest: "nope", Size: 1} }), 400, "MANIFEST_INVALID"},
		{"annotations not strings", "t", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":` + string(mustJSON(cfg)) + `,"annotations":{"a":1}}`), 400, "MANIFEST_INVALID"},
		{"unknown media type without content", "t", "", []byte(`{"schemaVersion":2}`), 400, "MANIFEST_INVALID"},
		{"field in another case", "t", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":` + string(mustJSON(cfg)) + `,"Layers":[]}`), 400, "MANIFEST_INVALID"},
		{"repeated field", "t", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":` + string(mustJSON(cfg)) + `,"layers":[],"layers":[]}`), 400, "MANIFEST_INVALID"},
		{"descriptor field in another case", "t", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + cfg.Digest + `","size":1,"Digest":"` + unknown + `"}}`), 400, "MANIFEST_INVALID"},
		{"repeated digest in a layer", "t", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":` + string(mustJSON(cfg)) + `,"layers":[{"mediaType":"a/b","digest":"` + unknown + `","digest":"` + cfg.Digest + `","size":1}]}`), 400, "MANIFEST_INVALID"},
		{"invalid tag", "-bad", MediaTypeOCIManifest, body, 400, "TAG_INVALID"},
		{"tag too long", strings.Repeat("a", 129), MediaTypeOCIManifest, body, 400, "TAG_INVALID"},
		{"invalid digest reference", "sha256:baddigeststring", MediaTypeOCIManifest, body, 400, "DIGEST_INVALID"},
		{"invalid tag parameter", sha256Digest(body) + "?tag=.x", MediaTypeOCIManifest, body, 400, "TAG_INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			var hdr []string
			if tc.ct != "" {
				hdr = append(hdr, "Content-Type: "+tc.ct)
			}
			e.expect(e.do("PUT", "/v2/"+repo+"/manifests/"+tc.ref, tc.body, hdr...), tc.code, tc.err)
		})
	}
	e.t = t
	// Nothing was stored.
	r := e.do("GET", "/v2/"+repo+"/tags/list", nil)
	e.expect(r, http.StatusOK, "")
	if string(r.body) != `{"name":"rej","tags":[]}` {
		t.Errorf("tags after rejected pushes: %s", r.body)
	}
}

func TestManifestSubjectAndTagParameters(t *testing.T) {
	e := newEnv(t)
	repo := "sub"
	_, subject := e.image(repo, 1, nil) // the subject is never pushed
	body, d := e.image(repo, 1, func(m *testManifest) { m.Subject = &subject; m.ArtifactType = "application/vnd.example.sig" })
	r := e.do("PUT", "/v2/"+repo+"/manifests/"+d.Digest+"?tag=a&tag=b", body, "Content-Type: "+MediaTypeOCIManifest)
	e.expect(r, http.StatusCreated, "")
	if r.h.Get("OCI-Subject") != subject.Digest || strings.Join(r.h.Values("OCI-Tag"), ",") != "a,b" {
		t.Errorf("PUT headers: %v", r.h)
	}
	for _, tag := range []string{"a", "b"} {
		g := e.do("HEAD", "/v2/"+repo+"/manifests/"+tag, nil)
		e.expect(g, http.StatusOK, "")
		if g.h.Get("Docker-Content-Digest") != d.Digest || g.h.Get("OCI-Subject") != subject.Digest {
			t.Errorf("HEAD %s: %v", tag, g.h)
		}
	}
}

// TestManifestSHA512 pushes content addressed by sha512 (blobs, manifest
// and index) by digest.
func TestManifestSHA512(t *testing.T) {
	e := newEnv(t)
	repo := "five-twelve"
	cfg, layer := []byte(`{"os":"linux"}`), randomBytes(64)
	for _, b := range [][]byte{cfg, layer} {
		e.expect(e.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha512Digest(b), b), http.StatusCreated, "")
	}
	img := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
		Config: &desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: sha512Digest(cfg), Size: int64(len(cfg))},
		Layers: []desc{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: sha512Digest(layer), Size: int64(len(layer))}}})
	e.expect(e.putManifest(repo, sha512Digest(img), img, MediaTypeOCIManifest), http.StatusCreated, "")
	idx := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIIndex,
		Manifests: []desc{{MediaType: MediaTypeOCIManifest, Digest: sha512Digest(img), Size: int64(len(img))}}})
	r := e.do("PUT", "/v2/"+repo+"/manifests/"+sha512Digest(idx)+"?tag=latest", idx, "Content-Type: "+MediaTypeOCIIndex)
	e.expect(r, http.StatusCreated, "")
	if r.h.Get("Docker-Content-Digest") != sha512Digest(idx) {
		t.Errorf("digest header %q", r.h.Get("Docker-Content-Digest"))
	}
	g := e.do("GET", "/v2/"+repo+"/manifests/latest", nil)
	if g.code != 200 || g.h.Get("Docker-Content-Digest") != sha512Digest(idx) {
		t.Errorf("GET by tag: %s %v", g, g.h)
	}
	e.expect(e.putManifest(repo, sha512Digest([]byte("x")), idx, MediaTypeOCIIndex), http.StatusBadRequest, "DIGEST_INVALID")
}

func TestDeleteSemantics(t *testing.T) {
	e := newEnv(t)
	repo := "del"
	body, d := e.image(repo, 1, nil)
	e.expect(e.putManifest(repo, "v1", body, MediaTypeOCIManifest), http.StatusCreated, "")
	e.expect(e.putManifest(repo, "v2", body, MediaTypeOCIManifest), http.StatusCreated, "")

	// By tag: the tag goes, the manifest stays.
	e.expect(e.do("DELETE", "/v2/"+repo+"/manifests/v1", nil), http.StatusAccepted, "")
	e.expect(e.do("HEAD", "/v2/"+repo+"/manifests/v1", nil), http.StatusNotFound, "")
	e.expect(e.do("DELETE", "/v2/"+repo+"/manifests/v1", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	e.expect(e.do("HEAD", "/v2/"+repo+"/manifests/"+d.Digest, nil), http.StatusOK, "")
	e.expect(e.do("HEAD", "/v2/"+repo+"/manifests/v2", nil), http.StatusOK, "")

	// By digest: the manifest and its remaining tags go.
	e.expect(e.do("DELETE", "/v2/"+repo+"/manifests/"+d.Digest, nil), http.StatusAccepted, "")
	e.expect(e.do("HEAD", "/v2/"+repo+"/manifests/"+d.Digest, nil), http.StatusNotFound, "")
	e.expect(e.do("HEAD", "/v2/"+repo+"/manifests/v2", nil), http.StatusNotFound, "")
	e.expect(e.do("DELETE", "/v2/"+repo+"/manifests/"+d.Digest, nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	e.expect(e.do("DELETE", "/v2/nosuchrepo/manifests/"+d.Digest, nil), http.StatusNotFound, "NAME_UNKNOWN")
	if r := e.do("GET", "/v2/"+repo+"/tags/list", nil); string(r.body) != `{"name":"del","tags":[]}` {
		t.Errorf("tags: %s", r)
	}

	// Blobs: the link goes; the content is left to garbage collection.
	cfg := e.pushBlob(repo, []byte("config"))
	e.expect(e.do("DELETE", "/v2/"+repo+"/blobs/"+cfg, nil), http.StatusAccepted, "")
	e.expect(e.do("HEAD", "/v2/"+repo+"/blobs/"+cfg, nil), http.StatusNotFound, "")
	e.expect(e.do("DELETE", "/v2/"+repo+"/blobs/"+cfg, nil), http.StatusNotFound, "BLOB_UNKNOWN")
	if _, err := e.blobs.Stat(ctxBG, cfg); err != nil {
		t.Errorf("content removed by DELETE: %v", err)
	}
}
