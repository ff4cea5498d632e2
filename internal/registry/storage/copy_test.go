package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
)

// limitedWriter fails once it has taken max bytes.
type limitedWriter struct {
	buf bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	room := w.max - w.buf.Len()
	if len(p) > room {
		w.buf.Write(p[:room])
		return room, errors.New("disk full")
	}
	return w.buf.Write(p)
}

func TestHashCopy(t *testing.T) {
	data := make([]byte, 5*chunkSize+123)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize, chunkCount * chunkSize, len(data)} {
		for _, room := range []int{-1, 0, size / 2, size} {
			w := &limitedWriter{max: room}
			if room < 0 {
				w.max = len(data)
			}
			h := sha256.New()
			n, hashOK, err := hashCopy(context.Background(), w, h, bytes.NewReader(data[:size]))
			switch {
			case room < 0 || room >= size: // enough room
				want := sha256.Sum256(data[:size])
				if err != nil || !hashOK || n != int64(size) || !bytes.Equal(w.buf.Bytes(), data[:size]) || !bytes.Equal(h.Sum(nil), want[:]) {
					t.Fatalf("size %d: n=%d hashOK=%v err=%v", size, n, hashOK, err)
				}
			default:
				if err == nil || hashOK || n != int64(room) || !bytes.Equal(w.buf.Bytes(), data[:room]) {
					t.Fatalf("size %d, room %d: n=%d hashOK=%v err=%v", size, room, n, hashOK, err)
				}
			}
		}
	}
}

func TestHashCopyReadError(t *testing.T) {
	data := make([]byte, 3*chunkSize)
	boom := errors.New("boom")
	for _, at := range []int{0, 10, chunkSize, chunkSize + 10, 3 * chunkSize} {
		var w bytes.Buffer
		h := sha256.New()
		r := io.MultiReader(bytes.NewReader(data[:at]), errReader{boom})
		n, hashOK, err := hashCopy(context.Background(), &w, h, r)
		want := sha256.Sum256(data[:at])
		if !errors.Is(err, boom) || !hashOK || n != int64(at) || w.Len() != at || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("error at %d: n=%d hashOK=%v err=%v", at, n, hashOK, err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestUploadIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newUploadID()
		if !validUploadID(id) || seen[id] || id[14] != '4' {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestLockMap(t *testing.T) {
	l := lockMap{m: map[string]*idLock{}}
	ctx := context.Background()
	unlock, err := l.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.tryLock("a"); ok {
		t.Fatal("tryLock of a held id succeeded")
	}
	u2, ok := l.tryLock("b")
	if !ok {
		t.Fatal("tryLock of a free id failed")
	}
	u2()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.lock(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock with a canceled context: %v", err)
	}
	done := make(chan struct{})
	go func() {
		u, err := l.lock(ctx, "a")
		if err == nil {
			u()
		}
		close(done)
	}()
	unlock()
	unlock() // idempotent
	<-done
	if len(l.m) != 0 {
		t.Fatalf("lock map keeps %d entries", len(l.m))
	}
}
