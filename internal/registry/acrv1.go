package registry

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/distribution"
)

// ACR's /acr/v1 metadata API, which `az acr repository` uses: catalog,
// repository attributes, tags and manifests with their times, and deletes.

func acrError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	httpjson.Write(w, status, auth.OCIErrors{Errors: []auth.OCIError{{Code: code, Message: msg}}})
}

var changeable = map[string]bool{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// serveACRv1 routes /acr/v1/... for the registry in the request context.
func (dp *DataPlane) serveACRv1(w http.ResponseWriter, r *http.Request, reg auth.Registry) {
	rest := strings.TrimPrefix(r.URL.Path, "/acr/v1/")
	key := distRegistry(reg).Key
	if rest == "_catalog" {
		if r.Method != http.MethodGet {
			acrError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "use GET")
			return
		}
		if _, _, ok := dp.Authorize(w, r, []auth.Access{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}); !ok {
			return
		}
		repos, err := dp.dist.Repositories(r.Context(), key)
		if err != nil {
			acrError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return
		}
		page, next := paginate(repos, r.URL.Query())
		if next != "" {
			w.Header().Set("Link", "</acr/v1/_catalog?"+next+`>; rel="next"`)
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"repositories": page})
		return
	}
	repo, sub, tag, digest := rest, "", "", ""
	if i := strings.Index(rest, "/_tags"); i >= 0 {
		repo, sub = rest[:i], "tags"
		tag = strings.TrimPrefix(strings.TrimPrefix(rest[i:], "/_tags"), "/")
	} else if i := strings.Index(rest, "/_manifests"); i >= 0 {
		repo, sub = rest[:i], "manifests"
		digest = strings.TrimPrefix(strings.TrimPrefix(rest[i:], "/_manifests"), "/")
	}
	if !auth.ValidRepository(repo) {
		acrError(w, http.StatusBadRequest, "NAME_INVALID", "invalid repository name")
		return
	}
	need := func(action string) bool {
		_, _, ok := dp.Authorize(w, r, []auth.Access{{Type: "repository", Name: repo, Actions: []string{action}}})
		return ok
	}
	ctx := r.Context()
	notFound := func(err error) bool {
		if errdefs.IsNotFound(err) {
			acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
			return true
		}
		if err != nil {
			acrError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return true
		}
		return false
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		if !need("metadata_read") {
			return
		}
		info, err := dp.dist.Repository(ctx, key, repo)
		if notFound(err) {
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{
			"registry": reg.LoginServer, "imageName": repo, "createdTime": stamp(info.CreatedAt), "lastUpdateTime": stamp(info.UpdatedAt),
			"manifestCount": info.ManifestCount, "tagCount": info.TagCount, "changeableAttributes": changeable,
		})
	case sub == "" && r.Method == http.MethodDelete:
		if !need("delete") {
			return
		}
		manifests, _ := dp.dist.Manifests(ctx, key, repo)
		tags, _ := dp.dist.Tags(ctx, key, repo)
		if notFound(dp.dist.DeleteRepository(ctx, key, repo)) {
			return
		}
		md, td := []string{}, []string{}
		for _, m := range manifests {
			md = append(md, m.Digest)
		}
		for _, t := range tags {
			td = append(td, t.Name)
		}
		httpjson.Write(w, http.StatusAccepted, map[string]any{"manifestsDeleted": md, "tagsDeleted": td})
	case sub == "tags" && tag == "" && r.Method == http.MethodGet:
		if !need("metadata_read") {
			return
		}
		tags, err := dp.dist.Tags(ctx, key, repo)
		if notFound(err) {
			return
		}
		sortByTime(r.URL.Query().Get("orderby"), len(tags), func(i int) time.Time { return tags[i].UpdatedAt }, func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
		var out []map[string]any
		for _, t := range tags {
			out = append(out, tagView(t))
		}
		out, next := paginateMaps(out, "name", r.URL.Query())
		if next != "" {
			w.Header().Set("Link", "</acr/v1/"+repo+"/_tags?"+next+`>; rel="next"`)
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"registry": reg.LoginServer, "imageName": repo, "tags": out})
	case sub == "tags" && tag != "" && r.Method == http.MethodGet:
		if !need("metadata_read") {
			return
		}
		tags, err := dp.dist.Tags(ctx, key, repo)
		if notFound(err) {
			return
		}
		for _, t := range tags {
			if t.Name == tag {
				httpjson.Write(w, http.StatusOK, map[string]any{"registry": reg.LoginServer, "imageName": repo, "tag": tagView(t)})
				return
			}
		}
		acrError(w, http.StatusNotFound, "TAG_UNKNOWN", "the specified tag does not exist")
	case sub == "tags" && tag != "" && r.Method == http.MethodDelete:
		if !need("delete") {
			return
		}
		if err := dp.dist.Untag(ctx, key, repo, tag); err != nil {
			if errdefs.IsNotFound(err) {
				acrError(w, http.StatusNotFound, "TAG_UNKNOWN", "the specified tag does not exist")
				return
			}
			acrError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
			return
		}
		w.WriteHeader(http.StatusAccepted)
	case sub == "manifests" && r.Method == http.MethodGet:
		if !need("metadata_read") {
			return
		}
		ms, err := dp.dist.Manifests(ctx, key, repo)
		if notFound(err) {
			return
		}
		sortByTime(r.URL.Query().Get("orderby"), len(ms), func(i int) time.Time { return ms[i].CreatedAt }, func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		var out []map[string]any
		for _, m := range ms {
			if digest != "" && m.Digest != digest {
				continue
			}
			tags := m.Tags
			if tags == nil {
				tags = []string{}
			}
			out = append(out, map[string]any{
				"digest": m.Digest, "imageSize": m.ImageSize, "createdTime": stamp(m.CreatedAt), "lastUpdateTime": stamp(m.CreatedAt),
				"mediaType": m.MediaType, "configMediaType": m.ArtifactType, "tags": tags, "changeableAttributes": changeable,
			})
		}
		if digest != "" {
			if len(out) == 0 {
				acrError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
				return
			}
			httpjson.Write(w, http.StatusOK, map[string]any{"registry": reg.LoginServer, "imageName": repo, "manifest": out[0]})
			return
		}
		out, next := paginateMaps(out, "digest", r.URL.Query())
		if next != "" {
			w.Header().Set("Link", "</acr/v1/"+repo+"/_manifests?"+next+`>; rel="next"`)
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"registry": reg.LoginServer, "imageName": repo, "manifests": out})
	default:
		acrError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "the operation is unsupported")
	}
}

func tagView(t distribution.TagInfo) map[string]any {
	return map[string]any{"name": t.Name, "digest": t.Digest, "createdTime": stamp(t.CreatedAt), "lastUpdateTime": stamp(t.UpdatedAt), "signed": false, "changeableAttributes": changeable}
}

// sortByTime orders by time for orderby=time_asc|time_desc, leaving the
// (lexical) order otherwise.
func sortByTime(orderby string, n int, at func(int) time.Time, swap func(i, j int)) {
	orderby = strings.ReplaceAll(orderby, "_", "") // az sends timeasc/timedesc; ACR also knows time_asc/time_desc
	if orderby != "timeasc" && orderby != "timedesc" {
		return
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	desc := orderby == "timedesc"
	sort.SliceStable(idx, func(a, b int) bool {
		if desc {
			return at(idx[a]).After(at(idx[b]))
		}
		return at(idx[a]).Before(at(idx[b]))
	})
	// Apply the permutation with swaps.
	pos := make([]int, n)
	for i, j := range idx {
		pos[j] = i
	}
	for i := 0; i < n; i++ {
		for pos[i] != i {
			j := pos[i]
			swap(i, j)
			pos[i], pos[j] = pos[j], pos[i]
		}
	}
}

// paginate applies n and last to sorted names.
func paginate(names []string, q url.Values) ([]string, string) {
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(names, last)
		for i < len(names) && names[i] <= last {
			i++
		}
		names = names[i:]
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 || n >= len(names) {
		if names == nil {
			names = []string{}
		}
		return names, ""
	}
	return names[:n], "n=" + strconv.Itoa(n) + "&last=" + url.QueryEscape(names[n-1])
}

// paginateMaps applies n and last (matched on field) to an ordered list.
func paginateMaps(items []map[string]any, field string, q url.Values) ([]map[string]any, string) {
	if last := q.Get("last"); last != "" {
		for i, it := range items {
			if it[field] == last {
				items = items[i+1:]
				break
			}
		}
	}
	if items == nil {
		items = []map[string]any{}
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 || n >= len(items) {
		return items, ""
	}
	next := "n=" + strconv.Itoa(n) + "&last=" + url.QueryEscape(items[n-1][field].(string))
	if ob := q.Get("orderby"); ob != "" {
		next += "&orderby=" + url.QueryEscape(ob)
	}
	return items[:n], next
}
