package filesystem_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

// The crash tests run a child process (this test binary, re-executed) that
// kills itself with SIGKILL in the middle of writing a blob, then open the
// same root in a fresh BlobStore, as a restarted registry would.

const (
	crashEnvRoot = "DRYDOCK_STORAGE_CRASH_ROOT"
	crashEnvMode = "DRYDOCK_STORAGE_CRASH_MODE"
	crashBlob    = 6<<20 + 123 // bytes
	crashAfter   = 3<<20 + 7   // the child dies after reading this many
	crashChunk1  = 1<<20 + 3   // the chunked child's first, completed Append
)

func crashData() []byte { return storagetest.RandomBytes(42, crashBlob) }

// killer yields data and kills its own process once it has handed out n
// bytes, in the middle of a Put or Append — once part of the upload is on
// disk (the store writes behind its reads), so that there is a partial
// upload for the parent to find.
type killer struct {
	data []byte
	n    int
	root string
}

func (k *killer) Read(p []byte) (int, error) {
	if k.n <= 0 {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if partialUpload(k.root) {
				break
			}
		}
		p, _ := os.FindProcess(os.Getpid())
		p.Kill()
		time.Sleep(time.Minute) // the kill is asynchronous
	}
	m := copy(p, k.data[:min(len(p), k.n, len(k.data))])
	k.data, k.n = k.data[m:], k.n-m
	return m, nil
}

// partialUpload reports whether an upload under root holds more bytes than
// a completed first chunk.
func partialUpload(root string) bool {
	files, _ := filepath.Glob(filepath.Join(root, "uploads", "*", "data"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > crashChunk1 {
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
	bs := storage.NewBlobStore(d)
	ctx := context.Background()
	data := crashData()
	switch os.Getenv(crashEnvMode) {
	case "put":
		bs.Put(ctx, storagetest.Digest("sha256", data), &killer{data: data, n: crashAfter, root: root})
	case "chunked":
		id, err := bs.StartUpload(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bs.Append(ctx, id, 0, bytes.NewReader(data[:crashChunk1])); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(root), "id"), []byte(id), 0o600); err != nil {
			t.Fatal(err)
		}
		bs.Append(ctx, id, crashChunk1, &killer{data: data[crashChunk1:], n: crashAfter, root: root})
	}
	t.Fatal("still alive")
}

// runCrashChild runs the child in mode against root and checks that it died
// of the kill.
func runCrashChild(t *testing.T, mode, root string) {
	t.Helper()
	if testing.Short() {
		t.Skip("crash test runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvRoot+"="+root, crashEnvMode+"="+mode)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Exited() {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "FAIL") {
		t.Fatalf("child failed:\n%s", out)
	}
}

func TestCrashDuringPut(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	runCrashChild(t, "put", root)

	d := newDriverAt(t, root)
	bs := storage.NewBlobStore(d)
	ctx := context.Background()
	data := crashData()
	dg := storagetest.Digest("sha256", data)

	// The child did get to write part of the blob ...
	ups, err := d.List(ctx, "uploads")
	if err != nil || len(ups) != 1 {
		t.Fatalf("uploads after the crash = %q, %v", ups, err)
	}
	fi, err := d.Stat(ctx, ups[0]+"/data")
	if err != nil || fi.Size == 0 || fi.Size >= crashBlob {
		t.Fatalf("partial upload = %+v, %v", fi, err)
	}
	// ... but no client can see it.
	if _, err := bs.Stat(ctx, dg); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("Stat after the crash: %v", err)
	}
	if _, _, err := bs.Open(ctx, dg); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("Open after the crash: %v", err)
	}
	if err := bs.Walk(ctx, func(desc storage.Descriptor, _ time.Time) error {
		return errors.New("found blob " + desc.Digest)
	}); err != nil {
		t.Fatal(err)
	}
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
	// And the blob can be pushed again.
	if _, err := bs.Put(ctx, dg, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func TestCrashDuringAppend(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	runCrashChild(t, "chunked", root)
	idb, err := os.ReadFile(filepath.Join(dir, "id"))
	if err != nil {
		t.Fatal(err)
	}
	id := string(idb)

	d := newDriverAt(t, root)
	bs := storage.NewBlobStore(d)
	ctx := context.Background()
	data := crashData()
	dg := storagetest.Digest("sha256", data)

	// The first Append was acknowledged, so it must have survived; the
	// second was cut short, and whatever part of it is in the file is
	// reported (the saved hash state, which predates it, is not trusted).
	n, err := bs.UploadSize(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n < crashChunk1 || n > crashChunk1+crashAfter {
		t.Fatalf("UploadSize after the crash = %d", n)
	}
	if _, err := bs.Stat(ctx, dg); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("Stat after the crash: %v", err)
	}
	// The client resumes from the reported offset.
	if _, err := bs.Append(ctx, id, 0, strings.NewReader("x")); !errors.Is(err, storage.ErrRangeInvalid) {
		t.Fatalf("Append at 0: %v", err)
	}
	if _, err := bs.Append(ctx, id, n, bytes.NewReader(data[n:])); err != nil {
		t.Fatal(err)
	}
	desc, err := bs.Commit(ctx, id, dg, nil)
	if err != nil {
		t.Fatalf("Commit after resuming: %v", err)
	}
	if desc.Size != crashBlob {
		t.Fatalf("Commit = %+v", desc)
	}
	rc, _, err := bs.Open(ctx, dg)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("blob differs")
	}
}
