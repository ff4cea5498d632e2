package containerd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n", "containerd://1.6.20"},
		{"containerd github.com/containerd/containerd v1.7.15 926c9586fe4a6236699318391cd44976a98e31f1\n", "containerd://v1.7.15"},
		{"containerd containerd.io 1.6.28-1 ae07eda36dd25f8a1b98dfbf587313b99c0190bb", "containerd://1.6.28-1"},
		{"", "containerd://unknown"},
		{"containerd only-two", "containerd://unknown"},
		{"runc version 1.1.5", "containerd://unknown"},
		{"containerd x ~ds1", "containerd://unknown"},
	} {
		if got := parseVersion(tc.out); got != tc.want {
			t.Errorf("parseVersion(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Config{Dir: "/tmp/n1", SandboxImage: PauseImageRef, PodSubnet: "10.244.3.0/24", Bridge: "dd0a1b2c3d4e"}
	if _, err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Config){
		"no dir":          func(c *Config) { c.Dir = "" },
		"no image":        func(c *Config) { c.SandboxImage = "" },
		"no bridge":       func(c *Config) { c.Bridge = "" },
		"long bridge":     func(c *Config) { c.Bridge = "dd0123456789abcd" },
		"slash in bridge": func(c *Config) { c.Bridge = "dd/0" },
		"bad subnet":      func(c *Config) { c.PodSubnet = "10.244.3.0" },
		"host bits":       func(c *Config) { c.PodSubnet = "10.244.3.1/24" },
		"ipv6":            func(c *Config) { c.PodSubnet = "fd00::/64" },
		"tiny subnet":     func(c *Config) { c.PodSubnet = "10.244.3.0/31" },
	} {
		c := good
		change(&c)
		if _, err := c.validate(); err == nil {
			t.Errorf("%s: %+v is valid", name, c)
		}
	}
}

func TestLongDirGetsShortSocket(t *testing.T) {
	short := layout{"/var/lib/drydock/n1"}
	if got, want := short.socket(), "/var/lib/drydock/n1/containerd.sock"; got != want || short.socketDir() != "" {
		t.Errorf("short dir: socket %s (dir %q), want %s", got, short.socketDir(), want)
	}
	long := layout{"/" + strings.Repeat("d", 120)}
	sock := long.socket()
	if len(sock) > maxSocketPath || !strings.HasPrefix(sock, "/run/drydock/") || filepath.Dir(sock) != long.socketDir() {
		t.Errorf("long dir: socket %s (%d bytes), dir %s", sock, len(sock), long.socketDir())
	}
	if other := (layout{"/" + strings.Repeat("e", 120)}).socket(); other == sock {
		t.Errorf("two directories share the socket %s", sock)
	}
}

func TestConfigTOML(t *testing.T) {
	cfg := Config{Dir: "/var/lib/drydock/n1", SandboxImage: PauseImageRef, PodSubnet: "10.244.3.0/24", Bridge: "dd0a1b2c3d4e"}
	got := string(configTOML(cfg, "/usr/lib/cni"))
	for _, want := range []string{
		"version = 2\n",
		`root = "/var/lib/drydock/n1/root"`,
		`state = "/var/lib/drydock/n1/state"`,
		"[grpc]\n  address = \"/var/lib/drydock/n1/containerd.sock\"\n",
		`"io.containerd.snapshotter.v1.btrfs"`,
		"[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"/var/lib/drydock/n1/opt\"\n",
		`sandbox_image = "drydock.local/pause:3.10"`,
		`stream_server_port = "0"`,
		`snapshotter = "overlayfs"`,
		`default_runtime_name = "runc"`,
		"[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n",
		"[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/usr/lib/cni\"\n  conf_dir = \"/var/lib/drydock/n1/cni\"\n  max_conf_num = 1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config.toml lacks %q:\n%s", want, got)
		}
	}
}

func TestTOMLString(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:      `"/a/b"`,
		`a"b\c`:     `"a\"b\\c"`,
		"tab\there": `"tab\u0009here"`,
	} {
		if got := tomlString(in); got != want {
			t.Errorf("tomlString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestConflist(t *testing.T) {
	cfg := Config{Dir: "/n1", PodSubnet: "10.244.3.0/24", Bridge: "dd0a1b2c3d4e"}
	data, err := conflist(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		CNIVersion string           `json:"cniVersion"`
		Name       string           `json:"name"`
		Plugins    []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	if list.CNIVersion != "0.4.0" || list.Name != "drydock" || len(list.Plugins) != 2 {
		t.Fatalf("conflist %s", data)
	}
	b, pm := list.Plugins[0], list.Plugins[1]
	ipam, _ := b["ipam"].(map[string]any)
	if b["type"] != "bridge" || b["bridge"] != cfg.Bridge || b["isGateway"] != true || b["ipMasq"] != false || b["hairpinMode"] != true ||
		ipam["type"] != "host-local" || ipam["dataDir"] != "/n1/cni-state" {
		t.Errorf("bridge plugin %v", b)
	}
	if ranges, _ := json.Marshal(ipam["ranges"]); string(ranges) != `[[{"subnet":"10.244.3.0/24"}]]` {
		t.Errorf("ranges %s", ranges)
	}
	if routes, _ := json.Marshal(ipam["routes"]); string(routes) != `[{"dst":"0.0.0.0/0"}]` {
		t.Errorf("routes %s", routes)
	}
	if caps, _ := json.Marshal(pm["capabilities"]); pm["type"] != "portmap" || string(caps) != `{"portMappings":true}` {
		t.Errorf("portmap plugin %v", pm)
	}
}

func TestCABundle(t *testing.T) {
	extra := filepath.Join(t.TempDir(), "ca.pem")
	const pem = "-----BEGIN CERTIFICATE-----\ndrydock\n-----END CERTIFICATE-----\n"
	if err := os.WriteFile(extra, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := caBundle(extra)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(got), "\n"+pem) && string(got) != pem {
		t.Errorf("bundle does not end with the extra CA")
	}
	if _, err := caBundle(extra + ".missing"); err == nil {
		t.Error("a missing CA file is no error")
	}
}

func TestChildEnv(t *testing.T) {
	t.Setenv("SSL_CERT_DIR", "/elsewhere")
	t.Setenv("SSL_CERT_FILE", "/elsewhere.pem")
	t.Setenv("PATH", "/usr/bin")
	env := strings.Join(childEnv("/n1/ca-bundle.pem"), "\n")
	for _, want := range []string{"\nSSL_CERT_FILE=/n1/ca-bundle.pem", "\nPATH=/usr/bin:/usr/local/sbin:"} {
		if !strings.Contains("\n"+env, want) {
			t.Errorf("environment lacks %q", want)
		}
	}
	if strings.Contains(env, "elsewhere") {
		t.Errorf("environment keeps the caller's SSL_CERT_*")
	}
}

func TestChildEnvGOGC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		caller string // the caller's GOGC; "-" for none
		want   string
	}{
		{"unset", "-", "GOGC=" + gcPercent},
		{"the caller's", "200", "GOGC=200"},
		{"the caller's off", "off", "GOGC=off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.caller)
			if tc.caller == "-" {
				os.Unsetenv("GOGC")
			}
			var got []string
			for _, kv := range childEnv("/n1/ca-bundle.pem") {
				if strings.HasPrefix(kv, "GOGC=") {
					got = append(got, kv)
				}
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("GOGC in the environment: %q, want [%s]", got, tc.want)
			}
		})
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:          "/a/b",
		`/a\040b`:       "/a b",
		`/a\134b\011c`:  "/a\\b\tc",
		`/trailing\04`:  `/trailing\04`,
		`/not\999octal`: `/not\999octal`,
		`/end\040`:      "/end ",
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProcMentions(t *testing.T) {
	p := proc{args: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-address", "/x/node1/containerd.sock"}}
	for dir, want := range map[string]bool{"/x/node1": true, "/x/node": false, "/x": true, "/y": false} {
		if got := p.mentions([]string{dir}); got != want {
			t.Errorf("mentions(%s) = %v", dir, got)
		}
	}
}
