package cli

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--version"}, []string{"azure-cli                         " + azCompatVersion, "drydock "}},
		{[]string{"version", "--query", `"azure-cli"`, "-o", "tsv"}, []string{azCompatVersion + "\n"}},
		{[]string{"version"}, []string{`"drydock": "`, `"extensions": {}`}},
	} {
		out, errOut, code := h.run(tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}
