package distribution

import (
	"context"
	"errors"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

// UploadMaxAge is how long an upload session may stay idle before garbage
// collection removes it.
const UploadMaxAge = 24 * time.Hour

// GCStats reports what a garbage collection did.
type GCStats struct {
	LinksRemoved        int64 // blob links no manifest referred to
	RepositoriesRemoved int64 // repositories left with nothing
	BlobsScanned        int   // blobs in the blob store
	BlobsDeleted        int   // blobs nothing linked
	BytesFreed          int64
	UploadsPurged       int // upload data idle for more than UploadMaxAge
	SessionsRemoved     int // upload sessions whose data is gone
}

// CollectGarbage frees what nothing needs, while the registry keeps
// serving:
//
//  1. In every repository, blob links older than grace that no manifest of
//     the repository refers to are removed (untagged manifests are kept,
//     and so are the blobs they refer to).
//  2. Upload data idle for more than UploadMaxAge is purged, and upload
//     sessions older than that whose data is gone are forgotten.
//  3. Repositories left empty (no manifest, tag, link or upload) for more
//     than grace are removed.
//  4. Blobs of the blob store that no repository of any registry links and
//     that were written more than grace ago are deleted.
//
// The grace period protects a blob pushed but not yet referenced by the
// manifest being pushed after it. Step 1 is one transaction, so a manifest
// push that checked its blobs cannot lose them to it; in step 4 each blob
// is deleted only after a transaction that found no link to it marked it
// deleting in the database, and a push links a blob only if no deletion
// started since it stored (or found) it (see linkStored), whichever
// server of a replica set runs either. Step 1 also forgets the deletion
// records older than deletionRecordsKept.
func (h *Handler) CollectGarbage(ctx context.Context, grace time.Duration) (GCStats, error) {
	var stats GCStats
	now := h.now()
	cutoff := now.Add(-grace)

	err := h.st.Update(ctx, func(tx *store.Tx) error {
		n, err := metadata.UnlinkUnreferencedBlobs(tx, cutoff)
		stats.LinksRemoved = n
		if err != nil {
			return err
		}
		_, err = metadata.PruneBlobDeletions(tx, now.Add(-deletionRecordsKept))
		return err
	})
	if err != nil {
		return stats, err
	}

	uploadCutoff := now.Add(-UploadMaxAge)
	if stats.UploadsPurged, err = h.blobs.PurgeUploads(ctx, uploadCutoff); err != nil {
		return stats, err
	}
	old, err := viewValue(ctx, h.st, func(tx *store.Tx) ([]metadata.Upload, error) {
		return metadata.RegistryUploadsStartedBefore(tx, uploadCutoff)
	})
	if err != nil {
		return stats, err
	}
	for _, u := range old {
		_, err := h.blobs.UploadSize(ctx, u.ID)
		if !errors.Is(err, storage.ErrUploadUnknown) {
			if err != nil && ctx.Err() != nil {
				return stats, ctx.Err()
			}
			continue // still there (recently written), or a passing failure
		}
		err = h.st.Update(ctx, func(tx *store.Tx) error { return metadata.DeleteRegistryUpload(tx, u.ID) })
		if err == nil {
			stats.SessionsRemoved++
		} else if !errdefs.IsNotFound(err) {
			return stats, err
		}
	}

	if err := h.st.Update(ctx, func(tx *store.Tx) error {
		n, err := metadata.DeleteEmptyRegistryRepositories(tx, cutoff)
		stats.RepositoriesRemoved = n
		return err
	}); err != nil {
		return stats, err
	}

	linked := map[string]struct{}{}
	if err := h.st.View(ctx, func(tx *store.Tx) error {
		return metadata.LinkedBlobDigests(tx, func(d string) { linked[d] = struct{}{} })
	}); err != nil {
		return stats, err
	}
	var candidates []storage.Descriptor
	err = h.blobs.Walk(ctx, func(d storage.Descriptor, mod time.Time) error {
		stats.BlobsScanned++
		if _, ok := linked[d.Digest]; ok || !mod.Before(cutoff) {
			return nil
		}
		candidates = append(candidates, d)
		return nil
	})
	if err != nil {
		return stats, err
	}
	for _, d := range candidates {
		deleted, err := h.deleteUnlinked(ctx, d.Digest)
		if err != nil {
			return stats, err
		}
		if deleted {
			stats.BlobsDeleted++
			stats.BytesFreed += d.Size
		}
	}
	if stats.LinksRemoved > 0 || stats.BlobsDeleted > 0 || stats.SessionsRemoved > 0 || stats.RepositoriesRemoved > 0 {
		h.log.Info("registry garbage collected", "linksRemoved", stats.LinksRemoved, "blobsDeleted", stats.BlobsDeleted,
			"bytesFreed", stats.BytesFreed, "uploadsPurged", stats.UploadsPurged, "sessionsRemoved", stats.SessionsRemoved,
			"repositoriesRemoved", stats.RepositoriesRemoved)
	}
	return stats, nil
}

// SweepUploads removes what a stop or a crash left of uploads that no
// request can finish: upload data without a session (a monolithic
// upload's, a commit's, or a session whose row was never written),
// sessions whose data is gone, and, as CollectGarbage does, upload data
// idle for more than UploadMaxAge. A session with its data is kept: its
// client may resume it. It must run before the registry serves, since a
// new session's data exists a moment before its row.
func (h *Handler) SweepUploads(ctx context.Context) (GCStats, error) {
	var stats GCStats
	var err error
	if stats.UploadsPurged, err = h.blobs.PurgeUploads(ctx, h.now().Add(-UploadMaxAge)); err != nil {
		return stats, err
	}
	ids, err := h.blobs.Uploads(ctx)
	if err != nil {
		return stats, err
	}
	var sessions []metadata.Upload
	if err := h.st.View(ctx, func(tx *store.Tx) (err error) {
		sessions, err = metadata.RegistryUploads(tx)
		return err
	}); err != nil {
		return stats, err
	}
	onDisk := make(map[string]bool, len(ids))
	for _, id := range ids {
		onDisk[id] = true
	}
	inStore := make(map[string]bool, len(sessions))
	var gone []string
	for _, u := range sessions {
		inStore[u.ID] = true
		if !onDisk[u.ID] {
			gone = append(gone, u.ID)
		}
	}
	for _, id := range ids {
		if inStore[id] {
			continue
		}
		if err := h.blobs.CancelUpload(ctx, id); err != nil && !errors.Is(err, storage.ErrUploadUnknown) {
			return stats, err
		}
		stats.UploadsPurged++
	}
	err = h.st.Update(ctx, func(tx *store.Tx) error {
		for _, id := range gone {
			if err := metadata.DeleteRegistryUpload(tx, id); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
	if err == nil {
		stats.SessionsRemoved = len(gone)
	}
	return stats, err
}
