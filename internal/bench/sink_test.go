package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSinkBlob(t *testing.T) {
	data := "some blob"
	sum := sha256.Sum256([]byte(data))
	good := "sha256:" + hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		name, digest string
		wantErr      bool
	}{
		{"digest matches", good, false},
		{"digest differs", "sha256:" + strings.Repeat("0", 64), true},
		{"no digest", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := sinkBlob(dir, tc.digest, strings.NewReader(data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("sinkBlob: %v, want error %v", err, tc.wantErr)
			}
			entries, _ := os.ReadDir(dir)
			if tc.wantErr {
				if len(entries) != 0 {
					t.Fatalf("a refused blob left %v", entries)
				}
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(good, "sha256:")))
			if err != nil || string(b) != data || len(entries) != 1 {
				t.Fatalf("stored %q (%v), entries %v", b, err, entries)
			}
		})
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct {
	n       int
	written bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.written.Len()+len(p) > w.n {
		return 0, errors.New("disk full")
	}
	return w.written.Write(p)
}

// TestSinkCopy: the pipelined copy hashes and writes every byte, in order,
// across chunk boundaries, and reports a failed read or write.
func TestSinkCopy(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name     string
		size     int
		writeCap int   // bytes the writer accepts (0: all)
		readErr  error // returned by the body after size bytes
		wantErr  string
	}{
		{"empty", 0, 0, nil, ""},
		{"smaller than a write", 1000, 0, nil, ""},
		{"one chunk exactly", mib, 0, nil, ""},
		{"across chunks and more than the pipeline's depth", 9*mib + 12345, 0, nil, ""},
		{"a write fails", 3 * mib, mib + 100, nil, "disk full"},
		{"the body fails", 2*mib + 7, 0, errors.New("connection reset"), "connection reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			var body io.Reader = bytes.NewReader(data)
			if tc.readErr != nil {
				body = io.MultiReader(body, iotest.ErrReader(tc.readErr))
			}
			w := &failingWriter{n: len(data)}
			if tc.writeCap > 0 {
				w.n = tc.writeCap
			}
			h := sha256.New()
			err := sinkCopy(w, h, body)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("sinkCopy: %v, want %q", err, tc.wantErr)
				}
				return
			}
			want := sha256.Sum256(data)
			if err != nil || !bytes.Equal(w.written.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("sinkCopy: %v; wrote %d bytes (equal: %v), hash equal: %v", err, w.written.Len(),
					bytes.Equal(w.written.Bytes(), data), bytes.Equal(h.Sum(nil), want[:]))
			}
		})
	}
}
