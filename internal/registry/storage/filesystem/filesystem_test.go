package filesystem_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

func newDriverAt(t testing.TB, dir string) *filesystem.Driver {
	t.Helper()
	d, err := filesystem.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newDriver(t *testing.T) storage.Driver { return newDriverAt(t, t.TempDir()) }

func TestDriver(t *testing.T)    { storagetest.TestDriver(t, newDriver) }
func TestBlobStore(t *testing.T) { storagetest.TestBlobStore(t, newDriver) }

func TestNew(t *testing.T) {
	base := t.TempDir()
	d := newDriverAt(t, filepath.Join(base, "x", "y"))
	if d.Dir() != filepath.Join(base, "x", "y") {
		t.Fatalf("Dir = %q", d.Dir())
	}
	if fi, err := os.Stat(d.Dir()); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("root: %v, %v", fi, err)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := filesystem.New(file); err == nil {
		t.Fatal("New over a file succeeded")
	}
}

func TestPermissions(t *testing.T) {
	d := newDriverAt(t, t.TempDir())
	storagetest.Write(t, d, "a/b/c", []byte("x"))
	ctx := context.Background()
	if err := d.Move(ctx, "a/b/c", "m/n/o"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		dir  bool
	}{{"a", true}, {"a/b", true}, {"m", true}, {"m/n", true}, {"m/n/o", false}} {
		fi, err := os.Lstat(filepath.Join(d.Dir(), tc.path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() != tc.dir || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v", tc.path, fi.Mode())
		}
	}
}

// Symbolic links planted inside the root cannot lead the driver outside it.
func TestConfinedToRoot(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	os.Mkdir(outside, 0o700)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
	rootDir := filepath.Join(base, "root")
	d := newDriverAt(t, rootDir)
	storagetest.Write(t, d, "ok", []byte("ok"))
	os.Symlink(outside, filepath.Join(rootDir, "abs"))
	os.Symlink("../outside", filepath.Join(rootDir, "rel"))
	ctx := context.Background()

	for _, link := range []string{"abs", "rel"} {
		ops := map[string]func() error{
			"Writer":     func() error { w, err := d.Writer(ctx, link+"/planted", false); closeW(w); return err },
			"WriterDeep": func() error { w, err := d.Writer(ctx, link+"/deep/planted", false); closeW(w); return err },
			"Resume":     func() error { w, err := d.Writer(ctx, link+"/secret", true); closeW(w); return err },
			"Reader":     func() error { r, err := d.Reader(ctx, link+"/secret", 0); closeR(r); return err },
			"OpenSeeker": func() error { r, _, err := d.OpenSeeker(ctx, link+"/secret"); closeR(r); return err },
			"Stat":       func() error { _, err := d.Stat(ctx, link+"/secret"); return err },
			"List":       func() error { _, err := d.List(ctx, link); return err },
			"Walk":       func() error { return d.Walk(ctx, link, func(storage.FileInfo) error { return nil }) },
			"Delete":     func() error { return d.Delete(ctx, link+"/secret") },
			"MoveOut":    func() error { return d.Move(ctx, link+"/secret", "stolen") },
			"MoveIn":     func() error { return d.Move(ctx, "ok", link+"/planted") },
			"MoveInDeep": func() error { return d.Move(ctx, "ok", link+"/deep/planted") },
		}
		for name, op := range ops {
			if err := op(); err == nil {
				t.Errorf("%s through %s succeeded", name, link)
			}
		}
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 || entries[0].Name() != "secret" {
		t.Fatalf("outside now holds %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Fatalf("secret = %q", b)
	}
	if _, err := d.Stat(ctx, "stolen"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stolen: %v", err)
	}
}

func closeW(w storage.FileWriter) {
	if w != nil {
		w.Cancel()
	}
}

func closeR(r io.Closer) {
	if r != nil {
		r.Close()
	}
}

// BlobStore.Open must hand out the *os.File itself: net/http only uses
// sendfile(2) for an *os.File (possibly inside an io.LimitedReader).
func TestOpenReturnsOSFile(t *testing.T) {
	d := newDriverAt(t, t.TempDir())
	bs := storage.NewBlobStore(d)
	data := storagetest.RandomBytes(1, 1000)
	dg := storagetest.Digest("sha256", data)
	if _, err := bs.Put(context.Background(), dg, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, desc, err := bs.Open(context.Background(), dg)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.(*os.File); !ok {
		t.Fatalf("Open returned %T, want *os.File", rc)
	}
	if desc.Size != 1000 {
		t.Fatalf("Descriptor = %+v", desc)
	}
	r, err := d.Reader(context.Background(), "blobs/sha256/"+dg[7:9]+"/"+dg[7:]+"/data", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.(*os.File); !ok {
		t.Fatalf("Reader returned %T, want *os.File", r)
	}
}

// Only blobs/ and uploads/ are ever written, and a finished Put leaves just
// the blob.
func TestLayout(t *testing.T) {
	d := newDriverAt(t, t.TempDir())
	bs := storage.NewBlobStore(d)
	data := []byte("layout")
	dg := storagetest.Digest("sha256", data)
	if _, err := bs.Put(context.Background(), dg, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(d.Dir(), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(d.Dir(), p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{"blobs/sha256/" + dg[7:9] + "/" + dg[7:] + "/data"}
	if !slices.Equal(files, want) {
		t.Fatalf("files = %q, want %q", files, want)
	}
}

// TestLargeWrites: a FileWriter splits a write into pieces of 64 KiB for
// the kernel; whatever the sizes of the writes, and across the writeback
// window, the file holds every byte in order and Size counts them.
func TestLargeWrites(t *testing.T) {
	const piece = 64 << 10
	for _, tc := range []struct {
		name   string
		writes []int
	}{
		{"empty write", []int{0}},
		{"below a piece", []int{piece - 1}},
		{"one piece", []int{piece}},
		{"a piece and a byte", []int{piece + 1}},
		{"1 MiB chunks past the writeback window", []int{1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 3}},
		{"one write past the writeback window", []int{9<<20 + 5}},
		{"mixed", []int{7, 3*piece + 5, 1, piece}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriverAt(t, t.TempDir())
			ctx := context.Background()
			w, err := d.Writer(ctx, "f", false)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for i, n := range tc.writes {
				b := make([]byte, n)
				for j := range b {
					b[j] = byte(i*31 + j*7 + j>>16)
				}
				got, err := w.Write(b)
				if err != nil || got != n {
					t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
				}
				want = append(want, b...)
				if w.Size() != int64(len(want)) {
					t.Fatalf("Size = %d after %d bytes", w.Size(), len(want))
				}
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(d.Dir(), "f"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("the file holds %d bytes that differ from the %d written", len(got), len(want))
			}
		})
	}
}
