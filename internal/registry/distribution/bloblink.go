package distribution

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

// Garbage collection and blob pushes agree through the metadata database
// (metadata.DeletionState), so that servers sharing one database and one blob
// store (replicas) never delete a blob under a link being made:
//
//   - the collector deletes a blob only after a write transaction that
//     found no link to it bumped its generation and marked it deleting
//     (StartBlobDeletion), and clears the mark once the delete returned;
//   - a push (an upload's completion, a monolithic upload, a mount) reads
//     the blob's generation, waiting while it is marked deleting, before
//     it stores or finds the blob, and links it only in a write transaction
//     that still sees that generation.
//
// Write transactions run one at a time, so either the link commits first
// (the collector then sees it and keeps the blob) or a collection started
// deleting in between, and the push sees another generation: it then
// waits for that deletion to end and links the blob only if it is still
// stored (its own content written after the delete), else it answers
// errBlobDeleted. Within one process, the digest's lock (keyedLocks) keeps
// the two from interleaving at all.
const (
	// deletionTimeout bounds the blob store's delete of one blob by
	// garbage collection.
	deletionTimeout = 30 * time.Second
	// deletionAbandoned is the age past which a deletion still marked in
	// progress is taken as abandoned by a collector that died: its delete
	// ended long ago (deletionTimeout), and pushes no longer wait for it.
	deletionAbandoned = 4 * deletionTimeout
	// deletionWait is how long a push waits for a deletion in progress.
	deletionWait = deletionTimeout
	// deletionRecordsKept is how long garbage collection keeps a digest's
	// deletion record after its last change. A push links only within
	// half of it of reading the generation; past that it reads again.
	deletionRecordsKept = UploadMaxAge
)

// errBlobDeleted says that garbage collection deleted, or is deleting, the
// blob a push stored: the push must be made again.
var errBlobDeleted = errors.New("the blob was deleted by garbage collection while it was pushed")

// errBlobBusy says that a push waited in vain, before storing anything,
// for garbage collection to end deleting the blob: the same request may
// be sent again.
var errBlobBusy = errors.New("the blob is being deleted by garbage collection")

// errGenerationChanged aborts a link transaction that found another
// generation than the push read.
var errGenerationChanged = errors.New("blob generation changed")

// putFailed wraps the error of a push's put, to answer it as a storage
// error rather than an internal one.
type putFailed struct{ error }

func (p putFailed) Unwrap() error { return p.error }

// testHooks let tests interleave garbage collection and pushes of
// several handlers (replicas) deterministically. Nil members do nothing.
type testHooks struct {
	beforeLink func(digest string) // a push stored (or found) the blob and is about to link it
	deciding   func(digest string) // the collector found the blob unlinked in its listing and is about to check again and mark it
	deleting   func(digest string) // the collector marked the blob deleting and is about to delete it
	waiting    func(digest string) // a push found the blob being deleted and waits
}

// linkStored stores (or finds) a blob with put and links it with link, so
// that garbage collection never deletes the blob under the link. It
// returns put's descriptor; a failure of put is a putFailed, a blob that
// garbage collection deleted after put is errBlobDeleted, and one it was
// deleting for too long before put ran is errBlobBusy.
func (h *Handler) linkStored(ctx context.Context, digest string, put func() (storage.Descriptor, error),
	link func(*store.Tx, storage.Descriptor) error) (storage.Descriptor, error) {
	unlock := h.locks.RLock(digest)
	defer unlock()
	gen, readAt, err := h.blobGeneration(ctx, digest)
	if err != nil {
		return storage.Descriptor{}, err
	}
	desc, err := put()
	if err != nil {
		return desc, putFailed{err}
	}
	if f := h.hooks.beforeLink; f != nil {
		f(digest)
	}
	for attempt := 1; ; attempt++ {
		if h.now().Sub(readAt) < deletionRecordsKept/2 {
			err = h.update(ctx, func(tx *store.Tx) error {
				d, err := metadata.BlobDeletion(tx, digest)
				if err != nil {
					return err
				}
				if d.Generation != gen {
					return errGenerationChanged
				}
				return link(tx, desc)
			})
			if !errors.Is(err, errGenerationChanged) {
				return desc, err
			}
		}
		// A collection started deleting the blob after the generation was
		// read (or the read is too old to tell). Once it ended, the blob
		// is stored only if written after its delete.
		if attempt == 3 {
			return desc, errBlobDeleted
		}
		if gen, readAt, err = h.blobGeneration(ctx, digest); errors.Is(err, errBlobBusy) {
			return desc, errBlobDeleted // what put stored is gone or going
		} else if err != nil {
			return desc, err
		}
		if desc, err = h.blobs.Stat(ctx, digest); errors.Is(err, storage.ErrBlobUnknown) {
			return desc, errBlobDeleted
		} else if err != nil {
			return desc, err
		}
	}
}

// blobGeneration returns the blob's garbage-collection generation and
// when it was read, after waiting (at most deletionWait) for a deletion in
// progress to end; errBlobBusy when it does not.
func (h *Handler) blobGeneration(ctx context.Context, digest string) (int64, time.Time, error) {
	deadline := h.now().Add(deletionWait)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 250*time.Millisecond) {
		d, err := viewValue(ctx, h.st, func(tx *store.Tx) (metadata.DeletionState, error) { return metadata.BlobDeletion(tx, digest) })
		if err != nil {
			return 0, time.Time{}, err
		}
		now := h.now()
		if !d.Deleting || now.Sub(d.UpdatedAt) > deletionAbandoned {
			return d.Generation, now, nil
		}
		if now.After(deadline) {
			return 0, time.Time{}, errBlobBusy
		}
		if f := h.hooks.waiting; f != nil {
			f(digest)
		}
		select {
		case <-ctx.Done():
			return 0, time.Time{}, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// linkFailed answers a push whose linkStored failed; id is the upload
// session's ("" for a monolithic upload).
func (q *request) linkFailed(op, digest string, err error, body *bodyReader, id string) {
	var pf putFailed
	switch {
	case errors.As(err, &pf):
		q.storageError(op, pf.error, body, id)
	case errors.Is(err, errBlobDeleted):
		if id != "" {
			q.dropSession(id) // its data went into the deleted blob
		}
		q.w.Header().Set("Retry-After", "1")
		q.fail(ErrBlobUploadInvalid.WithMessage("blob %s was being deleted by garbage collection (nothing referred to it) while it was pushed: push it again", digest).
			WithStatus(http.StatusServiceUnavailable))
	case errors.Is(err, errBlobBusy):
		// Nothing was stored: an upload session keeps its data.
		q.w.Header().Set("Retry-After", "5")
		q.fail(ErrBlobUploadInvalid.WithMessage("blob %s is being deleted by garbage collection (nothing referred to it): send the request again shortly", digest).
			WithStatus(http.StatusServiceUnavailable))
	default:
		q.internal(op, err)
	}
}

// deleteUnlinked deletes a blob if nothing links it, marking it deleting
// in the database meanwhile (see above). It reports whether it deleted it.
func (h *Handler) deleteUnlinked(ctx context.Context, digest string) (bool, error) {
	unlock := h.locks.Lock(digest)
	defer unlock()
	if f := h.hooks.deciding; f != nil {
		f(digest)
	}
	var gen int64
	var ok bool
	err := h.st.Update(ctx, func(tx *store.Tx) (err error) {
		gen, ok, err = metadata.StartBlobDeletion(tx, digest, h.now())
		return err
	})
	if err != nil || !ok {
		return false, err
	}
	if f := h.hooks.deleting; f != nil {
		f(digest)
	}
	dctx, cancel := context.WithTimeout(ctx, deletionTimeout)
	err = h.blobs.Delete(dctx, digest)
	cancel()
	endErr := h.st.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return metadata.EndBlobDeletion(tx, digest, gen, h.now())
	})
	switch {
	case errors.Is(err, storage.ErrBlobUnknown):
		return false, endErr
	case err != nil:
		return false, err
	}
	return true, endErr
}
