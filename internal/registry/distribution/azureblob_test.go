package distribution

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob/azuritetest"
)

// A chunked upload started through one replica continues and completes
// through another: two handlers over one metadata store and one Blob
// Storage container (on Azurite), each with its own driver, as two drydock
// replicas behind a load balancer would be.
func TestChunkedUploadAcrossReplicas(t *testing.T) {
	s := azuritetest.Start(t)
	ctr := azuritetest.NewContainerName()
	one := newEnv(t, envOpts{blobs: storage.NewBlobStore(s.Open(t, azureblob.Options{Container: ctr}))})
	two := newEnv(t, envOpts{st: one.st, blobs: storage.NewBlobStore(s.Open(t, azureblob.Options{Container: ctr}))})
	blob := randomBytes(3<<20 + 17)
	d := sha256Digest(blob)

	r := one.do("POST", "/v2/app/blobs/uploads/", nil)
	one.expect(r, http.StatusAccepted, "")
	loc := r.h.Get("Location")
	for i, e := range []*env{two, one} {
		start, end := i<<20, (i+1)<<20
		r = e.do("PATCH", loc, blob[start:end], fmt.Sprintf("Content-Range: %d-%d", start, end-1))
		e.expect(r, http.StatusAccepted, "")
		loc = r.h.Get("Location")
	}
	st := two.do("GET", loc, nil)
	two.expect(st, http.StatusNoContent, "")
	if want := fmt.Sprintf("0-%d", 2<<20-1); st.h.Get("Range") != want {
		t.Fatalf("upload status Range on the second replica = %q, want %q", st.h.Get("Range"), want)
	}
	one.expect(one.do("GET", "/v2/app/blobs/"+d, nil), http.StatusNotFound, "BLOB_UNKNOWN")
	two.expect(two.do("PUT", loc+"?digest="+d, blob[2<<20:]), http.StatusCreated, "")
	got := one.do("GET", "/v2/app/blobs/"+d, nil)
	one.expect(got, http.StatusOK, "")
	if !bytes.Equal(got.body, blob) {
		t.Fatalf("pulled %d bytes through the first replica, not the blob", len(got.body))
	}
}

// TestOCIConformanceAzureBlob is TestOCIConformance with blobs on Azure
// Blob Storage (Azurite).
func TestOCIConformanceAzureBlob(t *testing.T) {
	bin := os.Getenv("DRYDOCK_OCI_CONFORMANCE")
	if bin == "" {
		t.Skip("set DRYDOCK_OCI_CONFORMANCE to the conformance binary to run the OCI conformance suite")
	}
	d := azuritetest.Start(t).NewDriver(t, azureblob.Options{})
	runOCIConformance(t, bin, newEnv(t, envOpts{blobs: storage.NewBlobStore(d)}))
}

// Replicas that do not share blob storage (each its own filesystem) cannot
// continue each other's uploads: the client is told to start again.
func TestUploadOnReplicaWithoutSharedStorage(t *testing.T) {
	one := newEnv(t, envOpts{filesystem: true})
	two := newEnv(t, envOpts{st: one.st, filesystem: true})
	r := one.do("POST", "/v2/app/blobs/uploads/", nil)
	one.expect(r, http.StatusAccepted, "")
	r = two.do("PATCH", r.h.Get("Location"), []byte("chunk"), "Content-Range: 0-4")
	two.expect(r, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	if !strings.Contains(string(r.body), "start the upload again") {
		t.Fatalf("error does not tell the client to restart: %s", r.body)
	}
}
