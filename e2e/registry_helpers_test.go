package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
)

// The registry tests (TestRegistry) drive registries through their login
// servers with real clients: go-containerregistry, skopeo, oras-go, the
// Azure SDK, Debian's docker-registry as an import source and the drydock
// CLI. They share one server started with drydock's defaults for the
// registries: the listener on 127.0.0.1:443 and login servers resolved
// through the drydock block of /etc/hosts. Only one process can hold 443,
// so these tests run one after the other and no other test may use 443.
//
// They need root (port 443, /etc/hosts) and the skopeo and docker-registry
// commands; without them they are skipped, unless
// DRYDOCK_E2E_REQUIRE_REGISTRY=1 (set by scripts/test.sh), which turns
// each missing piece into a failure.

// nullGUID is the user name that marks an ACR refresh or access token used
// as a password.
const nullGUID = "00000000-0000-0000-0000-000000000000"

// registryAccessTokenLifetime is the registry access token lifetime of the
// registry tests' server: short, so that RBAC changes reach clients that
// hold a token within the test.
const registryAccessTokenLifetime = 10 * time.Second

// regEnv is the registry tests' server and what clients need to reach it.
type regEnv struct {
	s *server
	// caPool trusts drydock's CA (and nothing else).
	caPool *x509.CertPool
	// certDir holds ca.crt, for skopeo's --cert-dir.
	certDir string
	// registries are the registries createRegistries made, by name.
	registries map[string]regInfo
	// loginServers are the registries' login servers created so far.
	loginServers []string
}

// requireRegistryPrereqs reports whether missing prerequisites fail the
// tests rather than skip them.
func requireRegistryPrereqs() bool { return os.Getenv("DRYDOCK_E2E_REQUIRE_REGISTRY") == "1" }

// needPrereq skips (or, under DRYDOCK_E2E_REQUIRE_REGISTRY=1, fails) t when
// problem is not empty.
func needPrereq(t *testing.T, problem string) {
	t.Helper()
	if problem == "" {
		return
	}
	if requireRegistryPrereqs() {
		t.Fatal(problem)
	}
	t.Skip(problem + " (set DRYDOCK_E2E_REQUIRE_REGISTRY=1 to make this a failure; scripts/test.sh does)")
}

// needCommand checks that a command is installed.
func needCommand(t *testing.T, cmd, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(cmd)
	if err != nil {
		needPrereq(t, fmt.Sprintf("%s is not installed (apt-get install -y %s)", cmd, pkg))
	}
	return p
}

// startRegistryEnv starts the registry tests' server with the defaults
// for the registry listener and the hosts file, and checks when the test
// ends that the server removed its hosts block.
func startRegistryEnv(t *testing.T) *regEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		needPrereq(t, "the registry tests need root: drydock's default registry listener is 127.0.0.1:443 and it manages /etc/hosts")
	}
	if l, err := net.Listen("tcp", "127.0.0.1:443"); err != nil {
		needPrereq(t, fmt.Sprintf("127.0.0.1:443 is not free (%v): the registry tests need drydock's default registry listener; stop whatever holds it (a `drydock up` on the defaults does)", err))
	} else {
		l.Close()
	}
	e := &regEnv{}
	t.Cleanup(func() {
		// Runs after the server stopped (cleanups run last first): a
		// graceful stop removes the server's block from /etc/hosts.
		hosts, err := os.ReadFile("/etc/hosts")
		if err != nil {
			t.Error(err)
			return
		}
		for _, ls := range e.loginServers {
			if strings.Contains(string(hosts), ls) {
				t.Errorf("after the server's graceful stop /etc/hosts still names %s:\n%s", ls, hosts)
			}
		}
	})
	// Empty values leave drydock's defaults in force (registryListen
	// 127.0.0.1:443, manageHostsFile true, hostsFile /etc/hosts) over the
	// isolation the other tests' servers get.
	e.s = startServer(t,
		"DRYDOCK_REGISTRY_LISTEN=",
		"DRYDOCK_MANAGE_HOSTS_FILE=",
		"DRYDOCK_HOSTS_FILE=",
		"DRYDOCK_REGISTRY_ACCESS_TOKEN_LIFETIME="+registryAccessTokenLifetime.String(),
	)
	s := e.s
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", s.CAFile)
	}
	certDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(certDir, "ca.crt"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
	e.caPool, e.certDir = pool, certDir
	return e
}

// transport returns a new HTTP transport that trusts drydock's CA and
// resolves names the system's way (/etc/hosts): a fresh client, with no
// cached connections or tokens.
func (e *regEnv) transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: e.caPool, MinVersion: tls.VersionTLS12}
	return tr
}

// httpClient returns a fresh HTTP client of transport().
func (e *regEnv) httpClient() *http.Client { return &http.Client{Transport: e.transport()} }

// createRegistries creates a resource group and a Basic registry for each
// name as the admin, checks that each login server is <name>.azurecr.io
// with no port and that /etc/hosts maps it to the registry listener, then
// waits until this process's resolver sees them all: Go caches /etc/hosts
// for a few seconds, so the registries are made together, up front, and
// waited for once.
func (e *regEnv) createRegistries(t *testing.T, names ...string) {
	t.Helper()
	az := e.s.admin(t)
	if e.registries == nil {
		e.registries = map[string]regInfo{}
	}
	for _, name := range names {
		group := "rg-" + name
		az.ok("group", "create", "-n", group, "-l", "eastus", "-o", "none")
		reg := az.obj("acr", "create", "-n", name, "-g", group, "--sku", "Basic")
		info := regInfo{login: str(reg, "loginServer"), id: str(reg, "id")}
		if info.login != name+".azurecr.io" {
			t.Fatalf("acr create: loginServer %q, want %s.azurecr.io (no port: the registry listener is on 443)", info.login, name)
		}
		e.registries[name] = info
		e.loginServers = append(e.loginServers, info.login)
	}
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !hostsHas(string(hosts), "127.0.0.1", e.registries[name].login) {
			t.Fatalf("/etc/hosts does not map %s to 127.0.0.1 after acr create:\n%s", e.registries[name].login, hosts)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), readinessTimeout)
	defer cancel()
	for _, name := range names {
		login := e.registries[name].login
		for {
			addrs, err := net.DefaultResolver.LookupHost(ctx, login)
			if err == nil {
				if len(addrs) == 0 || addrs[0] != "127.0.0.1" {
					t.Fatalf("%s resolves to %v, want 127.0.0.1 (from /etc/hosts)", login, addrs)
				}
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("resolving %s: %v, want 127.0.0.1 (from /etc/hosts)", login, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// regInfo is a registry of createRegistries.
type regInfo struct{ login, id string }

// registry returns the login server and resource ID of a registry made by
// createRegistries.
func (e *regEnv) registry(t *testing.T, name string) (loginServer, id string) {
	t.Helper()
	info, ok := e.registries[name]
	if !ok {
		t.Fatalf("registry %s was not created up front (add it to TestRegistry's list)", name)
	}
	return info.login, info.id
}

// adminRegistry is how a registry test begins: the admin's CLI, and the
// login server and resource ID of registry name.
func (e *regEnv) adminRegistry(t *testing.T, name string) (az *cli, loginServer, id string) {
	t.Helper()
	loginServer, id = e.registry(t, name)
	return e.s.admin(t), loginServer, id
}

// hostsHas reports whether a hosts file maps host to addr inside a drydock
// block.
func hostsHas(hosts, addr, host string) bool {
	in := false
	for _, line := range strings.Split(hosts, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "# BEGIN drydock "):
			in = true
		case strings.HasPrefix(line, "# END drydock "):
			in = false
		case in:
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == addr {
				for _, h := range f[1:] {
					if strings.EqualFold(h, host) {
						return true
					}
				}
			}
		}
	}
	return false
}

// refreshToken returns az's ACR refresh token for a registry, as
// `acr login --expose-token` prints it.
func refreshToken(t *testing.T, az *cli, registry string) string {
	t.Helper()
	r := az.run("acr", "login", "-n", registry, "--expose-token", "--query", "accessToken", "-o", "tsv")
	if r.Code != 0 {
		t.Fatalf("acr login --expose-token failed:\n%s", r)
	}
	tok := strings.TrimSpace(r.Stdout)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("acr login --expose-token: %q is not a JWT:\n%s", tok, r)
	}
	return tok
}

// withEnv returns the same user with more environment variables (later
// values win).
func (c *cli) withEnv(kv ...string) *cli {
	d := *c
	d.env = append(append([]string(nil), c.env...), kv...)
	return &d
}

// ggcr returns go-containerregistry options for a fresh client that trusts
// drydock's CA.
// pushRandom pushes a random image (two 16 KiB layers) to ref in registry
// acr as az, with az's ACR refresh token, and returns the image.
func (e *regEnv) pushRandom(t *testing.T, az *cli, acr string, ref name.Reference) v1.Image {
	t.Helper()
	img, err := random.Image(16<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, e.ggcr(t.Context(), bearerAuth(refreshToken(t, az, acr)))...); err != nil {
		t.Fatalf("push %s as the admin: %v", ref, err)
	}
	return img
}

func (e *regEnv) ggcr(ctx context.Context, auth authn.Authenticator) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(e.transport()), remote.WithAuth(auth)}
}

// bearerAuth is what a client holding an ACR token sends: the null GUID
// and the token as Basic credentials to /oauth2/token.
func bearerAuth(token string) authn.Authenticator {
	return &authn.Basic{Username: nullGUID, Password: token}
}

// transportStatus returns the HTTP status of a registry error from
// go-containerregistry (0 when err is not one).
func transportStatus(err error) int {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode
	}
	return 0
}

// expectRefused checks that err is a registry refusal: 401 or 403.
func expectRefused(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want 401/403", what)
		return
	}
	if st := transportStatus(err); st != http.StatusUnauthorized && st != http.StatusForbidden {
		t.Errorf("%s: %v (status %d), want a 401/403 refusal", what, err, st)
	}
}

// mustDigest returns the digest of something with Digest().
func mustDigest(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// randomOCIImage is an OCI image (OCI media types throughout) of random
// layers.
func randomOCIImage(t *testing.T, layerSize int64, layers int, platform *v1.Platform) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf := &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}}
	if platform != nil {
		cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < layers; i++ {
		l, err := random.Layer(layerSize, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// randomOCIIndex is an OCI index of random OCI images for linux/amd64,
// linux/arm64/v8 and linux/s390x.
func randomOCIIndex(t *testing.T, layerSize int64) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []*v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "s390x"}} {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: randomOCIImage(t, layerSize, 1, p), Descriptor: v1.Descriptor{Platform: p}})
	}
	return idx
}

// ---------------------------------------------------------------------------
// Realistic images: a tiny static Linux binary per platform.

// helloSource is the program in the test images.
const helloSource = `package main

import "os"

func main() { os.Stdout.WriteString("hello from a drydock registry\n") }
`

// helloOutput is what it prints.
const helloOutput = "hello from a drydock registry\n"

// buildHello compiles helloSource as a static linux/<arch> binary.
func buildHello(t *testing.T, arch string) []byte {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"main.go": helloSource, "go.mod": "module hello\n\ngo 1.21\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(gobin, "build", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the %s test binary: %v\n%s", arch, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarFiles makes a tar stream of regular files (path → content, mode 0755).
func tarFiles(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range sortedKeys(files) {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o755, Size: int64(len(files[p])), Typeflag: tar.TypeReg,
			ModTime: time.Unix(0, 0), Uname: "root", Gname: "root"}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[p]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// helloImage is an OCI image of one layer holding /hello for arch.
func helloImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	tb := tarFiles(t, map[string][]byte{"hello": buildHello(t, arch)})
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf := &v1.ConfigFile{
		Architecture: arch, OS: "linux", RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{Entrypoint: []string{"/hello"}, Env: []string{"PATH=/"}},
	}
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "COPY hello /hello", Created: v1.Time{Time: time.Unix(0, 0).UTC()}}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// helloIndex is a linux/amd64 + linux/arm64 OCI index of helloImage.
func helloIndex(t *testing.T) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	return helloIndexFrom(t, map[string]v1.Image{"amd64": helloImage(t, "amd64"), "arm64": helloImage(t, "arm64")}, nil)
}

// helloIndexFrom makes the index of images per architecture, with
// annotations when not nil.
func helloIndexFrom(t *testing.T, imgs map[string]v1.Image, annotations map[string]string) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		p := &v1.Platform{OS: "linux", Architecture: arch}
		if arch == "arm64" {
			p.Variant = "v8"
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: imgs[arch], Descriptor: v1.Descriptor{Platform: p}})
	}
	if annotations != nil {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	return idx, imgs
}

// runLayerBinary extracts /hello from an image's only layer and runs it.
func runLayerBinary(t *testing.T, img v1.Image) string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("image layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no hello in the layer: %v", err)
		}
		if h.Name != "hello" {
			continue
		}
		path := filepath.Join(t.TempDir(), "hello")
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path).CombinedOutput()
		if err != nil {
			t.Fatalf("running the pulled binary: %v\n%s", err, out)
		}
		return string(out)
	}
}

// ---------------------------------------------------------------------------
// Debian's docker-registry (CNCF Distribution 2.8) as an import source.

// distribution is a docker-registry process on a loopback port, plain HTTP.
type distribution struct {
	addr string // 127.0.0.1:<port>
	log  string
}

// startDistribution runs docker-registry with filesystem storage in a
// temporary directory; with user set it requires Basic credentials
// (htpasswd, bcrypt).
func startDistribution(t *testing.T, user, password string) *distribution {
	t.Helper()
	exe := needCommand(t, "docker-registry", "docker-registry")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		d, err := startDistributionOnce(t, exe, user, password)
		if err == nil {
			return d
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil
}

func startDistributionOnce(t *testing.T, exe, user, password string) (*distribution, error) {
	dir := t.TempDir()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), addr)
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: drydock-e2e\n    path: %s\n", htpasswd)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	d := &distribution{addr: addr, log: filepath.Join(dir, "registry.log")}
	logf, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-done
	}
	ctx, cancel := context.WithTimeout(context.Background(), readinessTimeout)
	defer cancel()
	for {
		select {
		case err := <-done:
			b, _ := os.ReadFile(d.log)
			return nil, fmt.Errorf("docker-registry exited during start-up: %v\n%s", err, b)
		case <-ctx.Done():
			stop()
			b, _ := os.ReadFile(d.log)
			return nil, fmt.Errorf("docker-registry did not become ready on %s\n%s", addr, b)
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || (user != "" && resp.StatusCode == http.StatusUnauthorized) {
			t.Cleanup(stop)
			return d, nil
		}
	}
}

// ref names an image in the distribution registry.
func (d *distribution) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(d.addr+"/"+s, name.Insecure, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ---------------------------------------------------------------------------
// Files

// tarDir writes the tree under dir as a tar file (an oci-archive).
func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
