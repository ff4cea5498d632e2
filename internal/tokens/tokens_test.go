package tokens

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testKey, _   = rsa.GenerateKey(rand.Reader, 2048)
	testECKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
)

func claims(iss, aud string, exp time.Time) *Claims {
	now := time.Now()
	return &Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: iss, Audience: jwt.ClaimStrings{aud}, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}, TenantID: "t", ObjectID: "o"}
}

func TestVerify(t *testing.T) {
	s := NewSigner(testKey)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	good, _ := s.Sign(claims("iss", "https://management.core.windows.net/", time.Now().Add(time.Hour)))
	expired, _ := s.Sign(claims("iss", "https://management.core.windows.net/", time.Now().Add(-time.Hour)))
	wrongKey, _ := NewSigner(other).Sign(claims("iss", "https://management.core.windows.net/", time.Now().Add(time.Hour)))
	// Same kid, other key: a forgery.
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, claims("iss", "https://management.core.windows.net/", time.Now().Add(time.Hour)))
	forged.Header["kid"] = s.KeyID()
	forgedStr, _ := forged.SignedString(other)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("iss", "https://management.core.windows.net/", time.Now().Add(time.Hour)))
	hs.Header["kid"] = s.KeyID()
	hsStr, _ := hs.SignedString([]byte("secret"))
	parts := strings.Split(good, ".")
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+s.KeyID()+`"}`)) + "." + parts[1] + "."

	opt := VerifyOptions{Issuer: "iss", Audiences: []string{"https://management.core.windows.net"}}
	cases := []struct {
		name  string
		token string
		opt   VerifyOptions
		want  error
	}{
		{"good", good, opt, nil},
		{"expired", expired, opt, ErrExpired},
		{"other key", wrongKey, opt, ErrSignature},
		{"forged with our kid", forgedStr, opt, ErrSignature},
		{"HS256 with our kid", hsStr, opt, ErrSignature},
		{"alg none", algNone, opt, ErrSignature},
		{"wrong audience", good, VerifyOptions{Issuer: "iss", Audiences: []string{"https://containerregistry.azure.net"}}, ErrAudience},
		{"wrong issuer", good, VerifyOptions{Issuer: "other", Audiences: opt.Audiences}, ErrIssuer},
		{"garbage", "not-a-token", opt, ErrMalformed},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"oid":"admin","exp":9999999999}`)) + "." + parts[2], opt, ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.Verify(c.token, &Claims{}, c.opt)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
		})
	}
}

func TestLoadOrCreateKeepsKey(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() {
		t.Fatal("key changed across loads")
	}
	if len(a.JWKS()["keys"]) != 1 || a.JWKS()["keys"][0].Kid != a.KeyID() {
		t.Fatal("JWKS does not carry the key id")
	}
}

// FuzzVerify feeds arbitrary strings to the verifiers, the directory's
// (RS256) and the registries' (ES256): they must never panic and never
// accept anything they did not sign.
func FuzzVerify(f *testing.F) {
	s := NewSigner(testKey)
	good, _ := s.Sign(claims("iss", "aud", time.Now().Add(time.Hour)))
	ec := newECSigner(testECKey)
	goodEC, _ := ec.Sign(claims("iss", "aud", time.Now().Add(time.Hour)))
	f.Add(good)
	f.Add(goodEC)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		for _, v := range []struct {
			s    *Signer
			good string
		}{{s, good}, {ec, goodEC}} {
			err := v.s.Verify(tok, &Claims{}, VerifyOptions{Issuer: "iss", Audiences: []string{"aud"}})
			if err == nil && tok != v.good {
				// Only re-encodings of its own signature may pass.
				if p := strings.Split(tok, "."); len(p) != 3 || p[2] != strings.Split(v.good, ".")[2] {
					t.Fatalf("accepted a token it did not sign: %q", tok)
				}
			}
		}
		_ = Unverified(tok, &Claims{})
	})
}
