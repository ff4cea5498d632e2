package credprovider

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// PluginName is the provider's name in the CredentialProviderConfig and the
// name of the executable in the kubelet's credential provider bin dir.
const PluginName = "acr-credential-provider"

// DefaultCacheDuration is the providers[].defaultCacheDuration AKS uses.
const DefaultCacheDuration = "10m"

// MatchImages returns the kubelet match patterns for the registries under
// suffix. suffix may carry the registry listener's port
// ("azurecr.io:5443"): the kubelet compares ports exactly and accepts no
// wildcard there ("*.azurecr.io:*" fails its config validation), so such a
// port gets its own pattern next to the port-less one.
func MatchImages(suffix string) []string {
	suffix = strings.Trim(strings.TrimSpace(suffix), ".")
	host, port := suffix, ""
	if h, p, err := net.SplitHostPort(suffix); err == nil {
		host, port = h, p
	}
	if host == "" {
		host = "azurecr.io"
	}
	out := []string{"*." + host}
	if port != "" && port != "443" {
		out = append(out, "*."+host+":"+port)
	}
	return out
}

// ExampleConfig returns a kubelet CredentialProviderConfig
// (kubelet.config.k8s.io/v1, YAML) that runs this plugin for images of the
// registries under suffix (optionally "suffix:port", see MatchImages),
// passing it azureJSON. binDir is the kubelet's
// --image-credential-provider-bin-dir, where an executable named
// acr-credential-provider runs `drydock acr-credential-provider` (see
// InstallPlugin); the config itself does not name it, so it only appears in
// the header comment.
func ExampleConfig(suffix, binDir, azureJSON string) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b strings.Builder
	b.WriteString("# kubelet --image-credential-provider-config=<this file>")
	if binDir != "" {
		b.WriteString(" --image-credential-provider-bin-dir=" + binDir)
	}
	b.WriteString("\n")
	if binDir != "" {
		fmt.Fprintf(&b, "# %s runs `drydock acr-credential-provider`.\n", filepath.Join(binDir, PluginName))
	}
	b.WriteString("apiVersion: kubelet.config.k8s.io/v1\n")
	b.WriteString("kind: CredentialProviderConfig\n")
	b.WriteString("providers:\n")
	b.WriteString("- name: " + PluginName + "\n")
	b.WriteString("  matchImages:\n")
	for _, m := range MatchImages(suffix) {
		b.WriteString("  - " + q(m) + "\n")
	}
	b.WriteString("  defaultCacheDuration: " + q(DefaultCacheDuration) + "\n")
	b.WriteString("  apiVersion: " + APIVersion + "\n")
	if azureJSON != "" {
		b.WriteString("  args:\n")
		b.WriteString("  - " + q(azureJSON) + "\n")
	}
	return []byte(b.String())
}

// InstallPlugin writes binDir/acr-credential-provider, an executable that
// runs `<drydock> acr-credential-provider -- <args>`, and returns its path.
func InstallPlugin(binDir, drydock string) (string, error) {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(binDir, PluginName)
	script := "#!/bin/sh\n# drydock's kubelet image credential provider\nexec " + shellQuote(drydock) + " acr-credential-provider -- \"$@\"\n"
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
