package azureblob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob/azuritetest"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

// One Azurite for the package's tests; every driver gets its own container.
var (
	azurite    *azuritetest.Server
	azuriteErr error
)

func TestMain(m *testing.M) {
	// A crash test's child uses its parent's Azurite (and is killed, so it
	// must not make a directory it would leave behind).
	dir := ""
	if os.Getenv(azuritetest.EnvURL) == "" {
		var err error
		if dir, err = os.MkdirTemp("", "drydock-azurite-"); err != nil {
			panic(err)
		}
	}
	var stop func()
	azurite, stop, azuriteErr = azuritetest.Run(dir)
	code := m.Run()
	if stop != nil {
		stop()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func server(t testing.TB) *azuritetest.Server {
	t.Helper()
	if azuriteErr != nil {
		azuritetest.Unavailable(t, azuriteErr)
	}
	return azurite
}

// Small blocks, so that the suite's few-MiB blobs span several blocks and
// staging runs concurrently.
func newDriver(t *testing.T) storage.Driver {
	return server(t).NewDriver(t, azureblob.Options{BlockSize: 1 << 20, Concurrency: 3})
}

func TestDriver(t *testing.T)    { storagetest.TestDriver(t, newDriver) }
func TestBlobStore(t *testing.T) { storagetest.TestBlobStore(t, newDriver) }

// The suite again with every Move copied block by block (Put Block From
// URL and Put Block List), the path of blobs over 256 MiB.
func newBlockCopyDriver(t *testing.T) storage.Driver {
	return server(t).NewDriver(t, azureblob.Options{BlockSize: 1 << 20, Concurrency: 3, SyncCopyMax: -1})
}

func TestDriverBlockCopy(t *testing.T)    { storagetest.TestDriver(t, newBlockCopyDriver) }
func TestBlobStoreBlockCopy(t *testing.T) { storagetest.TestBlobStore(t, newBlockCopyDriver) }

// With a prefix, two drivers share a container without seeing each
// other's keys.
func TestPrefix(t *testing.T) {
	s := server(t)
	ctr := azuritetest.NewContainerName()
	a := s.Open(t, azureblob.Options{Container: ctr, Prefix: "a/"})
	b := s.Open(t, azureblob.Options{Container: ctr, Prefix: "b/"})
	storagetest.Write(t, a, "x/y", []byte("a"))
	storagetest.Write(t, b, "x/z", []byte("b"))
	ctx := context.Background()
	if got, err := a.List(ctx, ""); err != nil || strings.Join(got, ",") != "x" {
		t.Fatalf("a.List(root) = %q, %v", got, err)
	}
	if got, err := a.List(ctx, "x"); err != nil || strings.Join(got, ",") != "x/y" {
		t.Fatalf("a.List(x) = %q, %v", got, err)
	}
	if _, err := b.Stat(ctx, "x/y"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("b sees a's key: %v", err)
	}
}

// A chunked upload started through one driver (one replica) is continued
// and committed through another on the same container, as two drydock
// replicas sharing a storage account do.
func TestUploadAcrossInstances(t *testing.T) {
	s := server(t)
	ctr := azuritetest.NewContainerName()
	one := storage.NewBlobStore(s.Open(t, azureblob.Options{Container: ctr}))
	two := storage.NewBlobStore(s.Open(t, azureblob.Options{Container: ctr}))
	ctx := context.Background()
	data := storagetest.RandomBytes(77, 9<<20+123)
	dg := storagetest.Digest("sha256", data)

	id, err := one.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Append(ctx, id, 0, bytes.NewReader(data[:5<<20+1])); err != nil {
		t.Fatal(err)
	}
	// The other replica knows the upload and its size.
	n, err := two.UploadSize(ctx, id)
	if err != nil || n != 5<<20+1 {
		t.Fatalf("UploadSize on the second instance = %d, %v", n, err)
	}
	if _, err := two.Append(ctx, id, 0, strings.NewReader("x")); !errors.Is(err, storage.ErrRangeInvalid) {
		t.Fatalf("Append at a wrong offset on the second instance: %v", err)
	}
	if _, err := two.Append(ctx, id, n, bytes.NewReader(data[n:8<<20])); err != nil {
		t.Fatal(err)
	}
	// Back on the first for a chunk, and committed on the second with the
	// final chunk.
	if _, err := one.Append(ctx, id, 8<<20, bytes.NewReader(data[8<<20:9<<20])); err != nil {
		t.Fatal(err)
	}
	if _, err := two.Stat(ctx, dg); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("blob visible before Commit: %v", err)
	}
	desc, err := two.Commit(ctx, id, dg, bytes.NewReader(data[9<<20:]))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Size != int64(len(data)) {
		t.Fatalf("Commit = %+v", desc)
	}
	for name, bs := range map[string]*storage.BlobStore{"one": one, "two": two} {
		rc, _, err := bs.Open(ctx, dg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s reads %d bytes (%v), not the blob", name, len(got), err)
		}
	}
	if _, err := one.UploadSize(ctx, id); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Fatalf("upload still known after Commit: %v", err)
	}
}

// Two writers appending to one file from two drivers: the one that commits
// second fails rather than dropping the first one's bytes.
func TestConcurrentResumeConflict(t *testing.T) {
	s := server(t)
	ctr := azuritetest.NewContainerName()
	a := s.Open(t, azureblob.Options{Container: ctr})
	b := s.Open(t, azureblob.Options{Container: ctr})
	ctx := context.Background()
	storagetest.Write(t, a, "up/data", []byte("base-"))
	wa, err := a.Writer(ctx, "up/data", true)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := b.Writer(ctx, "up/data", true)
	if err != nil {
		t.Fatal(err)
	}
	wa.Write([]byte("first"))
	wb.Write([]byte("second"))
	if err := wa.Commit(); err != nil {
		t.Fatal(err)
	}
	wa.Close()
	if err := wb.Commit(); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("the second writer's commit over the first one's: %v, want a conflict", err)
	}
	wb.Close()
	if got := storagetest.Read(t, a, "up/data"); string(got) != "base-first" {
		t.Fatalf("content = %q", got)
	}
}

// Staged blocks are not content: a writer that has not committed leaves
// the key as it was, and a new file does not exist before its commit.
func TestStagedBlocksInvisible(t *testing.T) {
	d := server(t).NewDriver(t, azureblob.Options{BlockSize: 1 << 10})
	ctx := context.Background()
	w, err := d.Writer(ctx, "f", false)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(storagetest.RandomBytes(1, 10_000)) // ten blocks staged
	if _, err := d.Stat(ctx, "f"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat before commit: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if fi, err := d.Stat(ctx, "f"); err != nil || fi.Size != 10_000 {
		t.Fatalf("Stat after commit = %+v, %v", fi, err)
	}
}

func TestNewErrors(t *testing.T) {
	s := server(t)
	ctx := context.Background()
	for _, o := range []azureblob.Options{
		{AccountURL: s.AccountURL, AccountName: azuritetest.Account, AccountKey: azuritetest.Key}, // no container
		{Container: "c"}, // no credential
		{AccountURL: s.AccountURL, AccountName: azuritetest.Account, Container: "c"},                                 // no key
		{AccountURL: s.AccountURL, AccountName: azuritetest.Account, AccountKey: "bm90IHRoZSBrZXk=", Container: "c"}, // wrong key
		{ConnectionString: "BlobEndpoint=" + s.AccountURL + ";SharedAccessSignature=sv=x", Container: "c"},
		{AccountURL: s.AccountURL, AccountName: azuritetest.Account, AccountKey: azuritetest.Key, Container: "c", Prefix: "noslash"},
		{AccountURL: s.AccountURL, AccountName: azuritetest.Account, AccountKey: azuritetest.Key, Container: "c", Prefix: "../up/"}, // no key to sign with
	} {
		if _, err := azureblob.New(ctx, o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", azuritetest.Account, azuritetest.Key, s.AccountURL)
	d, err := azureblob.New(ctx, azureblob.Options{ConnectionString: cs, Container: azuritetest.NewContainerName()})
	if err != nil {
		t.Fatalf("New with a connection string: %v", err)
	}
	storagetest.Write(t, d, "k", []byte("v"))
}

// A file that Move put in place (a service-side copy) can be appended to,
// on both copy paths.
func TestResumeAfterMove(t *testing.T) {
	for _, syncMax := range []int64{0, -1} {
		d := server(t).NewDriver(t, azureblob.Options{SyncCopyMax: syncMax})
		ctx := context.Background()
		storagetest.Write(t, d, "a", []byte("moved-"))
		if err := d.Move(ctx, "a", "b"); err != nil {
			t.Fatal(err)
		}
		w, err := d.Writer(ctx, "b", true)
		if err != nil {
			t.Fatalf("SyncCopyMax %d: Writer(resume) of a moved file: %v", syncMax, err)
		}
		if w.Size() != 6 {
			t.Fatalf("Size = %d", w.Size())
		}
		w.Write([]byte("then appended"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if got := storagetest.Read(t, d, "b"); string(got) != "moved-then appended" {
			t.Fatalf("content = %q", got)
		}
	}
}
