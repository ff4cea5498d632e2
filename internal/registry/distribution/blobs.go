package distribution

import (
	"errors"
	"net/http"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

// GET/HEAD /v2/<name>/blobs/<digest>: the blob, if it is linked in the
// repository. Range requests are served by http.ServeContent on the blob
// store's ReadSeeker (an *os.File with the filesystem driver, so the body
// goes out with sendfile).
func (q *request) getBlob() {
	digest, ok := q.authorizeDigest(pullActions)
	if !ok {
		return
	}
	_, err := metadata.LookupBlobLink(q.ctx, q.h.st, q.reg.Key, q.name, digest)
	if q.blobFailed("blob lookup", digest, err, errdefs.IsNotFound(err)) {
		return
	}
	rs, desc, err := q.h.blobs.Open(q.ctx, digest)
	if q.blobFailed("blob open", digest, err, errors.Is(err, storage.ErrBlobUnknown)) {
		return
	}
	defer rs.Close()
	h := q.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", desc.Digest)
	h.Set("Etag", `"`+desc.Digest+`"`)
	h.Set("Cache-Control", "max-age=31536000")
	if q.r.Method == http.MethodHead {
		http.ServeContent(q.w, q.r, "", time.Time{}, rs)
		return
	}
	cw := &countingWriter{ResponseWriter: q.w, tls: q.r.TLS != nil}
	http.ServeContent(cw, q.r, "", time.Time{}, rs)
	q.h.pulled(q.reg, q.name, cw.n)
}

// DELETE /v2/<name>/blobs/<digest>: unlinks the blob from the repository;
// garbage collection frees its content once nothing links it.
func (q *request) deleteBlob() {
	digest, ok := q.authorizeDigest(deleteActions)
	if !ok {
		return
	}
	err := q.update(func(tx *store.Tx) error { return metadata.UnlinkBlob(tx, q.reg.Key, q.name, digest) })
	if q.blobFailed("blob delete", digest, err, errdefs.IsNotFound(err)) {
		return
	}
	q.empty(http.StatusAccepted)
}

// blobFailed answers the request when err is not nil: BLOB_UNKNOWN for
// digest when unknown (err says the blob is not there), otherwise an
// internal error of op. It reports whether it answered.
func (q *request) blobFailed(op, digest string, err error, unknown bool) bool {
	switch {
	case err == nil:
		return false
	case unknown:
		q.fail(ErrBlobUnknown.WithDetail(map[string]string{"digest": digest}))
	default:
		q.internal(op, err)
	}
	return true
}
