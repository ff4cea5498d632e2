package nodeagent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"path"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
)

// authConfig is one set of registry credentials to try.
type authConfig struct {
	Username, Password string
	from               string // where it came from, for logs
}

// credentials finds registry credentials for an image as a kubelet does:
// the pod's imagePullSecrets first, then the image credential provider
// whose matchImages cover the image, executed with a
// CredentialProviderRequest on standard input, its response cached as it
// asks (cacheKeyType, cacheDuration).
type credentials struct {
	plugin       string   // the executable, in the provider bin dir
	args         []string // providers[].args
	matchImages  []string
	defaultCache time.Duration
	client       kubernetes.Interface

	mu    sync.Mutex
	cache map[string]cachedAuth
}

type cachedAuth struct {
	auth    map[string]credprovider.AuthConfig
	expires time.Time
}

// lookup returns the credentials to try for image, in order; none means
// pull anonymously.
func (c *credentials) lookup(ctx context.Context, pod *corev1.Pod, image string) ([]authConfig, error) {
	host := registryHost(image)
	var out []authConfig
	for _, ref := range pod.Spec.ImagePullSecrets {
		sec, err := c.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			// The kubelet goes on without a secret it cannot read.
			continue
		}
		out = append(out, secretAuths(sec, host)...)
	}
	if c.plugin != "" && matchesAny(c.matchImages, host) {
		auths, err := c.fromPlugin(ctx, image, host)
		if err != nil {
			return out, err
		}
		out = append(out, auths...)
	}
	return out, nil
}

func (c *credentials) fromPlugin(ctx context.Context, image, host string) ([]authConfig, error) {
	c.mu.Lock()
	now := time.Now()
	for _, key := range []string{"image:" + image, "registry:" + host, "global:"} {
		if e, ok := c.cache[key]; ok {
			if now.Before(e.expires) {
				c.mu.Unlock()
				return pickAuth(e.auth, host), nil
			}
			delete(c.cache, key)
		}
	}
	c.mu.Unlock()

	req, _ := json.Marshal(credprovider.Request{Kind: credprovider.RequestKind, APIVersion: credprovider.APIVersion, Image: image})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.plugin, c.args...)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("error execing credential provider plugin %s for image %s: %v: %s", credprovider.PluginName, image, err, strings.TrimSpace(stderr.String()))
	}
	var resp credprovider.Response
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("credential provider plugin %s: invalid response: %v", credprovider.PluginName, err)
	}
	if resp.Kind != credprovider.ResponseKind || resp.APIVersion != credprovider.APIVersion {
		return nil, fmt.Errorf("credential provider plugin %s: unexpected response kind %q, apiVersion %q", credprovider.PluginName, resp.Kind, resp.APIVersion)
	}
	ttl := c.defaultCache
	if resp.CacheDuration != nil {
		ttl = resp.CacheDuration.Duration
	}
	if ttl > 0 {
		key := ""
		switch resp.CacheKeyType {
		case credprovider.CacheKeyImage:
			key = "image:" + image
		case credprovider.CacheKeyRegistry:
			key = "registry:" + host
		case credprovider.CacheKeyGlobal:
			key = "global:"
		}
		if key != "" {
			c.mu.Lock()
			if c.cache == nil {
				c.cache = map[string]cachedAuth{}
			}
			c.cache[key] = cachedAuth{auth: resp.Auth, expires: time.Now().Add(ttl)}
			c.mu.Unlock()
		}
	}
	return pickAuth(resp.Auth, host), nil
}

// pickAuth returns the entries of a provider response whose key matches
// host, most specific first.
func pickAuth(auth map[string]credprovider.AuthConfig, host string) []authConfig {
	var exact, glob []authConfig
	for pattern, a := range auth {
		p := keyHost(pattern)
		switch {
		case strings.EqualFold(p, host):
			exact = append(exact, authConfig{Username: a.Username, Password: a.Password, from: credprovider.PluginName})
		case hostMatches(p, host):
			glob = append(glob, authConfig{Username: a.Username, Password: a.Password, from: credprovider.PluginName})
		}
	}
	return append(exact, glob...)
}

// secretAuths reads a kubernetes.io/dockerconfigjson or dockercfg secret's
// entries for host.
func secretAuths(sec *corev1.Secret, host string) []authConfig {
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	var entries map[string]entry
	switch sec.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]entry `json:"auths"`
		}
		if json.Unmarshal(sec.Data[corev1.DockerConfigJsonKey], &cfg) != nil {
			return nil
		}
		entries = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if json.Unmarshal(sec.Data[corev1.DockerConfigKey], &entries) != nil {
			return nil
		}
	default:
		return nil
	}
	var out []authConfig
	for key, e := range entries {
		k := keyHost(key)
		if k == "index.docker.io" {
			k = "docker.io"
		}
		if !strings.EqualFold(k, host) && !hostMatches(k, host) {
			continue
		}
		if e.Auth != "" {
			if raw, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
				if u, p, ok := strings.Cut(string(raw), ":"); ok {
					e.Username, e.Password = u, p
				}
			}
		}
		out = append(out, authConfig{Username: e.Username, Password: e.Password, from: "secret " + sec.Name})
	}
	return out
}

// keyHost is the host[:port] of a credentials key, which may carry a
// scheme and a path ("https://index.docker.io/v1/").
func keyHost(key string) string {
	for _, p := range []string{"https://", "http://"} {
		key = strings.TrimPrefix(key, p)
	}
	host, _, _ := strings.Cut(key, "/")
	return host
}

// registryHost is the registry part of an image reference, as container
// runtimes read it ("docker.io" when the first part is not a host).
func registryHost(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return "docker.io"
	}
	return strings.ToLower(first)
}

// matchesAny reports whether host matches one of the kubelet matchImages
// patterns.
func matchesAny(patterns []string, host string) bool {
	for _, p := range patterns {
		if i := strings.IndexByte(p, '/'); i >= 0 {
			p = p[:i]
		}
		if hostMatches(p, host) {
			return true
		}
	}
	return false
}

// hostMatches compares host[:port] with a pattern the way the kubelet does:
// label by label, each a glob, with the same number of labels, and the
// port equal.
func hostMatches(pattern, host string) bool {
	ph, pp, _ := strings.Cut(strings.ToLower(pattern), ":")
	hh, hp, _ := strings.Cut(strings.ToLower(host), ":")
	if pp != hp {
		return false
	}
	pl, hl := strings.Split(ph, "."), strings.Split(hh, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, err := path.Match(pl[i], hl[i]); err != nil || !ok {
			return false
		}
	}
	return true
}
