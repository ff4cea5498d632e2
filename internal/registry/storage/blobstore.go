package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// BlobStore errors. The HTTP layer maps them to OCI error codes.
var (
	// ErrBlobUnknown: no blob with that digest is stored (BLOB_UNKNOWN).
	ErrBlobUnknown = errors.New("storage: blob unknown")
	// ErrUploadUnknown: no upload with that id (BLOB_UPLOAD_UNKNOWN).
	ErrUploadUnknown = errors.New("storage: upload unknown")
	// ErrRangeInvalid: an Append offset that is not the upload's size (416).
	// Errors matching it are *RangeError.
	ErrRangeInvalid = errors.New("storage: offset does not match the upload's size")
	// ErrDigestInvalid: a digest that is not well formed (DIGEST_INVALID).
	ErrDigestInvalid = errors.New("storage: invalid digest")
	// ErrDigestUnsupported: a well-formed digest of an algorithm other than
	// sha256 and sha512 (UNSUPPORTED / DIGEST_INVALID).
	ErrDigestUnsupported = errors.New("storage: unsupported digest algorithm")
	// ErrDigestMismatch: the content does not hash to the expected digest
	// (DIGEST_INVALID). Errors matching it are *DigestMismatchError.
	ErrDigestMismatch = errors.New("storage: content does not match digest")
)

// RangeError is returned by Append for an offset other than the upload's
// current size; the HTTP layer answers 416 with Range: 0-(Size-1).
type RangeError struct {
	Offset, Size int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("storage: upload offset %d does not match its size %d", e.Offset, e.Size)
}

// Is makes errors.Is(err, ErrRangeInvalid) true.
func (e *RangeError) Is(target error) bool { return target == ErrRangeInvalid }

// DigestMismatchError is returned by Put and Commit when the content does not
// hash to the expected digest. Nothing of it is kept.
type DigestMismatchError struct {
	Expected, Actual string
	Size             int64
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("storage: content (%d bytes) has digest %s, not %s", e.Size, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrDigestMismatch) true.
func (e *DigestMismatchError) Is(target error) bool { return target == ErrDigestMismatch }

// BlobStore keeps content-addressed blobs on a Driver:
//
//	blobs/<alg>/<first two hex digits>/<hex>/data   a verified blob
//	uploads/<id>/data                               an upload's bytes so far
//	uploads/<id>/state                              its size and SHA-256 state
//
// A blob path is only ever written by a Move of verified, durable upload
// data, so whatever is found there is whole and hashes to its name. Methods
// are safe for concurrent use; operations on one upload are serialized by
// the BlobStore, so a driver root must have a single BlobStore: one per
// process, and one process at a time.
type BlobStore struct {
	d     Driver
	locks lockMap
}

// NewBlobStore returns a BlobStore over d. It reads nothing: uploads left by
// an earlier process are picked up (and checked) when they are next used.
func NewBlobStore(d Driver) *BlobStore {
	return &BlobStore{d: d, locks: lockMap{m: map[string]*idLock{}}}
}

func digestString(alg string, sum []byte) string { return alg + ":" + hex.EncodeToString(sum) }

func blobDir(alg, hex string) string  { return "blobs/" + alg + "/" + hex[:2] + "/" + hex }
func blobPath(alg, hex string) string { return blobDir(alg, hex) + "/data" }

// Put stores the content of r, which must hash to expected, in one pass: it
// hashes while writing to a private upload, fsyncs, verifies, and moves the
// verified file into place. On any failure, a digest mismatch included,
// nothing is left behind. Storing a blob that exists already succeeds.
func (s *BlobStore) Put(ctx context.Context, expected string, r io.Reader) (Descriptor, error) {
	alg, hx, err := ParseDigest(expected)
	if err != nil {
		return Descriptor{}, err
	}
	id := newUploadID()
	unlock, err := s.locks.lock(ctx, id)
	if err != nil {
		return Descriptor{}, err
	}
	defer unlock()
	w, err := s.d.Writer(ctx, uploadData(id), false)
	if err != nil {
		s.d.Delete(context.WithoutCancel(ctx), uploadDir(id))
		return Descriptor{}, err
	}
	h := newHash(alg)
	n, _, err := hashCopy(ctx, w, h, r)
	if err == nil {
		err = w.Commit()
	}
	if err != nil {
		w.Cancel()
		s.d.Delete(context.WithoutCancel(ctx), uploadDir(id))
		return Descriptor{}, err
	}
	if err := w.Close(); err != nil {
		s.d.Delete(context.WithoutCancel(ctx), uploadDir(id))
		return Descriptor{}, err
	}
	desc, err := s.finish(ctx, id, alg, hx, n, h.Sum(nil))
	s.d.Delete(context.WithoutCancel(ctx), uploadDir(id))
	return desc, err
}

// finish verifies an upload whose data is durable, holds size bytes and
// hashes (with alg) to sum, and moves it to its blob path unless the blob is
// there already. The caller removes the upload afterwards.
func (s *BlobStore) finish(ctx context.Context, id, alg, hx string, size int64, sum []byte) (Descriptor, error) {
	expected := alg + ":" + hx
	data := uploadData(id)
	fi, err := s.d.Stat(ctx, data)
	if err != nil {
		return Descriptor{}, err
	}
	if fi.Size != size {
		return Descriptor{}, fmt.Errorf("storage: upload %s holds %d bytes, %d were written", id, fi.Size, size)
	}
	if actual := digestString(alg, sum); actual != expected {
		return Descriptor{}, &DigestMismatchError{Expected: expected, Actual: actual, Size: size}
	}
	desc := Descriptor{Digest: expected, Size: size}
	dst := blobPath(alg, hx)
	if bi, err := s.d.Stat(ctx, dst); err == nil && !bi.IsDir && bi.Size == size {
		return desc, nil // dedupe: the same verified content is there
	}
	if err := s.d.Move(ctx, data, dst); err != nil {
		return Descriptor{}, err
	}
	return desc, nil
}

// Stat describes the blob with the given digest.
func (s *BlobStore) Stat(ctx context.Context, digest string) (Descriptor, error) {
	alg, hx, err := ParseDigest(digest)
	if err != nil {
		return Descriptor{}, err
	}
	fi, err := s.d.Stat(ctx, blobPath(alg, hx))
	if err != nil || fi.IsDir {
		return Descriptor{}, blobErr(digest, err)
	}
	return Descriptor{Digest: digest, Size: fi.Size}, nil
}

// Open opens the blob with the given digest for reading. With a driver that
// implements Seeker the reader is the driver's own (an *os.File for the
// filesystem driver, so that http.ServeContent can use sendfile); otherwise
// it is a ReadSeeker that reopens the driver's Reader at the seek offset.
// The Descriptor describes the opened blob.
func (s *BlobStore) Open(ctx context.Context, digest string) (io.ReadSeekCloser, Descriptor, error) {
	alg, hx, err := ParseDigest(digest)
	if err != nil {
		return nil, Descriptor{}, err
	}
	p := blobPath(alg, hx)
	if sk, ok := s.d.(Seeker); ok {
		f, fi, err := sk.OpenSeeker(ctx, p)
		if err != nil {
			return nil, Descriptor{}, blobErr(digest, err)
		}
		return f, Descriptor{Digest: digest, Size: fi.Size}, nil
	}
	fi, err := s.d.Stat(ctx, p)
	if err != nil || fi.IsDir {
		return nil, Descriptor{}, blobErr(digest, err)
	}
	return &readSeeker{ctx: ctx, d: s.d, path: p, size: fi.Size}, Descriptor{Digest: digest, Size: fi.Size}, nil
}

// Delete removes the blob with the given digest. Readers that opened it
// before may (filesystem) or may not finish reading it.
func (s *BlobStore) Delete(ctx context.Context, digest string) error {
	alg, hx, err := ParseDigest(digest)
	if err != nil {
		return err
	}
	if _, err := s.d.Stat(ctx, blobPath(alg, hx)); err != nil {
		return blobErr(digest, err)
	}
	if err := s.d.Delete(ctx, blobDir(alg, hx)); err != nil {
		return blobErr(digest, err)
	}
	return nil
}

// Walk calls fn for every stored blob, in digest order within each
// algorithm (sha256 before sha512), with its modification time (when it was
// stored). An error from fn ends the walk and is returned. Blobs deleted
// while the walk runs may or may not be reported.
func (s *BlobStore) Walk(ctx context.Context, fn func(d Descriptor, modTime time.Time) error) error {
	err := s.d.Walk(ctx, "blobs", func(fi FileInfo) error {
		// blobs/<alg>/<hh>/<hex>/data
		parts := strings.Split(fi.Path, "/")
		if fi.IsDir || len(parts) != 5 || parts[4] != "data" {
			return nil
		}
		alg, hx, err := ParseDigest(parts[1] + ":" + parts[3])
		if err != nil || parts[2] != hx[:2] {
			return nil
		}
		return fn(Descriptor{Digest: alg + ":" + hx, Size: fi.Size}, fi.ModTime)
	})
	if errors.Is(err, ErrNotFound) {
		return nil // no blobs yet
	}
	return err
}

func blobErr(digest string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrBlobUnknown, digest)
	}
	return err
}

// readSeeker reads a blob through Driver.Reader, reopening it after a Seek.
type readSeeker struct {
	ctx  context.Context
	d    Driver
	path string
	size int64
	off  int64
	rc   io.ReadCloser
}

func (r *readSeeker) Read(p []byte) (int, error) {
	if r.rc == nil {
		if r.off >= r.size {
			return 0, io.EOF
		}
		rc, err := r.d.Reader(r.ctx, r.path, r.off)
		if err != nil {
			return 0, err
		}
		r.rc = rc
	}
	n, err := r.rc.Read(p)
	r.off += int64(n)
	return n, err
}

func (r *readSeeker) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return r.off, errors.New("storage: invalid whence")
	}
	if abs < 0 {
		return r.off, errors.New("storage: negative seek position")
	}
	if abs != r.off && r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
	r.off = abs
	return abs, nil
}

func (r *readSeeker) Close() error {
	if r.rc == nil {
		return nil
	}
	err := r.rc.Close()
	r.rc = nil
	return err
}
