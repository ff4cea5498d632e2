package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The pod tests' image: a small static HTTP server ("the test server"),
// built from the Go source below for linux/amd64 and linux/arm64 and
// packaged as a multi-platform OCI index, the way a real image such as
// docker.io/library/nginx is published. It has no shell and nothing else
// in its file system: /server is the whole image.

// testServerPath is the program's path in the image (its entrypoint).
const testServerPath = "/server"

// testServerSource is the test server. It listens on :80 (or :$PORT),
// prints "listening on :80" once it does, answers GET / with
// "hello from <hostname>\n" (in a pod: the pod's name) and exits 0 on
// SIGTERM. With -print-hostname it prints the hostname and exits, for
// `kubectl exec`. The other flags make it a one-shot command instead of a
// server: -exit N prints "exiting with N" and exits with code N (for
// restart policies and exit codes), -cat PATH prints the file's content and
// -getenv NAME the variable's value, both exiting 0 (for `kubectl exec`
// into a pod with configuration).
const testServerSource = `package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	printHostname := flag.Bool("print-hostname", false, "print the hostname and exit")
	exitCode := flag.Int("exit", -1, "print \"exiting with N\" and exit with code N (when N >= 0)")
	catPath := flag.String("cat", "", "print the content of a file and exit")
	getenv := flag.String("getenv", "", "print the value of an environment variable and exit")
	flag.Parse()
	if *exitCode >= 0 {
		fmt.Printf("exiting with %d\n", *exitCode)
		os.Exit(*exitCode)
	}
	if *catPath != "" {
		b, err := os.ReadFile(*catPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cat:", err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
		return
	}
	if *getenv != "" {
		fmt.Println(os.Getenv(*getenv))
		return
	}
	host, err := os.Hostname()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostname:", err)
		os.Exit(1)
	}
	if *printHostname {
		fmt.Println(host)
		return
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "80"
	}
	addr := ":" + port
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// In a container the server is PID 1: without a handler the kernel
	// would ignore SIGTERM and the pod would only go at the grace period's
	// SIGKILL.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		sig := <-sigs
		fmt.Printf("%v: shutting down\n", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	fmt.Printf("listening on %s\n", addr)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	<-done
}
`

// testServerArchs are the platforms of the test image.
var testServerArchs = []string{"amd64", "arm64"}

// testServerBuild caches the compiled test server for the whole test run.
var testServerBuild struct {
	once sync.Once
	bins map[string][]byte // by GOARCH
	err  error
}

// testServerBinaries compiles testServerSource (once per test run) as
// static binaries for each of testServerArchs.
func testServerBinaries(t *testing.T) map[string][]byte {
	t.Helper()
	testServerBuild.once.Do(func() {
		testServerBuild.bins, testServerBuild.err = buildTestServer()
	})
	if testServerBuild.err != nil {
		t.Fatal(testServerBuild.err)
	}
	return testServerBuild.bins
}

func buildTestServer() (map[string][]byte, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("building the test image needs the go tool: %w", err)
	}
	dir, err := os.MkdirTemp("", "drydock-e2e-testserver-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for file, content := range map[string]string{"main.go": testServerSource, "go.mod": "module drydock.test/server\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	bins := map[string][]byte{}
	for _, arch := range testServerArchs {
		out := filepath.Join(dir, "server-"+arch)
		cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
		cmd.Dir = dir
		// The standard library only: no module downloads, no toolchain
		// switch, nothing from the caller's GOFLAGS or workspace.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch,
			"GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local", "GOPROXY=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the linux/%s test server: %v\n%s", arch, err, b)
		}
		if bins[arch], err = os.ReadFile(out); err != nil {
			return nil, err
		}
	}
	return bins, nil
}

// layerFromTar is an OCI layer of an uncompressed tar stream, gzipped once.
func layerFromTar(t *testing.T, tb []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testServerImage is the OCI image of the test server for linux/<arch>:
// one layer holding /server, and with padBytes > 0 a second layer of that
// many random (incompressible) bytes in /pad, to make an image of a given
// size.
func testServerImage(t *testing.T, arch string, padBytes int64) v1.Image {
	t.Helper()
	bin, ok := testServerBinaries(t)[arch]
	if !ok {
		t.Fatalf("no test server for %s (have %v)", arch, testServerArchs)
	}
	layers := []v1.Layer{layerFromTar(t, tarFiles(t, map[string][]byte{testServerPath[1:]: bin}))}
	history := []v1.History{{CreatedBy: "COPY server " + testServerPath}}
	if padBytes > 0 {
		pad := make([]byte, padBytes)
		if _, err := rand.Read(pad); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, layerFromTar(t, tarFiles(t, map[string][]byte{"pad": pad})))
		history = append(history, v1.History{CreatedBy: fmt.Sprintf("COPY pad /pad # %d random bytes", padBytes)})
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	for i := range history {
		history[i].Created = cf.Created
	}
	cf.History = history
	cf.Config = v1.Config{
		Entrypoint:   []string{testServerPath},
		Env:          []string{"PATH=/"},
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// testServerIndex is the multi-platform OCI index of testServerImage for
// testServerArchs, each manifest with its platform.
func testServerIndex(t *testing.T, padBytes int64) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range testServerArchs {
		p := &v1.Platform{OS: "linux", Architecture: arch}
		if arch == "arm64" {
			p.Variant = "v8"
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: testServerImage(t, arch, padBytes), Descriptor: v1.Descriptor{Platform: p}})
	}
	return idx
}

// pushTestServerImage builds the test image (padded by padBytes random
// bytes per platform when > 0) and pushes it over plain HTTP, without
// credentials, to ref, e.g. 127.0.0.1:5000/library/nginx:latest (a
// docker-registry of startDistribution). It returns the index's digest.
func pushTestServerImage(t *testing.T, ref string, padBytes int64) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	idx := testServerIndex(t, padBytes)
	if err := remote.WriteIndex(r, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push the test image to %s: %v", r, err)
	}
	return mustDigest(t, idx)
}
