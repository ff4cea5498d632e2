package distribution

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/inmemory"
)

// fullDisk is a driver whose writes fail with ENOSPC while full is set, as
// a filesystem's do when its disk is full.
type fullDisk struct {
	storage.Driver
	full atomic.Bool
}

func (d *fullDisk) Writer(ctx context.Context, path string, resume bool) (storage.FileWriter, error) {
	w, err := d.Driver.Writer(ctx, path, resume)
	if err != nil {
		return nil, err
	}
	return &fullWriter{FileWriter: w, d: d}, nil
}

type fullWriter struct {
	storage.FileWriter
	d *fullDisk
}

func (w *fullWriter) Write(p []byte) (int, error) {
	if w.d.full.Load() {
		return 0, &os.PathError{Op: "write", Path: "data", Err: syscall.ENOSPC}
	}
	return w.FileWriter.Write(p)
}

// A push onto a full disk is refused at once with 507 and an OCI error
// that says the disk is full (not a 500 clients retry, not a 201); reads go
// on, and once space returns the same push succeeds.
func TestPushOnFullDisk(t *testing.T) {
	d := &fullDisk{Driver: inmemory.New()}
	e := newEnv(t, envOpts{blobs: storage.NewBlobStore(d)})
	kept := e.pushBlob("app", randomBytes(300))

	session := e.do("POST", "/v2/app/blobs/uploads/", nil)
	e.expect(session, http.StatusAccepted, "")

	d.full.Store(true)
	b := randomBytes(2000)
	dgst := sha256Digest(b)
	for _, r := range []result{
		e.do("POST", "/v2/app/blobs/uploads/?digest="+dgst, b),
		e.do("PUT", session.h.Get("Location")+"?digest="+dgst, b),
		e.do("POST", "/v2/app/blobs/uploads/", nil),
	} {
		e.expect(r, http.StatusInsufficientStorage, "UNKNOWN")
		if !strings.Contains(string(r.body), "disk holding drydock's data directory is full") {
			t.Errorf("the error does not say the disk is full: %s", r)
		}
	}
	e.expect(e.do("HEAD", "/v2/app/blobs/"+dgst, nil), http.StatusNotFound, "")
	e.expect(e.do("GET", "/v2/app/blobs/"+kept, nil), http.StatusOK, "")

	d.full.Store(false)
	if got := e.pushBlob("app", b); got != dgst {
		t.Fatalf("pushed %s, want %s", got, dgst)
	}
	e.expect(e.do("GET", "/v2/app/blobs/"+dgst, nil), http.StatusOK, "")
}
