package storetest

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/metadata"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	regA = "/subscriptions/x/resourcegroups/rg/providers/microsoft.containerregistry/registries/a"
	regB = "/subscriptions/x/resourcegroups/rg/providers/microsoft.containerregistry/registries/b"
	dg1  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	dg2  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	dgM  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	dgS  = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

func testRegistryManifestsTagsAndLinks(t *testing.T, open Opener) {
	s := openStore(t, open)
	ctx := context.Background()
	upd := func(fn func(*store.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	upd(func(tx *store.Tx) error {
		if err := metadata.LinkBlob(tx, regA, "app", dg1, 10); err != nil {
			return err
		}
		return metadata.LinkBlob(tx, regA, "app", dg2, 20)
	})
	upd(func(tx *store.Tx) error {
		missing, err := metadata.MissingBlobLinks(tx, regA, "app", []string{dg1, dgS, dg2})
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(missing, []string{dgS}) {
			t.Errorf("missing = %v", missing)
		}
		// Registry keys are case-insensitive; repositories of B see nothing of A.
		if _, err := metadata.BlobLink(tx, "/SUBSCRIPTIONS/X/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/A", "app", dg1); err != nil {
			t.Errorf("case-folded key: %v", err)
		}
		wantKind(t, "other registry", errOf(metadata.BlobLink(tx, regB, "app", dg1)), errdefs.ErrNotFound)
		created, err := metadata.PutRegistryManifest(tx, metadata.Manifest{Registry: regA, Repository: "app", Digest: dgM,
			MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/x-art", Subject: dgS,
			Annotations: []byte(`{"k":"v"}`), Body: []byte(`{"schemaVersion":2}`)},
			[]metadata.ManifestRef{{Digest: dg1}, {Digest: dg1}})
		if err != nil || !created {
			t.Fatalf("put manifest: %v %v", created, err)
		}
		if created, err := metadata.PutRegistryManifest(tx, metadata.Manifest{Registry: regA, Repository: "app", Digest: dgM,
			MediaType: "application/vnd.oci.image.manifest.v1+json", Body: []byte(`{"schemaVersion":2}`)}, nil); err != nil || created {
			t.Fatalf("put again: %v %v", created, err)
		}
		for _, tag := range []string{"v2", "latest", "v1"} {
			if err := metadata.PutRegistryTag(tx, regA, "app", tag, dgM); err != nil {
				return err
			}
		}
		return nil
	})
	s.View(ctx, func(tx *store.Tx) error {
		m, err := metadata.GetRegistryManifest(tx, regA, "app", "latest", true, true)
		if err != nil || m.Digest != dgM || string(m.Body) != `{"schemaVersion":2}` || m.Size != 19 || m.Subject != dgS {
			t.Errorf("by tag: %+v %v", m, err)
		}
		m, err = metadata.GetRegistryManifest(tx, regA, "app", dgM, false, false)
		if err != nil || m.Body != nil || string(m.Annotations) != `{"k":"v"}` {
			t.Errorf("by digest: %+v %v", m, err)
		}
		wantKind(t, "unknown tag", errOf(metadata.GetRegistryManifest(tx, regA, "app", "nope", true, false)), errdefs.ErrNotFound)
		tags, _ := metadata.ListRegistryTags(tx, regA, "app", "latest", 1)
		if len(tags) != 1 || tags[0].Name != "v1" {
			t.Errorf("tags after latest: %+v", tags)
		}
		refs, _ := metadata.RegistryReferrers(tx, regA, "app", dgS, "")
		if len(refs) != 1 || refs[0].ArtifactType != "application/x-art" {
			t.Errorf("referrers: %+v", refs)
		}
		if refs, _ := metadata.RegistryReferrers(tx, regA, "app", dgS, "application/other"); len(refs) != 0 {
			t.Errorf("filtered referrers: %+v", refs)
		}
		repos, _ := metadata.ListRegistryRepositories(tx, regA, "", -1)
		if !reflect.DeepEqual(repos, []string{"app"}) {
			t.Errorf("repositories: %v", repos)
		}
		n, size, err := metadata.RegistryUsage(tx, regA)
		if err != nil || n != 1 || size != 10+20+19 {
			t.Errorf("usage: %d %d %v", n, size, err)
		}
		return nil
	})

	// GC: dg2 is unreferenced, dg1 is referenced by the manifest.
	upd(func(tx *store.Tx) error {
		n, err := metadata.UnlinkUnreferencedBlobs(tx, time.Now().Add(time.Hour))
		if n != 1 {
			t.Errorf("unlinked %d", n)
		}
		return err
	})
	s.View(ctx, func(tx *store.Tx) error {
		if ok, _ := metadata.BlobLinked(tx, dg2); ok {
			t.Error("dg2 still linked")
		}
		if ok, _ := metadata.BlobLinked(tx, dg1); !ok {
			t.Error("dg1 unlinked")
		}
		return nil
	})

	upd(func(tx *store.Tx) error {
		tags, err := metadata.DeleteRegistryManifest(tx, regA, "app", dgM)
		if err != nil || len(tags) != 3 {
			t.Errorf("delete manifest: %v %v", tags, err)
		}
		wantKind(t, "delete again", errOf(metadata.DeleteRegistryManifest(tx, regA, "app", dgM)), errdefs.ErrNotFound)
		return nil
	})
	upd(func(tx *store.Tx) error {
		n, err := metadata.UnlinkUnreferencedBlobs(tx, time.Now().Add(time.Hour))
		if n != 1 {
			t.Errorf("unlinked %d after the manifest went", n)
		}
		if err != nil {
			return err
		}
		n, err = metadata.DeleteEmptyRegistryRepositories(tx, time.Now().Add(time.Hour))
		if n != 1 {
			t.Errorf("empty repositories removed: %d", n)
		}
		return err
	})
}

func testRegistryUploadsAndDeletion(t *testing.T, open Opener) {
	s := openStore(t, open)
	ctx := context.Background()
	id := "0b7a3c9e-1d2f-4a5b-8c6d-7e8f9a0b1c2d"
	err := s.Update(ctx, func(tx *store.Tx) error {
		if err := metadata.PutRegistryUpload(tx, metadata.Upload{ID: id, Registry: regA, Repository: "app", StartedAt: time.Now().Add(-48 * time.Hour)}); err != nil {
			return err
		}
		wantKind(t, "duplicate upload", metadata.PutRegistryUpload(tx, metadata.Upload{ID: id, Registry: regA, Repository: "app"}), errdefs.ErrAlreadyExists)
		return metadata.LinkBlob(tx, regA, "app", dg1, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *store.Tx) error {
		u, err := metadata.GetRegistryUpload(tx, id)
		if err != nil || u.Repository != "app" || u.Registry != regA {
			t.Errorf("upload: %+v %v", u, err)
		}
		old, _ := metadata.RegistryUploadsStartedBefore(tx, time.Now().Add(-24*time.Hour))
		if len(old) != 1 {
			t.Errorf("old uploads: %+v", old)
		}
		return nil
	})
	err = s.Update(ctx, func(tx *store.Tx) error {
		ids, err := metadata.DeleteRegistryData(tx, regA)
		if len(ids) != 1 || ids[0] != id {
			t.Errorf("uploads of the deleted registry: %v", ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *store.Tx) error {
		wantKind(t, "repository after registry deletion", errOf(metadata.GetRegistryRepository(tx, regA, "app")), errdefs.ErrNotFound)
		wantKind(t, "upload after registry deletion", errOf(metadata.GetRegistryUpload(tx, id)), errdefs.ErrNotFound)
		return nil
	})
}

// The hot-path reads outside a transaction see what a transaction wrote.
func testRegistryLookups(t *testing.T, open Opener) {
	s := openStore(t, open)
	ctx := context.Background()
	id := "5f0c6b1e-8a4d-4e2b-9c3f-1a2b3c4d5e6f"
	update(t, s, func(tx *store.Tx) error {
		if err := metadata.LinkBlob(tx, regA, "lib/app", dg1, 42); err != nil {
			return err
		}
		if _, err := metadata.PutRegistryManifest(tx, metadata.Manifest{Registry: regA, Repository: "lib/app", Digest: dgM,
			MediaType: "application/vnd.oci.image.manifest.v1+json", Body: []byte(`{"schemaVersion":2}`)},
			[]metadata.ManifestRef{{Digest: dg1}}); err != nil {
			return err
		}
		if err := metadata.PutRegistryTag(tx, regA, "lib/app", "Latest", dgM); err != nil {
			return err
		}
		return metadata.PutRegistryUpload(tx, metadata.Upload{ID: id, Registry: regA, Repository: "lib/app"})
	})
	tests := []struct {
		name              string
		ref               string
		byTag, withBody   bool
		wantErr           error
		wantBody, wantNil bool
	}{
		{"tag with body", "Latest", true, true, nil, true, false},
		{"tag without body", "Latest", true, false, nil, false, true},
		{"tags are case-sensitive", "latest", true, false, errdefs.ErrNotFound, false, true},
		{"digest with body", dgM, false, true, nil, true, false},
		{"digest without body", dgM, false, false, nil, false, true},
		{"unknown digest", dg2, false, false, errdefs.ErrNotFound, false, true},
	}
	for _, tc := range tests {
		m, err := metadata.LookupRegistryManifest(ctx, s, regA, "lib/app", tc.ref, tc.byTag, tc.withBody)
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if m.Digest != dgM || m.Size != 19 || m.CreatedAt.IsZero() {
			t.Errorf("%s: %+v", tc.name, m)
		}
		if tc.wantBody && string(m.Body) != `{"schemaVersion":2}` || tc.wantNil && m.Body != nil {
			t.Errorf("%s: body %q", tc.name, m.Body)
		}
	}
	if n, err := metadata.LookupBlobLink(ctx, s, regA, "lib/app", dg1); n != 42 || err != nil {
		t.Errorf("blob link: %d %v", n, err)
	}
	wantKind(t, "blob link of another repository", errOf(metadata.LookupBlobLink(ctx, s, regA, "lib/other", dg1)), errdefs.ErrNotFound)
	if u, err := metadata.LookupRegistryUpload(ctx, s, id); err != nil || u.Repository != "lib/app" || u.StartedAt.IsZero() {
		t.Errorf("upload: %+v %v", u, err)
	}
	wantKind(t, "unknown upload", errOf(metadata.LookupRegistryUpload(ctx, s, "00000000-0000-0000-0000-000000000000")), errdefs.ErrNotFound)
	// Text that PostgreSQL cannot hold (NUL, invalid UTF-8) matches nothing
	// on either engine.
	for _, bad := range []string{"a\x00b", "\xff\xfe"} {
		wantKind(t, "upload "+strconv.Quote(bad), errOf(metadata.LookupRegistryUpload(ctx, s, bad)), errdefs.ErrNotFound)
		wantKind(t, "manifest "+strconv.Quote(bad), errOf(metadata.LookupRegistryManifest(ctx, s, regA, "lib/app", bad, true, false)), errdefs.ErrNotFound)
		wantKind(t, "blob link "+strconv.Quote(bad), errOf(metadata.LookupBlobLink(ctx, s, regA, bad, dg1)), errdefs.ErrNotFound)
		view(t, s, func(tx *store.Tx) error {
			wantKind(t, "principal "+strconv.Quote(bad), errOf(directorydb.PrincipalByUPN(tx, bad)), errdefs.ErrNotFound)
			if ok, err := metadata.RegistryRepositoryExists(ctx, s, regA, bad); ok || err != nil {
				t.Errorf("repository %q exists: %v %v", bad, ok, err)
			}
			missing, err := metadata.MissingBlobLinks(tx, regA, "lib/app", []string{bad, dg1})
			if !reflect.DeepEqual(missing, []string{bad}) || err != nil {
				t.Errorf("missing links: %q %v", missing, err)
			}
			if tags, err := metadata.ListRegistryTags(tx, regA, bad, "", -1); len(tags) != 0 || err != nil {
				t.Errorf("tags of %q: %v %v", bad, tags, err)
			}
			return nil
		})
		update(t, s, func(tx *store.Tx) error {
			wantKind(t, "delete tag "+strconv.Quote(bad), errOf(metadata.DeleteRegistryTag(tx, regA, "lib/app", bad)), errdefs.ErrNotFound)
			wantKind(t, "delete upload "+strconv.Quote(bad), metadata.DeleteRegistryUpload(tx, bad), errdefs.ErrNotFound)
			return nil
		})
	}
	for repo, want := range map[string]bool{"lib/app": true, "lib/other": false} {
		if ok, err := metadata.RegistryRepositoryExists(ctx, s, regA, repo); ok != want || err != nil {
			t.Errorf("repository %s exists: %v %v", repo, ok, err)
		}
	}
	view(t, s, func(tx *store.Tx) error {
		if n, err := metadata.RegistryManifestBlobSize(tx, regA, "lib/app", dgM); n != 42 || err != nil {
			t.Errorf("image size: %d %v", n, err)
		}
		if repos, err := metadata.BlobLinkRepositories(tx, regA, dg1); !reflect.DeepEqual(repos, []string{"lib/app"}) || err != nil {
			t.Errorf("repositories linking dg1: %v %v", repos, err)
		}
		var all []string
		if err := metadata.LinkedBlobDigests(tx, func(d string) { all = append(all, d) }); err != nil || !reflect.DeepEqual(all, []string{dg1}) {
			t.Errorf("linked digests: %v %v", all, err)
		}
		if missing, err := metadata.MissingRegistryManifests(tx, regA, "lib/app", []string{dgM, dg2}); !reflect.DeepEqual(missing, []string{dg2}) || err != nil {
			t.Errorf("missing manifests: %v %v", missing, err)
		}
		if ms, err := metadata.ListRegistryManifests(tx, regA, "lib/app"); len(ms) != 1 || ms[0].Digest != dgM || err != nil {
			t.Errorf("manifests: %+v %v", ms, err)
		}
		if r, err := metadata.GetRegistryRepository(tx, regA, "lib/app"); r.Name != "lib/app" || r.CreatedAt.IsZero() || err != nil {
			t.Errorf("repository: %+v %v", r, err)
		}
		return nil
	})
	update(t, s, func(tx *store.Tx) error {
		if d, err := metadata.DeleteRegistryTag(tx, regA, "lib/app", "Latest"); d != dgM || err != nil {
			t.Errorf("delete tag: %q %v", d, err)
		}
		wantKind(t, "delete tag again", errOf(metadata.DeleteRegistryTag(tx, regA, "lib/app", "Latest")), errdefs.ErrNotFound)
		if err := metadata.UnlinkBlob(tx, regA, "lib/app", dg1); err != nil {
			t.Errorf("unlink: %v", err)
		}
		wantKind(t, "unlink again", metadata.UnlinkBlob(tx, regA, "lib/app", dg1), errdefs.ErrNotFound)
		if err := metadata.DeleteRegistryUpload(tx, id); err != nil {
			t.Errorf("delete upload: %v", err)
		}
		ids, err := metadata.DeleteRegistryRepository(tx, regA, "lib/app")
		if err != nil || len(ids) != 0 {
			t.Errorf("delete repository: %v %v", ids, err)
		}
		wantKind(t, "delete repository again", errOf(metadata.DeleteRegistryRepository(tx, regA, "lib/app")), errdefs.ErrNotFound)
		return nil
	})
}

// Repositories and tags page in byte order (upper case before lower case,
// whatever the database's collation), after the last name given.
func testRegistryPaging(t *testing.T, open Opener) {
	s := openStore(t, open)
	tags := []string{"b", "B", "a", "_x", "a-1", "a.1", "Z9", "z"}
	repos := []string{"b/app", "a", "a-b", "a/b", "a_b", "ab"}
	update(t, s, func(tx *store.Tx) error {
		for _, r := range repos {
			if _, err := metadata.PutRegistryManifest(tx, metadata.Manifest{Registry: regA, Repository: r, Digest: dgM,
				MediaType: "application/vnd.oci.image.manifest.v1+json", Body: []byte(`{}`)}, nil); err != nil {
				return err
			}
		}
		for _, tag := range tags {
			if err := metadata.PutRegistryTag(tx, regA, "a", tag, dgM); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		last string
		n    int
		want []string
	}{
		{"", -1, []string{"B", "Z9", "_x", "a", "a-1", "a.1", "b", "z"}},
		{"", 3, []string{"B", "Z9", "_x"}},
		{"Z9", 2, []string{"_x", "a"}},
		{"a", -1, []string{"a-1", "a.1", "b", "z"}},
		{"z", -1, nil},
	}
	view(t, s, func(tx *store.Tx) error {
		for _, tc := range tests {
			got, err := metadata.ListRegistryTags(tx, regA, "a", tc.last, tc.n)
			if err != nil {
				return err
			}
			var names []string
			for _, g := range got {
				names = append(names, g.Name)
			}
			if !reflect.DeepEqual(names, tc.want) {
				t.Errorf("tags after %q (n=%d): %v, want %v", tc.last, tc.n, names, tc.want)
			}
		}
		got, err := metadata.ListRegistryRepositories(tx, regA, "a", 3)
		if want := []string{"a-b", "a/b", "a_b"}; !reflect.DeepEqual(got, want) || err != nil {
			t.Errorf("repositories after a: %v %v, want %v", got, err, want)
		}
		return nil
	})
}

// Garbage collection's deletion records: a linked blob cannot be marked,
// every start bumps the generation, an end only closes its own
// generation, and a link made after a start is seen by the generation it
// changed.
func testRegistryBlobDeletions(t *testing.T, open Opener) {
	s := openStore(t, open)
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	state := func() metadata.DeletionState {
		t.Helper()
		var d metadata.DeletionState
		view(t, s, func(tx *store.Tx) (err error) { d, err = metadata.BlobDeletion(tx, dg1); return err })
		return d
	}
	start := func(at time.Time) (gen int64, ok bool) {
		t.Helper()
		update(t, s, func(tx *store.Tx) (err error) { gen, ok, err = metadata.StartBlobDeletion(tx, dg1, at); return err })
		return gen, ok
	}
	if d := state(); d != (metadata.DeletionState{}) {
		t.Fatalf("never collected: %+v", d)
	}
	update(t, s, func(tx *store.Tx) error { return metadata.LinkBlob(tx, regA, "app", dg1, 1) })
	if gen, ok := start(t0); ok || gen != 0 {
		t.Fatalf("linked blob marked for deletion: %d %v", gen, ok)
	}
	if d := state(); d.Generation != 0 || d.Deleting {
		t.Fatalf("refused start changed the state: %+v", d)
	}
	update(t, s, func(tx *store.Tx) error { return metadata.UnlinkBlob(tx, regA, "app", dg1) })

	tests := []struct {
		name string
		do   func()
		want metadata.DeletionState
	}{
		{"first start", func() {
			if gen, ok := start(t0); !ok || gen != 1 {
				t.Errorf("start: %d %v", gen, ok)
			}
		}, metadata.DeletionState{Generation: 1, Deleting: true, UpdatedAt: t0}},
		{"its end", func() {
			update(t, s, func(tx *store.Tx) error { return metadata.EndBlobDeletion(tx, dg1, 1, t0.Add(time.Second)) })
		}, metadata.DeletionState{Generation: 1, UpdatedAt: t0.Add(time.Second)}},
		{"second start", func() {
			if gen, ok := start(t0.Add(2 * time.Second)); !ok || gen != 2 {
				t.Errorf("start: %d %v", gen, ok)
			}
		}, metadata.DeletionState{Generation: 2, Deleting: true, UpdatedAt: t0.Add(2 * time.Second)}},
		{"a stale end changes nothing", func() {
			update(t, s, func(tx *store.Tx) error { return metadata.EndBlobDeletion(tx, dg1, 1, t0.Add(3*time.Second)) })
		}, metadata.DeletionState{Generation: 2, Deleting: true, UpdatedAt: t0.Add(2 * time.Second)}},
		{"pruning younger records changes nothing", func() {
			update(t, s, func(tx *store.Tx) error {
				n, err := metadata.PruneBlobDeletions(tx, t0.Add(2*time.Second))
				if n != 0 {
					t.Errorf("pruned %d", n)
				}
				return err
			})
		}, metadata.DeletionState{Generation: 2, Deleting: true, UpdatedAt: t0.Add(2 * time.Second)}},
		{"pruning forgets", func() {
			update(t, s, func(tx *store.Tx) error {
				n, err := metadata.PruneBlobDeletions(tx, t0.Add(time.Hour))
				if n != 1 {
					t.Errorf("pruned %d", n)
				}
				return err
			})
		}, metadata.DeletionState{}},
	}
	for _, tc := range tests {
		tc.do()
		if got := state(); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// Other digests are untouched.
	var other metadata.DeletionState
	view(t, s, func(tx *store.Tx) (err error) { other, err = metadata.BlobDeletion(tx, dg2); return err })
	if other != (metadata.DeletionState{}) {
		t.Errorf("other digest: %+v", other)
	}
}
