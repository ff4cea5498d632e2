package checkacr

import "testing"

func TestSplitRepository(t *testing.T) {
	for in, want := range map[string][3]string{
		"nginx":                       {"nginx", "latest", "false"},
		"nginx:v1":                    {"nginx", "v1", "true"},
		"a/b/c:1.0":                   {"a/b/c", "1.0", "true"},
		"a/b@sha256:abc":              {"a/b", "sha256:abc", "true"},
		"myacr.azurecr.io:5443/x/y:z": {"x/y", "z", "true"},
		"MYACR.azurecr.io:5443/x":     {"x", "latest", "false"},
		"other.azurecr.io:5443/x":     {"other.azurecr.io:5443/x", "latest", "false"},
		"":                            {"", "latest", "false"},
	} {
		repo, ref, explicit := splitRepository(in, "myacr.azurecr.io:5443")
		if got := [3]string{repo, ref, map[bool]string{true: "true", false: "false"}[explicit]}; got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}
