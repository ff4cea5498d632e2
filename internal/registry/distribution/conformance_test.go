package distribution

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/auth"
)

// TestOCIConformance runs the OCI distribution-spec conformance suite
// (github.com/opencontainers/distribution-spec/conformance, built with
// "go build -o /path/to/oci-conformance .") against a registry served over
// plain HTTP on loopback, with the filesystem blob store and an
// authorizer that allows everything. It runs only when
// DRYDOCK_OCI_CONFORMANCE names that binary.
func TestOCIConformance(t *testing.T) {
	bin := os.Getenv("DRYDOCK_OCI_CONFORMANCE")
	if bin == "" {
		t.Skip("set DRYDOCK_OCI_CONFORMANCE to the conformance binary to run the OCI conformance suite")
	}
	runOCIConformance(t, bin, newEnv(t, envOpts{filesystem: true}))
}

// runOCIConformance runs the conformance binary bin against e's handler.
func runOCIConformance(t *testing.T, bin string, e *env) {
	// The automatic mount may use repo2: the caller may pull it.
	e.az.grants = []auth.Access{{Type: "repository", Name: "conformance/repo2", Actions: []string{"pull"}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: withTestRegistry(e.h), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	results := filepath.Join(t.TempDir(), "results")
	if dir := os.Getenv("DRYDOCK_OCI_CONFORMANCE_RESULTS"); dir != "" {
		results = dir
	}
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+ln.Addr().String(),
		"OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_RESULTS_DIR="+results,
		"OCI_VERSION=1.1",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_DATA_SPARSE="+envOr("DRYDOCK_OCI_SPARSE", "false"),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("conformance output:\n%s", out)
	if err != nil {
		t.Fatalf("conformance suite failed: %v (reports in %s)", err, results)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
