package cli

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/httpjson"
)

// newRepositoryHarness is newRegistryHarness with images in myacr: hello
// (v1, then v2, then latest, which names v1's manifest again) and world
// (v1). It returns the two manifests of hello.
func newRepositoryHarness(t *testing.T) (h *harness, aaa, bbb string) {
	h = newRegistryHarness(t)
	aaa = h.push("myacr", "hello", "layer one", "v1")
	bbb = h.push("myacr", "hello", "layer two", "v2")
	h.push("myacr", "hello", "layer one", "latest")
	h.push("myacr", "world", "layer three", "v1")
	return h, aaa, bbb
}

func TestACRRepositoryList(t *testing.T) {
	h, _, _ := newRepositoryHarness(t)
	h.push("adminacr", "hello", "layer one", "v1")
	h.push("adminacr", "world", "layer one", "v1")
	if got := h.ok("acr", "repository", "list", "-n", "myacr"); !reflect.DeepEqual(got, []any{"hello", "world"}) {
		t.Errorf("list = %v", got)
	}
	// One page of one.
	if got := h.ok("acr", "repository", "list", "-n", "myacr", "--top", "1"); !reflect.DeepEqual(got, []any{"hello"}) {
		t.Errorf("list --top 1 = %v", got)
	}
	out, _, code := h.run("acr", "repository", "list", "-n", "myacr", "-o", "table")
	if code != 0 || out != "Result\n--------\nhello\nworld\n" {
		t.Errorf("table %q", out)
	}
	// Admin credentials: the password grant.
	if got := h.ok("acr", "repository", "list", "-n", "adminacr", "-u", "adminacr", "-p", h.adminPassword("adminacr")); !reflect.DeepEqual(got, []any{"hello", "world"}) {
		t.Errorf("list -u = %v", got)
	}
	h.fails(2, "ERROR: 'newest' is not a valid value for '--orderby'. Allowed values: time_asc, time_desc.", "acr", "repository", "list", "-n", "myacr", "--orderby", "newest")
}

func TestACRRepositoryShowTagsAndManifests(t *testing.T) {
	h, aaa, bbb := newRepositoryHarness(t)
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello"); !reflect.DeepEqual(got, []any{"latest", "v1", "v2"}) {
		t.Errorf("show-tags = %v", got)
	}
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello", "--orderby", "time_desc", "--top", "2"); !reflect.DeepEqual(got, []any{"latest", "v2"}) {
		t.Errorf("show-tags --orderby time_desc --top 2 = %v", got)
	}
	detail := list(h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello", "--detail"))
	if len(detail) != 3 || obj(detail[1])["digest"] != aaa || obj(detail[1])["name"] != "v1" {
		t.Errorf("--detail = %v", detail)
	}
	manifests := list(h.ok("acr", "repository", "show-manifests", "-n", "myacr", "--repository", "hello"))
	tags := map[string]any{}
	for _, m := range manifests {
		tags[str(obj(m), "digest")] = obj(m)["tags"]
		if len(obj(m)) != 3 || str(obj(m), "timestamp") == "" {
			t.Errorf("manifest %v", m)
		}
	}
	if want := map[string]any{aaa: []any{"latest", "v1"}, bbb: []any{"v2"}}; !reflect.DeepEqual(tags, want) {
		t.Errorf("show-manifests = %v", manifests)
	}
	detail = list(h.ok("acr", "repository", "show-manifests", "-n", "myacr", "--repository", "hello", "--detail"))
	if len(detail) != 2 || obj(detail[0])["imageSize"] == nil || obj(detail[0])["imageSize"] == float64(0) {
		t.Errorf("show-manifests --detail = %v", detail)
	}
	h.fails(2, "ERROR: the following arguments are required: --repository", "acr", "repository", "show-tags", "-n", "myacr")
}

func TestACRRepositoryShow(t *testing.T) {
	h, _, bbb := newRepositoryHarness(t)
	repo := obj(h.ok("acr", "repository", "show", "-n", "myacr", "--repository", "hello"))
	if repo["imageName"] != "hello" || repo["tagCount"] != float64(3) || repo["manifestCount"] != float64(2) {
		t.Errorf("show --repository = %v", repo)
	}
	tag := obj(h.ok("acr", "repository", "show", "-n", "myacr", "--image", "hello:v2"))
	if tag["name"] != "v2" || tag["digest"] != bbb {
		t.Errorf("show --image = %v", tag)
	}
	m := obj(h.ok("acr", "repository", "show", "-n", "myacr", "-t", "hello@"+bbb))
	if m["digest"] != bbb || m["imageSize"] == nil || m["imageSize"] == float64(0) {
		t.Errorf("show --image @digest = %v", m)
	}
	h.fails(1, "ERROR: Error: the specified tag does not exist.", "acr", "repository", "show", "-n", "myacr", "--image", "hello:nope")
	h.fails(1, "ERROR: Usage error: --image IMAGE | --repository REPOSITORY", "acr", "repository", "show", "-n", "myacr")
	h.fails(1, "ERROR: Usage error: --image IMAGE | --repository REPOSITORY", "acr", "repository", "show", "-n", "myacr", "--image", "a:b", "--repository", "a")
	h.fails(1, "ERROR: The name of the image to delete may include a tag in the format 'name:tag' or digest in the format 'name@digest'.",
		"acr", "repository", "show", "-n", "myacr", "--image", "a:b:c")
}

func TestACRRepositoryDeleteAndUntag(t *testing.T) {
	h, aaa, _ := newRepositoryHarness(t)
	h.fails(1, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.", "acr", "repository", "delete", "-n", "myacr", "--repository", "hello")

	out, errOut, code := h.run("acr", "repository", "delete", "-n", "myacr", "--image", "hello:v1", "--yes")
	if code != 0 || out != "" || errOut != "WARNING: This operation will delete the manifest '"+aaa+"' and all the following images: 'hello:latest', 'hello:v1'\n" {
		t.Errorf("delete --image: %d %q %q", code, out, errOut)
	}
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello"); !reflect.DeepEqual(got, []any{"v2"}) {
		t.Errorf("tags after delete --image: %v", got)
	}
	h.push("myacr", "hello", "layer one", "v1")
	out, errOut, code = h.run("acr", "repository", "delete", "-n", "myacr", "--image", "hello@"+aaa, "-y")
	if code != 0 || out != "" || !strings.HasPrefix(errOut, "WARNING: This operation will delete the manifest '"+aaa+"'") {
		t.Errorf("delete @digest: %d %q %q", code, out, errOut)
	}
	h.push("myacr", "hello", "layer one", "v1", "latest")
	res := obj(h.ok("acr", "repository", "delete", "-n", "myacr", "--repository", "hello", "--yes"))
	if len(list(res["manifestsDeleted"])) != 2 || len(list(res["tagsDeleted"])) != 3 {
		t.Errorf("delete --repository = %v", res)
	}
	if got := h.ok("acr", "repository", "list", "-n", "myacr"); !reflect.DeepEqual(got, []any{"world"}) {
		t.Errorf("repositories after delete --repository: %v", got)
	}

	h.push("myacr", "hello", "layer two", "v2", "v3")
	out, errOut, code = h.run("acr", "repository", "untag", "-n", "myacr", "--image", "hello:v2")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("untag: %d %q %q", code, out, errOut)
	}
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello"); !reflect.DeepEqual(got, []any{"v3"}) {
		t.Errorf("tags after untag: %v", got)
	}
	h.fails(1, "ERROR: The name of the image may include a tag in the format 'name:tag'.", "acr", "repository", "untag", "-n", "myacr", "--image", "a:b:c")
	h.fails(2, "ERROR: the following arguments are required: --image/-t", "acr", "repository", "untag", "-n", "myacr")
}

// A data plane with only the OCI API: the commands fall back to it. The
// registry's login server resolves to a front that answers ACR's /acr/v1
// API as a plain distribution registry does (404) and passes the rest to
// drydock's registry listener.
func TestACRRepositoryOCIFallbacks(t *testing.T) {
	h, aaa, _ := newRepositoryHarness(t)
	cert, err := h.srv.Server().CA().IssueServer("oci-only", []string{"*." + h.srv.LoginServerSuffix}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(h.srv.RegistryAddress)
	ln, err := tls.Listen("tcp", "127.0.0.2:"+port, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	target, _ := url.Parse("https://" + h.srv.RegistryAddress)
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.srv.CAPool, ServerName: "myacr." + h.srv.LoginServerSuffix}},
	}
	front := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/acr/") {
			httpjson.Write(w, http.StatusNotFound, map[string]any{"errors": []any{map[string]any{"code": "NOT_FOUND", "message": "the requested resource is not part of the distribution API"}}})
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go front.Serve(ln)
	t.Cleanup(func() { front.Close() })
	registryLookupHost = func(context.Context, string) ([]string, error) { return []string{"127.0.0.2"}, nil }

	if got := h.ok("acr", "repository", "list", "-n", "myacr"); !reflect.DeepEqual(got, []any{"hello", "world"}) {
		t.Errorf("list = %v", got)
	}
	out, errOut, code := h.run("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello", "--detail")
	if code != 0 || out != "[\n  \"latest\",\n  \"v1\",\n  \"v2\"\n]\n" ||
		errOut != "WARNING: The specified --detail is ignored as it is only supported for managed registries.\n" {
		t.Errorf("show-tags: %d %q %q", code, out, errOut)
	}
	out, errOut, code = h.run("acr", "repository", "untag", "-n", "myacr", "--image", "hello:v2")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("untag: %d %q %q", code, out, errOut)
	}
	out, errOut, code = h.run("acr", "repository", "delete", "-n", "myacr", "--image", "hello:v1", "--yes")
	if code != 0 || out != "" || errOut != "WARNING: This operation will delete the manifest '"+aaa+"'\n" {
		t.Errorf("delete: %d %q %q", code, out, errOut)
	}
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello"); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("tags left: %v", got)
	}
	h.fails(1, "ERROR: Error: the requested resource is not part of the distribution API.", "acr", "repository", "show-manifests", "-n", "myacr", "--repository", "hello")
}
