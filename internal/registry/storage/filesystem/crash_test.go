package filesystem_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

// The crash tests (see storagetest.RunCrashChild) kill a child in the
// middle of writing a blob to a root, then open the same root in a fresh
// BlobStore, as a restarted registry would.

const (
	crashEnvRoot = "DRYDOCK_STORAGE_CRASH_ROOT"
	crashEnvMode = "DRYDOCK_STORAGE_CRASH_MODE"
)

// partialUpload reports whether an upload under root holds more bytes than
// a completed first chunk.
func partialUpload(root string) bool {
	files, _ := filepath.Glob(filepath.Join(root, "uploads", "*", "data"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > storagetest.CrashChunk1 {
			return true
		}
	}
	return false
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashEnvRoot)
	if root == "" {
		t.Skip("only run as the child of a crash test")
	}
	d, err := filesystem.New(root)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.CrashChild(t, storage.NewBlobStore(d), os.Getenv(crashEnvMode), filepath.Join(filepath.Dir(root), "id"),
		func(data []byte) io.Reader {
			// Once part of the upload is on disk (the store writes behind
			// its reads), or after 10s.
			deadline := time.Now().Add(10 * time.Second)
			return storagetest.Killer(data, func() bool { return partialUpload(root) || time.Now().After(deadline) })
		})
}

func TestCrashDuringPut(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	storagetest.RunCrashChild(t, crashEnvRoot+"="+root, crashEnvMode+"=put")

	d := newDriverAt(t, root)
	bs := storage.NewBlobStore(d)
	ctx := context.Background()

	// The child did get to write part of the blob ...
	ups, err := d.List(ctx, "uploads")
	if err != nil || len(ups) != 1 {
		t.Fatalf("uploads after the crash = %q, %v", ups, err)
	}
	fi, err := d.Stat(ctx, ups[0]+"/data")
	if err != nil || fi.Size == 0 || fi.Size >= storagetest.CrashBlob {
		t.Fatalf("partial upload = %+v, %v", fi, err)
	}
	// ... but nothing of it is under blobs/.
	if _, err := d.Stat(ctx, "blobs"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("blobs/ exists after the crash: %v", err)
	}

	// The leftover is recent: not purged until it is old enough.
	if n, err := bs.PurgeUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("PurgeUploads(an hour ago) = %d, %v", n, err)
	}
	if n, err := bs.PurgeUploads(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("PurgeUploads(now) = %d, %v; want 1", n, err)
	}
	if ups, _ := d.List(ctx, "uploads"); len(ups) != 0 {
		t.Fatalf("uploads after PurgeUploads = %q", ups)
	}
	// No client sees the blob, and it can be pushed again.
	storagetest.CheckCrashedPut(t, bs)
}

func TestCrashDuringAppend(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	storagetest.RunCrashChild(t, crashEnvRoot+"="+root, crashEnvMode+"=chunked")
	idb, err := os.ReadFile(filepath.Join(dir, "id"))
	if err != nil {
		t.Fatal(err)
	}
	bs := storage.NewBlobStore(newDriverAt(t, root))

	// The first Append was acknowledged, so it must have survived; the
	// second was cut short, and whatever part of it is in the file is
	// reported (the saved hash state, which predates it, is not trusted).
	n, err := bs.UploadSize(context.Background(), string(idb))
	if err != nil {
		t.Fatal(err)
	}
	if n < storagetest.CrashChunk1 || n > storagetest.CrashChunk1+storagetest.CrashAfter {
		t.Fatalf("UploadSize after the crash = %d", n)
	}
	// The client resumes from the reported offset.
	storagetest.ResumeCrashedUpload(t, bs, string(idb), n)
}
