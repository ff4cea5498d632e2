package store

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

func openRegistryTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "drydock.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const (
	regA = "/subscriptions/x/resourcegroups/rg/providers/microsoft.containerregistry/registries/a"
	regB = "/subscriptions/x/resourcegroups/rg/providers/microsoft.containerregistry/registries/b"
	dg1  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	dg2  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	dgM  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	dgS  = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

func TestRegistryManifestsTagsAndLinks(t *testing.T) {
	s := openRegistryTestStore(t)
	ctx := context.Background()
	upd := func(fn func(*Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	upd(func(tx *Tx) error {
		if err := tx.LinkBlob(regA, "app", dg1, 10); err != nil {
			return err
		}
		return tx.LinkBlob(regA, "app", dg2, 20)
	})
	upd(func(tx *Tx) error {
		missing, err := tx.MissingBlobLinks(regA, "app", []string{dg1, dgS, dg2})
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(missing, []string{dgS}) {
			t.Errorf("missing = %v", missing)
		}
		// Registry keys are case-insensitive; repositories of B see nothing of A.
		if _, err := tx.BlobLink("/SUBSCRIPTIONS/X/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/A", "app", dg1); err != nil {
			t.Errorf("case-folded key: %v", err)
		}
		if _, err := tx.BlobLink(regB, "app", dg1); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("other registry: %v", err)
		}
		created, err := tx.PutRegistryManifest(RegistryManifest{Registry: regA, Repository: "app", Digest: dgM,
			MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/x-art", Subject: dgS,
			Annotations: []byte(`{"k":"v"}`), Body: []byte(`{"schemaVersion":2}`)},
			[]ManifestRef{{Digest: dg1}, {Digest: dg1}})
		if err != nil || !created {
			t.Fatalf("put manifest: %v %v", created, err)
		}
		if created, err := tx.PutRegistryManifest(RegistryManifest{Registry: regA, Repository: "app", Digest: dgM,
			MediaType: "application/vnd.oci.image.manifest.v1+json", Body: []byte(`{"schemaVersion":2}`)}, nil); err != nil || created {
			t.Fatalf("put again: %v %v", created, err)
		}
		for _, tag := range []string{"v2", "latest", "v1"} {
			if err := tx.PutRegistryTag(regA, "app", tag, dgM); err != nil {
				return err
			}
		}
		return nil
	})
	s.View(ctx, func(tx *Tx) error {
		m, err := tx.GetRegistryManifest(regA, "app", "latest", true, true)
		if err != nil || m.Digest != dgM || string(m.Body) != `{"schemaVersion":2}` || m.Size != 19 || m.Subject != dgS {
			t.Errorf("by tag: %+v %v", m, err)
		}
		m, err = tx.GetRegistryManifest(regA, "app", dgM, false, false)
		if err != nil || m.Body != nil || string(m.Annotations) != `{"k":"v"}` {
			t.Errorf("by digest: %+v %v", m, err)
		}
		if _, err := tx.GetRegistryManifest(regA, "app", "nope", true, false); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("unknown tag: %v", err)
		}
		tags, _ := tx.ListRegistryTags(regA, "app", "latest", 1)
		if len(tags) != 1 || tags[0].Name != "v1" {
			t.Errorf("tags after latest: %+v", tags)
		}
		refs, _ := tx.RegistryReferrers(regA, "app", dgS, "")
		if len(refs) != 1 || refs[0].ArtifactType != "application/x-art" {
			t.Errorf("referrers: %+v", refs)
		}
		if refs, _ := tx.RegistryReferrers(regA, "app", dgS, "application/other"); len(refs) != 0 {
			t.Errorf("filtered referrers: %+v", refs)
		}
		repos, _ := tx.ListRegistryRepositories(regA, "", -1)
		if !reflect.DeepEqual(repos, []string{"app"}) {
			t.Errorf("repositories: %v", repos)
		}
		n, size, err := tx.RegistryUsage(regA)
		if err != nil || n != 1 || size != 10+20+19 {
			t.Errorf("usage: %d %d %v", n, size, err)
		}
		return nil
	})

	// GC: dg2 is unreferenced, dg1 is referenced by the manifest.
	upd(func(tx *Tx) error {
		n, err := tx.UnlinkUnreferencedBlobs(time.Now().Add(time.Hour))
		if n != 1 {
			t.Errorf("unlinked %d", n)
		}
		return err
	})
	s.View(ctx, func(tx *Tx) error {
		if ok, _ := tx.BlobLinked(dg2); ok {
			t.Error("dg2 still linked")
		}
		if ok, _ := tx.BlobLinked(dg1); !ok {
			t.Error("dg1 unlinked")
		}
		return nil
	})

	upd(func(tx *Tx) error {
		tags, err := tx.DeleteRegistryManifest(regA, "app", dgM)
		if err != nil || len(tags) != 3 {
			t.Errorf("delete manifest: %v %v", tags, err)
		}
		if _, err := tx.DeleteRegistryManifest(regA, "app", dgM); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("delete again: %v", err)
		}
		return nil
	})
	upd(func(tx *Tx) error {
		n, err := tx.UnlinkUnreferencedBlobs(time.Now().Add(time.Hour))
		if n != 1 {
			t.Errorf("unlinked %d after the manifest went", n)
		}
		if err != nil {
			return err
		}
		n, err = tx.DeleteEmptyRegistryRepositories(time.Now().Add(time.Hour))
		if n != 1 {
			t.Errorf("empty repositories removed: %d", n)
		}
		return err
	})
}

func TestRegistryUploadsAndDeletion(t *testing.T) {
	s := openRegistryTestStore(t)
	ctx := context.Background()
	id := "0b7a3c9e-1d2f-4a5b-8c6d-7e8f9a0b1c2d"
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutRegistryUpload(RegistryUpload{ID: id, Registry: regA, Repository: "app", StartedAt: time.Now().Add(-48 * time.Hour)}); err != nil {
			return err
		}
		if err := tx.PutRegistryUpload(RegistryUpload{ID: id, Registry: regA, Repository: "app"}); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Errorf("duplicate upload: %v", err)
		}
		return tx.LinkBlob(regA, "app", dg1, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		u, err := tx.GetRegistryUpload(id)
		if err != nil || u.Repository != "app" || u.Registry != regA {
			t.Errorf("upload: %+v %v", u, err)
		}
		old, _ := tx.RegistryUploadsStartedBefore(time.Now().Add(-24 * time.Hour))
		if len(old) != 1 {
			t.Errorf("old uploads: %+v", old)
		}
		return nil
	})
	err = s.Update(ctx, func(tx *Tx) error {
		ids, err := tx.DeleteRegistryData(regA)
		if len(ids) != 1 || ids[0] != id {
			t.Errorf("uploads of the deleted registry: %v", ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		if _, err := tx.GetRegistryRepository(regA, "app"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("repository after registry deletion: %v", err)
		}
		if _, err := tx.GetRegistryUpload(id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("upload after registry deletion: %v", err)
		}
		return nil
	})
}
