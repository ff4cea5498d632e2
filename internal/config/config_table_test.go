package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", "/srv/drydock")
	c := Default()
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"DataDir", c.DataDir, "/srv/drydock"},
		{"Listen", c.Listen, "127.0.0.1:8443"},
		{"PublicURL", c.PublicURL, ""},
		{"TenantDomain", c.TenantDomain, "drydock.local"},
		{"GroupPropagationDelay", c.GroupPropagationDelay.Duration, time.Duration(0)},
		{"AccessTokenLifetime", c.AccessTokenLifetime.Duration, time.Hour},
		{"LoginServerSuffix", c.LoginServerSuffix, "azurecr.io"},
		{"DefaultLocation", c.DefaultLocation, "eastus"},
		{"LogLevel", c.LogLevel, "info"},
		{"RegistryListen", c.RegistryListen, "127.0.0.1:443"},
		{"ManageHostsFile", c.ManageHostsFile, true},
		{"HostsFile", c.HostsFile, "/etc/hosts"},
		{"RegistryAccessTokenLifetime", c.RegistryAccessTokenLifetime.Duration, 10 * time.Minute},
		{"RegistryThrottling", c.RegistryThrottling, false},
		{"DebugListen", c.DebugListen, ""},
		{"Database", c.Database, ""},
		{"Storage.Type", c.Storage.Type, ""},
		{"SecretKey", c.SecretKey, ""},
		{"RegistryPublicPort", c.RegistryPublicPort, ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if n := reflect.TypeOf(c).NumField(); n != 19 {
		t.Errorf("Config has %d fields; give the new ones a row above", n)
	}
	// The defaults pass validation once a data dir is set.
	if err := c.Finish(); err != nil {
		t.Errorf("Finish on the defaults: %v", err)
	}
}

func TestDefaultDataDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, tc := range []struct{ env, want string }{
		{"", filepath.Join(home, ".drydock", "server")},
		{"/var/lib/drydock", "/var/lib/drydock"},
	} {
		t.Setenv("DRYDOCK_DATA_DIR", tc.env)
		if got := DefaultDataDir(); got != tc.want {
			t.Errorf("DRYDOCK_DATA_DIR=%q: %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestEnvironmentVariables(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	// The names the README documents, derived from the JSON names.
	for _, name := range []string{
		"DRYDOCK_DATA_DIR", "DRYDOCK_PUBLIC_URL", "DRYDOCK_REGISTRY_ACCESS_TOKEN_LIFETIME", "DRYDOCK_MANAGE_HOSTS_FILE",
		"DRYDOCK_DATABASE", "DRYDOCK_SECRET_KEY", "DRYDOCK_REGISTRY_PUBLIC_PORT", "DRYDOCK_STORAGE_TYPE", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_URL", "DRYDOCK_STORAGE_AZURE_BLOB_CONNECTION_STRING",
	} {
		if _, ok := envVars[name]; !ok {
			t.Errorf("no environment variable %s", name)
		}
	}
	// Every setting has one: 18 at the top, 7 of storage.
	if len(envVars) != 25 {
		t.Errorf("%d environment variables; a new setting needs its row in the README's table and in TestDefaults", len(envVars))
	}
	// Each sets its own field, parsed by the field's type.
	for name, index := range envVars {
		t.Run(name, func(t *testing.T) {
			field := reflect.ValueOf(Default()).FieldByIndex(index)
			var value string
			var want any
			switch field.Interface().(type) {
			case string:
				value, want = "/x/"+name, "/x/"+name
			case bool:
				value, want = strconv.FormatBool(!field.Bool()), !field.Bool()
			case Duration:
				value, want = "97s", Duration{97 * time.Second}
			default:
				t.Fatalf("%s has type %v: teach this test its values", name, field.Type())
			}
			if name == "DRYDOCK_DATA_DIR" { // Load reads <data dir>/config.yaml
				value = t.TempDir()
				want = value
			}
			t.Setenv(name, value)
			c, err := Load("")
			if err != nil {
				t.Fatal(err)
			}
			if got := reflect.ValueOf(c).FieldByIndex(index).Interface(); got != want {
				t.Errorf("%s=%s: got %v, want %v", name, value, got, want)
			}
		})
	}
}

func TestEnvironmentErrors(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	for _, tc := range []struct{ name, value, err string }{
		{"DRYDOCK_GROUP_PROPAGATION_DELAY", "soon", `DRYDOCK_GROUP_PROPAGATION_DELAY: invalid duration "soon"`},
		{"DRYDOCK_ACCESS_TOKEN_LIFETIME", "1", `DRYDOCK_ACCESS_TOKEN_LIFETIME: invalid duration "1"`},
		{"DRYDOCK_REGISTRY_ACCESS_TOKEN_LIFETIME", "ten minutes", `DRYDOCK_REGISTRY_ACCESS_TOKEN_LIFETIME: invalid duration "ten minutes"`},
		{"DRYDOCK_MANAGE_HOSTS_FILE", "yes", `DRYDOCK_MANAGE_HOSTS_FILE: invalid boolean "yes"`},
		{"DRYDOCK_REGISTRY_THROTTLING", "on", `DRYDOCK_REGISTRY_THROTTLING: invalid boolean "on"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			if _, err := Load(""); err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
	// An empty variable is unset.
	t.Setenv("DRYDOCK_LISTEN", "")
	if c, err := Load(""); err != nil || c.Listen != "127.0.0.1:8443" {
		t.Errorf("empty DRYDOCK_LISTEN: %q %v", c.Listen, err)
	}
}

func TestLoadFile(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("DRYDOCK_DATA_DIR", dataDir)
	write := func(dir, body string) string {
		p := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	explicit := write(t.TempDir(), "listen: 127.0.0.1:9443\naccessTokenLifetime: 2h\nloginServerSuffix: azurecr.test\n")
	for _, tc := range []struct {
		name, path, env string
		check           func(Config) bool
		err             string
	}{
		{"explicit file", explicit, "", func(c Config) bool {
			return c.Listen == "127.0.0.1:9443" && c.AccessTokenLifetime.Duration == 2*time.Hour && c.LoginServerSuffix == "azurecr.test" && c.TenantDomain == "drydock.local"
		}, ""},
		{"environment over file", explicit, "127.0.0.1:7443", func(c Config) bool { return c.Listen == "127.0.0.1:7443" && c.LoginServerSuffix == "azurecr.test" }, ""},
		{"missing file", filepath.Join(t.TempDir(), "nope.yaml"), "", nil, "reading config: "},
		{"unknown field", write(t.TempDir(), "listen: 127.0.0.1:1\nlisten_addr: x\n"), "", nil, `unknown field "listen_addr"`},
		{"bad duration", write(t.TempDir(), "accessTokenLifetime: forever\n"), "", nil, `invalid duration "forever"`},
		{"JSON file", write(t.TempDir(), `{"defaultLocation": "westeurope"}`), "", func(c Config) bool { return c.DefaultLocation == "westeurope" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DRYDOCK_LISTEN", tc.env)
			c, err := Load(tc.path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Errorf("%+v, %v", c, err)
			}
		})
	}
	// Without a path, <data dir>/config.yaml is read when it exists.
	if c, err := Load(""); err != nil || c.DefaultLocation != "eastus" {
		t.Errorf("no file: %q %v", c.DefaultLocation, err)
	}
	write(dataDir, "defaultLocation: northeurope\n")
	if c, err := Load(""); err != nil || c.DefaultLocation != "northeurope" {
		t.Errorf("data dir file: %q %v", c.DefaultLocation, err)
	}
}

func TestFinish(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		err    string // a prefix; "" for success
		check  func(Config) bool
	}{
		{"defaults", func(*Config) {}, "", func(c Config) bool { return c.PublicURL == "https://127.0.0.1:8443" }},
		{"any address", func(c *Config) { c.Listen = "0.0.0.0:9443" }, "", func(c Config) bool { return c.PublicURL == "https://127.0.0.1:9443" }},
		{"IPv6 any", func(c *Config) { c.Listen = "[::]:9443" }, "", func(c Config) bool { return c.PublicURL == "https://127.0.0.1:9443" }},
		{"empty host", func(c *Config) { c.Listen = ":9443" }, "", func(c Config) bool { return c.PublicURL == "https://127.0.0.1:9443" }},
		{"named host", func(c *Config) { c.Listen = "drydock.test:9443" }, "", func(c Config) bool { return c.PublicURL == "https://drydock.test:9443" }},
		{"public URL kept, slash trimmed", func(c *Config) { c.PublicURL = "https://dd.example:443/" }, "", func(c Config) bool { return c.PublicURL == "https://dd.example:443" }},
		{"relative data dir made absolute", func(c *Config) { c.DataDir = "rel/dir" }, "", func(c Config) bool { return filepath.IsAbs(c.DataDir) && strings.HasSuffix(c.DataDir, "rel/dir") }},
		{"loopback profiler", func(c *Config) { c.DebugListen = "127.0.0.1:6060" }, "", nil},
		{"IPv6 loopback profiler", func(c *Config) { c.DebugListen = "[::1]:6060" }, "", nil},
		{"no port", func(c *Config) { c.Listen = "127.0.0.1" }, `listen address "127.0.0.1" must be host:port with a fixed port`, nil},
		{"port 0", func(c *Config) { c.Listen = "127.0.0.1:0" }, `listen address "127.0.0.1:0" must be host:port with a fixed port`, nil},
		{"empty port", func(c *Config) { c.Listen = "127.0.0.1:" }, `listen address "127.0.0.1:" must be host:port with a fixed port`, nil},
		{"http public URL", func(c *Config) { c.PublicURL = "http://127.0.0.1:8443" }, `publicURL "http://127.0.0.1:8443" must be https`, nil},
		{"negative group delay", func(c *Config) { c.GroupPropagationDelay.Duration = -time.Second }, "groupPropagationDelay must be >= 0", nil},
		{"short access tokens", func(c *Config) { c.AccessTokenLifetime.Duration = 59 * time.Second }, "groupPropagationDelay must be >= 0, accessTokenLifetime >= 1m", nil},
		{"short registry tokens", func(c *Config) { c.RegistryAccessTokenLifetime.Duration = 9 * time.Second }, "groupPropagationDelay must be >= 0, accessTokenLifetime >= 1m and registryAccessTokenLifetime >= 10s", nil},
		{"shortest lifetimes", func(c *Config) {
			c.AccessTokenLifetime.Duration, c.RegistryAccessTokenLifetime.Duration = time.Minute, 10*time.Second
		}, "", nil},
		{"registry listen without port", func(c *Config) { c.RegistryListen = "127.0.0.1" }, `registryListen "127.0.0.1" must be host:port`, nil},
		{"profiler beyond loopback", func(c *Config) { c.DebugListen = "0.0.0.0:6060" }, `debugListen "0.0.0.0:6060" must be a loopback host:port`, nil},
		{"profiler by name", func(c *Config) { c.DebugListen = "localhost:6060" }, `debugListen "localhost:6060" must be a loopback host:port`, nil},
		{"profiler without port", func(c *Config) { c.DebugListen = "127.0.0.1" }, `debugListen "127.0.0.1" must be a loopback host:port`, nil},
		{"secret key not base64", func(c *Config) { c.SecretKey, c.Database = "not a key", "postgres://h/db" }, `secretKey must be 32 random bytes`, nil},
		{"secret key too short", func(c *Config) { c.SecretKey, c.Database = "c2hvcnQ=", "postgres://h/db" }, `secretKey must be 32 random bytes`, nil},
		{"secret key on SQLite", func(c *Config) { c.SecretKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }, `secretKey makes this server a replica`, nil},
		{"replica", func(c *Config) {
			c.SecretKey, c.Database, c.RegistryPublicPort = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "postgres://h/db", "5443"
		}, "", nil},
		{"registry public port not a port", func(c *Config) { c.RegistryPublicPort = "https" }, `registryPublicPort "https" must be a port number`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Finish()
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("%+v", c)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`"90s"`, 90 * time.Second, false},
		{`"1h30m"`, 90 * time.Minute, false},
		{`"0"`, 0, false},
		{`"-5m"`, -5 * time.Minute, false},
		{`"5"`, 0, true},
		{`"soon"`, 0, true},
	} {
		var d Duration
		err := d.UnmarshalJSON([]byte(tc.in))
		if (err != nil) != tc.err || (!tc.err && d.Duration != tc.want) {
			t.Errorf("UnmarshalJSON(%s) = %v, %v", tc.in, d.Duration, err)
		}
		if tc.err {
			continue
		}
		b, _ := d.MarshalJSON()
		var back Duration
		if err := back.UnmarshalJSON(b); err != nil || back != d {
			t.Errorf("round trip of %s through %s: %v %v", tc.in, b, back, err)
		}
	}
}
