package tokens

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestSignAsJWT checks that Sign, which encodes the header once per
// signer, writes what the JWT library writes: byte for byte for RS256
// (PKCS #1 v1.5 signatures are deterministic), and the same signing input
// for ES256, whose signature then verifies.
func TestSignAsJWT(t *testing.T) {
	c := claims("iss", "aud", time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name   string
		s      *Signer
		key    any
		method jwt.SigningMethod
	}{
		{"RS256", NewSigner(testKey), testKey, jwt.SigningMethodRS256},
		{"ES256", newECSigner(testECKey), testECKey, jwt.SigningMethodES256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			ref := jwt.NewWithClaims(tc.method, c)
			ref.Header["kid"] = tc.s.KeyID()
			want, err := ref.SignedString(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if tc.method == jwt.SigningMethodRS256 && got != want {
				t.Fatalf("Sign wrote\n%s\nthe JWT library\n%s", got, want)
			}
			if i, j := strings.LastIndexByte(got, '.'), strings.LastIndexByte(want, '.'); got[:i] != want[:j] {
				t.Fatalf("signing input\n%s\nthe JWT library's\n%s", got[:i], want[:j])
			}
			if err := tc.s.Verify(got, &Claims{}, VerifyOptions{Issuer: "iss", Audiences: []string{"aud"}}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// BenchmarkSign compares Sign with the JWT library's path it replaced
// (header map marshalled for every token).
func BenchmarkSign(b *testing.B) {
	c := claims("iss", "aud", time.Now().Add(time.Hour))
	s := newECSigner(testECKey)
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
			t.Header["kid"] = s.KeyID()
			if _, err := t.SignedString(testECKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Signer", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := s.Sign(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
