package gctune

import (
	"context"
	"runtime/debug"
	"testing"
	"time"
)

// gcPercent reads GOGC without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestSteady(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gogc   string // the environment's GOGC; "" for none
		cancel bool   // ctx ends before the delay
		want   int
	}{
		{name: "applied", want: 37},
		{name: "GOGC set", gogc: "100", want: 100},
		{name: "stopped first", cancel: true, want: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer debug.SetGCPercent(debug.SetGCPercent(100))
			if tc.gogc != "" {
				t.Setenv("GOGC", tc.gogc)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			delay := time.Duration(0)
			if tc.cancel {
				cancel()
				delay = time.Hour
			}
			Steady(ctx, delay, 37)
			if tc.want == 100 {
				// Nothing to wait for: Steady returned without starting
				// anything, or its goroutine only waits for ctx.
				time.Sleep(10 * time.Millisecond)
				if got := gcPercent(); got != 100 {
					t.Errorf("GOGC %d, want 100", got)
				}
				return
			}
			for deadline := time.Now().Add(10 * time.Second); gcPercent() != tc.want; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("GOGC %d, want %d", gcPercent(), tc.want)
				}
			}
		})
	}
}
