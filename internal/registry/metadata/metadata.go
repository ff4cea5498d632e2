package metadata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
)

func regKey(registry string) string { return strings.ToLower(registry) }

// Manifest is a row of registry_manifests. Listing and referrer
// queries leave Body nil.
type Manifest struct {
	Registry     string
	Repository   string
	Digest       string
	MediaType    string
	ArtifactType string          // artifactType, else the config's media type (image manifests)
	Subject      string          // digest of the subject descriptor, if any
	Annotations  json.RawMessage // the manifest's top-level annotations object, or nil
	Size         int64
	Body         []byte
	CreatedAt    time.Time
}

// ManifestRef is something a manifest points to: a blob (config, layers)
// or, for an index, a child manifest.
type ManifestRef struct {
	Digest   string
	Manifest bool
}

// Tag is a row of registry_tags.
type Tag struct {
	Name      string
	Digest    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Repository is a row of registry_repositories.
type Repository struct {
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Upload is a blob upload session of one repository.
type Upload struct {
	ID         string
	Registry   string
	Repository string
	StartedAt  time.Time
}

// EnsureRegistryRepository creates the repository row if it is missing and
// marks the repository as updated.
func EnsureRegistryRepository(t *store.Tx, registry, repo string) error {
	ts := store.Now()
	_, err := t.Exec(`INSERT INTO registry_repositories(registry, name, created_at, updated_at) VALUES(?,?,?,?)
		ON CONFLICT(registry, name) DO UPDATE SET updated_at = excluded.updated_at`, regKey(registry), repo, ts, ts)
	return err
}

// GetRegistryRepository returns a repository; errdefs.ErrNotFound if it is unknown.
func GetRegistryRepository(t *store.Tx, registry, repo string) (Repository, error) {
	var r Repository
	var c, u string
	err := t.QueryRow(`SELECT name, created_at, updated_at FROM registry_repositories WHERE registry = ? AND name = ?`,
		regKey(registry), repo).Scan(&r.Name, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errdefs.ErrNotFound
	}
	r.CreatedAt, r.UpdatedAt = store.ParseTime(c), store.ParseTime(u)
	return r, err
}

// ListRegistryRepositories returns, in byte order, the names after last of
// the repositories that hold at least one manifest; at most n (n < 0: all).
func ListRegistryRepositories(t *store.Tx, registry, last string, n int) ([]string, error) {
	return store.QueryAll(t, store.ScanString, `SELECT r.name FROM registry_repositories r
		WHERE r.registry = ? AND r.name > ?
		AND EXISTS(SELECT 1 FROM registry_manifests m WHERE m.registry = r.registry AND m.repository = r.name)
		ORDER BY r.name LIMIT ?`, regKey(registry), last, store.Limit(n))
}

// DeleteRegistryRepository removes a repository with its manifests, tags,
// blob links and upload sessions; errdefs.ErrNotFound if it is unknown. The upload
// sessions' IDs are returned so that their data can be dropped.
func DeleteRegistryRepository(t *store.Tx, registry, repo string) ([]string, error) {
	reg := regKey(registry)
	if err := t.ExecFound(`DELETE FROM registry_repositories WHERE registry = ? AND name = ?`, reg, repo); err != nil {
		return nil, err
	}
	rows, err := t.Query(`SELECT id FROM registry_uploads WHERE registry = ? AND repository = ?`, reg, repo)
	if err != nil {
		return nil, err
	}
	uploads, err := store.ScanStrings(rows)
	if err != nil {
		return nil, err
	}
	for _, table := range []string{"registry_manifests", "registry_tags", "registry_blobs", "registry_manifest_refs", "registry_uploads"} {
		if _, err := t.Exec(`DELETE FROM `+table+` WHERE registry = ? AND repository = ?`, reg, repo); err != nil {
			return nil, err
		}
	}
	return uploads, nil
}

// DeleteRegistryData removes every row of a registry (when the registry
// itself is deleted) and returns the IDs of its upload sessions.
func DeleteRegistryData(t *store.Tx, registry string) ([]string, error) {
	reg := regKey(registry)
	rows, err := t.Query(`SELECT id FROM registry_uploads WHERE registry = ?`, reg)
	if err != nil {
		return nil, err
	}
	uploads, err := store.ScanStrings(rows)
	if err != nil {
		return nil, err
	}
	for _, table := range []string{"registry_repositories", "registry_manifests", "registry_tags", "registry_blobs", "registry_manifest_refs", "registry_uploads"} {
		if _, err := t.Exec(`DELETE FROM `+table+` WHERE registry = ?`, reg); err != nil {
			return nil, err
		}
	}
	return uploads, nil
}

// RegistryUsage counts a registry's repositories that hold manifests and
// the bytes it uses: each distinct blob once, plus the manifests.
func RegistryUsage(t *store.Tx, registry string) (repositories int, size int64, err error) {
	reg := regKey(registry)
	err = t.QueryRow(`SELECT
		(SELECT COUNT(*) FROM (SELECT DISTINCT repository FROM registry_manifests WHERE registry = ?) AS r),
		CAST((SELECT COALESCE(SUM(size), 0) FROM (SELECT digest, MAX(size) AS size FROM registry_blobs WHERE registry = ? GROUP BY digest) AS b) +
		(SELECT COALESCE(SUM(size), 0) FROM registry_manifests WHERE registry = ?) AS BIGINT)`, reg, reg, reg).Scan(&repositories, &size)
	return repositories, size, err
}

// ---- blob links ----

// LinkBlob makes a stored blob readable through a repository, creating the
// repository if needed. Linking again refreshes the link's time.
func LinkBlob(t *store.Tx, registry, repo, digest string, size int64) error {
	if err := EnsureRegistryRepository(t, registry, repo); err != nil {
		return err
	}
	_, err := t.Exec(`INSERT INTO registry_blobs(registry, repository, digest, size, linked_at) VALUES(?,?,?,?,?)
		ON CONFLICT(registry, repository, digest) DO UPDATE SET size = excluded.size, linked_at = excluded.linked_at`,
		regKey(registry), repo, digest, size, store.Now())
	return err
}

// BlobLink returns the size of a blob linked in a repository; errdefs.ErrNotFound
// if it is not linked there.
func BlobLink(t *store.Tx, registry, repo, digest string) (int64, error) {
	var size int64
	err := t.QueryRow(`SELECT size FROM registry_blobs WHERE registry = ? AND repository = ? AND digest = ?`,
		regKey(registry), repo, digest).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errdefs.ErrNotFound
	}
	return size, err
}

// UnlinkBlob removes a blob's link from a repository; errdefs.ErrNotFound if it
// was not linked.
func UnlinkBlob(t *store.Tx, registry, repo, digest string) error {
	res, err := t.Exec(`DELETE FROM registry_blobs WHERE registry = ? AND repository = ? AND digest = ?`, regKey(registry), repo, digest)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errdefs.ErrNotFound
	}
	return nil
}

// BlobLinkRepositories lists the repositories of a registry that link a blob.
func BlobLinkRepositories(t *store.Tx, registry, digest string) ([]string, error) {
	rows, err := t.Query(`SELECT repository FROM registry_blobs WHERE registry = ? AND digest = ? ORDER BY repository`, regKey(registry), digest)
	if err != nil {
		return nil, err
	}
	return store.ScanStrings(rows)
}

// MissingBlobLinks returns those of digests that are not linked in the
// repository, in the order given.
func MissingBlobLinks(t *store.Tx, registry, repo string, digests []string) ([]string, error) {
	return missing(t, `SELECT 1 FROM registry_blobs WHERE registry = ? AND repository = ? AND digest = ?`, registry, repo, digests)
}

// MissingRegistryManifests returns those of digests that are not manifests
// of the repository, in the order given.
func MissingRegistryManifests(t *store.Tx, registry, repo string, digests []string) ([]string, error) {
	return missing(t, `SELECT 1 FROM registry_manifests WHERE registry = ? AND repository = ? AND digest = ?`, registry, repo, digests)
}

func missing(t *store.Tx, q, registry, repo string, digests []string) ([]string, error) {
	if len(digests) == 0 {
		return nil, nil
	}
	st, err := t.Prepare(q)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	reg := regKey(registry)
	var out []string
	for _, d := range digests {
		var one int
		if !t.Representable(reg, repo, d) {
			out = append(out, d)
			continue
		}
		err := st.QueryRow(reg, repo, d).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			out = append(out, d)
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BlobLinked reports whether any repository of any registry links the blob.
func BlobLinked(t *store.Tx, digest string) (bool, error) {
	var ok bool
	err := t.QueryRow(`SELECT EXISTS(SELECT 1 FROM registry_blobs WHERE digest = ?)`, digest).Scan(&ok)
	return ok, err
}

// LinkedBlobDigests calls fn with every digest linked anywhere (each once).
func LinkedBlobDigests(t *store.Tx, fn func(digest string)) error {
	rows, err := t.Query(`SELECT DISTINCT digest FROM registry_blobs`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return err
		}
		fn(d)
	}
	return rows.Err()
}

// UnlinkUnreferencedBlobs removes, in every registry, the blob links that
// were made before linkedBefore and that no manifest of their repository
// refers to; it returns how many it removed.
func UnlinkUnreferencedBlobs(t *store.Tx, linkedBefore time.Time) (int64, error) {
	res, err := t.Exec(`DELETE FROM registry_blobs WHERE linked_at < ? AND NOT EXISTS(
		SELECT 1 FROM registry_manifest_refs r
		WHERE r.registry = registry_blobs.registry AND r.repository = registry_blobs.repository AND r.ref = registry_blobs.digest)`,
		store.FormatTime(linkedBefore))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DeleteEmptyRegistryRepositories removes repositories last updated before
// the given time that hold no manifest, tag, blob link or upload session.
func DeleteEmptyRegistryRepositories(t *store.Tx, updatedBefore time.Time) (int64, error) {
	res, err := t.Exec(`DELETE FROM registry_repositories WHERE updated_at < ?
		AND NOT EXISTS(SELECT 1 FROM registry_manifests m WHERE m.registry = registry_repositories.registry AND m.repository = registry_repositories.name)
		AND NOT EXISTS(SELECT 1 FROM registry_tags g WHERE g.registry = registry_repositories.registry AND g.repository = registry_repositories.name)
		AND NOT EXISTS(SELECT 1 FROM registry_blobs b WHERE b.registry = registry_repositories.registry AND b.repository = registry_repositories.name)
		AND NOT EXISTS(SELECT 1 FROM registry_uploads u WHERE u.registry = registry_repositories.registry AND u.repository = registry_repositories.name)`,
		store.FormatTime(updatedBefore))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ---- manifests ----

// PutRegistryManifest stores a manifest and what it refers to, creating the
// repository if needed. A manifest that exists already (same digest, hence
// same content) only has its media type updated. It reports whether the
// manifest is new.
func PutRegistryManifest(t *store.Tx, m Manifest, refs []ManifestRef) (bool, error) {
	reg := regKey(m.Registry)
	if err := EnsureRegistryRepository(t, reg, m.Repository); err != nil {
		return false, err
	}
	ann := ""
	if len(m.Annotations) > 0 {
		ann = string(m.Annotations)
	}
	res, err := t.Exec(`INSERT INTO registry_manifests(registry, repository, digest, media_type, artifact_type, subject, annotations, size, body, created_at)
		VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(registry, repository, digest) DO NOTHING`,
		reg, m.Repository, m.Digest, m.MediaType, m.ArtifactType, m.Subject, ann, int64(len(m.Body)), m.Body, store.Now())
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, err := t.Exec(`UPDATE registry_manifests SET media_type = ? WHERE registry = ? AND repository = ? AND digest = ? AND media_type != ?`,
			m.MediaType, reg, m.Repository, m.Digest, m.MediaType)
		return false, err
	}
	if len(refs) > 0 {
		st, err := t.Prepare(`INSERT INTO registry_manifest_refs(registry, repository, manifest, ref, is_manifest) VALUES(?,?,?,?,?)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return false, err
		}
		defer st.Close()
		for _, r := range refs {
			isManifest := 0
			if r.Manifest {
				isManifest = 1
			}
			if _, err := st.Exec(reg, m.Repository, m.Digest, r.Digest, isManifest); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

const regManifestCols = `m.digest, m.media_type, m.artifact_type, m.subject, m.annotations, m.size, m.created_at`

func scanRegManifest(sc store.RowScanner, withBody bool) (Manifest, error) {
	var m Manifest
	var ann, created string
	dst := []any{&m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject, &ann, &m.Size, &created}
	if withBody {
		dst = append(dst, &m.Body)
	}
	if err := sc.Scan(dst...); err != nil {
		return m, err
	}
	if ann != "" {
		m.Annotations = json.RawMessage(ann)
	}
	m.CreatedAt = store.ParseTime(created)
	return m, nil
}

// GetRegistryManifest returns a manifest of a repository by digest, or by
// tag when byTag is set, in one indexed query; the body only when withBody
// is set. errdefs.ErrNotFound if there is no such manifest or tag.
func GetRegistryManifest(t *store.Tx, registry, repo, reference string, byTag, withBody bool) (Manifest, error) {
	cols := regManifestCols
	if withBody {
		cols += `, m.body`
	}
	var q string
	if byTag {
		q = `SELECT ` + cols + ` FROM registry_tags t JOIN registry_manifests m
			ON m.registry = t.registry AND m.repository = t.repository AND m.digest = t.digest
			WHERE t.registry = ? AND t.repository = ? AND t.tag = ?`
	} else {
		q = `SELECT ` + cols + ` FROM registry_manifests m WHERE m.registry = ? AND m.repository = ? AND m.digest = ?`
	}
	reg := regKey(registry)
	m, err := scanRegManifest(t.QueryRow(q, reg, repo, reference), withBody)
	if errors.Is(err, sql.ErrNoRows) {
		return m, errdefs.ErrNotFound
	}
	m.Registry, m.Repository = reg, repo
	return m, err
}

// DeleteRegistryManifest removes a manifest, its references and every tag
// that points to it, and returns the tags removed; errdefs.ErrNotFound if absent.
func DeleteRegistryManifest(t *store.Tx, registry, repo, digest string) ([]string, error) {
	reg := regKey(registry)
	if err := t.ExecFound(`DELETE FROM registry_manifests WHERE registry = ? AND repository = ? AND digest = ?`, reg, repo, digest); err != nil {
		return nil, err
	}
	rows, err := t.Query(`DELETE FROM registry_tags WHERE registry = ? AND repository = ? AND digest = ? RETURNING tag`, reg, repo, digest)
	if err != nil {
		return nil, err
	}
	tags, err := store.ScanStrings(rows)
	if err != nil {
		return nil, err
	}
	if _, err := t.Exec(`DELETE FROM registry_manifest_refs WHERE registry = ? AND repository = ? AND manifest = ?`, reg, repo, digest); err != nil {
		return nil, err
	}
	return tags, touchRepository(t, reg, repo)
}

func touchRepository(t *store.Tx, reg, repo string) error {
	_, err := t.Exec(`UPDATE registry_repositories SET updated_at = ? WHERE registry = ? AND name = ?`, store.Now(), reg, repo)
	return err
}

// RegistryReferrers returns the manifests of a repository whose subject is
// the given digest, optionally only those of one artifact type, ordered by
// creation. Bodies are not loaded.
func RegistryReferrers(t *store.Tx, registry, repo, subject, artifactType string) ([]Manifest, error) {
	q := `SELECT ` + regManifestCols + ` FROM registry_manifests m WHERE m.registry = ? AND m.repository = ? AND m.subject = ? AND m.subject != ''`
	args := []any{regKey(registry), repo, subject}
	if artifactType != "" {
		q += ` AND m.artifact_type = ?`
		args = append(args, artifactType)
	}
	q += ` ORDER BY m.created_at, m.digest`
	return regManifests(t, registry, repo, q, args...)
}

// ListRegistryManifests returns the manifests of a repository, newest
// first, without bodies.
func ListRegistryManifests(t *store.Tx, registry, repo string) ([]Manifest, error) {
	q := `SELECT ` + regManifestCols + ` FROM registry_manifests m WHERE m.registry = ? AND m.repository = ? ORDER BY m.created_at DESC, m.digest`
	return regManifests(t, registry, repo, q, regKey(registry), repo)
}

func regManifests(t *store.Tx, registry, repo, q string, args ...any) ([]Manifest, error) {
	return store.QueryAll(t, func(sc store.RowScanner) (Manifest, error) {
		m, err := scanRegManifest(sc, false)
		m.Registry, m.Repository = regKey(registry), repo
		return m, err
	}, q, args...)
}

// RegistryManifestBlobSize sums the sizes of the blobs a manifest refers to
// that are linked in its repository (an image's size).
func RegistryManifestBlobSize(t *store.Tx, registry, repo, digest string) (int64, error) {
	var size int64
	err := t.QueryRow(`SELECT COALESCE(SUM(b.size), 0) FROM registry_manifest_refs r JOIN registry_blobs b
		ON b.registry = r.registry AND b.repository = r.repository AND b.digest = r.ref
		WHERE r.registry = ? AND r.repository = ? AND r.manifest = ? AND r.is_manifest = 0`, regKey(registry), repo, digest).Scan(&size)
	return size, err
}

// ---- tags ----

// PutRegistryTag points a tag at a manifest digest (creating or moving it).
func PutRegistryTag(t *store.Tx, registry, repo, tag, digest string) error {
	reg := regKey(registry)
	ts := store.Now()
	_, err := t.Exec(`INSERT INTO registry_tags(registry, repository, tag, digest, created_at, updated_at) VALUES(?,?,?,?,?,?)
		ON CONFLICT(registry, repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
		WHERE registry_tags.digest != excluded.digest`, reg, repo, tag, digest, ts, ts)
	if err != nil {
		return err
	}
	return touchRepository(t, reg, repo)
}

// DeleteRegistryTag removes a tag and returns the digest it pointed to;
// errdefs.ErrNotFound if absent.
func DeleteRegistryTag(t *store.Tx, registry, repo, tag string) (string, error) {
	reg := regKey(registry)
	var digest string
	err := t.QueryRow(`DELETE FROM registry_tags WHERE registry = ? AND repository = ? AND tag = ? RETURNING digest`, reg, repo, tag).Scan(&digest)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errdefs.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return digest, touchRepository(t, reg, repo)
}

// ListRegistryTags returns, in byte order, the tags of a repository after
// last; at most n (n < 0: all).
func ListRegistryTags(t *store.Tx, registry, repo, last string, n int) ([]Tag, error) {
	return store.QueryAll(t, scanRegistryTag, `SELECT tag, digest, created_at, updated_at FROM registry_tags
		WHERE registry = ? AND repository = ? AND tag > ? ORDER BY tag LIMIT ?`, regKey(registry), repo, last, store.Limit(n))
}

func scanRegistryTag(sc store.RowScanner) (Tag, error) {
	var g Tag
	var c, u string
	err := sc.Scan(&g.Name, &g.Digest, &c, &u)
	g.CreatedAt, g.UpdatedAt = store.ParseTime(c), store.ParseTime(u)
	return g, err
}

// ---- upload sessions ----

// PutRegistryUpload records an upload session.
func PutRegistryUpload(t *store.Tx, u Upload) error {
	started := u.StartedAt
	if started.IsZero() {
		started = time.Now()
	}
	return t.InsertUnique(`INSERT INTO registry_uploads(id, registry, repository, started_at) VALUES(?,?,?,?)`,
		strings.ToLower(u.ID), regKey(u.Registry), u.Repository, store.FormatTime(started))
}

// GetRegistryUpload returns an upload session; errdefs.ErrNotFound if unknown.
func GetRegistryUpload(t *store.Tx, id string) (Upload, error) {
	var u Upload
	var s string
	err := t.QueryRow(`SELECT id, registry, repository, started_at FROM registry_uploads WHERE id = ?`, strings.ToLower(id)).
		Scan(&u.ID, &u.Registry, &u.Repository, &s)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errdefs.ErrNotFound
	}
	u.StartedAt = store.ParseTime(s)
	return u, err
}

// DeleteRegistryUpload removes an upload session; errdefs.ErrNotFound if unknown.
func DeleteRegistryUpload(t *store.Tx, id string) error {
	return t.ExecFound(`DELETE FROM registry_uploads WHERE id = ?`, strings.ToLower(id))
}

// RegistryUploadsStartedBefore lists the upload sessions started before t0.
func RegistryUploadsStartedBefore(t *store.Tx, t0 time.Time) ([]Upload, error) {
	return registryUploads(t, `WHERE started_at < ?`, store.FormatTime(t0))
}

// RegistryUploads lists every upload session.
func RegistryUploads(t *store.Tx) ([]Upload, error) { return registryUploads(t, "") }

func registryUploads(t *store.Tx, where string, args ...any) ([]Upload, error) {
	return store.QueryAll(t, scanRegistryUpload, `SELECT id, registry, repository, started_at FROM registry_uploads `+where+` ORDER BY started_at`, args...)
}

func scanRegistryUpload(sc store.RowScanner) (Upload, error) {
	var u Upload
	var s string
	err := sc.Scan(&u.ID, &u.Registry, &u.Repository, &s)
	u.StartedAt = store.ParseTime(s)
	return u, err
}

// ---- hot-path reads ----
//
// A manifest or blob GET and every chunk of an upload look up one row. Run
// through a transaction, each would parse its SQL (and a BEGIN and a
// ROLLBACK) again; these functions run one statement prepared once per
// store (store.PrepareShared), with no transaction around it (a single
// SELECT is consistent by itself).

type regStatements struct {
	once                         sync.Once
	err                          error
	byTag, byTagBody             *sql.Stmt
	byDigest, byDigestBody       *sql.Stmt
	blobLink, upload, repository *sql.Stmt
}

var regStatementCache sync.Map // *store.Store → *regStatements

func statements(s *store.Store) (*regStatements, error) {
	v, _ := regStatementCache.LoadOrStore(s, &regStatements{})
	rs := v.(*regStatements)
	rs.once.Do(func() {
		prep := func(q string) *sql.Stmt {
			if rs.err != nil {
				return nil
			}
			st, err := s.PrepareShared(q)
			rs.err = err
			return st
		}
		byTag := func(cols string) string {
			return `SELECT ` + cols + ` FROM registry_tags t JOIN registry_manifests m
				ON m.registry = t.registry AND m.repository = t.repository AND m.digest = t.digest
				WHERE t.registry = ? AND t.repository = ? AND t.tag = ?`
		}
		byDigest := func(cols string) string {
			return `SELECT ` + cols + ` FROM registry_manifests m WHERE m.registry = ? AND m.repository = ? AND m.digest = ?`
		}
		rs.byTag = prep(byTag(regManifestCols))
		rs.byTagBody = prep(byTag(regManifestCols + `, m.body`))
		rs.byDigest = prep(byDigest(regManifestCols))
		rs.byDigestBody = prep(byDigest(regManifestCols + `, m.body`))
		rs.blobLink = prep(`SELECT size FROM registry_blobs WHERE registry = ? AND repository = ? AND digest = ?`)
		rs.upload = prep(`SELECT id, registry, repository, started_at FROM registry_uploads WHERE id = ?`)
		rs.repository = prep(`SELECT 1 FROM registry_repositories WHERE registry = ? AND name = ?`)
	})
	return rs, rs.err
}

// LookupRegistryManifest is GetRegistryManifest outside a transaction,
// for GET and HEAD of manifests.
func LookupRegistryManifest(ctx context.Context, s *store.Store, registry, repo, reference string, byTag, withBody bool) (Manifest, error) {
	rs, err := statements(s)
	if err != nil {
		return Manifest{}, err
	}
	st := rs.byDigest
	switch {
	case byTag && withBody:
		st = rs.byTagBody
	case byTag:
		st = rs.byTag
	case withBody:
		st = rs.byDigestBody
	}
	reg := regKey(registry)
	m, err := scanRegManifest(s.QueryRowShared(ctx, st, reg, repo, reference), withBody)
	if errors.Is(err, sql.ErrNoRows) {
		return m, errdefs.ErrNotFound
	}
	m.Registry, m.Repository = reg, repo
	return m, err
}

// LookupBlobLink is BlobLink outside a transaction, for blob GETs.
func LookupBlobLink(ctx context.Context, s *store.Store, registry, repo, digest string) (int64, error) {
	rs, err := statements(s)
	if err != nil {
		return 0, err
	}
	var size int64
	err = s.QueryRowShared(ctx, rs.blobLink, regKey(registry), repo, digest).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errdefs.ErrNotFound
	}
	return size, err
}

// LookupRegistryUpload is GetRegistryUpload outside a transaction, for
// every request of an upload.
func LookupRegistryUpload(ctx context.Context, s *store.Store, id string) (Upload, error) {
	rs, err := statements(s)
	if err != nil {
		return Upload{}, err
	}
	var u Upload
	var started string
	err = s.QueryRowShared(ctx, rs.upload, strings.ToLower(id)).Scan(&u.ID, &u.Registry, &u.Repository, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errdefs.ErrNotFound
	}
	u.StartedAt = store.ParseTime(started)
	return u, err
}

// RegistryRepositoryExists reports whether a repository is known, outside
// a transaction.
func RegistryRepositoryExists(ctx context.Context, s *store.Store, registry, repo string) (bool, error) {
	rs, err := statements(s)
	if err != nil {
		return false, err
	}
	var one int
	err = s.QueryRowShared(ctx, rs.repository, regKey(registry), repo).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
