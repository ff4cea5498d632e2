package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistryCLI drives `acr repository list|show|show-tags|show-manifests|
// untag|delete`, `acr check-health` and `acr show-usage` against content
// pushed with go-containerregistry.
func testRegistryCLI(t *testing.T, e *regEnv) {
	ctx := t.Context()
	const acr = "e2ecli"
	az, login, _ := e.adminRegistry(t, acr)

	// check-health before anything else: every check passes.
	out := az.ok("acr", "check-health", "-n", acr)
	for _, want := range []string{"DNS lookup to " + login, "TLS connection to " + login, "Challenge endpoint https://" + login + "/v2/",
		"Fetch refresh token for registry '" + login + "'", "Fetch access token for registry '" + login + "'"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-health lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " : ") && !strings.HasSuffix(line, " : OK") {
			t.Errorf("check-health: a check did not pass: %q\n%s", line, out)
		}
	}
	if n := strings.Count(out, " : OK"); n < 5 {
		t.Errorf("check-health: %d checks OK, want at least 5:\n%s", n, out)
	}

	usage := func() map[string]float64 {
		t.Helper()
		res := az.obj("acr", "show-usage", "-n", acr)
		vals, _ := res["value"].([]any)
		m := map[string]float64{}
		for _, v := range vals {
			cur, _ := get(v, "currentValue").(float64)
			m[str(v, "name")] = cur
		}
		if _, ok := m["Size"]; !ok {
			t.Fatalf("show-usage has no Size: %v", res)
		}
		return m
	}
	if u := usage(); u["Size"] != 0 {
		t.Errorf("show-usage of an empty registry: Size %v, want 0", u["Size"])
	}

	// Content: app (two manifests, three tags) and tools (one).
	opts := e.ggcr(ctx, bearerAuth(refreshToken(t, az, acr)))
	push := func(ref string, img v1.Image) v1.Hash {
		t.Helper()
		if err := remote.Write(mustTag(t, login+"/"+ref), img, opts...); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		return mustDigest(t, img)
	}
	img1, _ := random.Image(8<<10, 2)
	img2, _ := random.Image(8<<10, 2)
	tools, _ := random.Image(8<<10, 1)
	d1 := push("team/app:v1", img1)
	push("team/app:latest", img1)
	d2 := push("team/app:v2", img2)
	push("tools:1.0", tools)
	var stored int64
	for _, img := range []v1.Image{img1, img2, tools} {
		m, _ := img.Manifest()
		for _, l := range append(m.Layers, m.Config) {
			stored += l.Size
		}
		raw, _ := img.RawManifest()
		stored += int64(len(raw))
	}

	var repos []string
	az.json(&repos, "acr", "repository", "list", "-n", acr)
	if !slices.Equal(repos, []string{"team/app", "tools"}) {
		t.Errorf("repository list: %v, want [team/app tools]", repos)
	}
	if got := az.tsv("acr", "repository", "list", "-n", acr, "--top", "1"); got != "team/app" {
		t.Errorf("repository list --top 1 = %q", got)
	}

	var tags []string
	az.json(&tags, "acr", "repository", "show-tags", "-n", acr, "--repository", "team/app")
	if !slices.Equal(tags, []string{"latest", "v1", "v2"}) {
		t.Errorf("show-tags: %v, want [latest v1 v2]", tags)
	}
	az.json(&tags, "acr", "repository", "show-tags", "-n", acr, "--repository", "team/app", "--orderby", "time_desc", "--top", "1")
	if !slices.Equal(tags, []string{"v2"}) {
		t.Errorf("show-tags --orderby time_desc --top 1: %v, want [v2]", tags)
	}
	detail := az.list("acr", "repository", "show-tags", "-n", acr, "--repository", "team/app", "--detail")
	for _, d := range detail {
		want := d1.String()
		if str(d, "name") == "v2" {
			want = d2.String()
		}
		if str(d, "digest") != want || str(d, "createdTime") == "" || str(d, "lastUpdateTime") == "" {
			t.Errorf("show-tags --detail entry %v, want digest %s and times", d, want)
		}
	}

	manifests := az.list("acr", "repository", "show-manifests", "-n", acr, "--repository", "team/app")
	byDigest := map[string][]string{}
	for _, m := range manifests {
		var ts []string
		for _, x := range asList(m["tags"]) {
			ts = append(ts, fmt.Sprint(x))
		}
		slices.Sort(ts)
		byDigest[str(m, "digest")] = ts
		if str(m, "timestamp") == "" {
			t.Errorf("show-manifests entry without timestamp: %v", m)
		}
	}
	if len(byDigest) != 2 || !slices.Equal(byDigest[d1.String()], []string{"latest", "v1"}) || !slices.Equal(byDigest[d2.String()], []string{"v2"}) {
		t.Errorf("show-manifests: %v, want %s [latest v1] and %s [v2]", manifests, d1, d2)
	}

	repo := az.obj("acr", "repository", "show", "-n", acr, "--repository", "team/app")
	expectFields(t, "repository show", repo, map[string]any{"imageName": "team/app", "registry": login, "tagCount": 3, "manifestCount": 2})
	tagAttrs := az.obj("acr", "repository", "show", "-n", acr, "--image", "team/app:v1")
	if str(tagAttrs, "digest") != d1.String() || str(tagAttrs, "name") != "v1" {
		t.Errorf("repository show --image team/app:v1: %v", tagAttrs)
	}
	manAttrs := az.obj("acr", "repository", "show", "-n", acr, "--image", "team/app@"+d2.String())
	if str(manAttrs, "digest") != d2.String() {
		t.Errorf("repository show --image team/app@%s: %v", d2, manAttrs)
	}

	u := usage()
	if u["Size"] != float64(stored) {
		t.Errorf("show-usage Size = %v, want %d (the bytes of the pushed layers, configs and manifests)", u["Size"], stored)
	}
	if r, ok := u["Repositories"]; ok && r != 2 {
		t.Errorf("show-usage Repositories = %v, want 2", r)
	}
	table := az.ok("acr", "show-usage", "-n", acr, "-o", "table")
	if f := strings.Fields(strings.SplitN(table, "\n", 2)[0]); strings.Join(f, " ") != "NAME LIMIT CURRENT VALUE UNIT" {
		t.Errorf("show-usage -o table header: %q", table)
	}

	// untag removes the tag only.
	az.ok("acr", "repository", "untag", "-n", acr, "--image", "team/app:latest")
	az.json(&tags, "acr", "repository", "show-tags", "-n", acr, "--repository", "team/app")
	if !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Errorf("show-tags after untag latest: %v, want [v1 v2]", tags)
	}
	if _, err := remote.Head(mustDigestRef(t, login+"/team/app@"+d1.String()), opts...); err != nil {
		t.Errorf("the manifest of an untagged tag is gone: %v", err)
	}

	// delete --image by tag deletes the manifest and its tags.
	az.ok("acr", "repository", "delete", "-n", acr, "--image", "team/app:v1", "--yes")
	az.json(&tags, "acr", "repository", "show-tags", "-n", acr, "--repository", "team/app")
	if !slices.Equal(tags, []string{"v2"}) {
		t.Errorf("show-tags after delete --image team/app:v1: %v, want [v2]", tags)
	}
	if _, err := remote.Head(mustDigestRef(t, login+"/team/app@"+d1.String()), opts...); err == nil {
		t.Errorf("the manifest of a deleted image is still there")
	}
	// delete --image by digest.
	az.ok("acr", "repository", "delete", "-n", acr, "--image", "team/app@"+d2.String(), "--yes")
	if got := az.list("acr", "repository", "show-manifests", "-n", acr, "--repository", "team/app"); len(got) != 0 {
		t.Errorf("show-manifests after deleting both manifests: %v", got)
	}
	// delete --repository.
	az.ok("acr", "repository", "delete", "-n", acr, "--repository", "tools", "--yes")
	az.json(&repos, "acr", "repository", "list", "-n", acr)
	if slices.Contains(repos, "tools") {
		t.Errorf("repository list after deleting tools: %v", repos)
	}
	az.fails(1, `^ERROR: .*`, "acr", "repository", "show-tags", "-n", acr, "--repository", "tools")
	az.fails(1, `^ERROR: .*`, "acr", "repository", "show", "-n", acr, "--image", "tools:1.0")

	// Deleting requires --yes without a terminal.
	r := az.run("acr", "repository", "delete", "-n", acr, "--repository", "team/app")
	if r.Code == 0 {
		t.Errorf("repository delete without --yes and no terminal succeeded:\n%s", r)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
