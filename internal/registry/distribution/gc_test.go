package distribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

func (e *env) stored(d string) bool {
	_, err := e.blobs.Stat(ctxBG, d)
	return err == nil
}

func TestCollectGarbage(t *testing.T) {
	e := newEnv(t, envOpts{filesystem: true})
	body, md := e.image("app", 2, nil)
	e.expect(e.putManifest("app", "v1", body, MediaTypeOCIManifest), http.StatusCreated, "")
	var m testManifest
	mustUnmarshal(t, body, &m)
	referenced := []string{m.Config.Digest, m.Layers[0].Digest, m.Layers[1].Digest}
	loose := e.pushBlob("app", []byte("pushed, never referenced"))
	shared := e.pushBlob("app", []byte("shared with registry two"))
	e.pushBlob("app", []byte("shared with registry two"), "X-Test-Registry: two")
	// An untagged manifest keeps its blobs.
	untaggedBody, untagged := e.image("app", 1, nil)
	e.expect(e.putManifest("app", untagged.Digest, untaggedBody, MediaTypeOCIManifest), http.StatusCreated, "")
	var um testManifest
	mustUnmarshal(t, untaggedBody, &um)
	referenced = append(referenced, um.Config.Digest, um.Layers[0].Digest)
	// A blob whose only link was deleted.
	unlinked := e.pushBlob("other", []byte("link deleted"))
	e.expect(e.do("DELETE", "/v2/other/blobs/"+unlinked, nil), http.StatusAccepted, "")

	// Within the grace period nothing goes.
	st, err := e.h.CollectGarbage(ctxBG, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st.LinksRemoved != 0 || st.BlobsDeleted != 0 {
		t.Errorf("within grace: %+v", st)
	}
	for _, d := range append(referenced, loose, shared, unlinked) {
		if !e.stored(d) {
			t.Errorf("%s deleted within the grace period", d)
		}
	}
	e.expect(e.do("HEAD", "/v2/app/blobs/"+loose, nil), http.StatusOK, "")

	// Past it: the loose links go (in both registries), then the content
	// nothing links.
	time.Sleep(10 * time.Millisecond)
	st, err = e.h.CollectGarbage(ctxBG, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.LinksRemoved != 3 || st.BlobsDeleted != 3 || st.BlobsScanned != 8 {
		t.Errorf("after grace: %+v", st)
	}
	for _, d := range referenced {
		if !e.stored(d) {
			t.Errorf("referenced blob %s deleted", d)
		}
		e.expect(e.do("HEAD", "/v2/app/blobs/"+d, nil), http.StatusOK, "")
	}
	for _, d := range []string{loose, shared, unlinked} {
		if e.stored(d) {
			t.Errorf("unreferenced blob %s kept", d)
		}
	}
	e.expect(e.do("HEAD", "/v2/app/blobs/"+loose, nil), http.StatusNotFound, "")
	e.expect(e.do("GET", "/v2/app/manifests/"+md.Digest, nil), http.StatusOK, "")
	e.expect(e.do("GET", "/v2/app/manifests/"+untagged.Digest, nil), http.StatusOK, "")
	// The emptied repositories are gone; app stays.
	if st.RepositoriesRemoved != 2 {
		t.Errorf("repositories removed: %d", st.RepositoriesRemoved)
	}
	e.expect(e.do("GET", "/v2/app/tags/list", nil), http.StatusOK, "")

	// Once the manifests are deleted, their blobs follow.
	e.expect(e.do("DELETE", "/v2/app/manifests/"+md.Digest, nil), http.StatusAccepted, "")
	e.expect(e.do("DELETE", "/v2/app/manifests/"+untagged.Digest, nil), http.StatusAccepted, "")
	st, err = e.h.CollectGarbage(ctxBG, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.BlobsDeleted != len(referenced) {
		t.Errorf("after manifest deletion: %+v", st)
	}
}

func TestCollectGarbageUploadSessions(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v2/app/blobs/uploads/", nil)
	live := r.h.Get("Docker-Upload-UUID")
	gone := "5f0c6a8e-0000-4000-8000-000000000001"
	err := e.st.Update(ctxBG, func(tx *store.Tx) error {
		return metadata.PutRegistryUpload(tx, metadata.Upload{ID: gone, Registry: testRegistryKey("one"), Repository: "app", StartedAt: time.Now().Add(-48 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.h.CollectGarbage(ctxBG, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st.SessionsRemoved != 1 {
		t.Errorf("sessions removed: %+v", st)
	}
	e.expect(e.do("GET", "/v2/app/blobs/uploads/"+gone, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	e.expect(e.do("GET", "/v2/app/blobs/uploads/"+live, nil), http.StatusNoContent, "")
}

// TestCollectGarbageDuringPushes runs collections (with no grace at all)
// while blobs are pushed and referenced: every manifest that was accepted
// must still be pullable whole afterwards.
func TestCollectGarbageDuringPushes(t *testing.T) {
	e := newEnv(t)
	shared := []byte("a layer everybody pushes")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var gcErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.h.CollectGarbage(ctxBG, 0); err != nil {
				gcErr = err
				return
			}
		}
	}()
	const repo = "gc/race"
	var mu sync.Mutex
	var manifests, blobs []string
	push := func(method, path string, b []byte, ct string) int {
		req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(b))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var pushers sync.WaitGroup
	for w := 0; w < 4; w++ {
		pushers.Add(1)
		go func(w int) {
			defer pushers.Done()
			for i := 0; i < 15; i++ {
				ld := sha256Digest(shared)
				cfg := mustJSON(map[string]int{"w": w, "i": i})
				cd := sha256Digest(cfg)
				if push("POST", "/v2/"+repo+"/blobs/uploads/?digest="+ld, shared, "") != http.StatusCreated ||
					push("POST", "/v2/"+repo+"/blobs/uploads/?digest="+cd, cfg, "") != http.StatusCreated {
					t.Error("blob push failed")
					return
				}
				m := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
					Config: &desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: int64(len(cfg))},
					Layers: []desc{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: ld, Size: int64(len(shared))}}})
				// With no grace period the collector may unlink the blobs
				// before the manifest refers to them: then the push is
				// refused (MANIFEST_BLOB_UNKNOWN), never accepted broken.
				switch code := push("PUT", "/v2/"+repo+"/manifests/"+sha256Digest(m), m, MediaTypeOCIManifest); code {
				case http.StatusCreated:
					mu.Lock()
					manifests = append(manifests, sha256Digest(m))
					blobs = append(blobs, cd, ld)
					mu.Unlock()
				case http.StatusBadRequest:
				default:
					t.Errorf("manifest push: %d", code)
				}
			}
		}(w)
	}
	pushers.Wait()
	close(stop)
	wg.Wait()
	if gcErr != nil {
		t.Fatal(gcErr)
	}
	if len(manifests) == 0 {
		t.Fatal("no manifest was accepted")
	}
	for _, d := range manifests {
		e.expect(e.do("GET", "/v2/"+repo+"/manifests/"+d, nil), http.StatusOK, "")
	}
	for _, d := range blobs {
		e.expect(e.do("GET", "/v2/"+repo+"/blobs/"+d, nil), http.StatusOK, "")
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestAdminHelpersAndEvents(t *testing.T) {
	e := newEnv(t)
	key := testRegistryKey("one")
	body, md := e.image("team/app", 1, nil)
	e.expect(e.putManifest("team/app", "v1", body, MediaTypeOCIManifest), http.StatusCreated, "")
	e.expect(e.putManifest("team/app", "v2", body, MediaTypeOCIManifest), http.StatusCreated, "")
	body2, _ := e.image("team/web", 0, nil)
	e.expect(e.putManifest("team/web", "latest", body2, MediaTypeOCIManifest), http.StatusCreated, "")

	repos, err := e.h.Repositories(ctxBG, key)
	if err != nil || !reflect.DeepEqual(repos, []string{"team/app", "team/web"}) {
		t.Errorf("Repositories: %v %v", repos, err)
	}
	tags, err := e.h.Tags(ctxBG, key, "team/app")
	if err != nil || len(tags) != 2 || tags[0].Name != "v1" || tags[0].Digest != md.Digest || tags[0].CreatedAt.IsZero() {
		t.Errorf("Tags: %+v %v", tags, err)
	}
	ms, err := e.h.Manifests(ctxBG, key, "team/app")
	var m testManifest
	mustUnmarshal(t, body, &m)
	if err != nil || len(ms) != 1 || ms[0].Digest != md.Digest || !reflect.DeepEqual(ms[0].Tags, []string{"v1", "v2"}) ||
		ms[0].ImageSize != m.Config.Size+m.Layers[0].Size || ms[0].Size != int64(len(body)) ||
		ms[0].ArtifactType != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("Manifests: %+v %v", ms, err)
	}
	info, err := e.h.Repository(ctxBG, key, "team/app")
	if err != nil || info.ManifestCount != 1 || info.TagCount != 2 {
		t.Errorf("Repository: %+v %v", info, err)
	}
	u, err := e.h.Usage(ctxBG, key)
	want := m.Config.Size + m.Layers[0].Size + int64(len(body)) + int64(len(body2))
	var m2 testManifest
	mustUnmarshal(t, body2, &m2)
	want += m2.Config.Size
	if err != nil || u.Repositories != 2 || u.Size != want {
		t.Errorf("Usage: %+v %v, want size %d", u, err, want)
	}
	if err := e.h.Untag(ctxBG, key, "team/app", "v1"); err != nil {
		t.Error(err)
	}
	if err := e.h.Untag(ctxBG, key, "team/app", "v1"); !errors.Is(err, ErrTagNotFound) || !errdefs.IsNotFound(err) {
		t.Errorf("Untag twice: %v", err)
	}
	if _, err := e.h.Tags(ctxBG, key, "nope"); !errors.Is(err, ErrRepositoryNotFound) {
		t.Errorf("Tags of unknown repository: %v", err)
	}
	up := e.do("POST", "/v2/team/app/blobs/uploads/", nil).h.Get("Location")
	if err := e.h.DeleteRepository(ctxBG, key, "team/app"); err != nil {
		t.Error(err)
	}
	if err := e.h.DeleteRepository(ctxBG, key, "team/app"); !errors.Is(err, ErrRepositoryNotFound) {
		t.Errorf("DeleteRepository twice: %v", err)
	}
	e.expect(e.do("GET", up, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	e.expect(e.do("GET", "/v2/team/app/manifests/v2", nil), http.StatusNotFound, "NAME_UNKNOWN")
	e.expect(e.do("HEAD", "/v2/team/app/blobs/"+m.Config.Digest, nil), http.StatusNotFound, "")

	// Events: bytes committed by pushes and served by blob GETs.
	e.ev.mu.Lock()
	pushed := e.ev.pushed["one/team/web"]
	e.ev.mu.Unlock()
	if pushed != m2.Config.Size {
		t.Errorf("pushed %d bytes, want %d", pushed, m2.Config.Size)
	}
	e.do("GET", "/v2/team/web/blobs/"+m2.Config.Digest, nil)
	e.do("GET", "/v2/team/web/blobs/"+m2.Config.Digest, nil, "Range: bytes=0-9")
	e.do("HEAD", "/v2/team/web/blobs/"+m2.Config.Digest, nil)
	e.ev.mu.Lock()
	pulled := e.ev.pulled["one/team/web"]
	e.ev.mu.Unlock()
	if pulled != m2.Config.Size+10 {
		t.Errorf("pulled %d bytes, want %d", pulled, m2.Config.Size+10)
	}

	// DeleteRegistry removes everything of registry one, nothing of two.
	kept := []byte(`{"registry":"two"}`)
	keptManifest := mustJSON(testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
		Config: &desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: e.pushBlob("kept", kept, "X-Test-Registry: two"), Size: int64(len(kept))}})
	e.expect(e.do("PUT", "/v2/kept/manifests/latest", keptManifest, "Content-Type: "+MediaTypeOCIManifest, "X-Test-Registry: two"), http.StatusCreated, "")
	if err := e.st.Update(ctxBG, func(tx *store.Tx) error {
		return e.h.DeleteRegistry(ctxBG, tx, "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/ONE")
	}); err != nil {
		t.Fatal(err)
	}
	if repos, _ := e.h.Repositories(ctxBG, key); len(repos) != 0 {
		t.Errorf("repositories after DeleteRegistry: %v", repos)
	}
	e.expect(e.do("HEAD", "/v2/kept/blobs/"+sha256Digest(kept), nil, "X-Test-Registry: two"), http.StatusOK, "")
	st, err := e.h.CollectGarbage(ctxBG, 0)
	if err != nil || st.BlobsDeleted == 0 {
		t.Errorf("GC after DeleteRegistry: %+v %v", st, err)
	}
	if !e.stored(sha256Digest(kept)) {
		t.Error("registry two's blob collected")
	}
	var n int
	e.blobs.Walk(ctxBG, func(storage.Descriptor, time.Time) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d blobs left, want 1", n)
	}
}
