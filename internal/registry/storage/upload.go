package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"
	"time"
)

func uploadDir(id string) string      { return "uploads/" + id }
func uploadData(id string) string     { return "uploads/" + id + "/data" }
func uploadState(id string) string    { return "uploads/" + id + "/state" }
func uploadStateTmp(id string) string { return "uploads/" + id + "/state.tmp" }

// newUploadID returns a random (version 4) UUID in its lower-case form.
func newUploadID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// validUploadID accepts what newUploadID makes (any lower-case UUID), so
// that an id from a client can never name another path.
func validUploadID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func uploadErr(id string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	return err
}

// stateFile is what uploads/<id>/state holds. It is a cache of what the data
// file implies: it is trusted only when its size matches the data and its
// checksum matches; otherwise the data is hashed again.
type stateFile struct {
	Version int       `json:"v"`
	Size    int64     `json:"size"`
	SHA256  []byte    `json:"sha256"` // sha256 digest state (MarshalBinary)
	CRC     uint32    `json:"crc"`    // CRC-32C of the upload id, Size and SHA256
	Started time.Time `json:"started"`
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// stateCRC binds a state to its upload, so that a state file copied from
// another upload is not trusted either.
func stateCRC(id string, size int64, h []byte) uint32 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(size))
	c := crc32.Update(crc32.Checksum([]byte(id), crcTable), crcTable, b[:])
	return crc32.Update(c, crcTable, h)
}

// upload is an upload loaded under its lock: size bytes of data, all of
// them seen by h.
type upload struct {
	id      string
	size    int64
	h       hash.Hash // SHA-256
	started time.Time
}

func (s *BlobStore) saveState(ctx context.Context, u *upload) error {
	hs, err := u.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	b, err := json.Marshal(stateFile{Version: 1, Size: u.size, SHA256: hs, CRC: stateCRC(u.id, u.size, hs), Started: u.started})
	if err != nil {
		return err
	}
	// Written beside and moved over the old state, so that a crash leaves
	// the old or the new state; an old one is then caught by its size.
	w, err := s.d.Writer(ctx, uploadStateTmp(u.id), false)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Cancel()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return s.d.Move(ctx, uploadStateTmp(u.id), uploadState(u.id))
}

func (s *BlobStore) readState(ctx context.Context, id string) (stateFile, error) {
	var st stateFile
	rc, err := s.d.Reader(ctx, uploadState(id), 0)
	if err != nil {
		return st, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, err
	}
	if st.Version != 1 || stateCRC(id, st.Size, st.SHA256) != st.CRC {
		return st, errors.New("storage: upload state is corrupt")
	}
	return st, nil
}

// load reads an upload, which the caller has locked. If the saved state
// does not describe the data (a crash between writing data and state, or a
// torn state), the data is hashed again and the state rewritten: the data is
// the truth.
func (s *BlobStore) load(ctx context.Context, id string) (*upload, error) {
	fi, err := s.d.Stat(ctx, uploadData(id))
	if err != nil || fi.IsDir {
		return nil, uploadErr(id, err)
	}
	st, err := s.readState(ctx, id)
	if err == nil && st.Size == fi.Size {
		h := sha256.New()
		if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.SHA256) == nil {
			return &upload{id: id, size: st.Size, h: h, started: st.Started}, nil
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	// Repair.
	u := &upload{id: id, h: sha256.New(), started: st.Started}
	if u.started.IsZero() {
		u.started = fi.ModTime
	}
	rc, err := s.d.Reader(ctx, uploadData(id), 0)
	if err != nil {
		return nil, uploadErr(id, err)
	}
	u.size, err = hashStream(ctx, u.h, rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if err := s.saveState(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// lockUpload takes the lock of upload id (ErrUploadUnknown for an id
// that is not an upload's); the caller calls unlock when err is nil.
func (s *BlobStore) lockUpload(ctx context.Context, id string) (unlock func(), err error) {
	if !validUploadID(id) {
		return nil, uploadErr(id, nil)
	}
	return s.locks.lock(ctx, id)
}

// openUpload takes the lock of upload id and loads its state; the caller
// calls unlock when err is nil.
func (s *BlobStore) openUpload(ctx context.Context, id string) (u *upload, unlock func(), err error) {
	unlock, err = s.lockUpload(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if u, err = s.load(ctx, id); err != nil {
		unlock()
		return nil, nil, err
	}
	return u, unlock, nil
}

// StartUpload begins an upload and returns its id (a lower-case UUID).
func (s *BlobStore) StartUpload(ctx context.Context) (string, error) {
	id := newUploadID()
	unlock, err := s.locks.lock(ctx, id)
	if err != nil {
		return "", err
	}
	defer unlock()
	w, err := s.d.Writer(ctx, uploadData(id), false)
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = s.saveState(ctx, &upload{id: id, h: sha256.New(), started: time.Now().UTC()})
	}
	if err != nil {
		s.d.Delete(context.WithoutCancel(ctx), uploadDir(id))
		return "", err
	}
	return id, nil
}

// UploadSize returns how many bytes the upload holds: the offset the next
// Append must give. It waits for an Append in progress on the same upload.
func (s *BlobStore) UploadSize(ctx context.Context, id string) (int64, error) {
	u, unlock, err := s.openUpload(ctx, id)
	if err != nil {
		return 0, err
	}
	defer unlock()
	return u.size, nil
}

// Append adds the content of r to the upload at offset, which must be the
// upload's size (or negative, meaning "at the end", for a streamed PATCH
// without Content-Range); otherwise it fails with a *RangeError and writes
// nothing. The bytes are hashed as they are written and are durable, with
// the hash state, when Append returns; it returns the new size.
//
// If r fails part way, what was read before the failure is kept (and
// counted in the returned size) together with the error, so a client can
// resume from UploadSize.
func (s *BlobStore) Append(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	u, unlock, err := s.openUpload(ctx, id)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if offset >= 0 && offset != u.size {
		return u.size, &RangeError{Offset: offset, Size: u.size}
	}
	err = s.write(ctx, u, r)
	return u.size, err
}

// write appends r to a loaded upload, makes the data durable and saves the
// state. u.size is updated to what is durable and hashed. On a write error
// the state is left alone: the next load sees the data disagree with it and
// repairs it.
func (s *BlobStore) write(ctx context.Context, u *upload, r io.Reader) error {
	w, err := s.d.Writer(ctx, uploadData(u.id), true)
	if err != nil {
		return uploadErr(u.id, err)
	}
	if w.Size() != u.size {
		w.Close()
		return fmt.Errorf("storage: upload %s changed under its lock (%d bytes, expected %d)", u.id, w.Size(), u.size)
	}
	var n int64
	var copyErr error
	if r != nil {
		var hashOK bool
		n, hashOK, copyErr = hashCopy(ctx, w, u.h, r)
		if !hashOK {
			w.Close()
			return copyErr
		}
	}
	// Commit even when nothing was written now: data of an upload repaired
	// after a process crash may still be only in the page cache.
	if err := w.Commit(); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if n > 0 {
		u.size += n
		if err := s.saveState(context.WithoutCancel(ctx), u); err != nil {
			return err
		}
	}
	return copyErr
}

// Commit completes an upload: it appends r (the final chunk; may be nil),
// makes the data durable, verifies it against expected, and moves it into
// place as the blob. SHA-256 comes from the running state; SHA-512 is
// computed by reading the upload back. The upload is removed whether the
// digest matched or not (ErrDigestMismatch); if the blob exists already the
// upload is just dropped. An invalid or unsupported expected digest leaves
// the upload as it was, and a failure to read r keeps the upload with what
// was read of r (as Append does), for a retry.
func (s *BlobStore) Commit(ctx context.Context, id, expected string, r io.Reader) (Descriptor, error) {
	alg, hx, err := ParseDigest(expected)
	if err != nil {
		return Descriptor{}, err
	}
	u, unlock, err := s.openUpload(ctx, id)
	if err != nil {
		return Descriptor{}, err
	}
	defer unlock()
	if err := s.write(ctx, u, r); err != nil {
		return Descriptor{}, err
	}
	var sum []byte
	if alg == SHA256 {
		sum = u.h.Sum(nil)
	} else {
		h := newHash(alg)
		rc, err := s.d.Reader(ctx, uploadData(id), 0)
		if err != nil {
			return Descriptor{}, uploadErr(id, err)
		}
		n, err := hashStream(ctx, h, rc)
		rc.Close()
		if err != nil {
			return Descriptor{}, err
		}
		if n != u.size {
			return Descriptor{}, fmt.Errorf("storage: upload %s holds %d bytes, %d were written", id, n, u.size)
		}
		sum = h.Sum(nil)
	}
	desc, err := s.finish(ctx, id, alg, hx, u.size, sum)
	if err != nil && !errors.Is(err, ErrDigestMismatch) {
		return Descriptor{}, err
	}
	// Once the blob is in place a failure to remove the upload is not the
	// client's concern: PurgeUploads collects it.
	s.d.Delete(context.WithoutCancel(ctx), uploadDir(id))
	return desc, err
}

// CancelUpload removes an upload and everything it holds.
func (s *BlobStore) CancelUpload(ctx context.Context, id string) error {
	unlock, err := s.lockUpload(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.d.Stat(ctx, uploadDir(id)); err != nil {
		return uploadErr(id, err)
	}
	if err := s.d.Delete(ctx, uploadDir(id)); err != nil {
		return uploadErr(id, err)
	}
	return nil
}

// PurgeUploads removes the uploads whose last write is before olderThan,
// Put's and Commit's leftovers from a crash included, and returns how many
// it removed. Uploads this BlobStore is working on are left alone.
func (s *BlobStore) PurgeUploads(ctx context.Context, olderThan time.Time) (int, error) {
	ids, err := s.Uploads(ctx)
	if err != nil {
		return 0, err
	}
	purged := 0
	for _, id := range ids {
		p := uploadDir(id)
		unlock, ok := s.locks.tryLock(id)
		if !ok {
			continue
		}
		var last time.Time
		err := s.d.Walk(ctx, p, func(fi FileInfo) error {
			if !fi.IsDir && fi.ModTime.After(last) {
				last = fi.ModTime
			}
			return nil
		})
		if err == nil && last.Before(olderThan) {
			err = s.d.Delete(ctx, p)
			if err == nil {
				purged++
			}
		}
		unlock()
		if err != nil && !errors.Is(err, ErrNotFound) {
			return purged, err
		}
	}
	return purged, nil
}

// Uploads lists the ids of the uploads on disk: sessions, and what a
// crash left of Put's and Commit's.
func (s *BlobStore) Uploads(ctx context.Context) ([]string, error) {
	entries, err := s.d.List(ctx, "uploads")
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range entries {
		if id := p[len("uploads/"):]; validUploadID(id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// lockMap serializes work on one upload id. Entries exist only while
// someone holds or waits for them.
type lockMap struct {
	mu sync.Mutex
	m  map[string]*idLock
}

type idLock struct {
	ch   chan struct{} // holds a token while locked
	refs int
}

func (l *lockMap) entry(id string) *idLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[id]
	if e == nil {
		e = &idLock{ch: make(chan struct{}, 1)}
		l.m[id] = e
	}
	e.refs++
	return e
}

func (l *lockMap) release(id string, e *idLock, held bool) {
	if held {
		<-e.ch
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(l.m, id)
	}
}

// lock waits for id, or for ctx to be done.
func (l *lockMap) lock(ctx context.Context, id string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e := l.entry(id)
	select {
	case e.ch <- struct{}{}:
		return sync.OnceFunc(func() { l.release(id, e, true) }), nil
	case <-ctx.Done():
		l.release(id, e, false)
		return nil, ctx.Err()
	}
}

// tryLock takes id if nobody holds it.
func (l *lockMap) tryLock(id string) (unlock func(), ok bool) {
	e := l.entry(id)
	select {
	case e.ch <- struct{}{}:
		return sync.OnceFunc(func() { l.release(id, e, true) }), true
	default:
		l.release(id, e, false)
		return nil, false
	}
}
