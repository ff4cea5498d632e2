package distribution

import (
	"strings"
	"testing"
)

// FuzzParseRoute feeds the /v2 router arbitrary (decoded) paths: a route
// is always the path read back (so a reference, digest or upload ID never
// carries a slash, and the repository name is everything before the
// route's own segments), and it never panics.
func FuzzParseRoute(f *testing.F) {
	for _, p := range []string{
		"/v2/", "/v2/_catalog", "/v2/team/app/tags/list", "/v2/app/manifests/v1", "/v2/app/manifests/sha256:" + strings.Repeat("a", 64),
		"/v2/app/blobs/sha256:" + strings.Repeat("b", 64), "/v2/app/blobs/uploads/", "/v2/app/blobs/uploads", "/v2/app/blobs/uploads/0b1f6471-1bf0",
		"/v2/app/referrers/sha256:" + strings.Repeat("c", 64), "/v2/a/manifests/b/manifests/c", "/v2/../../etc/passwd/manifests/latest",
		"/v2/app/blobs/uploads/../../x", "/v2//blobs/", "/v2/blobs/uploads/uploads/blobs/x",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt := parseRoute(path)
		var back []string
		switch rt.kind {
		case routeNone:
			return
		case routeBase:
			back = []string{"/v2", "/v2/"}
		case routeCatalog:
			back = []string{"/v2/_catalog"}
		case routeTags:
			back = []string{"/v2/" + rt.name + "/tags/list"}
		case routeManifest:
			back = []string{"/v2/" + rt.name + "/manifests/" + rt.arg}
		case routeReferrers:
			back = []string{"/v2/" + rt.name + "/referrers/" + rt.arg}
		case routeBlob:
			back = []string{"/v2/" + rt.name + "/blobs/" + rt.arg}
		case routeUploadStart:
			back = []string{"/v2/" + rt.name + "/blobs/uploads", "/v2/" + rt.name + "/blobs/uploads/"}
		case routeUpload:
			back = []string{"/v2/" + rt.name + "/blobs/uploads/" + rt.arg}
		}
		found := false
		for _, b := range back {
			found = found || b == path
		}
		if !found {
			t.Fatalf("%q routed as %+v", path, rt)
		}
		if strings.Contains(rt.arg, "/") {
			t.Fatalf("%q: the argument %q holds a slash", path, rt.arg)
		}
	})
}

// FuzzParseContentRange feeds the upload chunk header parser arbitrary
// values: a range it accepts is never negative nor inverted.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-99", "bytes=0-0", "bytes 100-199/200", "5-4", "-1-3", "9223372036854775807-9223372036854775807", "1-", " 0 - 9 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, ok := parseContentRange(s)
		if ok && (start < 0 || end < start) {
			t.Fatalf("%q: %d-%d", s, start, end)
		}
	})
}
