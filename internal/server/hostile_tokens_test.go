package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/tokens"
)

// The hostile-input suite, part 1: forged and misused tokens on every
// surface that takes one. Each case must end in the surface's 4xx, in the
// surface's error envelope, and the same surface must still accept its
// genuine token right after.
//
// Forgeries that need a valid signature are signed with the server's own
// keys (read from its data dir), so that "wrong audience" proves the
// audience check and not the signature check; where a surface says which
// check failed, the test holds it to that.

// forge turns a token a surface accepts into the token to present.
type forge func(t *testing.T, valid string) string

// misuse is one forged or misused token.
type misuse struct {
	name  string
	forge forge
	// why is what the verifier's error says (a fragment), for surfaces
	// whose error names the failed check.
	why string
}

// Fragments of the verifiers' errors.
const (
	whySignature = "signature is invalid"
	whyMalformed = "malformed"
	whyAudience  = "audience"
	whyIssuer    = "issuer"
	whyExpired   = "expired"
	whyNotYet    = "not valid yet"
	whyNotAccess = "not an access token"
	whyGrant     = "grant type"
	whyRegistry  = "another registry"
)

func jwtSegments(t *testing.T, tok string) []string {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	return p
}

func segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// literal presents tok whatever the surface accepts.
func literal(tok string) forge { return func(*testing.T, string) string { return tok } }

// resigned changes the claims and signs them again with the server's key.
func resigned(s *tokens.Signer, mutate func(jwt.MapClaims)) forge {
	return func(t *testing.T, valid string) string {
		c := jwt.MapClaims(claimsOf(t, valid))
		mutate(c)
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
}

func set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }

func expire(c jwt.MapClaims) {
	now := time.Now().Unix()
	c["iat"], c["nbf"], c["exp"] = now-7200, now-7200, now-3600
}

func notYet(c jwt.MapClaims) {
	now := time.Now().Unix()
	c["iat"], c["nbf"], c["exp"] = now, now+3600, now+7200
}

// algNone strips the signature and says "none".
func algNone(t *testing.T, valid string) string {
	h := jwtPart(t, valid, 0)
	h["alg"] = "none"
	return segment(h) + "." + jwtSegments(t, valid)[1] + "."
}

// hmacKeyedWithPublicKey signs the claims with HS256, keyed with the
// server's public key as published (PEM): the algorithm-confusion attack
// on verifiers that hand the key to whatever algorithm the header names.
func hmacKeyedWithPublicKey(s *tokens.Signer) forge {
	return func(t *testing.T, valid string) string {
		der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claimsOf(t, valid)))
		tok.Header["kid"] = s.KeyID()
		out, err := tok.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// otherKeySameKid signs the claims with a fresh key of the server's
// algorithm under the server's key id.
func otherKeySameKid(s *tokens.Signer) forge {
	return func(t *testing.T, valid string) string {
		var key any
		var method jwt.SigningMethod
		switch s.PublicKey().(type) {
		case *rsa.PublicKey:
			key, _ = rsa.GenerateKey(rand.Reader, 2048)
			method = jwt.SigningMethodRS256
		default:
			key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			method = jwt.SigningMethodES256
		}
		tok := jwt.NewWithClaims(method, jwt.MapClaims(claimsOf(t, valid)))
		tok.Header["kid"] = s.KeyID()
		out, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// badSignature flips bits in the middle of the signature.
func badSignature(t *testing.T, valid string) string {
	p := jwtSegments(t, valid)
	sig := []byte(p[2])
	i := len(sig) / 2
	if sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	return p[0] + "." + p[1] + "." + string(sig)
}

// otherSubject keeps the signature and swaps the payload's object ID.
func otherSubject(t *testing.T, valid string) string {
	p := jwtSegments(t, valid)
	c := claimsOf(t, valid)
	c["oid"], c["sub"] = uuid.NewString(), uuid.NewString()
	return p[0] + "." + segment(c) + "." + p[2]
}

// signers are the server's token keys: the directory's (RS256) and the
// registries' (ES256).
func (e *env) signers(t *testing.T) (dir, reg *tokens.Signer) {
	t.Helper()
	keys := filepath.Join(e.dataDir, "keys")
	dir, err := tokens.LoadOrCreate(keys)
	if err != nil {
		t.Fatal(err)
	}
	if reg, err = tokens.LoadOrCreateEC(keys, "registry-signing.key"); err != nil {
		t.Fatal(err)
	}
	return dir, reg
}

// forgeries are the forgeries of a token signed by s that need no other
// token: the signature attacks and validly signed wrong claims.
func forgeries(s *tokens.Signer, wrongAudience string) []misuse {
	return []misuse{
		{"alg none", algNone, whySignature},
		{"HS256 keyed with the public key", hmacKeyedWithPublicKey(s), whySignature},
		{"another key under the server's kid", otherKeySameKid(s), whySignature},
		{"tampered signature", badSignature, whySignature},
		{"tampered payload", otherSubject, whySignature},
		{"not a JWT", literal("not.a-jwt"), whyMalformed},
		{"wrong audience", resigned(s, set("aud", wrongAudience)), whyAudience},
		{"wrong issuer", resigned(s, set("iss", "https://login.microsoftonline.com/"+uuid.NewString()+"/v2.0")), whyIssuer},
		{"expired", resigned(s, expire), whyExpired},
		{"not valid yet", resigned(s, notYet), whyNotYet},
	}
}

// dirTokens are the admin's genuine directory tokens besides e.arm and
// e.graph: a refresh token and an id_token.
func (e *env) dirTokens(t *testing.T) (refresh, idToken string) {
	t.Helper()
	code, out := e.token(t, url.Values{"grant_type": {"password"}, "username": {e.Admin}, "password": {e.adminPassword(t)},
		"scope": {armScope + " openid offline_access"}, "client_id": {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}})
	if code != 200 || out["refresh_token"] == nil || out["id_token"] == nil {
		t.Fatalf("password grant: %d %v", code, out)
	}
	return out["refresh_token"].(string), out["id_token"].(string)
}

// tokenSurface is one place that takes a token.
type tokenSurface struct {
	name     string
	valid    string // a token it accepts
	present  func(t *testing.T, tok string) (int, map[string]any)
	status   int    // the refusal's status
	envelope string // see errorOf
	// code is the refusal's error code, or codeFor maps why to it.
	code    string
	codeFor map[string]string
	// names says whether the message names the failed check (then it
	// must contain the misuse's why).
	names bool
}

// armCodes are ARM's codes for each failed check.
var armCodes = map[string]string{
	whySignature: "InvalidAuthenticationToken", whyMalformed: "InvalidAuthenticationToken", whyNotYet: "InvalidAuthenticationToken",
	whyNotAccess: "InvalidAuthenticationToken", whyAudience: "InvalidAuthenticationTokenAudience",
	whyIssuer: "InvalidAuthenticationTokenTenant", whyExpired: "ExpiredAuthenticationToken",
}

// run presents every misuse to the surface, then its genuine token.
func (s tokenSurface) run(t *testing.T, cases []misuse) {
	t.Helper()
	for _, m := range cases {
		t.Run(s.name+"/"+m.name, func(t *testing.T) {
			tok := m.forge(t, s.valid)
			status, body := s.present(t, tok)
			code, msg := errorOf(s.envelope, body)
			want := s.code
			if s.codeFor != nil {
				want = s.codeFor[m.why]
			}
			switch {
			case status != s.status || code != want:
				t.Errorf("want %d %s in a %s envelope, got %d %v", s.status, want, s.envelope, status, body)
			case s.names && !strings.Contains(msg, m.why):
				t.Errorf("the refusal does not say %q: %s", m.why, msg)
			}
			if status, body := s.present(t, s.valid); status != 200 {
				t.Fatalf("the genuine token afterwards: %d %v", status, body)
			}
		})
	}
}

func TestHostileDirectoryTokens(t *testing.T) {
	e := newEnv(t, nil)
	dirKey, regKey := e.signers(t)
	refresh, idToken := e.dirTokens(t)
	login := e.createRegistry(t, "rg", "hostileacr", nil)
	rt := e.registryTransport(t)
	_, regAccess := e.registryTokens(t, rt, login)

	// Misuses of genuine tokens on a surface that wants an access token.
	asAccess := append(forgeries(dirKey, "https://vault.azure.net"),
		misuse{"tenant of another directory", resigned(dirKey, set("tid", uuid.NewString())), whyIssuer},
		misuse{"refresh token", literal(refresh), whyAudience},
		misuse{"refresh token_use with the right audience", resigned(dirKey, set("token_use", "refresh")), whyNotAccess},
		misuse{"id_token", literal(idToken), whyAudience},
		misuse{"id_token with the right audience", resigned(dirKey, set("token_use", "id")), whyNotAccess},
		misuse{"registry access token", literal(regAccess), whySignature},
		misuse{"registry-keyed token with these claims", resigned(regKey, func(jwt.MapClaims) {}), whySignature},
	)
	bearer := func(path string) func(t *testing.T, tok string) (int, map[string]any) {
		return func(t *testing.T, tok string) (int, map[string]any) { return e.do(t, tok, "GET", path, nil) }
	}
	for _, s := range []tokenSurface{
		{name: "arm", valid: e.arm, present: bearer("/subscriptions?api-version=2022-12-01"), status: 401, envelope: "arm", codeFor: armCodes},
		{name: "graph", valid: e.graph, present: bearer("/v1.0/me"), status: 401, envelope: "graph", code: "InvalidAuthenticationToken", names: true},
		{name: "graph under /graph", valid: e.graph, present: bearer("/graph/v1.0/me"), status: 401, envelope: "graph", code: "InvalidAuthenticationToken", names: true},
		{name: "registry exchange", valid: e.arm, present: func(t *testing.T, tok string) (int, map[string]any) {
			return registryDo(t, rt, login, regRequest{method: "POST", path: "/oauth2/exchange", form: url.Values{
				"grant_type": {"access_token"}, "service": {login}, "tenant": {e.TenantID}, "access_token": {tok}}})
		}, status: 401, envelope: "oci", code: "UNAUTHORIZED", names: true},
	} {
		s.run(t, asAccess)
	}

	// The token endpoint's refresh-token grant wants a refresh token.
	asRefresh := append(forgeries(dirKey, "https://management.core.windows.net/"),
		misuse{"access token", literal(e.arm), whyAudience},
		misuse{"access token_use with the right audience", resigned(dirKey, func(c jwt.MapClaims) { delete(c, "token_use") }), ""},
		misuse{"id_token", literal(idToken), whyAudience},
		misuse{"registry access token", literal(regAccess), whySignature},
	)
	tokenEndpoint := tokenSurface{name: "token endpoint refresh grant", valid: refresh, present: func(t *testing.T, tok string) (int, map[string]any) {
		return e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "scope": {armScope}})
	}, status: 400, envelope: "aad", code: "invalid_grant"}
	tokenEndpoint.run(t, asRefresh)
}

func TestHostileRegistryTokens(t *testing.T) {
	e := newEnv(t, nil)
	dirKey, regKey := e.signers(t)
	dirRefresh, idToken := e.dirTokens(t)
	login := e.createRegistry(t, "rg", "hostileacr", nil)
	otherLogin := e.createRegistry(t, "rg", "otheracr", nil)
	rt := e.registryTransport(t)
	refresh, _ := e.registryTokens(t, rt, login)
	otherRefresh, otherAccess := e.registryTokens(t, rt, otherLogin)
	// An access token for /v2/ and the catalog.
	code, out := registryDo(t, rt, login, regRequest{method: "POST", path: "/oauth2/token", form: url.Values{
		"grant_type": {"refresh_token"}, "service": {login}, "scope": {"registry:catalog:* repository:app:pull"}, "refresh_token": {refresh}}})
	if code != 200 {
		t.Fatalf("access token: %d %v", code, out)
	}
	access := out["access_token"].(string)

	common := append(forgeries(regKey, "https://containerregistry.azure.net"),
		misuse{"issued for an earlier registry of this name", resigned(regKey, set("drydock_registry", "AAAAAAAAAAAAAAAAAAAAAA")), whyRegistry},
		misuse{"directory refresh token", literal(dirRefresh), whySignature},
		misuse{"directory access token", literal(e.arm), whySignature},
		misuse{"id_token", literal(idToken), whySignature},
		misuse{"directory-keyed token with these claims", resigned(dirKey, func(jwt.MapClaims) {}), whySignature},
	)
	otherRegistry := []misuse{
		{"another registry's refresh token", literal(otherRefresh), whyAudience},
		{"another registry's access token", literal(otherAccess), whyAudience},
	}
	asRefresh := slices.Concat(common, otherRegistry, []misuse{{"access token", literal(access), whyGrant}})
	asAccess := slices.Concat(common, otherRegistry, []misuse{{"refresh token", literal(refresh), whyGrant}})
	// The null-GUID user takes either kind of this registry's tokens, as ACR does.
	asPassword := slices.Concat(common, otherRegistry)
	get := func(path string, basic bool) func(t *testing.T, tok string) (int, map[string]any) {
		return func(t *testing.T, tok string) (int, map[string]any) {
			req := regRequest{method: "GET", path: path, bearer: tok}
			if basic {
				req.bearer, req.basic = "", nullGUID(tok)
			}
			return registryDo(t, rt, login, req)
		}
	}
	redeem := tokenSurface{name: "registry token refresh grant", valid: refresh, present: func(t *testing.T, tok string) (int, map[string]any) {
		return registryDo(t, rt, login, redeemRequest(login, tok))
	}, status: 401, envelope: "oci", code: "UNAUTHORIZED", names: true}
	redeem.run(t, asRefresh)
	for _, s := range []tokenSurface{
		{name: "v2 bearer", valid: access, present: get("/v2/", false), status: 401, envelope: "oci", code: "UNAUTHORIZED"},
		{name: "acr v1 catalog bearer", valid: access, present: get("/acr/v1/_catalog", false), status: 401, envelope: "oci", code: "UNAUTHORIZED"},
	} {
		s.run(t, asAccess)
	}
	basic := tokenSurface{name: "v2 basic null GUID", valid: access, present: get("/v2/", true), status: 401, envelope: "oci", code: "UNAUTHORIZED"}
	basic.run(t, asPassword)
	// Every refusal on /v2/ is a challenge a client can follow.
	req, _ := http.NewRequest("GET", "https://"+login+"/v2/", nil)
	req.Header.Set("Authorization", "Bearer "+algNone(t, access))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="https://`+login+`/oauth2/token"`) {
		t.Errorf("challenge: %q", ch)
	}
}

func TestHostileManagedIdentityEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	mi := e.mustDo(t, e.arm, "PUT", e.rg("rg")+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kubelet?api-version=2023-01-31", map[string]any{"location": "eastus"}, 201)
	vm := e.rg("rg") + "/providers/Microsoft.Compute/virtualMachines/node0"
	e.mustDo(t, e.arm, "PUT", vm+"?api-version=2024-07-01", map[string]any{"location": "eastus",
		"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{mi["id"].(string): map[string]any{}}}}, 201)
	cred := e.mustDo(t, e.arm, "POST", vm+"/issueHostCredential?api-version=2024-07-01", nil, 200)["hostCredential"].(string)
	keyID, secret, _ := strings.Cut(strings.TrimPrefix(cred, "dhc_"), ".")
	// One character changed, to another printable one (flipping a bit of
	// '~' would give DEL, which no header may carry).
	tampered := []byte(secret)
	if mid := len(tampered) / 2; tampered[mid] == 'a' {
		tampered[mid] = 'b'
	} else {
		tampered[mid] = 'a'
	}

	q := "api-version=2018-02-01&resource=" + url.QueryEscape("https://management.azure.com/")
	imds := func(t *testing.T, header map[string]string) (int, map[string]any) { return e.imds(t, header, q) }
	cases := []struct {
		name   string
		header map[string]string
	}{
		{"wrong secret for a real key id", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": "dhc_" + keyID + "." + string(tampered)}},
		{"real secret, another key id", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": "dhc_" + strings.Repeat("0", len(keyID)) + "." + secret}},
		{"empty secret", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": "dhc_" + keyID + "."}},
		{"no prefix", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": keyID + "." + secret}},
		{"path in the key id", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": "dhc_../../etc/passwd." + secret}},
		{"the admin's access token as credential", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": e.arm}},
		{"forged credential in the App Service 2017 header", map[string]string{"secret": "dhc_" + keyID + "." + string(tampered)}},
		{"bearer token instead of a credential", map[string]string{"Metadata": "true", "Authorization": "Bearer " + e.arm}},
		{"1 KiB credential", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": "dhc_" + strings.Repeat("a", 1024) + "." + secret}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := imds(t, c.header)
			if code, _ := errorOf("imds", body); status != 401 || code != "unauthorized_client" {
				t.Errorf("want 401 unauthorized_client, got %d %v", status, body)
			}
			if status, body := imds(t, map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": cred}); status != 200 {
				t.Fatalf("the genuine credential afterwards: %d %v", status, body)
			}
		})
	}
}
