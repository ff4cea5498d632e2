// Package gctune sets the garbage collector of drydock's long-running child
// processes (a cluster's control plane, a node agent) for a small resident
// set once they have started.
//
// Go's default GOGC=100 lets the heap grow to twice what is live before
// collecting. A control plane keeps ~115 MiB live and allocates little once
// its caches are filled, so a lower GOGC costs about one more collection a
// minute at idle while saving tens of MiB per cluster. The start-up keeps the
// default: it allocates fast (OpenAPI specs, informer caches) and more
// collections there would delay the cluster's readiness.
package gctune

import (
	"context"
	"os"
	"runtime/debug"
	"time"
)

// Steady sets GOGC to percent after delay, then returns the heap's free
// memory to the operating system, unless ctx ends first or the environment
// sets GOGC (an operator's choice wins). It does not block.
func Steady(ctx context.Context, delay time.Duration, percent int) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	go func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
			debug.SetGCPercent(percent)
			debug.FreeOSMemory()
		}
	}()
}
