package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
