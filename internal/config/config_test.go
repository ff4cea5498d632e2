package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// settingCase is one load of a setting: from the test's config file (file)
// or none, with env over the environment, reading want or failing with err.
type settingCase[T comparable] struct {
	name string
	file bool
	env  map[string]string
	want T
	err  string
}

// testSetting runs cases against a config file holding yaml. Each case
// sets every variable whose name starts with envPrefix (to "" unless the
// case names it), loads and finishes the configuration, and checks get's
// value or the error.
func testSetting[T comparable](t *testing.T, yaml, envPrefix string, get func(Config) T, cases []settingCase[T]) {
	t.Helper()
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for name := range envVars {
				if strings.HasPrefix(name, envPrefix) {
					t.Setenv(name, tc.env[name])
				}
			}
			path := ""
			if tc.file {
				path = file
			}
			c, err := Load(path)
			if err == nil {
				err = c.Finish()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := get(c); got != tc.want {
				t.Fatalf("%+v, want %+v", got, tc.want)
			}
		})
	}
}

// registryThrottling is off by default, set by the file or by
// DRYDOCK_REGISTRY_THROTTLING (which wins).
func TestRegistryThrottlingSetting(t *testing.T) {
	if Default().RegistryThrottling {
		t.Fatal("throttling is on by default")
	}
	env := func(v string) map[string]string { return map[string]string{"DRYDOCK_REGISTRY_THROTTLING": v} }
	testSetting(t, "registryThrottling: true\n", "DRYDOCK_REGISTRY_THROTTLING", func(c Config) bool { return c.RegistryThrottling }, []settingCase[bool]{
		{name: "default"},
		{name: "file", file: true, want: true},
		{name: "env true", env: env("true"), want: true},
		{name: "env 1", env: env("1"), want: true},
		{name: "env over file", file: true, env: env("false"), want: false},
		{name: "not a boolean", env: env("maybe"), err: `DRYDOCK_REGISTRY_THROTTLING: invalid boolean "maybe"`},
	})
}
