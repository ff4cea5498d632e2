package credprovider

import (
	"testing"
	"time"
)

// SetRetryDelaysForTest shortens the identity endpoint's retry pauses.
func SetRetryDelaysForTest(t *testing.T, d []time.Duration) {
	old := imdsRetryDelays
	imdsRetryDelays = d
	t.Cleanup(func() { imdsRetryDelays = old })
}
