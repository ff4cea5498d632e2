package distribution

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/registry/storage/inmemory"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// testAuthorizer allows everything (recording what was asked) unless deny
// is set; then it answers 403 DENIED as the auth layer would.
type testAuthorizer struct {
	mu     sync.Mutex
	deny   bool
	calls  [][]auth.Access
	grants []auth.Access // granted on top of what is needed
}

func (a *testAuthorizer) Authorize(w http.ResponseWriter, r *http.Request, need []auth.Access) (auth.Identity, []auth.Access, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, need)
	if a.deny {
		WriteError(w, r, codeError(ErrDenied))
		return auth.Identity{}, nil, false
	}
	return auth.Identity{Kind: "principal", Name: "tester"}, append(append([]auth.Access{}, need...), a.grants...), true
}

func (a *testAuthorizer) reset() [][]auth.Access {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.calls
	a.calls = nil
	return c
}

type testEvents struct {
	mu             sync.Mutex
	pulled, pushed map[string]int64
}

func (e *testEvents) Pulled(reg Registry, repo string, n int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pulled[reg.Name+"/"+repo] += n
}

func (e *testEvents) Pushed(reg Registry, repo string, n int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pushed[reg.Name+"/"+repo] += n
}

type env struct {
	t     testing.TB
	h     *Handler
	st    *store.Store
	blobs *storage.BlobStore
	srv   *httptest.Server
	az    *testAuthorizer
	ev    *testEvents
}

func testRegistryKey(name string) string {
	return "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/microsoft.containerregistry/registries/" + name
}

// withTestRegistry routes a request to the registry named by its
// X-Test-Registry header ("one" when absent), as the host router would by
// login server.
func withTestRegistry(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get("X-Test-Registry")
		if name == "" {
			name = "one"
		}
		reg := Registry{Key: testRegistryKey(name), Name: name, LoginServer: name + ".azurecr.test"}
		next.ServeHTTP(w, r.WithContext(WithRegistry(r.Context(), reg)))
	})
}

type envOpts struct {
	filesystem bool
	st         *store.Store
	blobs      *storage.BlobStore
}

func newEnv(t testing.TB, opts ...envOpts) *env {
	t.Helper()
	var o envOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	e := &env{t: t, az: &testAuthorizer{}, ev: &testEvents{pulled: map[string]int64{}, pushed: map[string]int64{}}}
	e.st = o.st
	if e.st == nil {
		st := storetest.Open(t)
		e.st = st
	}
	e.blobs = o.blobs
	if e.blobs == nil {
		if o.filesystem {
			d, err := filesystem.New(filepath.Join(t.TempDir(), "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			e.blobs = storage.NewBlobStore(d)
		} else {
			e.blobs = storage.NewBlobStore(inmemory.New())
		}
	}
	e.h = New(e.st, e.blobs, e.az, e.ev, nil)
	e.srv = httptest.NewServer(withTestRegistry(e.h))
	t.Cleanup(e.srv.Close)
	return e
}

type result struct {
	code int
	h    http.Header
	body []byte
}

func (r result) errCode() string {
	var we auth.OCIErrors
	if json.Unmarshal(r.body, &we) != nil || len(we.Errors) == 0 {
		return ""
	}
	return we.Errors[0].Code
}

func (r result) String() string {
	return fmt.Sprintf("%d %s", r.code, truncate(string(r.body), 300))
}

// do sends a request; headers are "Key: value" strings.
func (e *env) do(method, path string, body []byte, headers ...string) result {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if got := resp.Header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
		e.t.Errorf("%s %s: Docker-Distribution-API-Version = %q", method, path, got)
	}
	if resp.StatusCode >= 400 && method != http.MethodHead && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		var we auth.OCIErrors
		if err := json.Unmarshal(b, &we); err != nil || len(we.Errors) == 0 || we.Errors[0].Code == "" {
			e.t.Errorf("%s %s: %d without an OCI error body: %q", method, path, resp.StatusCode, b)
		}
	}
	return result{code: resp.StatusCode, h: resp.Header, body: b}
}

func (e *env) expect(r result, code int, errCode string) {
	e.t.Helper()
	if r.code != code || (errCode != "" && r.errCode() != errCode) {
		e.t.Fatalf("got %s, want %d %s", r, code, errCode)
	}
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pushBlob uploads b to repo monolithically and returns its digest.
func (e *env) pushBlob(repo string, b []byte, headers ...string) string {
	e.t.Helper()
	d := sha256Digest(b)
	r := e.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, b, headers...)
	e.expect(r, http.StatusCreated, "")
	return d
}

type desc struct {
	MediaType    string            `json:"mediaType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type testManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *desc             `json:"config,omitempty"`
	Layers        []desc            `json:"layers,omitempty"`
	Manifests     []desc            `json:"manifests,omitempty"`
	Subject       *desc             `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// pushImage pushes a config and n layers to repo and returns the manifest
// body (not pushed) and its descriptor.
func (e *env) image(repo string, layers int, mod func(*testManifest)) ([]byte, desc) {
	e.t.Helper()
	cfg := mustJSON(map[string]any{"architecture": "amd64", "os": "linux", "nonce": hex.EncodeToString(randomBytes(8))})
	m := testManifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
		Config: &desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: e.pushBlob(repo, cfg), Size: int64(len(cfg))}}
	for i := 0; i < layers; i++ {
		l := randomBytes(100 + i)
		m.Layers = append(m.Layers, desc{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: e.pushBlob(repo, l), Size: int64(len(l))})
	}
	if mod != nil {
		mod(&m)
	}
	b := mustJSON(m)
	return b, desc{MediaType: m.MediaType, Digest: sha256Digest(b), Size: int64(len(b))}
}

func (e *env) putManifest(repo, ref string, body []byte, mediaType string) result {
	e.t.Helper()
	return e.do("PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type: "+mediaType)
}

var ctxBG = context.Background()
