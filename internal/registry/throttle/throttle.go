// Package throttle limits a registry's request rate as Azure Container
// Registry does: per registry, per class of operation (ReadOps, WriteOps,
// token requests), per minute, with the limits of the registry's SKU.
//
// Each (registry, class) pair is one GCRA bucket (the generic cell rate
// algorithm, a token bucket kept as a single "theoretical arrival time"):
// a registry may spend its whole per-minute budget in a burst, then earns
// one request back every minute/limit. A check is one clock read and one
// compare-and-swap on an atomic integer: O(1) and free of locks, so
// registries never wait on each other and a registry's readers never wait
// on its writers.
package throttle

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Class is the kind of operation a request counts as.
type Class uint8

// The classes ACR's limits name.
const (
	Read  Class = iota // ReadOps: manifest and blob GET/HEAD, tag and catalog lists, /acr/v1 reads
	Write              // WriteOps: upload POST/PATCH/PUT, manifest PUT, deletes
	Token              // /oauth2/token and /oauth2/exchange
	numClasses
)

func (c Class) String() string {
	switch c {
	case Read:
		return "ReadOps"
	case Write:
		return "WriteOps"
	case Token:
		return "token requests"
	}
	return "unknown"
}

// Classify says which class a data-plane request counts as. Token requests
// are every request to the token endpoints, whatever the method; otherwise
// the method decides: GET and HEAD (and OPTIONS) read, POST, PUT, PATCH
// and DELETE write. That is ACR's split: a docker pull is reads (the
// manifest and one per layer), a docker push is writes (the upload
// requests per layer and the manifest PUT) plus the reads that check what
// already exists.
func Classify(method, path string) Class {
	if strings.HasPrefix(path, "/oauth2/") {
		return Token
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return Read
	}
	return Write
}

// Limits are requests per minute, per class.
type Limits [numClasses]int

// Per-SKU limits. ReadOps and WriteOps per minute are ACR's published
// figures, from the "Service tier features and limits" table of
// https://learn.microsoft.com/azure/container-registry/container-registry-skus
// (MicrosoftDocs/azure-docs, includes/container-registry-limits.md):
//
//	Resource                Basic   Standard  Premium
//	ReadOps per minute      1,000   3,000     10,000
//	WriteOps per minute       100     500      2,000
//
// with the notes that they are minimum estimates, that a docker pull is
// several reads (the manifest plus one per layer), and that a docker push
// is several writes (one set per layer pushed) plus reads.
//
// ACR publishes no figure for its token endpoints. drydock's choice: the
// SKU's WriteOps figure. Minting a token is work on the service's side like
// a write, and a client that behaves asks for few tokens: docker,
// containerd and the kubelet credential provider reuse a refresh token for
// about 3 hours and an access token per scope for its lifetime, so a pull
// or a push costs one or two token requests against many reads or writes.
// A client that asks for a token per request (the bug a retry test should
// find) exceeds this quickly, while a workload that stays within the
// write budget never meets it.
var skuLimits = map[string]Limits{
	"basic":    {Read: 1000, Write: 100, Token: 100},
	"standard": {Read: 3000, Write: 500, Token: 500},
	"premium":  {Read: 10000, Write: 2000, Token: 2000},
}

// ForSKU returns the limits of a SKU (Basic, Standard, Premium; any case).
func ForSKU(sku string) (Limits, bool) {
	l, ok := skuLimits[strings.ToLower(sku)]
	return l, ok
}

// Limiter holds every registry's buckets, in memory.
type Limiter struct {
	now   func() time.Time
	epoch time.Time
	regs  sync.Map // registry key → *Buckets
}

// New returns a limiter reading time from now (time.Now when nil).
func New(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, epoch: now()}
}

// Buckets are one registry's buckets, one per class: the theoretical
// arrival time of the next request, in nanoseconds since the limiter's
// epoch.
type Buckets struct {
	tat [numClasses]atomic.Int64
}

// Buckets returns the registry's buckets, creating them on first use. The
// data plane looks them up once per cached registry lookup, not per
// request.
func (l *Limiter) Buckets(key string) *Buckets {
	if b, ok := l.regs.Load(key); ok {
		return b.(*Buckets)
	}
	b, _ := l.regs.LoadOrStore(key, new(Buckets))
	return b.(*Buckets)
}

// Forget drops a registry's buckets (it was deleted).
func (l *Limiter) Forget(key string) { l.regs.Delete(key) }

// Gate is one registry's throttle as a request sees it: its buckets and its
// SKU's limits. The zero Gate (throttling off) admits everything.
type Gate struct {
	l       *Limiter
	buckets *Buckets
	limits  Limits
}

// Gate returns the gate of a registry with the given limits.
func (l *Limiter) Gate(key string, limits Limits) Gate {
	return Gate{l: l, buckets: l.Buckets(key), limits: limits}
}

// On reports whether the gate throttles.
func (g Gate) On() bool { return g.buckets != nil }

// Limit is the gate's per-minute limit for a class.
func (g Gate) Limit(c Class) int { return g.limits[c] }

// Allow spends one request of class c. When the budget is spent it returns
// false and how long until one request is allowed again.
func (g Gate) Allow(c Class) (bool, time.Duration) {
	if g.buckets == nil || g.limits[c] <= 0 {
		return true, 0
	}
	return allow(&g.buckets.tat[c], g.limits[c], int64(g.l.now().Sub(g.l.epoch)))
}

// allow is GCRA: each request moves the bucket's theoretical arrival time
// (tat) on by one emission interval (a minute / limit); a request is
// refused when tat is more than a minute less one interval ahead of now,
// which lets a full minute's budget through in a burst from an idle
// bucket and then one request per interval.
func allow(tat *atomic.Int64, perMinute int, now int64) (bool, time.Duration) {
	interval := int64(time.Minute) / int64(perMinute)
	tolerance := int64(time.Minute) - interval
	for {
		old := tat.Load()
		t := max(old, now)
		if t-now > tolerance {
			return false, time.Duration(t - tolerance - now)
		}
		if tat.CompareAndSwap(old, t+interval) {
			return true, 0
		}
	}
}

// RetryAfter is the Retry-After header value for a wait: whole seconds,
// rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	return strconv.FormatInt(max(int64(s), 1), 10)
}
