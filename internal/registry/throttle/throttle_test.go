package throttle

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a time source the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         Class
	}{
		{"GET", "/v2/", Read},
		{"GET", "/v2/team/app/manifests/v1", Read},
		{"HEAD", "/v2/team/app/manifests/sha256:abc", Read},
		{"GET", "/v2/team/app/blobs/sha256:abc", Read},
		{"HEAD", "/v2/team/app/blobs/sha256:abc", Read},
		{"GET", "/v2/team/app/tags/list", Read},
		{"GET", "/v2/_catalog", Read},
		{"GET", "/v2/team/app/referrers/sha256:abc", Read},
		{"GET", "/v2/team/app/blobs/uploads/u1", Read},
		{"GET", "/acr/v1/_catalog", Read},
		{"GET", "/acr/v1/team/app/_tags", Read},
		{"POST", "/v2/team/app/blobs/uploads/", Write},
		{"PATCH", "/v2/team/app/blobs/uploads/u1", Write},
		{"PUT", "/v2/team/app/blobs/uploads/u1?digest=sha256:abc", Write},
		{"PUT", "/v2/team/app/manifests/v1", Write},
		{"DELETE", "/v2/team/app/manifests/sha256:abc", Write},
		{"DELETE", "/v2/team/app/blobs/sha256:abc", Write},
		{"DELETE", "/v2/team/app/blobs/uploads/u1", Write},
		{"DELETE", "/acr/v1/team/app", Write},
		{"DELETE", "/acr/v1/team/app/_tags/v1", Write},
		{"PATCH", "/acr/v1/team/app", Write},
		{"GET", "/oauth2/token", Token},
		{"POST", "/oauth2/token", Token},
		{"POST", "/oauth2/exchange", Token},
	} {
		if got := Classify(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestForSKU(t *testing.T) {
	for _, tc := range []struct {
		sku                string
		read, write, token int
	}{
		{"Basic", 1000, 100, 100},
		{"basic", 1000, 100, 100},
		{"Standard", 3000, 500, 500},
		{"PREMIUM", 10000, 2000, 2000},
	} {
		l, ok := ForSKU(tc.sku)
		if !ok || l[Read] != tc.read || l[Write] != tc.write || l[Token] != tc.token {
			t.Errorf("%s: %v %v, want reads %d writes %d tokens %d", tc.sku, l, ok, tc.read, tc.write, tc.token)
		}
	}
	if _, ok := ForSKU("Classic"); ok {
		t.Error("unknown SKU accepted")
	}
}

// spend calls Allow n times and counts the requests admitted.
func spend(g Gate, c Class, n int) int {
	ok := 0
	for range n {
		if a, _ := g.Allow(c); a {
			ok++
		}
	}
	return ok
}

func TestBudgetAndRefill(t *testing.T) {
	for _, sku := range []string{"Basic", "Standard", "Premium"} {
		limits, _ := ForSKU(sku)
		for c := Read; c < numClasses; c++ {
			t.Run(sku+"/"+c.String(), func(t *testing.T) {
				clk := newClock()
				g := New(clk.now).Gate("r1", limits)
				limit := limits[c]
				interval := time.Minute / time.Duration(limit)

				// A full minute's budget in a burst, then refused with the
				// wait until one request is earned back.
				if got := spend(g, c, limit); got != limit {
					t.Fatalf("burst: %d admitted, want %d", got, limit)
				}
				ok, wait := g.Allow(c)
				if ok || wait != interval {
					t.Fatalf("over the limit: admitted %v, wait %v, want refused with %v", ok, wait, interval)
				}
				// Part of an interval later: still refused, the wait shrinks.
				clk.advance(interval / 4)
				if ok, w := g.Allow(c); ok || w != interval-interval/4 {
					t.Fatalf("a quarter interval later: admitted %v, wait %v", ok, w)
				}
				// One interval earns one request back, no more.
				clk.advance(interval - interval/4)
				if got := spend(g, c, 3); got != 1 {
					t.Fatalf("after one interval: %d admitted, want 1", got)
				}
				// Ten intervals earn ten.
				clk.advance(10 * interval)
				if got := spend(g, c, 20); got != 10 {
					t.Fatalf("after ten intervals: %d admitted, want 10", got)
				}
				// An idle minute (or longer) refills the budget, not beyond.
				clk.advance(5 * time.Minute)
				if got := spend(g, c, limit+5); got != limit {
					t.Fatalf("after an idle minute: %d admitted, want %d", got, limit)
				}
			})
		}
	}
}

func TestClassesAndRegistriesAreIndependent(t *testing.T) {
	clk := newClock()
	l := New(clk.now)
	basic, _ := ForSKU("Basic")
	g := l.Gate("r1", basic)
	if got := spend(g, Write, 100); got != 100 {
		t.Fatalf("writes: %d", got)
	}
	if ok, _ := g.Allow(Write); ok {
		t.Fatal("101st write admitted")
	}
	for _, c := range []Class{Read, Token} {
		if ok, _ := g.Allow(c); !ok {
			t.Errorf("%v refused after writes ran out", c)
		}
	}
	if ok, _ := l.Gate("r2", basic).Allow(Write); !ok {
		t.Error("another registry's write refused")
	}
	// The same registry's gate, looked up again, shares the buckets.
	if ok, _ := l.Gate("r1", basic).Allow(Write); ok {
		t.Error("a new gate for r1 forgot its spent budget")
	}
	// An SKU change applies at once to the same buckets: Standard's write
	// interval is 120 ms, so the time Basic's 100 writes took is repaid
	// sooner, but nothing is admitted before that.
	std, _ := ForSKU("Standard")
	if ok, _ := l.Gate("r1", std).Allow(Write); ok {
		t.Error("upgrade admitted a write with no time passed")
	}
	// A deleted registry's buckets go with it.
	l.Forget("r1")
	if ok, _ := l.Gate("r1", basic).Allow(Write); !ok {
		t.Error("a forgotten registry is still throttled")
	}
}

func TestOffGateAdmitsEverything(t *testing.T) {
	var g Gate
	if g.On() {
		t.Fatal("zero gate is on")
	}
	for c := Read; c < numClasses; c++ {
		if got := spend(g, c, 20000); got != 20000 {
			t.Errorf("%v: %d of 20000 admitted", c, got)
		}
	}
}

func TestConcurrentSpendAdmitsExactlyTheBudget(t *testing.T) {
	clk := newClock() // never advanced: no refill while the goroutines run
	g := New(clk.now).Gate("r1", Limits{Read: 1000, Write: 100, Token: 100})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			admitted.Add(int64(spend(g, Read, 500)))
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n != 1000 {
		t.Fatalf("%d admitted by 8 goroutines, want exactly 1000", n)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1"},
		{time.Millisecond, "1"},
		{600 * time.Millisecond, "1"},
		{time.Second, "1"},
		{1001 * time.Millisecond, "2"},
		{59500 * time.Millisecond, "60"},
	} {
		if got := RetryAfter(tc.d); got != tc.want {
			t.Errorf("RetryAfter(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

// The check as the data plane runs it for every request: classify, then
// Allow. Off, it is a nil test; on, a clock read and a compare-and-swap.
// Compare with BenchmarkManifestGetByTag in ../distribution (a whole
// request, tens of microseconds).
func BenchmarkCheck(b *testing.B) {
	huge := Limits{Read: 1 << 40, Write: 1 << 40, Token: 1 << 40} // never refuses: measures the admit path
	cases := []struct {
		name string
		gate Gate
	}{
		{"off", Gate{}},
		{"on", New(nil).Gate("r1", huge)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				tc.gate.Allow(Classify("GET", "/v2/team/app/manifests/v1"))
			}
		})
		b.Run(tc.name+"/parallel-one-registry", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tc.gate.Allow(Classify("GET", "/v2/team/app/manifests/v1"))
				}
			})
		})
	}
}
