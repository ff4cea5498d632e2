package distribution

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/storage"
)

func TestPingAndUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v2/", nil)
	e.expect(r, http.StatusOK, "")
	if string(r.body) != "{}" || r.h.Get("Content-Type") != "application/json" {
		t.Errorf("ping: %s %q", r, r.h.Get("Content-Type"))
	}
	if calls := e.az.reset(); len(calls) != 1 || calls[0] != nil {
		t.Errorf("ping asked for %v, want nil", calls)
	}
	for _, p := range []string{"/v2/app", "/v2/app/manifests", "/v3/", "/", "/v2/app/unknown/x", "/v2/manifests/latest"} {
		e.expect(e.do("GET", p, nil), http.StatusNotFound, "NOT_FOUND")
	}
	e.expect(e.do("POST", "/v2/app/manifests/latest", nil), http.StatusMethodNotAllowed, "UNSUPPORTED")
	e.expect(e.do("PATCH", "/v2/app/blobs/"+sha256Digest(nil), nil), http.StatusMethodNotAllowed, "UNSUPPORTED")
}

func TestRouteParsing(t *testing.T) {
	for _, tc := range []struct {
		path string
		want route
	}{
		{"/v2/", route{kind: routeBase}},
		{"/v2", route{kind: routeBase}},
		{"/v2/_catalog", route{kind: routeCatalog}},
		{"/v2/a/b/tags/list", route{kind: routeTags, name: "a/b"}},
		{"/v2/a/manifests/latest", route{kind: routeManifest, name: "a", arg: "latest"}},
		{"/v2/a/blobs/manifests/x", route{kind: routeManifest, name: "a/blobs", arg: "x"}},
		{"/v2/a/blobs/sha256:abc", route{kind: routeBlob, name: "a", arg: "sha256:abc"}},
		{"/v2/a/blobs/uploads/", route{kind: routeUploadStart, name: "a"}},
		{"/v2/a/blobs/uploads", route{kind: routeUploadStart, name: "a"}},
		{"/v2/a/b/blobs/uploads/123", route{kind: routeUpload, name: "a/b", arg: "123"}},
		{"/v2/tags/tags/list", route{kind: routeTags, name: "tags"}},
		{"/v2/a/referrers/sha256:x", route{kind: routeReferrers, name: "a", arg: "sha256:x"}},
		{"/v2/a", route{}},
		{"/v2/a/tags", route{}},
		{"/other", route{}},
	} {
		if got := parseRoute(tc.path); got != tc.want {
			t.Errorf("parseRoute(%q) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
}

func sha512Digest(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512:" + hex.EncodeToString(s[:])
}

// TestBlobPushPull pushes a blob by every upload method, with both digest
// algorithms, and reads it back whole, by range and by HEAD.
func TestBlobPushPull(t *testing.T) {
	for _, fs := range []bool{false, true} {
		e := newEnv(t, envOpts{filesystem: fs})
		methods := []struct {
			name string
			push func(repo, digest string, b []byte) result
		}{
			{"monolithic POST", func(repo, d string, b []byte) result {
				return e.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, b, "Content-Type: application/octet-stream")
			}},
			{"POST then PUT", func(repo, d string, b []byte) result {
				r := e.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
				e.expect(r, http.StatusAccepted, "")
				if r.h.Get("Range") != "0-0" || r.h.Get("Docker-Upload-UUID") == "" {
					t.Errorf("POST headers: %v", r.h)
				}
				return e.do("PUT", r.h.Get("Location")+"?digest="+d, b)
			}},
			{"streamed PATCH", func(repo, d string, b []byte) result {
				r := e.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
				r = e.do("PATCH", r.h.Get("Location"), b)
				e.expect(r, http.StatusAccepted, "")
				if want := fmt.Sprintf("0-%d", len(b)-1); r.h.Get("Range") != want {
					t.Errorf("PATCH Range = %q, want %q", r.h.Get("Range"), want)
				}
				return e.do("PUT", r.h.Get("Location")+"?digest="+d, nil)
			}},
			{"chunked", func(repo, d string, b []byte) result {
				r := e.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
				loc := r.h.Get("Location")
				for start := 0; start < len(b); start += 1000 {
					end := min(start+1000, len(b))
					r = e.do("PATCH", loc, b[start:end], fmt.Sprintf("Content-Range: %d-%d", start, end-1))
					e.expect(r, http.StatusAccepted, "")
					loc = r.h.Get("Location")
				}
				st := e.do("GET", loc, nil)
				e.expect(st, http.StatusNoContent, "")
				if want := fmt.Sprintf("0-%d", len(b)-1); st.h.Get("Range") != want {
					t.Errorf("status Range = %q, want %q", st.h.Get("Range"), want)
				}
				return e.do("PUT", loc+"?digest="+d, nil)
			}},
			{"chunked with final chunk in PUT", func(repo, d string, b []byte) result {
				r := e.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
				r = e.do("PATCH", r.h.Get("Location"), b[:1500], "Content-Range: 0-1499")
				e.expect(r, http.StatusAccepted, "")
				return e.do("PUT", r.h.Get("Location")+"?digest="+d, b[1500:], fmt.Sprintf("Content-Range: 1500-%d", len(b)-1))
			}},
		}
		for _, m := range methods {
			for _, alg := range []string{"sha256", "sha512"} {
				t.Run(fmt.Sprintf("fs=%v/%s/%s", fs, m.name, alg), func(t *testing.T) {
					e.t = t
					b := randomBytes(3000)
					d := sha256Digest(b)
					if alg == "sha512" {
						d = sha512Digest(b)
					}
					repo := "team/app-" + strings.ReplaceAll(strings.ToLower(m.name), " ", "-") + "-" + alg
					r := m.push(repo, d, b)
					e.expect(r, http.StatusCreated, "")
					if r.h.Get("Location") != "/v2/"+repo+"/blobs/"+d || r.h.Get("Docker-Content-Digest") != d {
						t.Fatalf("created headers: %v", r.h)
					}
					g := e.do("GET", r.h.Get("Location"), nil)
					e.expect(g, http.StatusOK, "")
					if !bytes.Equal(g.body, b) || g.h.Get("Docker-Content-Digest") != d || g.h.Get("Content-Type") != "application/octet-stream" ||
						g.h.Get("Etag") != `"`+d+`"` {
						t.Fatalf("GET: %d bytes, headers %v", len(g.body), g.h)
					}
					hd := e.do("HEAD", r.h.Get("Location"), nil)
					e.expect(hd, http.StatusOK, "")
					if hd.h.Get("Content-Length") != "3000" || len(hd.body) != 0 {
						t.Fatalf("HEAD: %v", hd.h)
					}
					rg := e.do("GET", r.h.Get("Location"), nil, "Range: bytes=500-1499")
					e.expect(rg, http.StatusPartialContent, "")
					if !bytes.Equal(rg.body, b[500:1500]) || rg.h.Get("Content-Range") != "bytes 500-1499/3000" {
						t.Fatalf("range: %d bytes, %v", len(rg.body), rg.h)
					}
					e.expect(e.do("GET", r.h.Get("Location"), nil, "Range: bytes=5000-6000"), http.StatusRequestedRangeNotSatisfiable, "")
					e.expect(e.do("GET", r.h.Get("Location"), nil, "Range: bytes=500-0"), http.StatusRequestedRangeNotSatisfiable, "")
				})
			}
		}
	}
}

func TestEmptyBlob(t *testing.T) {
	e := newEnv(t)
	d := e.pushBlob("app", []byte{})
	r := e.do("GET", "/v2/app/blobs/"+d, nil)
	e.expect(r, http.StatusOK, "")
	if len(r.body) != 0 || r.h.Get("Content-Length") != "0" {
		t.Errorf("empty blob: %v", r.h)
	}
}

func TestChunkOutOfOrder(t *testing.T) {
	e := newEnv(t)
	b := randomBytes(300)
	d := sha256Digest(b)
	r := e.do("POST", "/v2/app/blobs/uploads/", nil)
	loc := r.h.Get("Location")
	e.expect(e.do("PATCH", loc, b[:100], "Content-Range: 0-99"), http.StatusAccepted, "")
	for _, cr := range []string{"200-299", "0-99", "50-149"} {
		r = e.do("PATCH", loc, b[100:200], "Content-Range: "+cr)
		e.expect(r, http.StatusRequestedRangeNotSatisfiable, "RANGE_INVALID")
		if r.h.Get("Range") != "0-99" || r.h.Get("Location") != loc {
			t.Errorf("416 headers: %v", r.h)
		}
	}
	// Content-Length that disagrees with Content-Range.
	e.expect(e.do("PATCH", loc, b[100:150], "Content-Range: 100-199"), http.StatusBadRequest, "SIZE_INVALID")
	// A malformed Content-Range.
	e.expect(e.do("PATCH", loc, b[100:200], "Content-Range: x-y"), http.StatusRequestedRangeNotSatisfiable, "RANGE_INVALID")
	// The out-of-order final chunk of a PUT is refused too.
	e.expect(e.do("PUT", loc+"?digest="+d, b[200:], "Content-Range: 200-299"), http.StatusRequestedRangeNotSatisfiable, "RANGE_INVALID")
	e.expect(e.do("PATCH", loc, b[100:200], "Content-Range: 100-199"), http.StatusAccepted, "")
	e.expect(e.do("PUT", loc+"?digest="+d, b[200:], "Content-Range: 200-299"), http.StatusCreated, "")
	r = e.do("GET", "/v2/app/blobs/"+d, nil)
	if !bytes.Equal(r.body, b) {
		t.Fatal("content differs")
	}
}

// TestDigestMismatchStoresNothing: a blob whose content does not match its
// digest is refused by every upload method and leaves nothing behind.
func TestDigestMismatchStoresNothing(t *testing.T) {
	e := newEnv(t)
	b := randomBytes(2000)
	wrong := sha256Digest([]byte("something else"))
	e.expect(e.do("POST", "/v2/app/blobs/uploads/?digest="+wrong, b), http.StatusBadRequest, "DIGEST_INVALID")

	r := e.do("POST", "/v2/app/blobs/uploads/", nil)
	loc := r.h.Get("Location")
	e.expect(e.do("PATCH", loc, b), http.StatusAccepted, "")
	e.expect(e.do("PUT", loc+"?digest="+wrong, nil), http.StatusBadRequest, "DIGEST_INVALID")
	// The failed session is gone.
	e.expect(e.do("GET", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	e.expect(e.do("PUT", loc+"?digest="+sha256Digest(b), nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")

	// A PUT without digest, or with an invalid one, keeps the session.
	r = e.do("POST", "/v2/app/blobs/uploads/", nil)
	loc = r.h.Get("Location")
	e.expect(e.do("PATCH", loc, b), http.StatusAccepted, "")
	e.expect(e.do("PUT", loc, nil), http.StatusBadRequest, "DIGEST_INVALID")
	e.expect(e.do("PUT", loc+"?digest=sha256:xyz", nil), http.StatusBadRequest, "DIGEST_INVALID")
	e.expect(e.do("PUT", loc+"?digest=md5:"+strings.Repeat("a", 32), nil), http.StatusBadRequest, "DIGEST_INVALID")
	e.expect(e.do("GET", loc, nil), http.StatusNoContent, "")
	e.expect(e.do("DELETE", loc, nil), http.StatusNoContent, "")
	e.expect(e.do("GET", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")

	e.expect(e.do("HEAD", "/v2/app/blobs/"+wrong, nil), http.StatusNotFound, "")
	e.expect(e.do("HEAD", "/v2/app/blobs/"+sha256Digest(b), nil), http.StatusNotFound, "")
	n := 0
	e.blobs.Walk(ctxBG, func(storage.Descriptor, time.Time) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d blobs stored after failed uploads", n)
	}
}

// TestUploadSessionIsolation: a session belongs to one registry and one
// repository.
func TestUploadSessionIsolation(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v2/a/blobs/uploads/", nil)
	id := r.h.Get("Docker-Upload-UUID")
	b := randomBytes(10)
	for _, tc := range []struct {
		path     string
		registry string
	}{
		{"/v2/b/blobs/uploads/" + id, "one"},
		{"/v2/a/blobs/uploads/" + id, "two"},
		{"/v2/a/blobs/uploads/not-a-uuid", "one"},
		{"/v2/a/blobs/uploads/" + strings.ToUpper(id) + "x", "one"},
	} {
		for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
			path := tc.path
			if m == "PUT" {
				path += "?digest=" + sha256Digest(b)
			}
			e.expect(e.do(m, path, b, "X-Test-Registry: "+tc.registry), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		}
	}
	// Untouched by all that.
	r = e.do("GET", "/v2/a/blobs/uploads/"+id, nil)
	e.expect(r, http.StatusNoContent, "")
	if r.h.Get("Range") != "0-0" {
		t.Errorf("Range = %q", r.h.Get("Range"))
	}
}

// TestUploadSurvivesRestart: sessions are in the store and the blob store,
// so a new Handler on the same data continues them.
func TestUploadSurvivesRestart(t *testing.T) {
	e := newEnv(t, envOpts{filesystem: true})
	b := randomBytes(5000)
	r := e.do("POST", "/v2/app/blobs/uploads/", nil)
	loc := r.h.Get("Location")
	e.expect(e.do("PATCH", loc, b[:2000], "Content-Range: 0-1999"), http.StatusAccepted, "")
	e2 := newEnv(t, envOpts{st: e.st, blobs: e.blobs})
	r = e2.do("GET", loc, nil)
	e2.expect(r, http.StatusNoContent, "")
	if r.h.Get("Range") != "0-1999" {
		t.Errorf("Range after restart = %q", r.h.Get("Range"))
	}
	e2.expect(e2.do("PUT", loc+"?digest="+sha256Digest(b), b[2000:]), http.StatusCreated, "")
	g := e2.do("GET", "/v2/app/blobs/"+sha256Digest(b), nil)
	if !bytes.Equal(g.body, b) {
		t.Error("content differs after restart")
	}
}

func TestCrossRepositoryMount(t *testing.T) {
	e := newEnv(t)
	b := randomBytes(1000)
	d := e.pushBlob("src", b)
	e.az.reset()

	// With from: 201 and the blob is readable through dst.
	r := e.do("POST", "/v2/dst/blobs/uploads/?mount="+d+"&from=src", nil)
	e.expect(r, http.StatusCreated, "")
	if r.h.Get("Location") != "/v2/dst/blobs/"+d || r.h.Get("Docker-Content-Digest") != d {
		t.Errorf("mount headers: %v", r.h)
	}
	calls := e.az.reset()
	if want := "[[repository:dst:pull,push repository:src:pull]]"; fmt.Sprint(calls) != want {
		t.Errorf("mount asked for %v, want %s", calls, want)
	}
	g := e.do("GET", "/v2/dst/blobs/"+d, nil)
	if g.code != http.StatusOK || !bytes.Equal(g.body, b) {
		t.Fatalf("mounted blob: %s", g)
	}

	// Isolation: a repository that neither pushed nor mounted it cannot read it.
	e.expect(e.do("GET", "/v2/other/blobs/"+d, nil), http.StatusNotFound, "BLOB_UNKNOWN")
	e.expect(e.do("HEAD", "/v2/other/blobs/"+d, nil), http.StatusNotFound, "")
	// Nor can the same repository name in another registry, nor mount it.
	e.expect(e.do("GET", "/v2/src/blobs/"+d, nil, "X-Test-Registry: two"), http.StatusNotFound, "BLOB_UNKNOWN")
	r = e.do("POST", "/v2/dst/blobs/uploads/?mount="+d+"&from=src", nil, "X-Test-Registry: two")
	e.expect(r, http.StatusAccepted, "")
	if r.h.Get("Docker-Upload-UUID") == "" {
		t.Error("failed mount did not start an upload")
	}

	// from a repository without the blob: an upload session instead.
	e.expect(e.do("POST", "/v2/dst2/blobs/uploads/?mount="+d+"&from=other", nil), http.StatusAccepted, "")
	e.expect(e.do("GET", "/v2/dst2/blobs/"+d, nil), http.StatusNotFound, "BLOB_UNKNOWN")
	// An invalid from or mount digest is a plain upload.
	e.expect(e.do("POST", "/v2/dst2/blobs/uploads/?mount="+d+"&from=Bad..Name", nil), http.StatusAccepted, "")
	e.expect(e.do("POST", "/v2/dst2/blobs/uploads/?mount=sha256:zz&from=src", nil), http.StatusAccepted, "")

	// Without from: only from repositories the caller may pull.
	e.expect(e.do("POST", "/v2/dst3/blobs/uploads/?mount="+d, nil), http.StatusAccepted, "")
	e.az.grants = []auth.Access{{Type: "repository", Name: "src", Actions: []string{"pull"}}}
	e.expect(e.do("POST", "/v2/dst3/blobs/uploads/?mount="+d, nil), http.StatusCreated, "")
	e.az.grants = nil
	e.expect(e.do("GET", "/v2/dst3/blobs/"+d, nil), http.StatusOK, "")

	// Mount with a digest: a mount that fails falls back to a monolithic push.
	b2 := randomBytes(10)
	d2 := sha256Digest(b2)
	e.expect(e.do("POST", "/v2/dst4/blobs/uploads/?mount="+d2+"&from=src&digest="+d2, b2), http.StatusCreated, "")
}
