// Package storagetest is the conformance suite for storage drivers and for
// BlobStore on top of them. Every driver runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storagetest.TestDriver(t, newDriver)
//		storagetest.TestBlobStore(t, newDriver)
//	}
//
// newDriver must return a fresh, empty driver each time it is called; the
// suite runs subtests in parallel where the driver is not shared.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
)

// NewDriverFunc makes a fresh, empty driver for one test.
type NewDriverFunc func(t *testing.T) storage.Driver

// RandomBytes returns n deterministic pseudo-random bytes for seed.
func RandomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Write stores data at p with a fresh writer, committed and closed.
func Write(t testing.TB, d storage.Driver, p string, data []byte) {
	t.Helper()
	w, err := d.Writer(context.Background(), p, false)
	if err != nil {
		t.Fatalf("Writer(%q): %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", p, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", p, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q): %v", p, err)
	}
}

// Read returns everything at p.
func Read(t testing.TB, d storage.Driver, p string) []byte {
	t.Helper()
	rc, err := d.Reader(context.Background(), p, 0)
	if err != nil {
		t.Fatalf("Reader(%q): %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", p, err)
	}
	return b
}

func wantNotFound(t *testing.T, what string, err error, p string) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("%s: err = %v, want ErrNotFound", what, err)
	}
	var pe storage.PathNotFoundError
	if !errors.As(err, &pe) || pe.Path != p {
		t.Fatalf("%s: err = %#v, want PathNotFoundError{Path: %q}", what, err, p)
	}
}

func list(t *testing.T, d storage.Driver, dir string) []string {
	t.Helper()
	got, err := d.List(context.Background(), dir)
	if err != nil {
		t.Fatalf("List(%q): %v", dir, err)
	}
	return got
}

type walked struct {
	Path  string
	IsDir bool
	Size  int64
}

func walkAll(t *testing.T, d storage.Driver, dir string) []walked {
	t.Helper()
	var got []walked
	err := d.Walk(context.Background(), dir, func(fi storage.FileInfo) error {
		got = append(got, walked{fi.Path, fi.IsDir, fi.Size})
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%q): %v", dir, err)
	}
	return got
}

// TestDriver checks every method of the storage.Driver contract.
func TestDriver(t *testing.T, newDriver NewDriverFunc) {
	ctx := context.Background()

	t.Run("InvalidPaths", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		Write(t, d, "ok/file", []byte("x"))
		bad := []string{"", "/abs", "/", "a//b", "a/", "a/../b", "..", ".", "a/./b", "../escape", "a/..", "a\\b", "a\x00b"}
		for _, p := range bad {
			ops := map[string]func() error{
				"Writer":       func() error { _, err := d.Writer(ctx, p, false); return err },
				"WriterResume": func() error { _, err := d.Writer(ctx, p, true); return err },
				"Reader":       func() error { _, err := d.Reader(ctx, p, 0); return err },
				"Stat":         func() error { _, err := d.Stat(ctx, p); return err },
				"Delete":       func() error { return d.Delete(ctx, p) },
				"MoveSrc":      func() error { return d.Move(ctx, p, "ok/other") },
				"MoveDst":      func() error { return d.Move(ctx, "ok/file", p) },
			}
			if p != "" { // "" is the root for List and Walk
				ops["List"] = func() error { _, err := d.List(ctx, p); return err }
				ops["Walk"] = func() error { return d.Walk(ctx, p, func(storage.FileInfo) error { return nil }) }
			}
			if s, ok := d.(storage.Seeker); ok {
				ops["OpenSeeker"] = func() error { _, _, err := s.OpenSeeker(ctx, p); return err }
			}
			for name, op := range ops {
				if err := op(); !errors.Is(err, storage.ErrInvalidPath) {
					t.Errorf("%s(%q): err = %v, want ErrInvalidPath", name, p, err)
				}
			}
		}
		if got := Read(t, d, "ok/file"); string(got) != "x" {
			t.Fatalf("ok/file = %q after invalid operations", got)
		}
	})

	t.Run("WriteReadStat", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		before := time.Now().Add(-2 * time.Second)
		data := RandomBytes(1, 100_000)
		w, err := d.Writer(ctx, "a/b/c/file", false)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(data); i += 999 {
			n, err := w.Write(data[i:min(i+999, len(data))])
			if err != nil || n != min(999, len(data)-i) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if w.Size() != int64(min(i+999, len(data))) {
				t.Fatalf("Size = %d after %d bytes", w.Size(), min(i+999, len(data)))
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := Read(t, d, "a/b/c/file"); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
		}
		fi, err := d.Stat(ctx, "a/b/c/file")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Path != "a/b/c/file" || fi.Size != int64(len(data)) || fi.IsDir || fi.ModTime.Before(before) || fi.ModTime.After(time.Now().Add(2*time.Second)) {
			t.Fatalf("Stat = %+v", fi)
		}
		for _, dir := range []string{"a", "a/b", "a/b/c"} {
			fi, err := d.Stat(ctx, dir)
			if err != nil || !fi.IsDir || fi.Path != dir {
				t.Fatalf("Stat(%q) = %+v, %v; want a directory", dir, fi, err)
			}
		}
		Write(t, d, "empty", nil)
		if fi, err := d.Stat(ctx, "empty"); err != nil || fi.Size != 0 || fi.IsDir {
			t.Fatalf("Stat(empty) = %+v, %v", fi, err)
		}
		if got := Read(t, d, "empty"); len(got) != 0 {
			t.Fatalf("empty file reads %d bytes", len(got))
		}
	})

	t.Run("ReaderOffsets", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		data := RandomBytes(2, 5000)
		Write(t, d, "f", data)
		for _, tc := range []struct {
			offset  int64
			wantErr error
		}{
			{0, nil}, {1, nil}, {2500, nil}, {4999, nil}, {5000, nil},
			{5001, storage.ErrInvalidOffset}, {-1, storage.ErrInvalidOffset}, {1 << 40, storage.ErrInvalidOffset},
		} {
			rc, err := d.Reader(ctx, "f", tc.offset)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Reader(offset %d): err = %v, want %v", tc.offset, err, tc.wantErr)
				}
				if rc != nil {
					rc.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("Reader(offset %d): %v", tc.offset, err)
				continue
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data[tc.offset:]) {
				t.Errorf("Reader(offset %d) read %d bytes (%v), want %d", tc.offset, len(got), err, len(data)-int(tc.offset))
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		Write(t, d, "dir/file", []byte("x"))
		for _, p := range []string{"missing", "dir/missing", "missing/deeper/file", "dir/file/below"} {
			_, err := d.Reader(ctx, p, 0)
			wantNotFound(t, "Reader("+p+")", err, p)
			_, err = d.Stat(ctx, p)
			wantNotFound(t, "Stat("+p+")", err, p)
			wantNotFound(t, "Delete("+p+")", d.Delete(ctx, p), p)
			wantNotFound(t, "Move("+p+")", d.Move(ctx, p, "elsewhere"), p)
			_, err = d.Writer(ctx, p, true)
			wantNotFound(t, "Writer(resume, "+p+")", err, p)
			_, err = d.List(ctx, p)
			wantNotFound(t, "List("+p+")", err, p)
			wantNotFound(t, "Walk("+p+")", d.Walk(ctx, p, func(storage.FileInfo) error { return nil }), p)
			if s, ok := d.(storage.Seeker); ok {
				_, _, err := s.OpenSeeker(ctx, p)
				wantNotFound(t, "OpenSeeker("+p+")", err, p)
			}
		}
		// A directory is not a file to read, nor is a file a directory to list.
		if _, err := d.Reader(ctx, "dir", 0); err == nil {
			t.Error("Reader(dir) succeeded")
		}
		_, err := d.List(ctx, "dir/file")
		wantNotFound(t, "List(file)", err, "dir/file")
		wantNotFound(t, "Walk(file)", d.Walk(ctx, "dir/file", func(storage.FileInfo) error { return nil }), "dir/file")
		if _, err := d.Stat(ctx, "elsewhere"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a failed Move created its destination: %v", err)
		}
	})

	t.Run("WriterResume", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		w, err := d.Writer(ctx, "up/data", false)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("abc"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w, err = d.Writer(ctx, "up/data", true)
		if err != nil {
			t.Fatal(err)
		}
		if w.Size() != 3 {
			t.Fatalf("resumed Size = %d, want 3", w.Size())
		}
		w.Write([]byte("defg"))
		if w.Size() != 7 {
			t.Fatalf("Size = %d, want 7", w.Size())
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := Read(t, d, "up/data"); string(got) != "abcdefg" {
			t.Fatalf("content = %q", got)
		}
		// Resuming without writing changes nothing.
		w, err = d.Writer(ctx, "up/data", true)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if got := Read(t, d, "up/data"); string(got) != "abcdefg" {
			t.Fatalf("content = %q", got)
		}
	})

	t.Run("WriterReplaces", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		Write(t, d, "f", []byte("a long first version"))
		w, err := d.Writer(ctx, "f", false)
		if err != nil {
			t.Fatal(err)
		}
		if w.Size() != 0 {
			t.Fatalf("fresh writer Size = %d", w.Size())
		}
		w.Write([]byte("short"))
		w.Commit()
		w.Close()
		if got := Read(t, d, "f"); string(got) != "short" {
			t.Fatalf("content = %q, want %q", got, "short")
		}
	})

	t.Run("WriterCancel", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		for _, commit := range []bool{false, true} {
			p := fmt.Sprintf("cancel/%v", commit)
			w, err := d.Writer(ctx, p, false)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("doomed"))
			if commit {
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Cancel(); err != nil {
				t.Fatalf("Cancel: %v", err)
			}
			_, err = d.Stat(ctx, p)
			wantNotFound(t, "Stat after Cancel", err, p)
		}
	})

	t.Run("WriterStates", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		w, _ := d.Writer(ctx, "s1", false)
		w.Write([]byte("x"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("y")); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Write after Commit: %v", err)
		}
		if err := w.Commit(); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Commit after Commit: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("Close after Commit: %v", err)
		}
		if err := w.Close(); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Close after Close: %v", err)
		}
		if _, err := w.Write([]byte("y")); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		if err := w.Commit(); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Commit after Close: %v", err)
		}
		if err := w.Cancel(); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Cancel after Close: %v", err)
		}
		if got := Read(t, d, "s1"); string(got) != "x" {
			t.Errorf("content = %q", got)
		}
		w, _ = d.Writer(ctx, "s2", false)
		w.Cancel()
		if _, err := w.Write([]byte("y")); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Write after Cancel: %v", err)
		}
		if err := w.Close(); !errors.Is(err, storage.ErrWriterClosed) {
			t.Errorf("Close after Cancel: %v", err)
		}
	})

	t.Run("Move", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		Write(t, d, "src/one", []byte("one"))
		if err := d.Move(ctx, "src/one", "deep/er/dst/one"); err != nil {
			t.Fatal(err)
		}
		if got := Read(t, d, "deep/er/dst/one"); string(got) != "one" {
			t.Fatalf("moved content = %q", got)
		}
		_, err := d.Stat(ctx, "src/one")
		wantNotFound(t, "Stat(moved source)", err, "src/one")

		// Replace an existing file.
		Write(t, d, "src/two", []byte("two"))
		if err := d.Move(ctx, "src/two", "deep/er/dst/one"); err != nil {
			t.Fatalf("Move onto an existing file: %v", err)
		}
		if got := Read(t, d, "deep/er/dst/one"); string(got) != "two" {
			t.Fatalf("replaced content = %q", got)
		}
		// A whole directory.
		Write(t, d, "tree/a", []byte("a"))
		Write(t, d, "tree/sub/b", []byte("b"))
		if err := d.Move(ctx, "tree", "moved/tree"); err != nil {
			t.Fatalf("Move(directory): %v", err)
		}
		if got := walkAll(t, d, "moved"); !slices.Equal(got, []walked{{"moved/tree", true, 0}, {"moved/tree/a", false, 1}, {"moved/tree/sub", true, 0}, {"moved/tree/sub/b", false, 1}}) {
			t.Fatalf("moved tree = %+v", got)
		}
		if _, err := d.Stat(ctx, "tree"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat(moved tree) = %v", err)
		}
		// A file cannot replace a directory, nor go below a file.
		Write(t, d, "f", []byte("f"))
		if err := d.Move(ctx, "f", "moved/tree"); err == nil {
			t.Error("Move of a file onto a directory succeeded")
		}
		if err := d.Move(ctx, "f", "deep/er/dst/one/below"); err == nil {
			t.Error("Move below a file succeeded")
		}
		if got := Read(t, d, "f"); string(got) != "f" {
			t.Errorf("failed Moves changed their source: %q", got)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		Write(t, d, "a/b", []byte("1"))
		Write(t, d, "a/bc", []byte("2"))
		Write(t, d, "a/b.d", []byte("3"))
		Write(t, d, "t/x/y/z", []byte("4"))
		Write(t, d, "t/x/w", []byte("5"))
		Write(t, d, "tx", []byte("6"))
		if err := d.Delete(ctx, "a/b"); err != nil {
			t.Fatal(err)
		}
		if got := list(t, d, "a"); !slices.Equal(got, []string{"a/b.d", "a/bc"}) {
			t.Fatalf("after Delete(a/b): %q", got)
		}
		if err := d.Delete(ctx, "t/x"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"t/x", "t/x/y/z", "t/x/w"} {
			if _, err := d.Stat(ctx, p); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Stat(%s) after deleting its tree: %v", p, err)
			}
		}
		if got := Read(t, d, "tx"); string(got) != "6" {
			t.Fatalf("Delete(t/x) touched tx: %q", got)
		}
		wantNotFound(t, "Delete twice", d.Delete(ctx, "a/b"), "a/b")
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		for _, p := range []string{"r/c", "r/a", "r/b/x", "r/b/y/z", "r/a.b", "top"} {
			Write(t, d, p, []byte(p))
		}
		for _, tc := range []struct {
			dir  string
			want []string
		}{
			{"r", []string{"r/a", "r/a.b", "r/b", "r/c"}},
			{"r/b", []string{"r/b/x", "r/b/y"}},
			{"r/b/y", []string{"r/b/y/z"}},
			{"", []string{"r", "top"}},
		} {
			if got := list(t, d, tc.dir); !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q, want %q", tc.dir, got, tc.want)
			}
		}
	})

	t.Run("Walk", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		for _, p := range []string{"w/b/2", "w/a", "w/b/1/x", "w/b.c", "w/c"} {
			Write(t, d, p, []byte(p))
		}
		all := []walked{
			{"w/a", false, 3}, {"w/b", true, 0}, {"w/b/1", true, 0}, {"w/b/1/x", false, 7},
			{"w/b/2", false, 5}, {"w/b.c", false, 5}, {"w/c", false, 3},
		}
		if got := walkAll(t, d, "w"); !slices.Equal(got, all) {
			t.Fatalf("Walk(w) =\n%+v\nwant\n%+v", got, all)
		}
		if got := walkAll(t, d, ""); !slices.Equal(got, append([]walked{{"w", true, 0}}, all...)) {
			t.Fatalf("Walk(root) = %+v", got)
		}
		if got := walkAll(t, d, "w/b/1"); !slices.Equal(got, []walked{{"w/b/1/x", false, 7}}) {
			t.Fatalf("Walk(w/b/1) = %+v", got)
		}

		var got []string
		err := d.Walk(ctx, "w", func(fi storage.FileInfo) error {
			got = append(got, fi.Path)
			if fi.Path == "w/b" {
				return storage.ErrSkipDir
			}
			return nil
		})
		if err != nil || !slices.Equal(got, []string{"w/a", "w/b", "w/b.c", "w/c"}) {
			t.Fatalf("Walk with SkipDir = %q, %v", got, err)
		}
		got = nil
		err = d.Walk(ctx, "w", func(fi storage.FileInfo) error {
			got = append(got, fi.Path)
			if fi.Path == "w/b/1/x" {
				return storage.ErrSkipAll
			}
			return nil
		})
		if err != nil || !slices.Equal(got, []string{"w/a", "w/b", "w/b/1", "w/b/1/x"}) {
			t.Fatalf("Walk with SkipAll = %q, %v", got, err)
		}
		stop := errors.New("stop")
		got = nil
		err = d.Walk(ctx, "w", func(fi storage.FileInfo) error {
			got = append(got, fi.Path)
			if fi.Path == "w/b/1" {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || !slices.Equal(got, []string{"w/a", "w/b", "w/b/1"}) {
			t.Fatalf("Walk with an error = %q, %v", got, err)
		}
		// Deleting what is ahead of the walk is fine.
		got = nil
		err = d.Walk(ctx, "w", func(fi storage.FileInfo) error {
			got = append(got, fi.Path)
			if fi.Path == "w/a" {
				return d.Delete(ctx, "w/b")
			}
			return nil
		})
		if err != nil || slices.Contains(got, "w/b/1/x") {
			t.Fatalf("Walk deleting ahead = %q, %v", got, err)
		}
	})

	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		Write(t, d, "file", []byte("f"))
		Write(t, d, "dir/x", []byte("x"))
		if _, err := d.Writer(ctx, "file/below", false); err == nil {
			t.Error("Writer below a file succeeded")
		}
		if _, err := d.Writer(ctx, "dir", false); err == nil {
			t.Error("Writer at a directory succeeded")
		}
		if got := Read(t, d, "file"); string(got) != "f" {
			t.Errorf("file = %q", got)
		}
		if got := Read(t, d, "dir/x"); string(got) != "x" {
			t.Errorf("dir/x = %q", got)
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				p := fmt.Sprintf("conc/%d/data", i)
				data := RandomBytes(uint64(100+i), 300_000+i)
				w, err := d.Writer(ctx, p, false)
				if err != nil {
					errs <- err
					return
				}
				for off := 0; off < len(data); off += 4096 {
					if _, err := w.Write(data[off:min(off+4096, len(data))]); err != nil {
						errs <- err
						return
					}
				}
				if err := w.Commit(); err != nil {
					errs <- err
					return
				}
				w.Close()
				if err := d.Move(ctx, p, fmt.Sprintf("done/%d", i)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i := range n {
			if got := Read(t, d, fmt.Sprintf("done/%d", i)); !bytes.Equal(got, RandomBytes(uint64(100+i), 300_000+i)) {
				t.Fatalf("done/%d: wrong content", i)
			}
		}
	})

	t.Run("Seeker", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		s, ok := d.(storage.Seeker)
		if !ok {
			t.Skip("driver does not implement storage.Seeker")
		}
		data := RandomBytes(3, 10_000)
		Write(t, d, "s/f", data)
		f, fi, err := s.OpenSeeker(ctx, "s/f")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if fi.Size != int64(len(data)) || fi.IsDir || fi.Path != "s/f" {
			t.Fatalf("OpenSeeker FileInfo = %+v", fi)
		}
		if pos, err := f.Seek(1234, io.SeekStart); err != nil || pos != 1234 {
			t.Fatalf("Seek = %d, %v", pos, err)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[1234:1334]) {
			t.Fatalf("read after Seek: %v", err)
		}
		if end, err := f.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
			t.Fatalf("Seek(end) = %d, %v", end, err)
		}
		if _, _, err := s.OpenSeeker(ctx, "s"); err == nil {
			t.Fatal("OpenSeeker(directory) succeeded")
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		Write(t, d, "c/f", []byte("x"))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ops := map[string]func() error{
			"Writer": func() error { _, err := d.Writer(cctx, "c/g", false); return err },
			"Reader": func() error { _, err := d.Reader(cctx, "c/f", 0); return err },
			"Stat":   func() error { _, err := d.Stat(cctx, "c/f"); return err },
			"List":   func() error { _, err := d.List(cctx, "c"); return err },
			"Move":   func() error { return d.Move(cctx, "c/f", "c/h") },
			"Delete": func() error { return d.Delete(cctx, "c/f") },
			"Walk":   func() error { return d.Walk(cctx, "c", func(storage.FileInfo) error { return nil }) },
		}
		for name, op := range ops {
			if err := op(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a canceled context: %v", name, err)
			}
		}
		if got := Read(t, d, "c/f"); string(got) != "x" {
			t.Fatalf("c/f = %q", got)
		}
	})
}
