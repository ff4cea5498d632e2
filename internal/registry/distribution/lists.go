package distribution

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/store"
)

// Page sizes of the list endpoints.
const (
	maxPageSize     = 10000 // a larger n is cut to this, with a Link to the rest
	catalogPageSize = 1000  // the catalog's page when the client gives no n
)

// page reads the n and last parameters. n is -1 when absent (everything,
// subject to def); a malformed n is PAGINATION_NUMBER_INVALID.
func (q *request) page(def int) (n int, last string, ok bool) {
	query := q.r.URL.Query()
	last = query.Get("last")
	n = def
	if s := query.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			q.fail(ErrPaginationInvalid.WithMessage("invalid n %q: a non-negative integer", truncate(s, 50)))
			return 0, "", false
		}
		n = v
	}
	if n > maxPageSize {
		n = maxPageSize
	}
	return n, last, true
}

// link sets the Link header to the next page after last.
func (q *request) link(path string, n int, last string) {
	v := url.Values{}
	v.Set("last", last)
	v.Set("n", strconv.Itoa(n))
	q.w.Header().Set("Link", "<"+path+"?"+v.Encode()+`>; rel="next"`)
}

// GET /v2/<name>/tags/list?n=&last=: the repository's tags in byte order.
func (q *request) tagsList() {
	if !q.authorize(pullActions) {
		return
	}
	n, last, ok := q.page(-1)
	if !ok {
		return
	}
	var tags []metadata.Tag
	err := q.view(func(tx *store.Tx) error {
		if _, err := metadata.GetRegistryRepository(tx, q.reg.Key, q.name); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		limit := n
		if n > 0 {
			limit = n + 1 // one more tells whether there is a next page
		}
		var err error
		tags, err = metadata.ListRegistryTags(tx, q.reg.Key, q.name, last, limit)
		return err
	})
	if errdefs.IsNotFound(err) {
		q.fail(ErrNameUnknown.WithDetail(map[string]string{"name": q.name}))
		return
	}
	if err != nil {
		q.internal("tag list", err)
		return
	}
	out := struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{Name: q.name, Tags: make([]string, 0, len(tags))}
	for _, t := range tags {
		out.Tags = append(out.Tags, t.Name)
	}
	if n > 0 && len(out.Tags) > n {
		out.Tags = out.Tags[:n]
		q.link("/v2/"+q.name+"/tags/list", n, out.Tags[n-1])
	}
	q.writeJSON(http.StatusOK, "application/json", out)
}

// GET /v2/_catalog?n=&last=: the registry's repositories that hold
// manifests. The caller needs registry:catalog:*.
func (q *request) catalog() {
	need := []auth.Access{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}
	if _, _, ok := q.h.az.Authorize(q.w, q.r, need); !ok {
		return
	}
	n, last, ok := q.page(catalogPageSize)
	if !ok {
		return
	}
	var repos []string
	if n > 0 {
		err := q.view(func(tx *store.Tx) error {
			var err error
			repos, err = metadata.ListRegistryRepositories(tx, q.reg.Key, last, n+1)
			return err
		})
		if err != nil {
			q.internal("catalog", err)
			return
		}
	}
	if repos == nil {
		repos = []string{}
	}
	if len(repos) > n {
		repos = repos[:n]
		q.link("/v2/_catalog", n, repos[n-1])
	}
	q.writeJSON(http.StatusOK, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

// Descriptor is an OCI content descriptor as the referrers API lists it.
type Descriptor struct {
	MediaType    string          `json:"mediaType"`
	Digest       string          `json:"digest"`
	Size         int64           `json:"size"`
	ArtifactType string          `json:"artifactType,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
}

type imageIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// GET /v2/<name>/referrers/<digest>[?artifactType=]: an image index of the
// manifests whose subject is digest. Never 404: an unknown digest or
// repository has no referrers.
func (q *request) referrers() {
	digest, ok := q.authorizeDigest(pullActions)
	if !ok {
		return
	}
	artifactType := q.r.URL.Query().Get("artifactType")
	var ms []metadata.Manifest
	err := q.view(func(tx *store.Tx) error {
		var err error
		ms, err = metadata.RegistryReferrers(tx, q.reg.Key, q.name, digest, artifactType)
		return err
	})
	if err != nil {
		q.internal("referrers", err)
		return
	}
	idx := imageIndex{SchemaVersion: 2, MediaType: MediaTypeOCIIndex, Manifests: make([]Descriptor, 0, len(ms))}
	for _, m := range ms {
		idx.Manifests = append(idx.Manifests, Descriptor{
			MediaType: m.MediaType, Digest: m.Digest, Size: m.Size, ArtifactType: m.ArtifactType, Annotations: m.Annotations,
		})
	}
	if artifactType != "" {
		q.w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	q.writeJSON(http.StatusOK, MediaTypeOCIIndex, idx)
}
