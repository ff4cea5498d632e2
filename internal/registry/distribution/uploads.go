package distribution

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

// POST /v2/<name>/blobs/uploads/: a cross-repository mount (?mount=&from=),
// a monolithic upload (?digest= with the body), or a new upload session.
func (q *request) startUpload() {
	query := q.r.URL.Query()
	mountDigest := ""
	if m := query.Get("mount"); m != "" {
		if d, _, err := parseDigest(m); err == nil {
			mountDigest = d
		}
	}
	from := query.Get("from")
	var extra []auth.Access
	if mountDigest != "" && from != "" && from != q.name {
		if !auth.ValidRepository(from) {
			from, mountDigest = "", "" // nothing to mount from: a plain upload
		} else {
			extra = append(extra, auth.Access{Type: "repository", Name: from, Actions: pullActions})
		}
	}
	if !q.authorize(pullPushActions, extra...) {
		return
	}
	if mountDigest != "" && q.mount(mountDigest, from) {
		return
	}
	if d := query.Get("digest"); d != "" {
		q.monolithic(d)
		return
	}
	q.newSession()
}

// mount links a blob of another repository (from, or with no from any
// repository of this registry the caller may pull) into this one. It
// reports whether it answered; when the blob cannot be mounted the caller
// falls back to an upload, as the spec says.
func (q *request) mount(digest, from string) bool {
	_, err := q.h.linkStored(q.ctx, digest, func() (storage.Descriptor, error) {
		found, err := q.mountable(digest, from)
		if err == nil && !found {
			err = errNotMountable
		}
		if err != nil {
			return storage.Descriptor{}, err
		}
		return q.h.blobs.Stat(q.ctx, digest)
	}, func(tx *store.Tx, desc storage.Descriptor) error {
		return metadata.LinkBlob(tx, q.reg.Key, q.name, digest, desc.Size)
	})
	switch {
	case errors.Is(err, errNotMountable), errors.Is(err, storage.ErrBlobUnknown), errors.Is(err, errBlobDeleted), errors.Is(err, errBlobBusy):
		return false
	case err != nil:
		q.internal("blob mount", err)
		return true
	}
	q.blobCreated(digest)
	return true
}

// errNotMountable says that no repository a mount may mount from links
// the blob.
var errNotMountable = errors.New("no repository to mount from links the blob")

// mountable reports whether from (or, with no from, a repository of this
// registry the caller may pull) links the blob.
func (q *request) mountable(digest, from string) (bool, error) {
	found := false
	err := q.view(func(tx *store.Tx) error {
		var candidates []string
		if from != "" {
			candidates = []string{from}
		} else {
			repos, err := metadata.BlobLinkRepositories(tx, q.reg.Key, digest)
			if err != nil {
				return err
			}
			for _, r := range repos {
				if r == q.name || auth.Allows(q.granted, "repository", r, "pull") {
					candidates = append(candidates, r)
				}
			}
		}
		for _, c := range candidates {
			_, err := metadata.BlobLink(tx, q.reg.Key, c, digest)
			if errdefs.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			found = true
			return nil
		}
		return nil
	})
	return found, err
}

// monolithic stores the request body as the blob digest in one request.
func (q *request) monolithic(d string) {
	digest, _, derr := parseDigest(d)
	if derr != nil {
		q.fail(derr)
		return
	}
	body := &bodyReader{r: q.r.Body}
	desc, err := q.h.linkStored(q.ctx, digest, func() (storage.Descriptor, error) {
		return q.h.blobs.Put(q.ctx, digest, body)
	}, func(tx *store.Tx, desc storage.Descriptor) error {
		return metadata.LinkBlob(tx, q.reg.Key, q.name, desc.Digest, desc.Size)
	})
	if err != nil {
		q.linkFailed("blob upload", digest, err, body, "")
		return
	}
	q.h.pushed(q.reg, q.name, desc.Size)
	q.blobCreated(desc.Digest)
}

func (q *request) newSession() {
	id, err := q.h.blobs.StartUpload(q.ctx)
	if err != nil {
		q.internal("start upload", err)
		return
	}
	err = q.update(func(tx *store.Tx) error {
		return metadata.PutRegistryUpload(tx, metadata.Upload{ID: id, Registry: q.reg.Key, Repository: q.name, StartedAt: q.h.now()})
	})
	if err != nil {
		q.h.blobs.CancelUpload(context.WithoutCancel(q.ctx), id)
		q.internal("start upload", err)
		return
	}
	q.uploadHeaders(id, 0)
	q.empty(http.StatusAccepted)
}

func (q *request) uploadLocation(id string) string { return "/v2/" + q.name + "/blobs/uploads/" + id }

func (q *request) uploadHeaders(id string, size int64) {
	h := q.w.Header()
	h.Set("Location", q.uploadLocation(id))
	h.Set("Range", uploadRange(size))
	h.Set("Docker-Upload-UUID", id)
}

// uploadRange is the Range header of an upload holding size bytes: "0-0"
// for none (as distribution sends), else "0-<last byte>".
func uploadRange(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

func (q *request) blobCreated(digest string) {
	h := q.w.Header()
	h.Set("Location", "/v2/"+q.name+"/blobs/"+digest)
	h.Set("Docker-Content-Digest", digest)
	q.empty(http.StatusCreated)
}

// session authorizes pull and push on the repository and returns the
// upload session of the request, which must belong to this registry and
// repository; otherwise it answers BLOB_UPLOAD_UNKNOWN. When it returns
// false it has answered the request.
func (q *request) session() (metadata.Upload, bool) {
	if !q.authorize(pullPushActions) {
		return metadata.Upload{}, false
	}
	u, err := metadata.LookupRegistryUpload(q.ctx, q.h.st, q.arg)
	if errdefs.IsNotFound(err) || (err == nil && (u.Registry != q.reg.Key || u.Repository != q.name)) {
		q.fail(ErrBlobUploadUnknown.WithDetail(map[string]string{"uuid": truncate(q.arg, 100)}))
		return u, false
	}
	if err != nil {
		q.internal("upload lookup", err)
		return u, false
	}
	return u, true
}

// dropSession forgets a session whose data the blob store no longer has.
func (q *request) dropSession(id string) {
	err := q.h.st.Update(context.WithoutCancel(q.ctx), func(tx *store.Tx) error { return metadata.DeleteRegistryUpload(tx, id) })
	if err != nil && !errdefs.IsNotFound(err) {
		q.h.log.Warn("registry upload session not removed", "upload", id, "err", err)
	}
}

// bodyReader remembers a failure to read the request body, to tell a
// client's broken upload (400) from a storage failure (500).
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// storageError answers a blob store failure of an upload (id "" for a
// monolithic one).
func (q *request) storageError(op string, err error, body *bodyReader, id string) {
	var rangeErr *storage.RangeError
	var mismatch *storage.DigestMismatchError
	switch {
	case errors.As(err, &rangeErr):
		q.uploadHeaders(id, rangeErr.Size)
		q.fail(ErrRangeInvalid.WithMessage("the chunk starts at byte %d; the upload holds %d bytes", rangeErr.Offset, rangeErr.Size))
	case errors.As(err, &mismatch):
		if id != "" {
			q.dropSession(id) // the blob store removed the upload
		}
		q.fail(ErrDigestInvalid.WithMessage("the content (%d bytes) has digest %s, not %s", mismatch.Size, mismatch.Actual, mismatch.Expected).
			WithDetail(map[string]string{"expected": mismatch.Expected, "actual": mismatch.Actual}))
	case errors.Is(err, storage.ErrDigestInvalid), errors.Is(err, storage.ErrDigestUnsupported):
		q.fail(ErrDigestInvalid.WithMessage("%v", err))
	case errors.Is(err, storage.ErrUploadUnknown):
		if id != "" {
			q.dropSession(id)
		}
		q.fail(ErrBlobUploadUnknown.WithDetail(map[string]string{"uuid": id}))
	case body != nil && body.err != nil && (q.ctx.Err() == nil || errors.Is(body.err, os.ErrDeadlineExceeded)):
		// The client broke its upload off, or let it stall past the
		// server's body timeout (whose failed read also cancels the
		// request's context).
		if id != "" {
			if size, serr := q.h.blobs.UploadSize(q.ctx, id); serr == nil {
				q.uploadHeaders(id, size)
			}
		}
		q.fail(ErrBlobUploadInvalid.WithMessage("reading the request body failed: %v", body.err))
	default:
		q.internal(op, err)
	}
}

// chunk reads the Content-Range of a PATCH (or of a PUT's final chunk):
// the offset it starts at and the body limited to its length. With no
// Content-Range the body is appended at the end (offset -1).
func (q *request) chunk(id string) (offset int64, body *bodyReader, ok bool) {
	body = &bodyReader{r: q.r.Body}
	cr := q.r.Header.Get("Content-Range")
	if cr == "" {
		return -1, body, true
	}
	start, end, valid := parseContentRange(cr)
	if !valid {
		size, err := q.h.blobs.UploadSize(q.ctx, id)
		if err != nil {
			q.storageError("upload", err, nil, id)
			return 0, nil, false
		}
		q.uploadHeaders(id, size)
		q.fail(ErrRangeInvalid.WithMessage("invalid Content-Range %q: want <start>-<end>", truncate(cr, 100)))
		return 0, nil, false
	}
	n := end - start + 1
	if q.r.ContentLength >= 0 && q.r.ContentLength != n {
		q.fail(ErrSizeInvalid.WithMessage("Content-Length %d does not match Content-Range %s", q.r.ContentLength, cr))
		return 0, nil, false
	}
	body.r = io.LimitReader(q.r.Body, n)
	return start, body, true
}

// parseContentRange accepts "<start>-<end>", as the spec sends it, and the
// HTTP forms "bytes=<start>-<end>" and "bytes <start>-<end>/<total>".
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimSpace(s)
	if rest, found := strings.CutPrefix(s, "bytes"); found {
		s = strings.TrimLeft(rest, " =")
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// PATCH /v2/<name>/blobs/uploads/<uuid>: a chunk (with Content-Range) or
// a stream (without) appended to the upload.
func (q *request) patchUpload() {
	u, ok := q.session()
	if !ok {
		return
	}
	offset, body, ok := q.chunk(u.ID)
	if !ok {
		return
	}
	size, err := q.h.blobs.Append(q.ctx, u.ID, offset, body)
	if err != nil {
		q.storageError("upload", err, body, u.ID)
		return
	}
	q.uploadHeaders(u.ID, size)
	q.empty(http.StatusAccepted)
}

// PUT /v2/<name>/blobs/uploads/<uuid>?digest=: completes the upload, with
// an optional final chunk, and links the verified blob.
func (q *request) putUpload() {
	u, ok := q.session()
	if !ok {
		return
	}
	d := q.r.URL.Query().Get("digest")
	if d == "" {
		q.fail(ErrDigestInvalid.WithMessage("the digest query parameter is required to complete an upload"))
		return
	}
	digest, _, derr := parseDigest(d)
	if derr != nil {
		q.fail(derr)
		return
	}
	offset, body, ok := q.chunk(u.ID)
	if !ok {
		return
	}
	desc, err := q.h.linkStored(q.ctx, digest, func() (storage.Descriptor, error) {
		var final io.Reader = body
		if offset >= 0 {
			if _, err := q.h.blobs.Append(q.ctx, u.ID, offset, body); err != nil {
				return storage.Descriptor{}, err
			}
			final = nil
		}
		return q.h.blobs.Commit(q.ctx, u.ID, digest, final)
	}, func(tx *store.Tx, desc storage.Descriptor) error {
		if err := metadata.DeleteRegistryUpload(tx, u.ID); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		return metadata.LinkBlob(tx, q.reg.Key, q.name, desc.Digest, desc.Size)
	})
	if err != nil {
		q.linkFailed("upload", digest, err, body, u.ID)
		return
	}
	q.h.pushed(q.reg, q.name, desc.Size)
	q.blobCreated(desc.Digest)
}

// GET /v2/<name>/blobs/uploads/<uuid>: how much the upload holds.
func (q *request) uploadStatus() {
	u, ok := q.session()
	if !ok {
		return
	}
	size, err := q.h.blobs.UploadSize(q.ctx, u.ID)
	if err != nil {
		q.storageError("upload status", err, nil, u.ID)
		return
	}
	q.uploadHeaders(u.ID, size)
	q.empty(http.StatusNoContent)
}

// DELETE /v2/<name>/blobs/uploads/<uuid>: cancels the upload.
func (q *request) cancelUpload() {
	u, ok := q.session()
	if !ok {
		return
	}
	if err := q.h.blobs.CancelUpload(q.ctx, u.ID); err != nil && !errors.Is(err, storage.ErrUploadUnknown) {
		q.internal("upload cancel", err)
		return
	}
	q.dropSession(u.ID)
	q.empty(http.StatusNoContent)
}
