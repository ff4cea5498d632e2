package auth

import (
	"sync"
	"time"
)

// verifiedCache remembers values that already checked out — the claims of
// a token whose signature, issuer, audience and grant type were verified,
// or a directory lookup — so the hot path (every /v2 request carries the
// same bearer token) skips the ECDSA verification. It holds one type: the
// service keeps one cache per kind of token, so a token verified as one
// kind can never be found as another. Entries expire with what they hold;
// the cache is bounded.
type verifiedCache[V any] struct {
	mu      sync.RWMutex
	entries map[string]cached[V]
	max     int
}

type cached[V any] struct {
	value   V
	expires time.Time
}

func newVerifiedCache[V any](max int) *verifiedCache[V] {
	return &verifiedCache[V]{entries: make(map[string]cached[V]), max: max}
}

func (c *verifiedCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *verifiedCache[V]) put(key string, v V, expires time.Time) {
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
	c.entries[key] = cached[V]{value: v, expires: expires}
}
