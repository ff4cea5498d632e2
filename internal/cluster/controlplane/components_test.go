package controlplane

import "testing"

// TestControllerManagerClientRate checks the controller manager's client
// rate from the flags it is given: its start-up requests (every
// controller's service account and token) must not queue behind
// client-go's default limit of 20 a second.
func TestControllerManagerClientRate(t *testing.T) {
	s, err := complete(Config{Name: "c", DataDir: t.TempDir(), APIServerPort: 6443})
	if err != nil {
		t.Fatal(err)
	}
	o, err := controllerManagerOptions(s, &certs{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"kube-api-qps", float64(o.Generic.ClientConnection.QPS), 100},
		{"kube-api-burst", float64(o.Generic.ClientConnection.Burst), 300},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
