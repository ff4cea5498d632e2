// Package tokens owns drydock's token signing keys and the JWT format of
// the tokens the directory issues: RS256 signatures with a key id, the
// Entra claim set, and strict verification (algorithm, key, issuer,
// audience, expiry).
package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/drydock-dev/drydock/internal/atomicfile"
)

// Verification errors, wrapped with detail.
var (
	ErrMalformed = errors.New("token is malformed")
	ErrSignature = errors.New("token signature is invalid")
	ErrExpired   = errors.New("token is expired")
	ErrAudience  = errors.New("token audience is not accepted")
	ErrIssuer    = errors.New("token issuer is not accepted")
)

// Claims is the claim set of a directory access token (Entra v2 shape).
type Claims struct {
	jwt.RegisteredClaims
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	AppID    string `json:"appid,omitempty"`
	AzP      string `json:"azp,omitempty"`
	IDType   string `json:"idtyp"` // "user" or "app"
	UPN      string `json:"upn,omitempty"`
	// PreferredUsername is set on id_tokens (the signed-in user's UPN).
	PreferredUsername string `json:"preferred_username,omitempty"`
	Name              string `json:"name,omitempty"`
	Scope             string `json:"scp,omitempty"`
	Version           string `json:"ver"`
	// MIResourceID is set on managed-identity tokens (Entra's xms_mirid).
	MIResourceID string `json:"xms_mirid,omitempty"`
	// TokenUse distinguishes refresh tokens ("refresh") and id_tokens
	// ("id") from access tokens ("").
	TokenUse string `json:"token_use,omitempty"`
}

// Signer signs and verifies tokens with one key kept in the data dir: RSA
// (RS256) for the directory, ECDSA P-256 (ES256) for the registry's token
// service, whose token rate matters more.
type Signer struct {
	key    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	method jwt.SigningMethod
	kid    string
	// header is the encoded JOSE header of every token ({"alg","kid","typ"}),
	// the same for all of them, so Sign encodes it once.
	header string
}

// withHeader sets the signer's encoded header, as jwt.Token.SigningString
// would encode it.
func (s *Signer) withHeader() *Signer {
	h, _ := json.Marshal(map[string]string{"alg": s.method.Alg(), "kid": s.kid, "typ": "JWT"})
	s.header = base64.RawURLEncoding.EncodeToString(h)
	return s
}

// LoadOrCreateEC loads an ES256 key from dir/name or creates it (0600).
func LoadOrCreateEC(dir, name string) (*Signer, error) {
	k, err := loadOrCreateKey(filepath.Join(dir, name), "EC PRIVATE KEY", x509.ParseECPrivateKey,
		func() (*ecdsa.PrivateKey, []byte, error) {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, nil, err
			}
			der, err := x509.MarshalECPrivateKey(k)
			return k, der, err
		})
	if err != nil {
		return nil, err
	}
	return newECSigner(k), nil
}

func newECSigner(k *ecdsa.PrivateKey) *Signer {
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	sum := sha256.Sum256(der)
	return (&Signer{ec: k, method: jwt.SigningMethodES256, kid: base64.RawURLEncoding.EncodeToString(sum[:15])}).withHeader()
}

// LoadOrCreate loads the signing key from dir/signing.key or creates a
// 2048-bit key there (mode 0600, written atomically).
func LoadOrCreate(dir string) (*Signer, error) {
	k, err := loadOrCreateKey(filepath.Join(dir, "signing.key"), "RSA PRIVATE KEY", x509.ParsePKCS1PrivateKey,
		func() (*rsa.PrivateKey, []byte, error) {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return nil, nil, err
			}
			return k, x509.MarshalPKCS1PrivateKey(k), nil
		})
	if err != nil {
		return nil, err
	}
	return newSigner(k), nil
}

// loadOrCreateKey parses the private key in the PEM file path, or, when
// there is no such file, generates one (the key and its DER form) and
// writes it there as a PEM block of type blockType (mode 0600, written
// atomically, its directory created with mode 0700).
func loadOrCreateKey[K any](path, blockType string, parse func([]byte) (K, error), generate func() (K, []byte, error)) (K, error) {
	var zero K
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return zero, fmt.Errorf("%s: no PEM block", path)
		}
		k, err := parse(blk.Bytes)
		if err != nil {
			return zero, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	} else if !os.IsNotExist(err) {
		return zero, err
	}
	k, der, err := generate()
	if err != nil {
		return zero, err
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		return zero, err
	}
	return k, nil
}

// NewSigner wraps an existing key (tests).
func NewSigner(k *rsa.PrivateKey) *Signer { return newSigner(k) }

func newSigner(k *rsa.PrivateKey) *Signer {
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	sum := sha256.Sum256(der)
	return (&Signer{key: k, method: jwt.SigningMethodRS256, kid: base64.RawURLEncoding.EncodeToString(sum[:15])}).withHeader()
}

// KeyID is the "kid" header value of every token this signer issues.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey returns the verification key.
func (s *Signer) PublicKey() crypto.PublicKey {
	if s.ec != nil {
		return &s.ec.PublicKey
	}
	return &s.key.PublicKey
}

func (s *Signer) private() crypto.Signer {
	if s.ec != nil {
		return s.ec
	}
	return s.key
}

// Sign returns the compact JWS of claims with this signer's algorithm and kid.
func (s *Signer) Sign(claims jwt.Claims) (string, error) {
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(s.header)+1+enc.EncodedLen(len(c))+1+enc.EncodedLen(512))
	buf = append(buf, s.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, c)
	sig, err := s.method.Sign(string(buf), s.private())
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, sig)), nil
}

// VerifyOptions says which issuer and audiences a verified token may carry.
type VerifyOptions struct {
	Issuer    string
	Audiences []string // accepted audiences, compared without a trailing '/' and case-insensitively
	Now       func() time.Time
	// Leeway tolerates clock skew on exp/nbf/iat for tokens that come from
	// other machines' clocks; zero means none.
	Leeway time.Duration
}

// Verify parses token into claims (a pointer to a struct embedding
// jwt.RegisteredClaims), accepting only this signer's algorithm and key,
// then checks issuer, audience, expiry and not-before.
func (s *Signer) Verify(token string, claims jwt.Claims, opt VerifyOptions) error {
	if strings.Count(token, ".") != 2 {
		return fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{s.method.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(opt.Leeway),
	}
	if opt.Now != nil {
		popts = append(popts, jwt.WithTimeFunc(opt.Now))
	}
	_, err := jwt.NewParser(popts...).ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.kid {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return s.PublicKey(), nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: %v", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	default:
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	iss, _ := claims.GetIssuer()
	if opt.Issuer != "" && iss != opt.Issuer {
		return fmt.Errorf("%w: issuer %q", ErrIssuer, iss)
	}
	auds, _ := claims.GetAudience()
	if len(opt.Audiences) > 0 && !audienceOK(auds, opt.Audiences) {
		return fmt.Errorf("%w: audience %q", ErrAudience, strings.Join(auds, ","))
	}
	return nil
}

func audienceOK(have, want []string) bool {
	for _, h := range have {
		h = strings.TrimSuffix(h, "/")
		for _, w := range want {
			if strings.EqualFold(h, strings.TrimSuffix(w, "/")) {
				return true
			}
		}
	}
	return false
}

// JWK is one key of a JSON Web Key Set.
type JWK struct {
	Kty string   `json:"kty"`
	Use string   `json:"use"`
	Kid string   `json:"kid"`
	Alg string   `json:"alg"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	X5t string   `json:"x5t,omitempty"`
	X5c []string `json:"x5c,omitempty"`
}

// JWKS returns an RSA signer's public key as a JWK set ({"keys":[...]}).
func (s *Signer) JWKS() map[string][]JWK {
	if s.key == nil {
		return map[string][]JWK{"keys": {}}
	}
	pub := s.key.PublicKey
	return map[string][]JWK{"keys": {{
		Kty: "RSA", Use: "sig", Kid: s.kid, Alg: "RS256",
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
}

// Unverified decodes the claims of a token without checking anything, for
// choosing which verification applies (e.g. reading tid or aud).
func Unverified(token string, claims jwt.Claims) error {
	_, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
