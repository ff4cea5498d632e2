package distribution

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

// GET/HEAD /v2/<name>/manifests/<reference>: the manifest's exact bytes
// with the media type it was pushed with, in one indexed query.
func (q *request) getManifest() {
	ref, ok := q.authorizeReference(pullActions)
	if !ok {
		return
	}
	withBody := q.r.Method != http.MethodHead
	m, err := q.h.manifests.lookup(q.ctx, q.h.st, q.reg.Key, q.name, ref.String(), ref.Tag != "", withBody)
	if errdefs.IsNotFound(err) {
		if exists, xerr := metadata.RegistryRepositoryExists(q.ctx, q.h.st, q.reg.Key, q.name); xerr == nil && !exists {
			err = errNameUnknown
		}
	}
	switch {
	case errors.Is(err, errNameUnknown):
		q.fail(ErrNameUnknown.WithDetail(map[string]string{"name": q.name}))
		return
	case errdefs.IsNotFound(err):
		q.fail(ErrManifestUnknown.WithMessage("manifest %s is not found in repository %s", ref, q.name).
			WithDetail(map[string]string{"reference": ref.String()}))
		return
	case err != nil:
		q.internal("manifest lookup", err)
		return
	}
	h := q.w.Header()
	etag := `"` + m.Digest + `"`
	h.Set("Content-Type", m.MediaType)
	h.Set("Docker-Content-Digest", m.Digest)
	h.Set("Etag", etag)
	if m.Subject != "" {
		h.Set("OCI-Subject", m.Subject)
	}
	if inm := q.r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == m.Digest) {
		q.w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	q.w.WriteHeader(http.StatusOK)
	if withBody {
		q.w.Write(m.Body)
	}
}

var errNameUnknown = errors.New("repository unknown")

// PUT /v2/<name>/manifests/<reference>[?tag=...]: stores a manifest after
// checking that it parses and that everything it refers to is in the
// repository; a tag reference (and each tag parameter) then points at it.
func (q *request) putManifest() {
	ref, ok := q.authorizeReference(pullPushActions)
	if !ok {
		return
	}
	var tags []string
	if ref.Tag != "" {
		tags = append(tags, ref.Tag)
	}
	for _, t := range q.r.URL.Query()["tag"] {
		if !ValidTag(t) {
			q.fail(ErrTagInvalid.WithMessage("invalid tag parameter %q", truncate(t, 200)))
			return
		}
		tags = append(tags, t)
	}
	if q.r.ContentLength > MaxManifestSize {
		q.fail(manifestTooLarge())
		return
	}
	body, err := io.ReadAll(io.LimitReader(q.r.Body, MaxManifestSize+1))
	if err != nil {
		q.fail(ErrManifestInvalid.WithMessage("reading the manifest failed: %v", err))
		return
	}
	if len(body) > MaxManifestSize {
		q.fail(manifestTooLarge())
		return
	}
	alg := storage.SHA256
	if ref.Digest != "" {
		alg = ref.Alg
	}
	digest := computeDigest(alg, body)
	if ref.Digest != "" && digest != ref.Digest {
		q.fail(ErrDigestInvalid.WithMessage("the manifest has digest %s, not %s", digest, ref.Digest).
			WithDetail(map[string]string{"expected": ref.Digest, "actual": digest}))
		return
	}
	p, perr := parseManifest(body, q.r.Header.Get("Content-Type"))
	if perr != nil {
		q.fail(perr)
		return
	}
	var missing *Error
	err = q.update(func(tx *store.Tx) error {
		blobs, err := metadata.MissingBlobLinks(tx, q.reg.Key, q.name, p.Blobs)
		if err != nil {
			return err
		}
		if len(blobs) > 0 {
			missing = ErrManifestBlobUnknown.WithMessage("blob %s is not in repository %s", blobs[0], q.name).
				WithDetail(map[string]string{"digest": blobs[0]})
			return errMissing
		}
		children, err := metadata.MissingRegistryManifests(tx, q.reg.Key, q.name, p.Manifests)
		if err != nil {
			return err
		}
		if len(children) > 0 {
			missing = ErrManifestBlobUnknown.WithMessage("manifest %s is not in repository %s", children[0], q.name).
				WithDetail(map[string]string{"digest": children[0]})
			return errMissing
		}
		refs := make([]metadata.ManifestRef, 0, len(p.Blobs)+len(p.Manifests))
		for _, b := range p.Blobs {
			refs = append(refs, metadata.ManifestRef{Digest: b})
		}
		for _, c := range p.Manifests {
			refs = append(refs, metadata.ManifestRef{Digest: c, Manifest: true})
		}
		_, err = metadata.PutRegistryManifest(tx, metadata.Manifest{
			Registry: q.reg.Key, Repository: q.name, Digest: digest, MediaType: p.MediaType,
			ArtifactType: p.ArtifactType, Subject: p.Subject, Annotations: p.Annotations, Body: body,
		}, refs)
		if err != nil {
			return err
		}
		for _, t := range tags {
			if err := metadata.PutRegistryTag(tx, q.reg.Key, q.name, t, digest); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errMissing) {
		q.fail(missing)
		return
	}
	if err != nil {
		q.internal("manifest put", err)
		return
	}
	h := q.w.Header()
	h.Set("Location", "/v2/"+q.name+"/manifests/"+digest)
	h.Set("Docker-Content-Digest", digest)
	if p.Subject != "" {
		h.Set("OCI-Subject", p.Subject)
	}
	if ref.Digest != "" {
		for _, t := range tags {
			h.Add("OCI-Tag", t)
		}
	}
	q.empty(http.StatusCreated)
}

var errMissing = errors.New("manifest refers to missing content")

func manifestTooLarge() *Error {
	return ErrManifestInvalid.WithMessage("manifest invalid: larger than %d bytes", MaxManifestSize).
		WithStatus(http.StatusRequestEntityTooLarge)
}

func computeDigest(alg string, b []byte) string {
	if alg == storage.SHA512 {
		s := sha512.Sum512(b)
		return alg + ":" + hex.EncodeToString(s[:])
	}
	s := sha256.Sum256(b)
	return storage.SHA256 + ":" + hex.EncodeToString(s[:])
}

// DELETE /v2/<name>/manifests/<reference>: by digest, the manifest and
// every tag pointing to it; by tag, the tag only.
func (q *request) deleteManifest() {
	ref, ok := q.authorizeReference(deleteActions)
	if !ok {
		return
	}
	err := q.update(func(tx *store.Tx) error {
		var err error
		if ref.Tag != "" {
			_, err = metadata.DeleteRegistryTag(tx, q.reg.Key, q.name, ref.Tag)
		} else {
			_, err = metadata.DeleteRegistryManifest(tx, q.reg.Key, q.name, ref.Digest)
		}
		if errdefs.IsNotFound(err) {
			if _, rerr := metadata.GetRegistryRepository(tx, q.reg.Key, q.name); errdefs.IsNotFound(rerr) {
				return errNameUnknown
			}
		}
		return err
	})
	switch {
	case errors.Is(err, errNameUnknown):
		q.fail(ErrNameUnknown.WithDetail(map[string]string{"name": q.name}))
	case errdefs.IsNotFound(err):
		q.fail(ErrManifestUnknown.WithMessage("manifest %s is not found in repository %s", ref, q.name).
			WithDetail(map[string]string{"reference": ref.String()}))
	case err != nil:
		q.internal("manifest delete", err)
	default:
		q.empty(http.StatusAccepted)
	}
}
