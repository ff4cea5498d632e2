package containerd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// maxSocketPath is the longest socket path containerd can listen on:
// sun_path holds 108 bytes including the NUL, and containerd also listens
// on the path with ".ttrpc" appended.
const maxSocketPath = 107 - len(".ttrpc")

// layout names the files and directories under a node's runtime directory.
type layout struct {
	dir string
}

func (l layout) path(name ...string) string {
	return filepath.Join(append([]string{l.dir}, name...)...)
}

func (l layout) config() string { return l.path("config.toml") }

// socket is <dir>/containerd.sock, or, when that path is too long for a
// unix socket, a short path under /run/drydock derived from dir.
func (l layout) socket() string {
	if s := l.path("containerd.sock"); len(s) <= maxSocketPath {
		return s
	}
	return filepath.Join(l.socketDir(), "containerd.sock")
}

// socketDir is the directory outside dir holding the socket, or "".
func (l layout) socketDir() string {
	if len(l.path("containerd.sock")) <= maxSocketPath {
		return ""
	}
	sum := sha256.Sum256([]byte(l.dir))
	return filepath.Join("/run/drydock", hex.EncodeToString(sum[:8]))
}
func (l layout) pidFile() string  { return l.path("containerd.pid") }
func (l layout) logFile() string  { return l.path("containerd.log") }
func (l layout) caBundle() string { return l.path("ca-bundle.pem") }
func (l layout) cniConf() string  { return l.path("cni") }
func (l layout) conflist() string { return l.path("cni", "10-drydock.conflist") }

// validate checks cfg and returns it with Dir made absolute.
func (cfg Config) validate() (Config, error) {
	if cfg.Dir == "" {
		return cfg, fmt.Errorf("containerd: no runtime directory")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return cfg, err
	}
	cfg.Dir = dir
	if cfg.SandboxImage == "" {
		return cfg, fmt.Errorf("containerd: no sandbox image")
	}
	if err := validBridge(cfg.Bridge); err != nil {
		return cfg, err
	}
	p, err := netip.ParsePrefix(cfg.PodSubnet)
	if err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() > 30 {
		return cfg, fmt.Errorf("containerd: pod subnet %q is not an IPv4 network CIDR of at most /30", cfg.PodSubnet)
	}
	return cfg, nil
}

func validBridge(name string) error {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n:") || name == "." || name == ".." {
		return fmt.Errorf("containerd: bridge name %q must be 1 to 15 characters without '/', ':' or spaces", name)
	}
	return nil
}

// disabledPlugins are containerd plugins a node never uses; disabling them
// spares their probing at every start.
var disabledPlugins = []string{
	"io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
}

// configTOML renders containerd's config.toml for cfg, whose CNI plugins
// are in cniBinDir.
func configTOML(cfg Config, cniBinDir string) []byte {
	l := layout{cfg.Dir}
	q := tomlString
	var b bytes.Buffer
	b.WriteString("# Written by drydock for one node's containerd; rewritten at every start.\n")
	b.WriteString("version = 2\n")
	fmt.Fprintf(&b, "root = %s\n", q(l.path("root")))
	fmt.Fprintf(&b, "state = %s\n", q(l.path("state")))
	quoted := make([]string, len(disabledPlugins))
	for i, p := range disabledPlugins {
		quoted[i] = q(p)
	}
	fmt.Fprintf(&b, "disabled_plugins = [%s]\n", strings.Join(quoted, ", "))
	fmt.Fprintf(&b, "\n[grpc]\n  address = %s\n", q(l.socket()))
	fmt.Fprintf(&b, "\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = %s\n", q(l.path("opt")))
	b.WriteString("\n[plugins.\"io.containerd.grpc.v1.cri\"]\n")
	fmt.Fprintf(&b, "  sandbox_image = %s\n", q(cfg.SandboxImage))
	b.WriteString("  stream_server_address = \"127.0.0.1\"\n")
	b.WriteString("  stream_server_port = \"0\"\n")
	b.WriteString("  enable_tls_streaming = false\n")
	b.WriteString("  disable_apparmor = true\n")
	b.WriteString("  netns_mounts_under_state_dir = true\n")
	// Containers get no lower an OOM score than containerd: pods must not
	// outlive the developer's own processes when memory runs out, and
	// lowering a score needs CAP_SYS_RESOURCE, which sandboxes may lack.
	b.WriteString("  restrict_oom_score_adj = true\n")
	b.WriteString("\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n")
	b.WriteString("  snapshotter = \"overlayfs\"\n")
	b.WriteString("  default_runtime_name = \"runc\"\n")
	b.WriteString("\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n")
	b.WriteString("  runtime_type = \"io.containerd.runc.v2\"\n")
	b.WriteString("\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n")
	fmt.Fprintf(&b, "  Root = %s\n", q(l.path("runc")))
	b.WriteString("  SystemdCgroup = false\n")
	b.WriteString("\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n")
	fmt.Fprintf(&b, "  bin_dir = %s\n", q(cniBinDir))
	fmt.Fprintf(&b, "  conf_dir = %s\n", q(l.cniConf()))
	b.WriteString("  max_conf_num = 1\n")
	return b.Bytes()
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// conflist renders the node's CNI network: pods attach to cfg.Bridge, which
// is their gateway, and get addresses from cfg.PodSubnet; portmap serves
// hostPort.
func conflist(cfg Config) ([]byte, error) {
	type (
		obj  = map[string]any
		ipam struct {
			Type    string  `json:"type"`
			Ranges  [][]obj `json:"ranges"`
			Routes  []obj   `json:"routes"`
			DataDir string  `json:"dataDir"`
		}
		bridge struct {
			Type        string `json:"type"`
			Bridge      string `json:"bridge"`
			IsGateway   bool   `json:"isGateway"`
			IPMasq      bool   `json:"ipMasq"`
			HairpinMode bool   `json:"hairpinMode"`
			IPAM        ipam   `json:"ipam"`
		}
		portmap struct {
			Type         string `json:"type"`
			Capabilities obj    `json:"capabilities"`
		}
		list struct {
			CNIVersion string `json:"cniVersion"`
			Name       string `json:"name"`
			Plugins    []any  `json:"plugins"`
		}
	)
	out, err := json.MarshalIndent(list{
		CNIVersion: "0.4.0",
		Name:       "drydock",
		Plugins: []any{
			bridge{
				Type:        "bridge",
				Bridge:      cfg.Bridge,
				IsGateway:   true,
				IPMasq:      false,
				HairpinMode: true,
				IPAM: ipam{
					Type:    "host-local",
					Ranges:  [][]obj{{{"subnet": cfg.PodSubnet}}},
					Routes:  []obj{{"dst": "0.0.0.0/0"}},
					DataDir: layout{cfg.Dir}.path("cni-state"),
				},
			},
			portmap{Type: "portmap", Capabilities: obj{"portMappings": true}},
		},
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// systemCABundles are where Linux distributions keep their CA bundle.
var systemCABundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Alpine, Arch
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Fedora, RHEL
	"/etc/pki/tls/certs/ca-bundle.crt",                  // older Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
}

// caBundle returns the certificates containerd trusts: the system bundle
// followed by extraFile's.
func caBundle(extraFile string) ([]byte, error) {
	var b bytes.Buffer
	for _, f := range systemCABundles {
		if data, err := os.ReadFile(f); err == nil {
			b.Write(data)
			break
		}
	}
	if extraFile != "" {
		data, err := os.ReadFile(extraFile)
		if err != nil {
			return nil, fmt.Errorf("containerd: reading the CA bundle to trust: %w", err)
		}
		if b.Len() > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
			b.WriteByte('\n')
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}
