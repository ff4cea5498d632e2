package storage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage"
)

var (
	hex64  = strings.Repeat("0123456789abcdef", 4)
	hex128 = strings.Repeat("0123456789abcdef", 8)
)

func TestParseDigest(t *testing.T) {
	for _, tc := range []struct {
		in       string
		alg, hex string
		err      error
	}{
		{in: "sha256:" + hex64, alg: "sha256", hex: hex64},
		{in: "sha512:" + hex128, alg: "sha512", hex: hex128},
		{in: "", err: storage.ErrDigestInvalid},
		{in: ":", err: storage.ErrDigestInvalid},
		{in: "sha256", err: storage.ErrDigestInvalid},
		{in: "sha256:", err: storage.ErrDigestInvalid},
		{in: ":" + hex64, err: storage.ErrDigestInvalid},
		{in: "sha256:" + hex64[:63], err: storage.ErrDigestInvalid},
		{in: "sha256:" + hex64 + "0", err: storage.ErrDigestInvalid},
		{in: "sha256:" + strings.ToUpper(hex64), err: storage.ErrDigestInvalid},
		{in: "sha256:" + hex64[:63] + "g", err: storage.ErrDigestInvalid},
		{in: "sha256:" + hex128, err: storage.ErrDigestInvalid},
		{in: "sha512:" + hex64, err: storage.ErrDigestInvalid},
		{in: "SHA256:" + hex64, err: storage.ErrDigestInvalid},
		{in: " sha256:" + hex64, err: storage.ErrDigestInvalid},
		{in: "sha256:" + hex64 + "\n", err: storage.ErrDigestInvalid},
		{in: "sha256::" + hex64, err: storage.ErrDigestInvalid},
		{in: "sha256:" + hex64[:32] + ":" + hex64[:31], err: storage.ErrDigestInvalid},
		{in: "sha256:../../" + hex64[:58], err: storage.ErrDigestInvalid},
		{in: "../sha256:" + hex64, err: storage.ErrDigestInvalid},
		{in: "sha256+b64:" + hex64, err: storage.ErrDigestUnsupported},
		{in: "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", err: storage.ErrDigestUnsupported},
		{in: "md5:d41d8cd98f00b204e9800998ecf8427e", err: storage.ErrDigestUnsupported},
		{in: "blake3:" + hex64, err: storage.ErrDigestUnsupported},
		{in: "-sha256:" + hex64, err: storage.ErrDigestInvalid},
		{in: "sha256-:" + hex64, err: storage.ErrDigestInvalid},
		{in: "sha--256:" + hex64, err: storage.ErrDigestInvalid},
		{in: "sha256:abc=", err: storage.ErrDigestInvalid},
	} {
		alg, hex, err := storage.ParseDigest(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || alg != "" || hex != "" {
				t.Errorf("ParseDigest(%q) = %q, %q, %v; want %v", tc.in, alg, hex, err, tc.err)
			}
			continue
		}
		if err != nil || alg != tc.alg || hex != tc.hex {
			t.Errorf("ParseDigest(%q) = %q, %q, %v", tc.in, alg, hex, err)
		}
	}
}

func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{"sha256:" + hex64, "sha512:" + hex128, "md5:abc", "", ":", "sha256:", "a+b.c_d-e:A=_-", "sha256:" + strings.ToUpper(hex64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		alg, hex, err := storage.ParseDigest(s)
		if err != nil {
			if !errors.Is(err, storage.ErrDigestInvalid) && !errors.Is(err, storage.ErrDigestUnsupported) {
				t.Fatalf("ParseDigest(%q): unexpected error %v", s, err)
			}
			if alg != "" || hex != "" {
				t.Fatalf("ParseDigest(%q) failed but returned %q, %q", s, alg, hex)
			}
			return
		}
		if alg+":"+hex != s {
			t.Fatalf("ParseDigest(%q) = %q, %q: does not reassemble", s, alg, hex)
		}
		want := map[string]int{"sha256": 64, "sha512": 128}[alg]
		if want == 0 || len(hex) != want {
			t.Fatalf("ParseDigest(%q) = %q with %d hex digits", s, alg, len(hex))
		}
		for _, c := range hex {
			if !strings.ContainsRune("0123456789abcdef", c) {
				t.Fatalf("ParseDigest(%q): %q in the hex", s, c)
			}
		}
		// A parsed digest is a safe path segment.
		if err := storage.CheckPath("blobs/" + alg + "/" + hex[:2] + "/" + hex + "/data"); err != nil {
			t.Fatalf("ParseDigest(%q) gives an unsafe path: %v", s, err)
		}
	})
}

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		p       string
		ok, dir bool // valid as a path, valid as a directory
	}{
		{"a", true, true}, {"a/b/c", true, true}, {"a.b/..c/c..", true, true}, {"...", true, true},
		{"", false, true}, {"/", false, false}, {"/a", false, false}, {"a/", false, false},
		{"a//b", false, false}, {".", false, false}, {"..", false, false}, {"a/../b", false, false},
		{"./a", false, false}, {"a/.", false, false}, {"a\\b", false, false}, {"a\x00", false, false},
	} {
		if err := storage.CheckPath(tc.p); (err == nil) != tc.ok || (err != nil && !errors.Is(err, storage.ErrInvalidPath)) {
			t.Errorf("CheckPath(%q) = %v", tc.p, err)
		}
		if err := storage.CheckDir(tc.p); (err == nil) != tc.dir {
			t.Errorf("CheckDir(%q) = %v", tc.p, err)
		}
	}
}

func TestErrors(t *testing.T) {
	var err error = storage.PathNotFoundError{Path: "x"}
	if !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidPath) {
		t.Error("PathNotFoundError does not match ErrNotFound alone")
	}
	err = &storage.RangeError{Offset: 1, Size: 2}
	if !errors.Is(err, storage.ErrRangeInvalid) || err.Error() == "" {
		t.Error("RangeError")
	}
	err = &storage.DigestMismatchError{Expected: "a", Actual: "b"}
	if !errors.Is(err, storage.ErrDigestMismatch) || err.Error() == "" {
		t.Error("DigestMismatchError")
	}
}
