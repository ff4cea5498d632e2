// Package inmemory is a storage.Driver that keeps everything in a map. It is
// for tests: it shows that BlobStore needs nothing of the filesystem, and it
// runs the same conformance suite (storagetest) as the filesystem driver.
//
// Directories are implicit: a directory exists while a file beneath it
// does. Commit is a no-op (memory is as durable as it gets). The driver does
// not implement storage.Seeker, so BlobStore.Open's reader fallback is
// exercised through it.
package inmemory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
)

// Driver is an in-memory storage.Driver. The zero value is not usable; call
// New.
type Driver struct {
	mu    sync.Mutex
	files map[string]*file
}

type file struct {
	data    []byte // only ever appended to, or replaced: readers keep a prefix
	modTime time.Time
}

var _ storage.Driver = (*Driver)(nil)

// New returns an empty driver.
func New() *Driver { return &Driver{files: map[string]*file{}} }

func check(ctx context.Context, paths ...string) error {
	for _, p := range paths {
		if err := storage.CheckPath(p); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// isDir reports whether a file lives beneath p ("" is the root). d.mu held.
func (d *Driver) isDir(p string) bool {
	if p == "" {
		return true
	}
	prefix := p + "/"
	for k := range d.files {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// parentIsFile reports whether a proper prefix directory of p is a file.
// d.mu held.
func (d *Driver) parentIsFile(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if _, ok := d.files[p[:i]]; ok {
				return true
			}
		}
	}
	return false
}

// Writer implements storage.Driver.
func (d *Driver) Writer(ctx context.Context, p string, resume bool) (storage.FileWriter, error) {
	if err := check(ctx, p); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[p]
	switch {
	case resume && !ok:
		return nil, storage.PathNotFoundError{Path: p}
	case d.isDir(p):
		return nil, fmt.Errorf("inmemory: %s is a directory", p)
	case d.parentIsFile(p):
		return nil, fmt.Errorf("inmemory: a parent of %s is a file", p)
	case !resume || !ok:
		f = &file{modTime: time.Now()}
		d.files[p] = f
	}
	return &writer{d: d, path: p, f: f, size: int64(len(f.data))}, nil
}

type writer struct {
	d         *Driver
	path      string
	f         *file
	size      int64
	committed bool
	closed    bool
}

func (w *writer) Write(b []byte) (int, error) {
	if w.closed || w.committed {
		return 0, storage.ErrWriterClosed
	}
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	// A file replaced (or deleted) under the writer keeps what the writer
	// holds, as an unlinked file does.
	w.f.data = append(w.f.data, b...)
	w.f.modTime = time.Now()
	w.size += int64(len(b))
	return len(b), nil
}

func (w *writer) Size() int64 { return w.size }

func (w *writer) Commit() error {
	if w.closed || w.committed {
		return storage.ErrWriterClosed
	}
	w.committed = true
	return nil
}

func (w *writer) Close() error {
	if w.closed {
		return storage.ErrWriterClosed
	}
	w.closed = true
	return nil
}

func (w *writer) Cancel() error {
	if w.closed {
		return storage.ErrWriterClosed
	}
	w.closed = true
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	if w.d.files[w.path] == w.f {
		delete(w.d.files, w.path)
	}
	return nil
}

// Reader implements storage.Driver. It reads the file as it was when
// opened.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	if err := check(ctx, p); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[p]
	if !ok {
		return nil, storage.PathNotFoundError{Path: p}
	}
	if offset < 0 || offset > int64(len(f.data)) {
		return nil, fmt.Errorf("%w: %d (size %d) for %s", storage.ErrInvalidOffset, offset, len(f.data), p)
	}
	return io.NopCloser(bytes.NewReader(f.data[offset:len(f.data):len(f.data)])), nil
}

// Stat implements storage.Driver. A directory's ModTime is its newest
// file's.
func (d *Driver) Stat(ctx context.Context, p string) (storage.FileInfo, error) {
	if err := check(ctx, p); err != nil {
		return storage.FileInfo{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.files[p]; ok {
		return storage.FileInfo{Path: p, Size: int64(len(f.data)), ModTime: f.modTime}, nil
	}
	fi := storage.FileInfo{Path: p, IsDir: true}
	prefix := p + "/"
	found := false
	for k, f := range d.files {
		if strings.HasPrefix(k, prefix) {
			found = true
			if f.modTime.After(fi.ModTime) {
				fi.ModTime = f.modTime
			}
		}
	}
	if !found {
		return storage.FileInfo{}, storage.PathNotFoundError{Path: p}
	}
	return fi, nil
}

// children returns the sorted direct children of dir and whether each is a
// directory, or ok false if dir is not a directory. d.mu held.
func (d *Driver) children(dir string) (names []string, isDir map[string]bool, ok bool) {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	isDir = map[string]bool{}
	for k := range d.files {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := k[len(prefix):]
		child, _, deeper := strings.Cut(rest, "/")
		if _, seen := isDir[child]; !seen {
			names = append(names, child)
		}
		isDir[child] = isDir[child] || deeper
	}
	if len(names) == 0 && dir != "" {
		return nil, nil, false
	}
	slices.Sort(names)
	return names, isDir, true
}

// List implements storage.Driver.
func (d *Driver) List(ctx context.Context, dir string) ([]string, error) {
	if err := storage.CheckDir(dir); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	names, _, ok := d.children(dir)
	if !ok {
		return nil, storage.PathNotFoundError{Path: dir}
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = storage.Join(dir, n)
	}
	return out, nil
}

// Move implements storage.Driver.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	if err := check(ctx, src, dst); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.parentIsFile(dst) {
		return fmt.Errorf("inmemory: a parent of %s is a file", dst)
	}
	if f, ok := d.files[src]; ok {
		if d.isDir(dst) {
			return fmt.Errorf("inmemory: %s is a directory", dst)
		}
		delete(d.files, src)
		d.files[dst] = f
		return nil
	}
	if !d.isDir(src) {
		return storage.PathNotFoundError{Path: src}
	}
	if _, ok := d.files[dst]; ok || d.isDir(dst) {
		return fmt.Errorf("inmemory: %s exists", dst)
	}
	if strings.HasPrefix(dst+"/", src+"/") {
		return fmt.Errorf("inmemory: cannot move %s into itself", src)
	}
	prefix := src + "/"
	for k, f := range d.files {
		if strings.HasPrefix(k, prefix) {
			delete(d.files, k)
			d.files[dst+"/"+k[len(prefix):]] = f
		}
	}
	return nil
}

// Delete implements storage.Driver.
func (d *Driver) Delete(ctx context.Context, p string) error {
	if err := check(ctx, p); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.files[p]; ok {
		delete(d.files, p)
		return nil
	}
	prefix := p + "/"
	found := false
	for k := range d.files {
		if strings.HasPrefix(k, prefix) {
			delete(d.files, k)
			found = true
		}
	}
	if !found {
		return storage.PathNotFoundError{Path: p}
	}
	return nil
}

// Walk implements storage.Driver. It lists each directory when it gets to
// it, so changes made by fn are seen as the filesystem driver would see
// them.
func (d *Driver) Walk(ctx context.Context, dir string, fn storage.WalkFunc) error {
	if err := storage.CheckDir(dir); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	_, isFile := d.files[dir]
	ok := dir == "" || (!isFile && d.isDir(dir))
	d.mu.Unlock()
	if !ok {
		return storage.PathNotFoundError{Path: dir}
	}
	err := d.walk(ctx, dir, fn)
	if err == storage.ErrSkipAll || err == storage.ErrSkipDir {
		return nil
	}
	return err
}

func (d *Driver) walk(ctx context.Context, dir string, fn storage.WalkFunc) error {
	d.mu.Lock()
	names, isDir, ok := d.children(dir)
	d.mu.Unlock()
	if !ok {
		return nil // vanished
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := storage.Join(dir, n)
		fi, err := d.Stat(ctx, p)
		if err != nil {
			continue // vanished
		}
		err = fn(fi)
		if err == storage.ErrSkipDir {
			if fi.IsDir {
				continue
			}
			return nil // skip the rest of this directory, as fs.WalkDir does
		}
		if err != nil {
			return err
		}
		if fi.IsDir && isDir[n] {
			if err := d.walk(ctx, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
