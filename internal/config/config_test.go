package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryThrottlingSetting(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	if Default().RegistryThrottling {
		t.Fatal("throttling is on by default")
	}
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("registryThrottling: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, env string
		want      bool
		err       string
	}{
		{"", "", false, ""},
		{file, "", true, ""},
		{"", "true", true, ""},
		{"", "1", true, ""},
		{file, "false", false, ""}, // the environment overrides the file
		{"", "maybe", false, `DRYDOCK_REGISTRY_THROTTLING: invalid boolean "maybe"`},
	} {
		t.Setenv("DRYDOCK_REGISTRY_THROTTLING", tc.env)
		c, err := Load(tc.file)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("file %q env %q: error %v, want %q", tc.file, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || c.RegistryThrottling != tc.want {
			t.Errorf("file %q env %q: %v %v, want %v", tc.file, tc.env, c.RegistryThrottling, err, tc.want)
		}
	}
}
