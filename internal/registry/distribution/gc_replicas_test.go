package distribution

import (
	"bytes"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/domains"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// replicaPair is two registry handlers (replicas) that share one database
// and one blob store, each with a store (connection pool) and digest locks
// of its own: a, whose clock runs two hours ahead so that its garbage
// collection finds every blob old, collects; b pushes.
type replicaPair struct {
	t    *testing.T
	a, b *env
}

func newReplicaPair(t *testing.T, open storetest.Opener) *replicaPair {
	o := open(t)
	openStore := func() *store.Store {
		st, err := store.OpenDatabase(ctxBG, o, domains.Migrations())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	d, err := filesystem.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	blobs := storage.NewBlobStore(d)
	p := &replicaPair{t: t, a: newEnv(t, envOpts{st: openStore(), blobs: blobs}), b: newEnv(t, envOpts{st: openStore(), blobs: blobs})}
	p.a.h.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	return p
}

// collect runs a's garbage collection with an hour's grace.
func (p *replicaPair) collect() GCStats {
	p.t.Helper()
	st, err := p.a.h.CollectGarbage(ctxBG, time.Hour)
	if err != nil {
		p.t.Fatal(err)
	}
	return st
}

// content fails the test unless the blob is readable through repo with
// exactly want.
func (p *replicaPair) content(e *env, repo string, want []byte) {
	p.t.Helper()
	r := e.do("GET", "/v2/"+repo+"/blobs/"+sha256Digest(want), nil)
	if r.code != http.StatusOK || !bytes.Equal(r.body, want) {
		p.t.Fatalf("GET %s blob: %d, %d bytes, want 200 with its %d bytes", repo, r.code, len(r.body), len(want))
	}
}

// chunkedPush pushes b in one PATCH then a PUT, returning the PUT's result
// and the session's location.
func chunkedPush(e *env, repo string, b []byte) (result, string) {
	r := e.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
	e.expect(r, http.StatusAccepted, "")
	loc := r.h.Get("Location")
	e.expect(e.do("PATCH", loc, b), http.StatusAccepted, "")
	return e.do("PUT", loc+"?digest="+sha256Digest(b), nil), loc
}

// TestCollectGarbageAcrossReplicas interleaves, deterministically, one
// replica's garbage collection of a blob nothing refers to any more with
// another replica's push of that same blob, at each point where the two
// can meet. Whatever the order, a blob that is linked (readable) is
// stored: a push either lands before the collector decides (the blob is
// kept), or after its deletion (the push stores it again), or is refused
// with an error that tells the client to push again.
func TestCollectGarbageAcrossReplicas(t *testing.T) {
	backends := []struct {
		name string
		open func(*testing.T) storetest.Opener
	}{
		{"sqlite", func(*testing.T) storetest.Opener { return storetest.SQLite() }},
		{"postgres", func(t *testing.T) storetest.Opener { return storetest.StartPostgres(t).Opener() }},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			open := be.open(t)
			for _, tc := range replicaGCCases {
				t.Run(tc.name, func(t *testing.T) {
					p := newReplicaPair(t, open)
					blob := []byte("a layer pushed an hour ago, never referenced: " + tc.name)
					p.b.pushBlob("app", blob)
					tc.run(t, p, blob)
				})
			}
		})
	}
}

// markDeleting unlinks the blob and marks it deleting at at, as a
// collector that died before it deleted it would have left it.
func (p *replicaPair) markDeleting(blob []byte, at time.Time) {
	p.t.Helper()
	p.b.expect(p.b.do("DELETE", "/v2/app/blobs/"+sha256Digest(blob), nil), http.StatusAccepted, "")
	err := p.b.st.Update(ctxBG, func(tx *store.Tx) error {
		_, ok, err := metadata.StartBlobDeletion(tx, sha256Digest(blob), at)
		if err == nil && !ok {
			p.t.Error("blob still linked")
		}
		return err
	})
	if err != nil {
		p.t.Fatal(err)
	}
}

var replicaGCCases = []struct {
	name string
	run  func(t *testing.T, p *replicaPair, blob []byte)
}{
	{
		// b's push found the blob stored (so it wrote nothing) and is about
		// to link it when a deletes it: the push must not be accepted.
		name: "monolithic push found the blob, collector deletes it before the link",
		run: func(t *testing.T, p *replicaPair, blob []byte) {
			var st GCStats
			p.b.h.hooks.beforeLink = func(string) { st = p.collect(); p.b.h.hooks.beforeLink = nil }
			r := p.b.do("POST", "/v2/app/blobs/uploads/?digest="+sha256Digest(blob), blob)
			p.b.expect(r, http.StatusServiceUnavailable, "BLOB_UPLOAD_INVALID")
			if st.BlobsDeleted != 1 || r.h.Get("Retry-After") == "" {
				t.Fatalf("collection %+v, Retry-After %q", st, r.h.Get("Retry-After"))
			}
			p.b.expect(p.b.do("HEAD", "/v2/app/blobs/"+sha256Digest(blob), nil), http.StatusNotFound, "")
			// The client's retry stores it again.
			p.b.pushBlob("app", blob)
			p.content(p.b, "app", blob)
		},
	},
	{
		name: "chunked upload completed on a stored blob, collector deletes it before the link",
		run: func(t *testing.T, p *replicaPair, blob []byte) {
			p.b.h.hooks.beforeLink = func(string) { p.collect(); p.b.h.hooks.beforeLink = nil }
			r, loc := chunkedPush(p.b, "app", blob)
			p.b.expect(r, http.StatusServiceUnavailable, "BLOB_UPLOAD_INVALID")
			p.b.expect(p.b.do("GET", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
			p.b.expect(p.b.do("HEAD", "/v2/app/blobs/"+sha256Digest(blob), nil), http.StatusNotFound, "")
			r, _ = chunkedPush(p.b, "app", blob)
			p.b.expect(r, http.StatusCreated, "")
			p.content(p.b, "app", blob)
		},
	},
	{
		// The mount's source link goes in the same collection: the mount
		// falls back to an upload, as the spec allows.
		name: "mount found the blob, collector deletes it before the link",
		run: func(t *testing.T, p *replicaPair, blob []byte) {
			p.b.h.hooks.beforeLink = func(string) { p.collect(); p.b.h.hooks.beforeLink = nil }
			r := p.b.do("POST", "/v2/other/blobs/uploads/?mount="+sha256Digest(blob)+"&from=app", nil)
			p.b.expect(r, http.StatusAccepted, "")
			p.b.expect(p.b.do("HEAD", "/v2/other/blobs/"+sha256Digest(blob), nil), http.StatusNotFound, "")
		},
	},
	{
		// a marked the blob deleting: b's push waits for the deletion to
		// end, then stores the blob again.
		name: "push while the collector deletes",
		run: func(t *testing.T, p *replicaPair, blob []byte) {
			var waiting sync.Once
			waits := make(chan struct{})
			p.b.h.hooks.waiting = func(string) { waiting.Do(func() { close(waits) }) }
			var r result
			done := make(chan struct{})
			p.a.h.hooks.deleting = func(string) {
				go func() {
					defer close(done)
					r = p.b.do("POST", "/v2/app/blobs/uploads/?digest="+sha256Digest(blob), blob)
				}()
				<-waits
			}
			if st := p.collect(); st.BlobsDeleted != 1 {
				t.Fatalf("collection %+v", st)
			}
			<-done
			p.b.expect(r, http.StatusCreated, "")
			p.content(p.b, "app", blob)
		},
	},
	{
		// A collector died after marking the blob: a push waits for it, in
		// vain, then answers that the request may be sent again; the
		// upload session keeps its data.
		name: "push while a dead collector's mark is fresh",
		run: func(t *testing.T, p *replicaPair, blob []byte) {
			p.markDeleting(blob, time.Now())
			var mu sync.Mutex
			clock := time.Now()
			p.b.h.now = func() time.Time { // each look at the clock is 5 s later
				mu.Lock()
				defer mu.Unlock()
				clock = clock.Add(5 * time.Second)
				return clock
			}
			r, loc := chunkedPush(p.b, "app", blob)
			p.b.expect(r, http.StatusServiceUnavailable, "BLOB_UPLOAD_INVALID")
			if r.h.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			p.b.expect(p.b.do("GET", loc, nil), http.StatusNoContent, "")
		},
	},
	{
		// Past deletionAbandoned the mark no longer holds pushes back.
		name: "push after a dead collector's mark is abandoned",
		run: func(t *testing.T, p *replicaPair, blob []byte) {
			p.markDeleting(blob, time.Now().Add(-deletionAbandoned-time.Minute))
			r, _ := chunkedPush(p.b, "app", blob)
			p.b.expect(r, http.StatusCreated, "")
			p.content(p.b, "app", blob)
		},
	},
	{
		// b links the blob after a listed it as a candidate but before it
		// decided: the collector sees the link and keeps the blob.
		name: "push links before the collector decides",
		run: func(t *testing.T, p *replicaPair, blob []byte) {
			p.a.h.hooks.deciding = func(string) {
				p.b.pushBlob("app", blob)
				p.a.h.hooks.deciding = nil
			}
			if st := p.collect(); st.BlobsDeleted != 0 || st.LinksRemoved != 1 {
				t.Fatalf("collection %+v", st)
			}
			p.content(p.b, "app", blob)
			p.content(p.a, "app", blob)
		},
	},
}
