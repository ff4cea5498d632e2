// Package credprovider is drydock's kubelet image credential provider: the
// exec plugin a kubelet runs (credentialprovider.kubelet.k8s.io/v1) to get
// credentials for images of drydock's registries. It does what
// cloud-provider-azure's acr-credential-provider does on an AKS node: it
// reads the node's azure.json, gets a token for the kubelet identity from
// the managed-identity endpoint with the node's host credential, learns the
// registry's token service from the /v2/ challenge, exchanges the token for
// an ACR refresh token and hands that to the kubelet as the password of the
// null-GUID user.
package credprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The wire names of the kubelet's credential provider API
// (k8s.io/kubelet/pkg/apis/credentialprovider/v1).
const (
	APIVersion   = "credentialprovider.kubelet.k8s.io/v1"
	RequestKind  = "CredentialProviderRequest"
	ResponseKind = "CredentialProviderResponse"

	// Cache key types of a response.
	CacheKeyImage    = "Image"
	CacheKeyRegistry = "Registry"
	CacheKeyGlobal   = "Global"
)

// Request is credentialprovider.kubelet.k8s.io/v1 CredentialProviderRequest,
// which the kubelet writes to the plugin's standard input.
type Request struct {
	Kind                      string            `json:"kind,omitempty"`
	APIVersion                string            `json:"apiVersion,omitempty"`
	Image                     string            `json:"image"`
	ServiceAccountToken       string            `json:"serviceAccountToken,omitempty"`
	ServiceAccountAnnotations map[string]string `json:"serviceAccountAnnotations,omitempty"`
}

// Response is credentialprovider.kubelet.k8s.io/v1
// CredentialProviderResponse, which the plugin writes to its standard output.
// CacheDuration is a metav1.Duration: Go's duration string ("1h0m0s").
type Response struct {
	Kind          string                `json:"kind,omitempty"`
	APIVersion    string                `json:"apiVersion,omitempty"`
	CacheKeyType  string                `json:"cacheKeyType"`
	CacheDuration *Duration             `json:"cacheDuration,omitempty"`
	Auth          map[string]AuthConfig `json:"auth"`
}

// AuthConfig is the user name and password for one registry match pattern.
type AuthConfig struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Duration marshals like metav1.Duration: a string that time.ParseDuration
// reads back.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Duration.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// DefaultConfigPath is where a node's azure.json is when no path is given.
const DefaultConfigPath = "/etc/kubernetes/azure.json"

// AzureConfig is a node's azure.json (AKS's /etc/kubernetes/azure.json,
// with drydock's fields for reaching the identity endpoint and the
// registries: hostCredentialFile, caFile, registryAddress). The two file
// paths may be relative: LoadConfig resolves them against the directory of
// the azure.json, so one file serves both from the node's directory on the
// host and as /etc/kubernetes/azure.json inside a pod that mounts it.
type AzureConfig struct {
	Cloud                       string `json:"cloud"`
	TenantID                    string `json:"tenantId"`
	SubscriptionID              string `json:"subscriptionId"`
	ResourceGroup               string `json:"resourceGroup"`
	Location                    string `json:"location"`
	AADClientID                 string `json:"aadClientId"`
	AADClientSecret             string `json:"aadClientSecret"`
	UseManagedIdentityExtension bool   `json:"useManagedIdentityExtension"`
	// UserAssignedIdentityID is the kubelet identity's client ID (or its
	// resource ID, when it contains /subscriptions/).
	UserAssignedIdentityID  string `json:"userAssignedIdentityID"`
	ResourceManagerEndpoint string `json:"resourceManagerEndpoint"`
	// IdentityEndpoint is the managed-identity token endpoint
	// (<endpoint>/metadata/identity/oauth2/token).
	IdentityEndpoint string `json:"identityEndpoint"`
	// HostCredentialFile holds the node's host credential, sent in the
	// X-IDENTITY-HEADER header; relative to the azure.json's directory
	// unless absolute.
	HostCredentialFile string `json:"hostCredentialFile"`
	// CAFile is the PEM bundle HTTPS connections trust (the system roots
	// when empty); relative to the azure.json's directory unless absolute.
	CAFile                     string `json:"caFile"`
	ContainerRegistryDNSSuffix string `json:"containerRegistryDNSSuffix"`
	// RegistryAddress is the registry listener (host:port), dialed only
	// when a login server's name does not resolve; the login server stays
	// the TLS server name and the Host.
	RegistryAddress string `json:"registryAddress"`
	// ClusterName and ClusterResourceGroup name the node's managed cluster
	// (drydock's fields: AKS's azure.json names only the node resource
	// group), so that check-acr run on the node names the fix exactly.
	ClusterName          string `json:"clusterName,omitempty"`
	ClusterResourceGroup string `json:"clusterResourceGroup,omitempty"`
}

// Suffix is the registries' DNS suffix, "azurecr.io" when not configured.
func (c *AzureConfig) Suffix() string {
	s := strings.Trim(strings.TrimSpace(c.ContainerRegistryDNSSuffix), ".")
	if s == "" {
		return "azurecr.io"
	}
	return s
}

// IsMSI reports whether the node authenticates with a managed identity
// (aadClientId and aadClientSecret are both "msi"), as canipull decides.
func (c *AzureConfig) IsMSI() bool { return c.AADClientID == "msi" && c.AADClientSecret == "msi" }

// ConfigError is a failure to load azure.json; Op says which step failed
// ("stat", "read" or "parse"), as canipull distinguishes them.
type ConfigError struct {
	Op   string
	Path string
	Err  error
}

func (e *ConfigError) Error() string {
	switch e.Op {
	case "parse":
		return fmt.Sprintf("failed to load config: parsing %s: %v", e.Path, e.Err)
	default:
		return fmt.Sprintf("failed to load config: %v", e.Err)
	}
}

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads an azure.json file (JSON; unknown fields are ignored,
// as cloud-provider-azure's loader ignores them). A relative
// hostCredentialFile or caFile is made absolute against the file's own
// directory, wherever that directory is mounted.
func LoadConfig(path string) (*AzureConfig, error) {
	if path == "" {
		path = DefaultConfigPath
	}
	if _, err := os.Stat(path); err != nil {
		return nil, &ConfigError{Op: "stat", Path: path, Err: err}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Op: "read", Path: path, Err: err}
	}
	var c AzureConfig
	if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &c); err != nil {
		return nil, &ConfigError{Op: "parse", Path: path, Err: err}
	}
	dir := filepath.Dir(path)
	c.HostCredentialFile = resolveAgainst(dir, c.HostCredentialFile)
	c.CAFile = resolveAgainst(dir, c.CAFile)
	return &c, nil
}

// resolveAgainst returns path, or dir/path when path is relative; "" stays
// "" (no file configured).
func resolveAgainst(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// CacheDuration is how long the kubelet may reuse the credentials of a
// registry: well under the ACR refresh token's lifetime (about 3 hours).
const CacheDuration = time.Hour

// AnonymousUser is the user name that marks an ACR refresh token as the
// password.
const AnonymousUser = "00000000-0000-0000-0000-000000000000"

// Run runs the plugin once, as the kubelet execs it: the request on stdin,
// the response on stdout. args are the plugin's arguments from the
// CredentialProviderConfig: the path of azure.json (default
// /etc/kubernetes/azure.json), optionally after "--". An error means the
// kubelet gets no credentials; the caller prints it on stderr and exits
// non-zero.
func Run(ctx context.Context, stdin io.Reader, stdout io.Writer, args []string) error {
	configPath, err := parseArgs(args)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	req, err := decodeRequest(data)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return err
	}
	resp, err := GetCredentials(ctx, cfg, req.Image)
	if err != nil {
		return err
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("failed to encode response: %w", err)
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

// parseArgs takes the azure.json path from the plugin's arguments.
func parseArgs(args []string) (string, error) {
	var pos []string
	dashdash := false
	for _, a := range args {
		switch {
		case !dashdash && a == "--":
			dashdash = true
		case !dashdash && len(a) > 1 && a[0] == '-':
			return "", fmt.Errorf("unknown flag: %s (the only argument is the path of azure.json)", a)
		default:
			pos = append(pos, a)
		}
	}
	switch len(pos) {
	case 0:
		return DefaultConfigPath, nil
	case 1:
		return pos[0], nil
	}
	return "", fmt.Errorf("expected at most one argument, the path of azure.json; got %d: %s", len(pos), strings.Join(pos, " "))
}

// decodeRequest checks the request's group version and kind and that it
// names an image, with cloud-provider-azure's messages.
func decodeRequest(data []byte) (*Request, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("couldn't get version/kind; json parse error: %w", err)
	}
	if meta.APIVersion != APIVersion {
		return nil, fmt.Errorf("group version %s is not supported", meta.APIVersion)
	}
	if meta.Kind != RequestKind {
		return nil, fmt.Errorf("kind was %q, expected %s", meta.Kind, RequestKind)
	}
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("decoding the %s: %w", RequestKind, err)
	}
	if req.Image == "" {
		return nil, errors.New("image in plugin request was empty")
	}
	return &req, nil
}

// registryLabel is an ACR name: alphanumerics (cloud-provider-azure's
// acrRE takes exactly one such label before the suffix).
var registryLabel = regexp.MustCompile(`^[a-zA-Z0-9]+$`)

// LoginServerOf returns the login server (host[:port]) of an image when the
// image is in one of the registries under suffix (<name>.<suffix>, with an
// optional port), and "" otherwise.
func LoginServerOf(image, suffix string) string {
	host, _, _ := strings.Cut(image, "/")
	name := host
	if h, port, ok := strings.Cut(host, ":"); ok {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return ""
		}
		name = h
	}
	label, domain, ok := strings.Cut(name, ".")
	if !ok || !registryLabel.MatchString(label) || !strings.EqualFold(domain, suffix) {
		return ""
	}
	return host
}

// GetCredentials answers for one image: no credentials (and no caching)
// for an image outside drydock's registries; otherwise an ACR refresh token
// for its login server, plus the empty entry cloud-provider-azure adds for
// anonymous pulls.
func GetCredentials(ctx context.Context, cfg *AzureConfig, image string) (*Response, error) {
	suffix := cfg.Suffix()
	login := LoginServerOf(image, suffix)
	if login == "" {
		return &Response{Kind: ResponseKind, APIVersion: APIVersion, CacheKeyType: CacheKeyRegistry,
			CacheDuration: &Duration{0}, Auth: map[string]AuthConfig{}}, nil
	}
	resp := &Response{Kind: ResponseKind, APIVersion: APIVersion, CacheKeyType: CacheKeyRegistry,
		CacheDuration: &Duration{CacheDuration},
		Auth:          map[string]AuthConfig{"*." + suffix: {}}}
	if !cfg.UseManagedIdentityExtension {
		// cloud-provider-azure's service principal clusters: the
		// cluster's client ID and secret for every registry.
		resp.Auth["*."+suffix] = AuthConfig{Username: cfg.AADClientID, Password: cfg.AADClientSecret}
		return resp, nil
	}
	c, err := NewClient(cfg, nil)
	if err != nil {
		return nil, err
	}
	tok, err := c.IdentityToken(ctx, ACRAudience)
	if err != nil {
		return nil, err
	}
	ch, err := c.Challenge(ctx, login)
	if err != nil {
		return nil, err
	}
	refresh, err := c.Exchange(ctx, ch, cfg.TenantID, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	resp.Auth[login] = AuthConfig{Username: AnonymousUser, Password: refresh}
	return resp, nil
}
