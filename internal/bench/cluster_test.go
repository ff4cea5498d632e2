package bench

import (
	"math"
	"testing"
)

func TestLeastSquares(t *testing.T) {
	for _, tc := range []struct {
		name             string
		xs, ys           []float64
		slope, intercept float64
	}{
		{"exact line", []float64{0, 1, 2, 3}, []float64{100, 350, 600, 850}, 250, 100},
		{"two points", []float64{0, 1}, []float64{120, 370}, 250, 120},
		{"noisy", []float64{0, 1, 2, 3}, []float64{131, 433, 677, 926}, 262.9, 147.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slope, intercept := leastSquares(tc.xs, tc.ys)
			if math.Abs(slope-tc.slope) > 1e-6 || math.Abs(intercept-tc.intercept) > 1e-6 {
				t.Errorf("leastSquares = %v, %v; want %v, %v", slope, intercept, tc.slope, tc.intercept)
			}
		})
	}
}
