package distribution

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

// Errors of the read and management helpers. Each matches errdefs.ErrNotFound.
var (
	ErrRepositoryNotFound = fmt.Errorf("repository not found: %w", errdefs.ErrNotFound)
	ErrTagNotFound        = fmt.Errorf("tag not found: %w", errdefs.ErrNotFound)
	ErrManifestNotFound   = fmt.Errorf("manifest not found: %w", errdefs.ErrNotFound)
)

// TagInfo describes a tag (az acr repository show-tags --detail).
type TagInfo struct {
	Name      string
	Digest    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ManifestInfo describes a manifest (az acr manifest list-metadata).
type ManifestInfo struct {
	Digest       string
	MediaType    string
	ArtifactType string // artifactType, else the config's media type
	Subject      string
	Size         int64 // the manifest's bytes
	ImageSize    int64 // config and layers linked in the repository
	Tags         []string
	CreatedAt    time.Time
}

// RepositoryInfo describes a repository (az acr repository show).
type RepositoryInfo struct {
	Name          string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ManifestCount int
	TagCount      int
}

// UsageInfo is what a registry holds.
type UsageInfo struct {
	Repositories int   // repositories with at least one manifest
	Size         int64 // bytes: distinct blobs linked anywhere in the registry, plus manifests
}

// DeleteRegistry removes all metadata of a registry inside tx (the ARM
// delete's transaction). Blob content and upload data are freed later by
// garbage collection.
func (h *Handler) DeleteRegistry(ctx context.Context, tx *store.Tx, key string) error {
	_, err := metadata.DeleteRegistryData(tx, strings.ToLower(key))
	h.manifests.invalidate()
	return err
}

// Repositories lists the repositories of a registry that hold manifests,
// in byte order.
func (h *Handler) Repositories(ctx context.Context, key string) ([]string, error) {
	out, err := viewValue(ctx, h.st, func(tx *store.Tx) ([]string, error) {
		return metadata.ListRegistryRepositories(tx, key, "", -1)
	})
	if out == nil {
		out = []string{}
	}
	return out, err
}

// Repository describes one repository; ErrRepositoryNotFound if unknown.
func (h *Handler) Repository(ctx context.Context, key, repo string) (RepositoryInfo, error) {
	var info RepositoryInfo
	err := h.viewRepository(ctx, key, repo, func(tx *store.Tx, r metadata.Repository) error {
		ms, tags, err := manifestsAndTags(tx, key, repo)
		info = RepositoryInfo{Name: r.Name, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ManifestCount: len(ms), TagCount: len(tags)}
		return err
	})
	return info, err
}

// Tags lists a repository's tags in byte order; ErrRepositoryNotFound if
// the repository is unknown.
func (h *Handler) Tags(ctx context.Context, key, repo string) ([]TagInfo, error) {
	out := []TagInfo{}
	err := h.viewRepository(ctx, key, repo, func(tx *store.Tx, _ metadata.Repository) error {
		tags, err := metadata.ListRegistryTags(tx, key, repo, "", -1)
		for _, t := range tags {
			out = append(out, TagInfo{Name: t.Name, Digest: t.Digest, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt})
		}
		return err
	})
	return out, err
}

// Manifests lists a repository's manifests, newest first, with their tags;
// ErrRepositoryNotFound if the repository is unknown.
func (h *Handler) Manifests(ctx context.Context, key, repo string) ([]ManifestInfo, error) {
	out := []ManifestInfo{}
	err := h.viewRepository(ctx, key, repo, func(tx *store.Tx, _ metadata.Repository) error {
		ms, tags, err := manifestsAndTags(tx, key, repo)
		if err != nil {
			return err
		}
		byDigest := map[string][]string{}
		for _, t := range tags {
			byDigest[t.Digest] = append(byDigest[t.Digest], t.Name)
		}
		for _, m := range ms {
			size, err := metadata.RegistryManifestBlobSize(tx, key, repo, m.Digest)
			if err != nil {
				return err
			}
			ts := byDigest[m.Digest]
			sort.Strings(ts)
			out = append(out, ManifestInfo{
				Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Subject: m.Subject,
				Size: m.Size, ImageSize: size, Tags: ts, CreatedAt: m.CreatedAt,
			})
		}
		return nil
	})
	return out, err
}

// viewRepository runs fn in a read transaction on the repository repo of
// registry key; ErrRepositoryNotFound if the repository is unknown.
func (h *Handler) viewRepository(ctx context.Context, key, repo string, fn func(*store.Tx, metadata.Repository) error) error {
	return h.st.View(ctx, func(tx *store.Tx) error {
		r, err := metadata.GetRegistryRepository(tx, key, repo)
		if err != nil {
			return notFoundAs(err, ErrRepositoryNotFound)
		}
		return fn(tx, r)
	})
}

// manifestsAndTags lists all of a repository's manifests and tags.
func manifestsAndTags(tx *store.Tx, key, repo string) ([]metadata.Manifest, []metadata.Tag, error) {
	ms, err := metadata.ListRegistryManifests(tx, key, repo)
	if err != nil {
		return nil, nil, err
	}
	tags, err := metadata.ListRegistryTags(tx, key, repo, "", -1)
	return ms, tags, err
}

// DeleteRepository removes a repository: its manifests, tags, blob links
// and upload sessions. ErrRepositoryNotFound if it is unknown.
func (h *Handler) DeleteRepository(ctx context.Context, key, repo string) error {
	var uploads []string
	err := h.update(ctx, func(tx *store.Tx) error {
		var err error
		uploads, err = metadata.DeleteRegistryRepository(tx, key, repo)
		return notFoundAs(err, ErrRepositoryNotFound)
	})
	if err != nil {
		return err
	}
	for _, id := range uploads {
		if err := h.blobs.CancelUpload(context.WithoutCancel(ctx), id); err != nil && !errors.Is(err, storage.ErrUploadUnknown) {
			h.log.Warn("registry upload not cancelled", "upload", id, "err", err)
		}
	}
	return nil
}

// Untag removes a tag (its manifest stays); ErrTagNotFound if absent.
func (h *Handler) Untag(ctx context.Context, key, repo, tag string) error {
	return h.update(ctx, func(tx *store.Tx) error {
		_, err := metadata.DeleteRegistryTag(tx, key, repo, tag)
		return notFoundAs(err, ErrTagNotFound)
	})
}

// DeleteManifest removes a manifest by digest with the tags pointing to it
// (az acr repository delete --image repo@digest); ErrManifestNotFound if
// absent.
func (h *Handler) DeleteManifest(ctx context.Context, key, repo, digest string) error {
	return h.update(ctx, func(tx *store.Tx) error {
		_, err := metadata.DeleteRegistryManifest(tx, key, repo, digest)
		return notFoundAs(err, ErrManifestNotFound)
	})
}

// Usage reports how many repositories a registry has and the bytes it uses.
func (h *Handler) Usage(ctx context.Context, key string) (UsageInfo, error) {
	var u UsageInfo
	err := h.st.View(ctx, func(tx *store.Tx) error {
		var err error
		u.Repositories, u.Size, err = metadata.RegistryUsage(tx, key)
		return err
	})
	return u, err
}

// notFoundAs is sentinel when err is a not-found error, and err otherwise.
func notFoundAs(err, sentinel error) error {
	if errdefs.IsNotFound(err) {
		return sentinel
	}
	return err
}

// viewValue runs f in a read transaction and returns its result.
func viewValue[T any](ctx context.Context, st *store.Store, f func(*store.Tx) (T, error)) (T, error) {
	var v T
	err := st.View(ctx, func(tx *store.Tx) error {
		var err error
		v, err = f(tx)
		return err
	})
	return v, err
}
