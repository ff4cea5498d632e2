package distribution

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/store"
)

// manifestCache keeps recent manifest lookups in memory so that repeated
// GETs of the same tag (every node pulling the same image) skip the store.
// Every committed metadata write bumps a generation number; an entry is
// used only while the generation it was read under is current, so a
// reader never sees a manifest or tag that a committed write changed.
type manifestCache struct {
	// off makes every lookup read the store: among replicas of a set,
	// another process's write does not bump this generation.
	off     atomic.Bool
	gen     atomic.Uint64
	mu      sync.RWMutex
	entries map[string]cachedManifest
	bytes   int
}

type cachedManifest struct {
	gen uint64
	m   metadata.Manifest
}

const manifestCacheBytes = 64 << 20

func (c *manifestCache) key(registry, repo, ref string, withBody bool) string {
	b := "h"
	if withBody {
		b = "b"
	}
	return b + registry + "\x00" + repo + "\x00" + ref
}

// invalidate is called after every committed metadata write.
func (c *manifestCache) invalidate() { c.gen.Add(1) }

func (c *manifestCache) lookup(ctx context.Context, st *store.Store, registry, repo, ref string, byTag, withBody bool) (metadata.Manifest, error) {
	if c.off.Load() {
		return metadata.LookupRegistryManifest(ctx, st, registry, repo, ref, byTag, withBody)
	}
	k := c.key(registry, repo, ref, withBody)
	gen := c.gen.Load()
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if ok && e.gen == gen {
		return e.m, nil
	}
	m, err := metadata.LookupRegistryManifest(ctx, st, registry, repo, ref, byTag, withBody)
	if err != nil {
		return m, err
	}
	c.mu.Lock()
	if c.entries == nil || c.bytes+len(m.Body) > manifestCacheBytes {
		c.entries, c.bytes = map[string]cachedManifest{}, 0
	}
	c.entries[k] = cachedManifest{gen: gen, m: m}
	c.bytes += len(m.Body)
	c.mu.Unlock()
	return m, nil
}

// DisableManifestCache makes manifest lookups read the store every time,
// for a replica of a set: other replicas change manifests and tags without
// this process knowing.
func (h *Handler) DisableManifestCache() { h.manifests.off.Store(true) }

// update runs fn in a write transaction and invalidates the cache after it.
func (h *Handler) update(ctx context.Context, fn func(*store.Tx) error) error {
	err := h.st.Update(ctx, fn)
	h.manifests.invalidate()
	return err
}
