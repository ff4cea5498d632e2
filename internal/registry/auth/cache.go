package auth

import (
	"sync"
	"time"
)

// verifiedCache remembers tokens whose signature already checked out, so
// the hot path (every /v2 request carries the same bearer token) skips the
// ECDSA verification. Entries expire with the token; the cache is bounded.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[string]cachedToken
	max     int
}

type cachedToken struct {
	claims  any
	expires time.Time
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{entries: make(map[string]cachedToken), max: max}
}

func (c *verifiedCache) get(tok string, now time.Time) (any, bool) {
	c.mu.RLock()
	e, ok := c.entries[tok]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e.claims, true
}

func (c *verifiedCache) put(tok string, claims any, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Drop expired entries, then, if still full, an arbitrary half.
		now := time.Now()
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[tok] = cachedToken{claims: claims, expires: expires}
}
