package storage

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Digest algorithms the store accepts.
const (
	SHA256 = "sha256"
	SHA512 = "sha512"
)

// Descriptor identifies a stored blob.
type Descriptor struct {
	Digest string // "sha256:<64 hex>" or "sha512:<128 hex>", lower-case hex
	Size   int64
}

// ParseDigest splits an OCI digest "<algorithm>:<encoded>". A string that
// does not follow the OCI digest grammar, or a sha256/sha512 digest whose
// encoded part is not lower-case hex of the right length (64 or 128), fails
// with ErrDigestInvalid; a well-formed digest of another algorithm fails with
// ErrDigestUnsupported.
func ParseDigest(s string) (alg, hex string, err error) {
	i := 0
	for i < len(s) && s[i] != ':' {
		i++
	}
	if i == len(s) || !validAlgorithm(s[:i]) || !validEncoded(s[i+1:]) {
		return "", "", fmt.Errorf("%w: %q", ErrDigestInvalid, s)
	}
	alg, hex = s[:i], s[i+1:]
	var want int
	switch alg {
	case SHA256:
		want = 2 * sha256.Size
	case SHA512:
		want = 2 * sha512.Size
	default:
		return "", "", fmt.Errorf("%w: %q", ErrDigestUnsupported, alg)
	}
	if len(hex) != want || !lowerHex(hex) {
		return "", "", fmt.Errorf("%w: %q", ErrDigestInvalid, s)
	}
	return alg, hex, nil
}

// validAlgorithm: algorithm-component (algorithm-separator algorithm-component)*
// with algorithm-component [a-z0-9]+ and algorithm-separator [+._-].
func validAlgorithm(a string) bool {
	if a == "" {
		return false
	}
	prevSep := true // no separator at the start
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			prevSep = false
		case c == '+' || c == '.' || c == '_' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}

// validEncoded: [a-zA-Z0-9=_-]+
func validEncoded(e string) bool {
	if e == "" {
		return false
	}
	for i := 0; i < len(e); i++ {
		c := e[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '=' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func newHash(alg string) hash.Hash {
	if alg == SHA512 {
		return sha512.New()
	}
	return sha256.New()
}
