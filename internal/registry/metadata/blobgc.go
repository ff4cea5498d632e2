package metadata

import (
	"database/sql"
	"errors"
	"time"

	"github.com/drydock-dev/drydock/internal/store"
)

// registryBlobDeletionsSchema is the table by which garbage collection
// and blob pushes agree, through the database, on whether a blob may be
// deleted or linked, so that several servers sharing one database and one
// blob store never delete a blob under a link being made:
//
//   - generation counts the collections that started deleting the digest
//     (a digest without a row is at generation 0);
//   - deleting is 1 from the transaction that found the blob unlinked and
//     bumped the generation (StartBlobDeletion) until the one after the
//     blob store's delete returned (EndBlobDeletion);
//   - updated_at is when either happened.
//
// A push reads the digest's generation before it stores (or finds) the
// blob, and links it only in a transaction that still sees that
// generation (see BlobDeletion).
const registryBlobDeletionsSchema = `
CREATE TABLE IF NOT EXISTS registry_blob_deletions(
  digest TEXT PRIMARY KEY,
  generation INTEGER NOT NULL,
  deleting INTEGER NOT NULL,
  updated_at TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registry_blob_deletions_updated ON registry_blob_deletions(updated_at);
`

// DeletionState is where garbage collection stands with one blob digest.
// The zero value is a digest no collection ever started deleting (or whose
// record PruneBlobDeletions removed).
type DeletionState struct {
	Generation int64     // how many collections started deleting it
	Deleting   bool      // one started and has not reported its end
	UpdatedAt  time.Time // when the latest start or end was recorded
}

// BlobDeletion returns the digest's garbage-collection state.
//
// Read in a write transaction, it is the check that makes linking safe: a
// push reads it before storing the blob and links only if, in the
// transaction that creates the link, the generation is still the one it
// read. Write transactions run one at a time, so either that transaction
// commits first (and StartBlobDeletion then sees the link and refuses) or
// a collection started in between (and the generation differs).
func BlobDeletion(t *store.Tx, digest string) (DeletionState, error) {
	var d DeletionState
	var deleting int
	var at string
	err := t.QueryRow(`SELECT generation, deleting, updated_at FROM registry_blob_deletions WHERE digest = ?`, digest).
		Scan(&d.Generation, &deleting, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return DeletionState{}, nil
	}
	d.Deleting = deleting != 0
	d.UpdatedAt = store.ParseTime(at)
	return d, err
}

// StartBlobDeletion records, if no repository of any registry links the
// blob, that a collection is about to delete it: it bumps the digest's
// generation, marks it deleting, and returns the new generation with
// ok=true. When a link exists it changes nothing and returns ok=false.
// Run it in its own write transaction, before deleting the blob.
func StartBlobDeletion(t *store.Tx, digest string, at time.Time) (generation int64, ok bool, err error) {
	linked, err := BlobLinked(t, digest)
	if err != nil || linked {
		return 0, false, err
	}
	if _, err := t.Exec(`INSERT INTO registry_blob_deletions(digest, generation, deleting, updated_at) VALUES(?, 1, 1, ?)
		ON CONFLICT(digest) DO UPDATE SET generation = registry_blob_deletions.generation + 1, deleting = 1, updated_at = excluded.updated_at`,
		digest, store.FormatTime(at)); err != nil {
		return 0, false, err
	}
	d, err := BlobDeletion(t, digest)
	return d.Generation, err == nil, err
}

// EndBlobDeletion records that the deletion StartBlobDeletion began at
// generation has ended (whether or not the blob store's delete
// succeeded). It changes nothing when another collection started since.
func EndBlobDeletion(t *store.Tx, digest string, generation int64, at time.Time) error {
	_, err := t.Exec(`UPDATE registry_blob_deletions SET deleting = 0, updated_at = ? WHERE digest = ? AND generation = ?`,
		store.FormatTime(at), digest, generation)
	return err
}

// PruneBlobDeletions forgets the deletion records last updated before
// before and returns how many it removed. A digest forgotten reads as
// generation 0 again, so before must be older than any push's time
// between reading a generation and linking.
func PruneBlobDeletions(t *store.Tx, before time.Time) (int64, error) {
	res, err := t.Exec(`DELETE FROM registry_blob_deletions WHERE updated_at < ?`, store.FormatTime(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
