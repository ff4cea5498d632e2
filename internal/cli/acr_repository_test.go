package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestACRRepositoryList(t *testing.T) {
	h, f := newACRHarness(t)
	if got := h.ok("acr", "repository", "list", "-n", "myacr"); !reflect.DeepEqual(got, []any{"hello", "world"}) {
		t.Errorf("list = %v", got)
	}
	if got := h.ok("acr", "repository", "list", "-n", "myacr", "--top", "1"); !reflect.DeepEqual(got, []any{"hello"}) {
		t.Errorf("list --top 1 = %v", got)
	}
	login := f.login("myacr")
	for _, want := range []string{
		"GET " + login + " /acr/v1/_catalog?n=100",
		"GET " + login + " /acr/v1/_catalog?n=1",
	} {
		if !f.saw(want) {
			t.Errorf("missing %q in %v", want, f.requests())
		}
	}
	if !containsAll(f.scopes, "registry:catalog:*") {
		t.Errorf("scopes %v", f.scopes)
	}
	out, _, code := h.run("acr", "repository", "list", "-n", "myacr", "-o", "table")
	if code != 0 || out != "Result\n--------\nhello\nworld\n" {
		t.Errorf("table %q", out)
	}
	// Admin credentials: the password grant.
	if got := h.ok("acr", "repository", "list", "-n", "adminacr", "-u", "adminacr", "-p", "adminpw"); !reflect.DeepEqual(got, []any{"hello", "world"}) {
		t.Errorf("list -u = %v", got)
	}
	h.fails(2, "ERROR: 'newest' is not a valid value for '--orderby'. Allowed values: time_asc, time_desc.", "acr", "repository", "list", "-n", "myacr", "--orderby", "newest")
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestACRRepositoryShowTagsAndManifests(t *testing.T) {
	h, f := newACRHarness(t)
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello"); !reflect.DeepEqual(got, []any{"latest", "v1", "v2"}) {
		t.Errorf("show-tags = %v", got)
	}
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello", "--orderby", "time_desc", "--top", "2"); !reflect.DeepEqual(got, []any{"latest", "v2"}) {
		t.Errorf("show-tags --orderby time_desc --top 2 = %v", got)
	}
	if !f.saw("GET " + f.login("myacr") + " /acr/v1/hello/_tags?n=2&orderby=timedesc") {
		t.Errorf("requests %v", f.requests())
	}
	detail := list(h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello", "--detail"))
	if len(detail) != 3 || obj(detail[1])["digest"] != "sha256:aaa" || obj(detail[1])["name"] != "v1" {
		t.Errorf("--detail = %v", detail)
	}
	manifests := h.ok("acr", "repository", "show-manifests", "-n", "myacr", "--repository", "hello")
	want := []any{
		map[string]any{"digest": "sha256:aaa", "tags": []any{"latest", "v1"}, "timestamp": "2024-01-03T00:00:00Z"},
		map[string]any{"digest": "sha256:bbb", "tags": []any{"v2"}, "timestamp": "2024-01-02T00:00:00Z"},
	}
	if !reflect.DeepEqual(manifests, want) {
		t.Errorf("show-manifests = %v", manifests)
	}
	detail = list(h.ok("acr", "repository", "show-manifests", "-n", "myacr", "--repository", "hello", "--detail"))
	if len(detail) != 2 || obj(detail[0])["imageSize"] != float64(1024) {
		t.Errorf("show-manifests --detail = %v", detail)
	}
	if !containsAll(f.scopes, "repository:hello:metadata_read") {
		t.Errorf("scopes %v", f.scopes)
	}
	h.fails(2, "ERROR: the following arguments are required: --repository", "acr", "repository", "show-tags", "-n", "myacr")
}

func TestACRRepositoryShow(t *testing.T) {
	h, _ := newACRHarness(t)
	repo := obj(h.ok("acr", "repository", "show", "-n", "myacr", "--repository", "hello"))
	if repo["imageName"] != "hello" || repo["tagCount"] != float64(3) {
		t.Errorf("show --repository = %v", repo)
	}
	tag := obj(h.ok("acr", "repository", "show", "-n", "myacr", "--image", "hello:v2"))
	if tag["name"] != "v2" || tag["digest"] != "sha256:bbb" {
		t.Errorf("show --image = %v", tag)
	}
	// No /acr/v1/<repo>/_manifests/<digest> route: answered from the listing.
	m := obj(h.ok("acr", "repository", "show", "-n", "myacr", "-t", "hello@sha256:bbb"))
	if m["digest"] != "sha256:bbb" || m["imageSize"] != float64(2048) {
		t.Errorf("show --image @digest = %v", m)
	}
	h.fails(1, "ERROR: Error: the specified tag does not exist.", "acr", "repository", "show", "-n", "myacr", "--image", "hello:nope")
	h.fails(1, "ERROR: Usage error: --image IMAGE | --repository REPOSITORY", "acr", "repository", "show", "-n", "myacr")
	h.fails(1, "ERROR: Usage error: --image IMAGE | --repository REPOSITORY", "acr", "repository", "show", "-n", "myacr", "--image", "a:b", "--repository", "a")
	h.fails(1, "ERROR: The name of the image to delete may include a tag in the format 'name:tag' or digest in the format 'name@digest'.",
		"acr", "repository", "show", "-n", "myacr", "--image", "a:b:c")
}

func TestACRRepositoryDeleteAndUntag(t *testing.T) {
	h, f := newACRHarness(t)
	login := f.login("myacr")
	h.fails(1, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.", "acr", "repository", "delete", "-n", "myacr", "--repository", "hello")

	out, errOut, code := h.run("acr", "repository", "delete", "-n", "myacr", "--image", "hello:v1", "--yes")
	if code != 0 || out != "" || errOut != "WARNING: This operation will delete the manifest 'sha256:aaa' and all the following images: 'hello:latest', 'hello:v1'\n" {
		t.Errorf("delete --image: %d %q %q", code, out, errOut)
	}
	if !f.saw("HEAD "+login+" /v2/hello/manifests/v1") || !f.saw("DELETE "+login+" /v2/hello/manifests/sha256:aaa") {
		t.Errorf("requests %v", f.requests())
	}
	if !containsAll(f.scopes, "repository:hello:delete,metadata_read,pull") {
		t.Errorf("scopes %v", f.scopes)
	}
	out, errOut, code = h.run("acr", "repository", "delete", "-n", "myacr", "--image", "hello@sha256:aaa", "-y")
	if code != 0 || out != "" || !strings.HasPrefix(errOut, "WARNING: This operation will delete the manifest 'sha256:aaa'") {
		t.Errorf("delete @digest: %d %q %q", code, out, errOut)
	}
	res := obj(h.ok("acr", "repository", "delete", "-n", "myacr", "--repository", "hello", "--yes"))
	if len(list(res["manifestsDeleted"])) != 2 || len(list(res["tagsDeleted"])) != 3 {
		t.Errorf("delete --repository = %v", res)
	}
	if !f.saw("DELETE " + login + " /acr/v1/hello") {
		t.Errorf("requests %v", f.requests())
	}

	out, errOut, code = h.run("acr", "repository", "untag", "-n", "myacr", "--image", "hello:v2")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("untag: %d %q %q", code, out, errOut)
	}
	if !f.saw("DELETE "+login+" /acr/v1/hello/_tags/v2") || !containsAll(f.scopes, "repository:hello:delete") {
		t.Errorf("untag requests %v scopes %v", f.requests(), f.scopes)
	}
	h.fails(1, "ERROR: The name of the image may include a tag in the format 'name:tag'.", "acr", "repository", "untag", "-n", "myacr", "--image", "a:b:c")
	h.fails(2, "ERROR: the following arguments are required: --image/-t", "acr", "repository", "untag", "-n", "myacr")
}

// A data plane with only the OCI API: the commands fall back to it.
func TestACRRepositoryOCIFallbacks(t *testing.T) {
	h, f := newACRHarness(t)
	f.v2Only = true
	login := f.login("myacr")
	if got := h.ok("acr", "repository", "list", "-n", "myacr"); !reflect.DeepEqual(got, []any{"hello", "world"}) {
		t.Errorf("list = %v", got)
	}
	out, errOut, code := h.run("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello", "--detail")
	if code != 0 || out != "[\n  \"latest\",\n  \"v1\",\n  \"v2\"\n]\n" ||
		errOut != "WARNING: The specified --detail is ignored as it is only supported for managed registries.\n" {
		t.Errorf("show-tags: %d %q %q", code, out, errOut)
	}
	out, errOut, code = h.run("acr", "repository", "untag", "-n", "myacr", "--image", "hello:v2")
	if code != 0 || out != "" || errOut != "" || !f.saw("DELETE "+login+" /v2/hello/manifests/v2") {
		t.Errorf("untag: %d %q %q %v", code, out, errOut, f.requests())
	}
	out, errOut, code = h.run("acr", "repository", "delete", "-n", "myacr", "--image", "hello:v1", "--yes")
	if code != 0 || out != "" || errOut != "WARNING: This operation will delete the manifest 'sha256:aaa'\n" || !f.saw("DELETE "+login+" /v2/hello/manifests/sha256:aaa") {
		t.Errorf("delete: %d %q %q", code, out, errOut)
	}
	h.fails(1, "ERROR: Error: the requested resource is not part of the distribution API.", "acr", "repository", "show-manifests", "-n", "myacr", "--repository", "hello")
}
