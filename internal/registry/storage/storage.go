// Package storage keeps registry content: blobs addressed by their digest,
// stored through a small filesystem-like Driver.
//
// The contract, which the conformance suite in storagetest checks for every
// driver, is that storage never lies:
//
//   - A blob is visible (Stat, Open, Walk) only after Commit or Put verified
//     its digest over every byte that was written and made those bytes
//     durable. It is made visible by an atomic Move, so a reader sees either
//     no blob or the whole verified blob, never a prefix.
//   - An upload that fails verification, is cancelled, or is abandoned by a
//     crash leaves nothing a client can read as a blob; PurgeUploads removes
//     what it left on disk.
//   - An upload's acknowledged size survives a restart: Append makes its bytes
//     durable before it returns, and the running SHA-256 state is kept beside
//     the data. A state that does not agree with the data is rebuilt from the
//     data, never trusted.
//   - Content is streamed: a blob is hashed while it is written, in one pass
//     with a few fixed-size buffers, so memory stays flat whatever the blob
//     size.
//
// Drivers address content by slash-separated keys relative to their root
// (see CheckPath). The filesystem driver lives in storage/filesystem and an
// in-memory one, for tests, in storage/inmemory.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Driver errors. Drivers wrap them so that callers can test with errors.Is.
var (
	// ErrNotFound is matched by every PathNotFoundError.
	ErrNotFound = errors.New("storage: path not found")
	// ErrInvalidPath is returned for a path that is empty, absolute, has
	// empty, "." or ".." segments, a trailing slash, a backslash or a NUL byte.
	ErrInvalidPath = errors.New("storage: invalid path")
	// ErrInvalidOffset is returned by Reader for an offset below zero or
	// beyond the end of the file.
	ErrInvalidOffset = errors.New("storage: invalid offset")
	// ErrWriterClosed is returned by a FileWriter used after Close or Cancel,
	// and by Write or Commit after Commit.
	ErrWriterClosed = errors.New("storage: writer already closed")
	// ErrSkipDir, returned by a WalkFunc for a directory, skips that
	// directory's contents. It is fs.SkipDir.
	ErrSkipDir = fs.SkipDir
	// ErrSkipAll, returned by a WalkFunc, ends the walk without error. It is
	// fs.SkipAll.
	ErrSkipAll = fs.SkipAll
)

// PathNotFoundError reports a path that does not exist (or, for List and
// Walk, is not a directory). errors.Is(err, ErrNotFound) holds for it.
type PathNotFoundError struct {
	Path string
}

func (e PathNotFoundError) Error() string { return "storage: path not found: " + e.Path }

// Is makes errors.Is(err, ErrNotFound) true.
func (e PathNotFoundError) Is(target error) bool { return target == ErrNotFound }

// FileInfo describes a stored path.
type FileInfo struct {
	Path    string // the key, as given to (or found by) the driver
	Size    int64  // bytes; 0 for a directory
	ModTime time.Time
	IsDir   bool
}

// WalkFunc is called by Driver.Walk for every file and directory. Returning
// ErrSkipDir for a directory skips its contents; ErrSkipAll ends the walk
// without error; any other error ends the walk and is returned by Walk.
type WalkFunc func(fi FileInfo) error

// Driver stores bytes under slash-separated keys. Directories exist only as
// the parents of files: they are created as needed and need not be removed.
// Every method is safe for concurrent use. Paths are checked with CheckPath
// (List and Walk also accept "", the root), and a bad path fails with an
// error matching ErrInvalidPath before anything is touched.
type Driver interface {
	// Writer opens path for writing. With resume false it creates the file,
	// replacing any content, and creates its parent directories. With resume
	// true it appends to an existing file, and fails with a PathNotFoundError
	// if there is none. Bytes written are at path at once; Commit makes them
	// durable, and only Move makes them appear at another path.
	Writer(ctx context.Context, path string, resume bool) (FileWriter, error)
	// Reader streams path from offset. An offset equal to the size gives
	// an empty stream; a negative one or one beyond the size fails with
	// ErrInvalidOffset.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	// Stat describes path, a file or a directory.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List returns the full paths of dir's direct children, sorted. A
	// missing dir, or a file, fails with a PathNotFoundError.
	List(ctx context.Context, dir string) ([]string, error)
	// Move renames src to dst atomically, creating dst's parents and
	// replacing a file at dst. It is durable when it returns: a crash leaves
	// either the old or the new state, never both or neither.
	Move(ctx context.Context, src, dst string) error
	// Delete removes a file or a whole directory tree.
	Delete(ctx context.Context, path string) error
	// Walk calls fn for everything beneath dir (not dir itself), depth
	// first, the entries of each directory in name order, a directory
	// before its contents. A missing dir fails with a PathNotFoundError.
	// Entries that vanish while the walk runs are skipped.
	Walk(ctx context.Context, dir string, fn WalkFunc) error
}

// FileWriter writes one file. It is not safe for concurrent use.
type FileWriter interface {
	io.Writer
	// Size is the file's size: what it held when opened for resume plus
	// what was written since.
	Size() int64
	// Close releases the writer and keeps what was written, for a later
	// Writer(path, true). It does not make the bytes durable.
	Close() error
	// Cancel releases the writer and removes the file.
	Cancel() error
	// Commit makes every byte written so far durable (fsync). It does not
	// make the file visible anywhere else: that is Move's job. After Commit
	// only Close and Cancel may be called.
	Commit() error
}

// Seeker is implemented by drivers that can hand out a seekable file. The
// filesystem driver returns an *os.File, which http.ServeContent can send
// with sendfile(2); BlobStore.Open passes it through unwrapped.
type Seeker interface {
	// OpenSeeker opens path for reading and describes the opened file (not
	// a later one at the same path).
	OpenSeeker(ctx context.Context, path string) (io.ReadSeekCloser, FileInfo, error)
}

// CheckPath reports whether p is a valid driver key: non-empty,
// slash-separated, relative, without empty, "." or ".." segments, and without
// backslashes or NUL bytes. The error matches ErrInvalidPath.
func CheckPath(p string) error {
	if p == "" || strings.ContainsAny(p, "\\\x00") {
		return invalidPath(p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return invalidPath(p)
		}
	}
	return nil
}

// CheckDir is CheckPath that also accepts "", the root. List and Walk use it.
func CheckDir(p string) error {
	if p == "" {
		return nil
	}
	return CheckPath(p)
}

func invalidPath(p string) error { return fmt.Errorf("%w: %q", ErrInvalidPath, p) }

// Join joins a directory ("" for the root) and a name into a key.
func Join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
