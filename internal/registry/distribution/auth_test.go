package distribution

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAuthorizationNeeds checks, with an Authorizer that refuses, that
// every route asks for the right access before doing anything.
func TestAuthorizationNeeds(t *testing.T) {
	e := newEnv(t)
	blob := []byte("content")
	d := e.pushBlob("app", blob)
	body, md := e.image("app", 1, nil)
	e.expect(e.putManifest("app", "v1", body, MediaTypeOCIManifest), http.StatusCreated, "")
	up := e.do("POST", "/v2/app/blobs/uploads/", nil).h.Get("Location")
	e.az.deny = true
	e.az.reset()

	pull, pushPull, del := "repository:app:pull", "repository:app:pull,push", "repository:app:delete"
	for _, tc := range []struct {
		method, path string
		want         string
	}{
		{"GET", "/v2/", "[]"},
		{"GET", "/v2/_catalog", "[registry:catalog:*]"},
		{"GET", "/v2/app/tags/list", "[" + pull + "]"},
		{"GET", "/v2/app/referrers/" + md.Digest, "[" + pull + "]"},
		{"GET", "/v2/app/manifests/v1", "[" + pull + "]"},
		{"HEAD", "/v2/app/manifests/v1", "[" + pull + "]"},
		{"PUT", "/v2/app/manifests/v2", "[" + pushPull + "]"},
		{"DELETE", "/v2/app/manifests/v1", "[" + del + "]"},
		{"GET", "/v2/app/blobs/" + d, "[" + pull + "]"},
		{"HEAD", "/v2/app/blobs/" + d, "[" + pull + "]"},
		{"DELETE", "/v2/app/blobs/" + d, "[" + del + "]"},
		{"POST", "/v2/app/blobs/uploads/", "[" + pushPull + "]"},
		{"POST", "/v2/app/blobs/uploads/?digest=" + d, "[" + pushPull + "]"},
		{"POST", "/v2/app/blobs/uploads/?mount=" + d + "&from=other", "[" + pushPull + " repository:other:pull]"},
		{"POST", "/v2/app/blobs/uploads/?mount=" + d, "[" + pushPull + "]"},
		{"GET", up, "[" + pushPull + "]"},
		{"PATCH", up, "[" + pushPull + "]"},
		{"PUT", up + "?digest=" + d, "[" + pushPull + "]"},
		{"DELETE", up, "[" + pushPull + "]"},
		// Invalid input behind the authorization is not looked at first.
		{"GET", "/v2/app/manifests/-bad-", "[" + pull + "]"},
		{"GET", "/v2/app/blobs/sha256:bad", "[" + pull + "]"},
	} {
		var b []byte
		if tc.method == "PUT" || tc.method == "PATCH" || tc.method == "POST" {
			b = body
		}
		e.expect(e.do(tc.method, tc.path, b), http.StatusForbidden, "")
		calls := e.az.reset()
		got := "none"
		if len(calls) == 1 {
			got = fmt.Sprint(calls[0])
		}
		if got != tc.want {
			t.Errorf("%s %s asked for %s, want %s", tc.method, tc.path, got, tc.want)
		}
	}
	// Nothing changed behind the refusals.
	e.az.deny = false
	e.expect(e.do("HEAD", "/v2/app/manifests/v1", nil), http.StatusOK, "")
	e.expect(e.do("HEAD", "/v2/app/blobs/"+d, nil), http.StatusOK, "")
	e.expect(e.do("GET", up, nil), http.StatusNoContent, "")
	e.expect(e.do("HEAD", "/v2/app/manifests/v2", nil), http.StatusNotFound, "")
}

func TestInvalidInput(t *testing.T) {
	e := newEnv(t)
	d := e.pushBlob("app", []byte("x"))
	for _, tc := range []struct {
		method, path string
		code         int
		err          string
	}{
		{"GET", "/v2/App/tags/list", 400, "NAME_INVALID"},
		{"GET", "/v2/a//b/tags/list", 400, "NAME_INVALID"},
		{"GET", "/v2/../etc/tags/list", 400, "NAME_INVALID"},
		{"GET", "/v2/a/../b/manifests/latest", 400, "NAME_INVALID"},
		{"GET", "/v2/a/%2E%2E/b/manifests/latest", 400, "NAME_INVALID"},
		{"GET", "/v2/-a/blobs/" + d, 400, "NAME_INVALID"},
		{"GET", "/v2/a_/blobs/" + d, 400, "NAME_INVALID"},
		{"GET", "/v2/" + strings.Repeat("a", 257) + "/manifests/latest", 400, "NAME_INVALID"},
		{"POST", "/v2/a%20b/blobs/uploads/", 400, "NAME_INVALID"},
		{"GET", "/v2/app/manifests/-latest", 400, "TAG_INVALID"},
		{"GET", "/v2/app/manifests/.latest", 400, "TAG_INVALID"},
		{"GET", "/v2/app/manifests/" + strings.Repeat("t", 129), 400, "TAG_INVALID"},
		{"DELETE", "/v2/app/manifests/la%20test", 400, "TAG_INVALID"},
		{"GET", "/v2/app/manifests/sha256:baddigeststring", 400, "DIGEST_INVALID"},
		{"GET", "/v2/app/manifests/SHA256:" + strings.Repeat("a", 64), 400, "DIGEST_INVALID"},
		{"GET", "/v2/app/manifests/sha256:" + strings.Repeat("A", 64), 400, "DIGEST_INVALID"},
		{"GET", "/v2/app/manifests/md5:" + strings.Repeat("a", 32), 400, "DIGEST_INVALID"},
		{"GET", "/v2/app/blobs/sha256:" + strings.Repeat("a", 63), 400, "DIGEST_INVALID"},
		{"GET", "/v2/app/blobs/latest", 400, "DIGEST_INVALID"},
		{"DELETE", "/v2/app/blobs/sha384:" + strings.Repeat("a", 96), 400, "DIGEST_INVALID"},
		{"POST", "/v2/app/blobs/uploads/?digest=sha256:short", 400, "DIGEST_INVALID"},
		{"GET", "/v2/app/referrers/nope", 400, "DIGEST_INVALID"},
		{"GET", "/v2/app/blobs/sha256:" + strings.Repeat("a", 64), 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/a/b-c/d_e/f__g/h.i/manifests/ok-tag_1.0", 404, "NAME_UNKNOWN"},
	} {
		e.expect(e.do(tc.method, tc.path, nil), tc.code, tc.err)
	}
}
