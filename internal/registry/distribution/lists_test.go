package distribution

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestTagsPagination(t *testing.T) {
	e := newEnv(t)
	repo := "paged"
	e.expect(e.do("GET", "/v2/"+repo+"/tags/list", nil), http.StatusNotFound, "NAME_UNKNOWN")
	body, _ := e.image(repo, 0, nil)
	want := []string{"1.0", "1.1", "10", "2.0", "Latest", "_x", "a-b", "latest", "v1"}
	for _, tag := range want {
		e.expect(e.putManifest(repo, tag, body, MediaTypeOCIManifest), http.StatusCreated, "")
	}
	sort.Strings(want)
	type list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	get := func(path string) (list, string) {
		r := e.do("GET", path, nil)
		e.expect(r, http.StatusOK, "")
		var l list
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		return l, r.h.Get("Link")
	}
	all, link := get("/v2/" + repo + "/tags/list")
	if !reflect.DeepEqual(all.Tags, want) || all.Name != repo || link != "" {
		t.Errorf("all tags: %+v link %q", all, link)
	}
	var got []string
	path := "/v2/" + repo + "/tags/list?n=4"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		l, link := get(path)
		if len(l.Tags) > 4 {
			t.Fatalf("page of %d tags", len(l.Tags))
		}
		got = append(got, l.Tags...)
		path = ""
		if link != "" {
			if !strings.HasSuffix(link, `>; rel="next"`) || !strings.HasPrefix(link, "</v2/"+repo+"/tags/list?") {
				t.Fatalf("Link %q", link)
			}
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paged tags %v, want %v", got, want)
	}
	l, _ := get("/v2/" + repo + "/tags/list?last=Latest")
	if !reflect.DeepEqual(l.Tags, want[5:]) {
		t.Errorf("after Latest: %v", l.Tags)
	}
	l, link = get("/v2/" + repo + "/tags/list?n=0")
	if len(l.Tags) != 0 || l.Tags == nil || link != "" {
		t.Errorf("n=0: %+v %q", l, link)
	}
	l, link = get("/v2/" + repo + fmt.Sprintf("/tags/list?n=%d", len(want)))
	if len(l.Tags) != len(want) || link != "" {
		t.Errorf("n=len: %+v %q", l, link)
	}
	e.expect(e.do("GET", "/v2/"+repo+"/tags/list?n=-1", nil), http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
	e.expect(e.do("GET", "/v2/"+repo+"/tags/list?n=x", nil), http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
}

func TestCatalog(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := 0; i < 5; i++ {
		repo := fmt.Sprintf("ns/repo%d", i)
		body, _ := e.image(repo, 0, nil)
		e.expect(e.putManifest(repo, "latest", body, MediaTypeOCIManifest), http.StatusCreated, "")
		want = append(want, repo)
	}
	e.pushBlob("blobs-only", []byte("x")) // no manifest: not listed
	e.az.reset()
	r := e.do("GET", "/v2/_catalog?n=3", nil)
	e.expect(r, http.StatusOK, "")
	if calls := e.az.reset(); fmt.Sprint(calls) != "[[registry:catalog:*]]" {
		t.Errorf("catalog asked for %v", calls)
	}
	var c struct {
		Repositories []string `json:"repositories"`
	}
	json.Unmarshal(r.body, &c)
	if !reflect.DeepEqual(c.Repositories, want[:3]) || r.h.Get("Link") != `</v2/_catalog?last=ns%2Frepo2&n=3>; rel="next"` {
		t.Errorf("page 1: %v %q", c.Repositories, r.h.Get("Link"))
	}
	r = e.do("GET", "/v2/_catalog?last=ns%2Frepo2&n=3", nil)
	json.Unmarshal(r.body, &c)
	if !reflect.DeepEqual(c.Repositories, want[3:]) || r.h.Get("Link") != "" {
		t.Errorf("page 2: %v %q", c.Repositories, r.h.Get("Link"))
	}
	r = e.do("GET", "/v2/_catalog", nil, "X-Test-Registry: two")
	if string(r.body) != `{"repositories":[]}` {
		t.Errorf("empty registry: %s", r)
	}
}

func TestReferrers(t *testing.T) {
	e := newEnv(t)
	repo := "refs"
	subjBody, subj := e.image(repo, 1, nil)
	e.expect(e.putManifest(repo, "v1", subjBody, MediaTypeOCIManifest), http.StatusCreated, "")
	sigBody, sig := e.image(repo, 1, func(m *testManifest) {
		m.ArtifactType = "application/vnd.example.signature"
		m.Subject = &subj
		m.Annotations = map[string]string{"org.example.signer": "alice"}
	})
	sbomBody, sbom := e.image(repo, 1, func(m *testManifest) {
		m.Config.MediaType = "application/vnd.example.sbom.config" // artifactType from config.mediaType
		m.Subject = &subj
	})
	idxBody := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIIndex, ArtifactType: "application/vnd.example.bundle",
		Manifests: []desc{{MediaType: MediaTypeOCIManifest, Digest: sig.Digest, Size: sig.Size}}, Subject: &subj})
	for _, b := range [][]byte{sigBody, sbomBody} {
		r := e.putManifest(repo, sha256Digest(b), b, MediaTypeOCIManifest)
		e.expect(r, http.StatusCreated, "")
		if r.h.Get("OCI-Subject") != subj.Digest {
			t.Errorf("OCI-Subject %q", r.h.Get("OCI-Subject"))
		}
	}
	e.expect(e.putManifest(repo, sha256Digest(idxBody), idxBody, MediaTypeOCIIndex), http.StatusCreated, "")

	get := func(q string) (imageIndex, http.Header) {
		r := e.do("GET", "/v2/"+repo+"/referrers/"+subj.Digest+q, nil)
		e.expect(r, http.StatusOK, "")
		if r.h.Get("Content-Type") != MediaTypeOCIIndex {
			t.Errorf("Content-Type %q", r.h.Get("Content-Type"))
		}
		var idx imageIndex
		if err := json.Unmarshal(r.body, &idx); err != nil || idx.SchemaVersion != 2 || idx.MediaType != MediaTypeOCIIndex {
			t.Fatalf("referrers body %s: %v", r.body, err)
		}
		return idx, r.h
	}
	idx, h := get("")
	byDigest := map[string]Descriptor{}
	for _, d := range idx.Manifests {
		byDigest[d.Digest] = d
	}
	if len(idx.Manifests) != 3 || h.Get("OCI-Filters-Applied") != "" {
		t.Fatalf("referrers: %+v", idx)
	}
	if d := byDigest[sig.Digest]; d.ArtifactType != "application/vnd.example.signature" || d.Size != sig.Size ||
		d.MediaType != MediaTypeOCIManifest || string(d.Annotations) != `{"org.example.signer":"alice"}` {
		t.Errorf("signature descriptor %+v", d)
	}
	if d := byDigest[sbom.Digest]; d.ArtifactType != "application/vnd.example.sbom.config" || d.Annotations != nil {
		t.Errorf("sbom descriptor %+v", d)
	}
	if d := byDigest[sha256Digest(idxBody)]; d.ArtifactType != "application/vnd.example.bundle" || d.MediaType != MediaTypeOCIIndex {
		t.Errorf("index descriptor %+v", d)
	}
	idx, h = get("?artifactType=application/vnd.example.signature")
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sig.Digest || h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("filtered: %+v %v", idx, h)
	}
	// Unknown subject, unknown repository: an empty index, never 404.
	for _, p := range []string{"/v2/" + repo + "/referrers/" + sha256Digest([]byte("none")), "/v2/unknown/referrers/" + subj.Digest} {
		r := e.do("GET", p, nil)
		e.expect(r, http.StatusOK, "")
		if !strings.Contains(string(r.body), `"manifests":[]`) {
			t.Errorf("empty referrers: %s", r.body)
		}
	}
	e.expect(e.do("GET", "/v2/"+repo+"/referrers/sha256:bad", nil), http.StatusBadRequest, "DIGEST_INVALID")
	// Deleting a referrer removes it from the list.
	e.expect(e.do("DELETE", "/v2/"+repo+"/manifests/"+sig.Digest, nil), http.StatusAccepted, "")
	if idx, _ := get(""); len(idx.Manifests) != 2 {
		t.Errorf("after delete: %+v", idx)
	}
}
