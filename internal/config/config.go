// Package config defines drydock's server configuration: one struct with
// embedded defaults, read from an optional YAML/JSON file, then overridden by
// DRYDOCK_* environment variables, then by command-line flags.
package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"sigs.k8s.io/yaml"
)

// Config is the server configuration.
type Config struct {
	// DataDir holds the metadata database, keys, certificates and logs.
	DataDir string `json:"dataDir"`
	// Listen is the HTTPS address of the API (ARM, login, Graph, IMDS).
	Listen string `json:"listen"`
	// PublicURL is the base URL clients use; defaults to https://<listen>.
	PublicURL string `json:"publicURL"`
	// TenantDomain is the directory's default domain (admin@<domain>).
	TenantDomain string `json:"tenantDomain"`
	// GroupPropagationDelay is how long a new group membership takes to
	// count for authorization (Entra's latency; 0 by default).
	GroupPropagationDelay Duration `json:"groupPropagationDelay"`
	// AccessTokenLifetime of directory access tokens.
	AccessTokenLifetime Duration `json:"accessTokenLifetime"`
	// LoginServerSuffix forms registries' login servers: <name>.<suffix>.
	LoginServerSuffix string `json:"loginServerSuffix"`
	// DefaultLocation for resources created without one.
	DefaultLocation string `json:"defaultLocation"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"logLevel"`
	// RegistryListen is the TLS address every registry's login server is
	// served on (one listener, routed by host name). On a port other than
	// 443 login servers carry the port (myacr.azurecr.io:5443).
	RegistryListen string `json:"registryListen"`
	// ManageHostsFile keeps a drydock block in HostsFile that resolves each
	// login server to the registry listener's address.
	ManageHostsFile bool `json:"manageHostsFile"`
	// HostsFile is the hosts file drydock manages (default /etc/hosts).
	HostsFile string `json:"hostsFile"`
	// RegistryAccessTokenLifetime is how long a registry access token
	// lives; RBAC is evaluated again for every new one, so it bounds how
	// long a removed role assignment still lets pulls through.
	RegistryAccessTokenLifetime Duration `json:"registryAccessTokenLifetime"`
	// RegistryThrottling applies ACR's per-SKU request limits (ReadOps,
	// WriteOps and token requests per minute) to every registry, answering
	// 429 TOOMANYREQUESTS with Retry-After beyond them. Off by default; a
	// registry's drydock-throttling tag (on/off) overrides it.
	RegistryThrottling bool `json:"registryThrottling"`
	// Database is where the metadata lives: "" (the default) for the
	// embedded SQLite database in DataDir, or the URL of a PostgreSQL
	// database (postgres://user:password@host:5432/drydock?sslmode=...).
	Database string `json:"database"`
	// DebugListen, when set, serves Go's profiler (net/http/pprof) on this
	// loopback address, for measuring drydock itself. Off by default.
	DebugListen string `json:"debugListen"`
	// Storage is where the registries keep their blobs (see storage.go).
	Storage Storage `json:"storage"`
	// SecretKey makes this server one replica of a set sharing Database
	// (PostgreSQL) and Storage: 32 random bytes, base64-encoded (e.g.
	// `openssl rand -base64 32`), the same on every replica. It encrypts
	// the set's shared identity (token signing keys, the secrets key and
	// the CA), kept in the database so that any replica verifies any
	// replica's tokens, and it lets several servers open the database at
	// once. Empty (the default): one server owns its database.
	SecretKey string `json:"secretKey"`
	// RegistryPublicPort is the port login servers carry when clients
	// reach the registry listener through another port than its own (a
	// load balancer in front of replicas); "" means the listener's port.
	RegistryPublicPort string `json:"registryPublicPort"`
}

// Replicated reports whether this server is one replica of a set
// (SecretKey is set).
func (c *Config) Replicated() bool { return c.SecretKey != "" }

// SecretKeyBytes decodes SecretKey (32 bytes, standard base64).
func (c *Config) SecretKeyBytes() ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.SecretKey))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("secretKey must be 32 random bytes in standard base64 (openssl rand -base64 32)")
	}
	return k, nil
}

// Duration is a time.Duration written as "90s", "5m".
type Duration struct{ time.Duration }

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// DefaultDataDir is $DRYDOCK_DATA_DIR or ~/.drydock/server.
func DefaultDataDir() string {
	if d := os.Getenv("DRYDOCK_DATA_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".drydock", "server")
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		DataDir:                     DefaultDataDir(),
		Listen:                      "127.0.0.1:8443",
		TenantDomain:                "drydock.local",
		AccessTokenLifetime:         Duration{time.Hour},
		LoginServerSuffix:           "azurecr.io",
		DefaultLocation:             "eastus",
		LogLevel:                    "info",
		RegistryListen:              "127.0.0.1:443",
		ManageHostsFile:             true,
		HostsFile:                   "/etc/hosts",
		RegistryAccessTokenLifetime: Duration{10 * time.Minute},
	}
}

// envVars maps each setting's environment variable to its field's index
// path in Config. The names are derived from the JSON names, never written
// by hand: DRYDOCK_ and the setting's path in the file in upper snake case
// (publicURL → DRYDOCK_PUBLIC_URL, storage.azureBlob.container →
// DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER).
var envVars = envFields(reflect.TypeFor[Config](), "DRYDOCK", nil, map[string][]int{})

func envFields(t reflect.Type, prefix string, index []int, out map[string][]int) map[string][]int {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		env := prefix + "_" + upperSnake(name)
		at := append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() {
			envFields(f.Type, env, at, out)
			continue
		}
		out[env] = at
	}
	return out
}

// upperSnake writes a JSON name in upper snake case: a word starts at an
// upper-case letter that follows a lower-case one (accountURL → ACCOUNT_URL).
func upperSnake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// setField parses v into the field at index, by the field's type.
func setField(c *Config, index []int, v string) error {
	switch f := reflect.ValueOf(c).Elem().FieldByIndex(index).Addr().Interface().(type) {
	case *string:
		*f = v
		return nil
	case *bool:
		return setBool(f, v)
	case *Duration:
		return setDuration(f, v)
	default:
		return fmt.Errorf("a setting of type %T cannot come from the environment", f)
	}
}

func setBool(b *bool, v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("invalid boolean %q: %w", v, err)
	}
	*b = x
	return nil
}

func setDuration(d *Duration, v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", v, err)
	}
	d.Duration = x
	return nil
}

// Load builds the configuration: defaults, then the file (if path is
// non-empty, or <data dir>/config.yaml exists), then the environment.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		if p := filepath.Join(c.DataDir, "config.yaml"); fileExists(p) {
			path = p
		}
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("reading config: %w", err)
		}
		if err := yaml.UnmarshalStrict(b, &c); err != nil {
			return c, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	for name, index := range envVars {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			if err := setField(&c, index, v); err != nil {
				return c, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return c, nil
}

// Finish fills derived fields and validates.
func (c *Config) Finish() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil || port == "" || port == "0" {
		return fmt.Errorf("listen address %q must be host:port with a fixed port (it is part of the token issuer and the CLI's endpoint)", c.Listen)
	}
	if c.PublicURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.PublicURL = "https://" + net.JoinHostPort(host, port)
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if !strings.HasPrefix(c.PublicURL, "https://") {
		return fmt.Errorf("publicURL %q must be https", c.PublicURL)
	}
	if c.GroupPropagationDelay.Duration < 0 || c.AccessTokenLifetime.Duration < time.Minute || c.RegistryAccessTokenLifetime.Duration < 10*time.Second {
		return fmt.Errorf("groupPropagationDelay must be >= 0, accessTokenLifetime >= 1m and registryAccessTokenLifetime >= 10s")
	}
	if _, _, err := net.SplitHostPort(c.RegistryListen); err != nil {
		return fmt.Errorf("registryListen %q must be host:port", c.RegistryListen)
	}
	if c.DebugListen != "" {
		host, _, err := net.SplitHostPort(c.DebugListen)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("debugListen %q must be a loopback host:port (the profiler has no authentication)", c.DebugListen)
		}
	}
	if err := c.Storage.finish(); err != nil {
		return err
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return fmt.Errorf(`database must be "" (the embedded SQLite database in the data directory) or a postgres:// URL`)
	}
	if c.SecretKey != "" {
		if _, err := c.SecretKeyBytes(); err != nil {
			return err
		}
		if c.Database == "" {
			return fmt.Errorf("secretKey makes this server a replica of a set sharing one database: set database to a postgres:// URL (the embedded SQLite database serves one server)")
		}
	}
	if c.RegistryPublicPort != "" {
		if p, err := strconv.Atoi(c.RegistryPublicPort); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("registryPublicPort %q must be a port number", c.RegistryPublicPort)
		}
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
