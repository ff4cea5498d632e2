package cluster

import "testing"

// A cluster the last server left mid-create, mid-start or mid-stop is
// brought to where it was going; the others are started again when they
// were running.
func TestResumeFor(t *testing.T) {
	for _, c := range []struct {
		prov, power string
		want        resumeAction
	}{
		{"Succeeded", "Running", resumeStart},
		{"Failed", "Running", resumeStart},
		{"Succeeded", "Stopped", resumeNone},
		{"Failed", "Stopped", resumeNone},
		{"Creating", "Running", resumeFinish},
		{"Starting", "Stopped", resumeFinish},
		{"Stopping", "Running", resumeStop},
	} {
		if got := resumeFor(Properties{ProvisioningState: c.prov, PowerState: Power{c.power}}); got != c.want {
			t.Errorf("%s/%s: %d, want %d", c.prov, c.power, got, c.want)
		}
	}
}
