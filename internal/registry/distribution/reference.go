package distribution

import (
	"errors"
	"strings"

	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/storage"
)

// MaxTagLength is the longest tag accepted.
const MaxTagLength = 128

// ValidTag reports whether s matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func ValidTag(s string) bool {
	if len(s) == 0 || len(s) > MaxTagLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// reference is the <reference> of a manifest path: a tag or a digest.
type reference struct {
	Tag    string
	Digest string // canonical "alg:hex" when the reference is a digest
	Alg    string
}

func (r reference) String() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// parseReference parses a manifest reference. Anything with a colon is a
// digest (a tag cannot hold one); a digest that does not parse is
// DIGEST_INVALID and a tag that does not match the grammar TAG_INVALID.
func parseReference(s string) (reference, *Error) {
	if strings.IndexByte(s, ':') >= 0 {
		d, alg, err := parseDigest(s)
		if err != nil {
			return reference{}, err
		}
		return reference{Digest: d, Alg: alg}, nil
	}
	if !ValidTag(s) {
		return reference{}, ErrTagInvalid.WithMessage("invalid tag %q: a tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", truncate(s, 200))
	}
	return reference{Tag: s}, nil
}

// parseDigest validates a digest of a supported algorithm.
func parseDigest(s string) (digest, alg string, e *Error) {
	alg, _, err := storage.ParseDigest(s)
	if err != nil {
		if errors.Is(err, storage.ErrDigestUnsupported) {
			return "", "", ErrDigestInvalid.WithMessage("unsupported digest algorithm in %q: sha256 and sha512 are supported", truncate(s, 200))
		}
		return "", "", ErrDigestInvalid.WithMessage("invalid digest %q", truncate(s, 200))
	}
	return s, alg, nil
}

func validName(name string) *Error {
	if !auth.ValidRepository(name) {
		return ErrNameInvalid.WithMessage("invalid repository name %q", truncate(name, 300))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
