package distribution

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/store"
)

// SweepUploads, run at start, removes what no request can finish and
// keeps the sessions a client may resume.
func TestSweepUploads(t *testing.T) {
	d, err := filesystem.New(filepath.Join(t.TempDir(), "registry"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	e := newEnv(t, envOpts{blobs: storage.NewBlobStore(d)})
	session := func() string {
		r := e.do("POST", "/v2/app/blobs/uploads/", nil)
		id := r.h.Get("Docker-Upload-UUID")
		e.expect(e.do("PATCH", r.h.Get("Location"), []byte("some bytes"), "Content-Range: 0-9"), 202, "")
		return id
	}
	cases := []struct {
		name  string
		setup func() string // returns the upload's id
		kept  bool
	}{
		{"a session with its data", session, true},
		{"data without a session (a crashed monolithic upload)", func() string {
			id, err := e.blobs.StartUpload(ctxBG)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}, false},
		{"a session without data", func() string {
			id := "5f0c6a8e-0000-4000-8000-000000000002"
			if err := e.st.Update(ctxBG, func(tx *store.Tx) error {
				return metadata.PutRegistryUpload(tx, metadata.Upload{ID: id, Registry: testRegistryKey("one"), Repository: "app", StartedAt: time.Now()})
			}); err != nil {
				t.Fatal(err)
			}
			return id
		}, false},
		{"a session idle for more than UploadMaxAge", func() string {
			id := session()
			old := time.Now().Add(-UploadMaxAge - time.Hour)
			filepath.Walk(filepath.Join(d.Dir(), "uploads", id), func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
			return id
		}, false},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = c.setup()
	}
	if _, err := e.h.SweepUploads(ctxBG); err != nil {
		t.Fatal(err)
	}
	onDisk, err := e.blobs.Uploads(ctxBG)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		_, err := metadata.LookupRegistryUpload(ctxBG, e.st, ids[i])
		hasRow := err == nil
		if err != nil && !errdefs.IsNotFound(err) {
			t.Fatal(err)
		}
		if hasData := slices.Contains(onDisk, ids[i]); hasData != c.kept || hasRow != c.kept {
			t.Errorf("%s: data kept %v, session kept %v, want %v", c.name, hasData, hasRow, c.kept)
		}
	}
	e.expect(e.do("GET", "/v2/app/blobs/uploads/"+ids[0], nil), 204, "")
}
