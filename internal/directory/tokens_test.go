package directory

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/drydock-dev/drydock/internal/tokens"
)

func TestAccessTokenClaims(t *testing.T) {
	td := newTestDir(t, func(c *Config) { c.AccessTokenLifetime = 90 * time.Minute })
	now := td.clock.Now()
	for _, tc := range []struct {
		name     string
		p        Principal
		audience string
		idtyp    string
		appID    string
		upn      string
		scp      string
		mirid    string
	}{
		{"user for ARM", td.user, AudienceARM, "user", azureCLIClientID, "alice@contoso.test", "user_impersonation", ""},
		{"user for Graph", td.user, AudienceGraph, "user", azureCLIClientID, "alice@contoso.test", "user_impersonation", ""},
		{"service principal for ACR", td.sp, AudienceACR, "app", td.sp.AppID, "", "", ""},
		{"managed identity for ARM", td.mi, AudienceARM, "app", td.mi.AppID, "", "", td.mi.ResourceID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := td.IssueAccessToken(tc.p, tc.audience)
			if err != nil {
				t.Fatal(err)
			}
			c, header := claimsOf(t, tok.AccessToken)
			if header["alg"] != "RS256" || header["kid"] != td.key.KeyID() || header["typ"] != "JWT" {
				t.Errorf("header %v", header)
			}
			if c.Issuer != testBase+"/"+testTenant+"/v2.0" || c.Issuer != td.Issuer() || !slices.Equal(c.Audience, jwt.ClaimStrings{tc.audience}) {
				t.Errorf("iss %q aud %v", c.Issuer, c.Audience)
			}
			if !c.IssuedAt.Equal(now) || !c.NotBefore.Equal(now) || !c.ExpiresAt.Equal(now.Add(90*time.Minute)) || !tok.ExpiresOn.Equal(now.Add(90*time.Minute)) {
				t.Errorf("iat %v nbf %v exp %v (token says %v), now %v", c.IssuedAt, c.NotBefore, c.ExpiresAt, tok.ExpiresOn, now)
			}
			if c.TenantID != testTenant || c.ObjectID != tc.p.ObjectID || c.Subject != tc.p.ObjectID || c.IDType != tc.idtyp || c.AppID != tc.appID ||
				c.UPN != tc.upn || c.Scope != tc.scp || c.MIResourceID != tc.mirid || c.Version != "2.0" || c.TokenUse != "" || c.ID == "" {
				t.Errorf("claims %+v", c)
			}
			if _, err := td.VerifyAccessToken(tok.AccessToken, tc.audience); err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	}
}

// signed signs claims as the directory would, after mutate.
func (td *testDir) signed(signer *tokens.Signer, mutate func(*tokens.Claims)) string {
	td.t.Helper()
	now := td.clock.Now()
	c := td.claims(td.user, AudienceARM, now, now.Add(time.Hour))
	mutate(c)
	s, err := signer.Sign(c)
	if err != nil {
		td.t.Fatal(err)
	}
	return s
}

func TestVerifyAccessToken(t *testing.T) {
	td := newTestDir(t, nil)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	stranger := tokens.NewSigner(key)
	arm, _ := td.IssueAccessToken(td.user, AudienceARM)
	acr, _ := td.IssueAccessToken(td.sp, AudienceACR)
	refresh, _ := td.IssueRefreshToken(td.user)
	id, _ := td.IssueIDToken(td.user, azureCLIClientID)
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, td.claims(td.user, AudienceARM, td.clock.Now(), td.clock.Now().Add(time.Hour))).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hmac, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, td.claims(td.user, AudienceARM, td.clock.Now(), td.clock.Now().Add(time.Hour))).SignedString([]byte("secret"))
	for _, tc := range []struct {
		name     string
		token    string
		audience string
		advance  time.Duration // the clock moves before verifying
		ok       bool
	}{
		{"ARM token for ARM", arm.AccessToken, AudienceARM, 0, true},
		{"ACR token for ACR", acr.AccessToken, AudienceACR, 0, true},
		{"ARM token for ACR", arm.AccessToken, AudienceACR, 0, false},
		{"ACR token for Graph", acr.AccessToken, AudienceGraph, 0, false},
		{"aud management.azure.com for ARM", td.signed(td.key, func(c *tokens.Claims) { c.Audience = jwt.ClaimStrings{"https://management.azure.com/"} }), AudienceARM, 0, true},
		{"aud the server's URL for ARM", td.signed(td.key, func(c *tokens.Claims) { c.Audience = jwt.ClaimStrings{testBase + "/"} }), AudienceARM, 0, true},
		{"aud Graph's app ID for Graph", td.signed(td.key, func(c *tokens.Claims) { c.Audience = jwt.ClaimStrings{"00000003-0000-0000-c000-000000000000"} }), AudienceGraph, 0, true},
		{"within the clock skew after expiry", arm.AccessToken, AudienceARM, time.Hour + 20*time.Second, true},
		{"expired", arm.AccessToken, AudienceARM, time.Hour + time.Minute, false},
		{"not yet valid", td.signed(td.key, func(c *tokens.Claims) { c.NotBefore = jwt.NewNumericDate(td.clock.Now().Add(5 * time.Minute)) }), AudienceARM, 0, false},
		{"another key", td.signed(stranger, func(*tokens.Claims) {}), AudienceARM, 0, false},
		{"another issuer", td.signed(td.key, func(c *tokens.Claims) { c.Issuer = "https://login.microsoftonline.com/" + testTenant + "/v2.0" }), AudienceARM, 0, false},
		{"another tenant", td.signed(td.key, func(c *tokens.Claims) { c.TenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47" }), AudienceARM, 0, false},
		{"tenant in another case", td.signed(td.key, func(c *tokens.Claims) { c.TenantID = strings.ToUpper(testTenant) }), AudienceARM, 0, true},
		{"a refresh token", refresh, AudienceARM, 0, false},
		{"an id_token", id, AudienceARM, 0, false},
		{"an id_token for its own audience", id, azureCLIClientID, 0, false},
		{"alg none", unsigned, AudienceARM, 0, false},
		{"HS256", hmac, AudienceARM, 0, false},
		{"garbage", "a.b.c", AudienceARM, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td.clock.Advance(tc.advance)
			defer td.clock.Advance(-tc.advance)
			c, err := td.VerifyAccessToken(tc.token, tc.audience)
			if tc.ok && (err != nil || c.ObjectID == "") {
				t.Errorf("refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Errorf("accepted: %+v", c)
			}
		})
	}
}

func TestRefreshTokens(t *testing.T) {
	td := newTestDir(t, func(c *Config) { c.RefreshTokenLifetime = 2 * time.Hour })
	rt, err := td.IssueRefreshToken(td.user)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := claimsOf(t, rt)
	if c.TokenUse != "refresh" || !slices.Equal(c.Audience, jwt.ClaimStrings{td.Issuer()}) || !c.ExpiresAt.Equal(td.clock.Now().Add(2*time.Hour)) {
		t.Errorf("refresh token claims %+v", c)
	}
	access, _ := td.IssueAccessToken(td.user, AudienceARM)
	for _, tc := range []struct {
		name    string
		token   string
		advance time.Duration
		ok      bool
	}{
		{"fresh", rt, 0, true},
		{"about to expire", rt, 2 * time.Hour, true},
		{"expired", rt, 2*time.Hour + time.Minute, false},
		{"an access token", access.AccessToken, 0, false},
		{"garbage", "x", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td.clock.Advance(tc.advance)
			defer td.clock.Advance(-tc.advance)
			p, err := td.Redeem(context.Background(), tc.token)
			if tc.ok && (err != nil || p.ObjectID != td.user.ObjectID) {
				t.Errorf("redeem: %+v %v", p, err)
			}
			if !tc.ok && err == nil {
				t.Errorf("redeemed: %+v", p)
			}
		})
	}
	// A principal deleted since cannot redeem its refresh tokens.
	if err := td.Delete(context.Background(), td.user.ObjectID); err != nil {
		t.Fatal(err)
	}
	if p, err := td.Redeem(context.Background(), rt); err == nil {
		t.Errorf("a deleted user redeemed: %+v", p)
	}
}

func TestTokenEndpoint(t *testing.T) {
	td := newTestDir(t, nil)
	rt, _ := td.IssueRefreshToken(td.user)
	access, _ := td.IssueAccessToken(td.user, AudienceARM)
	password := func(extra ...string) url.Values {
		f := url.Values{"grant_type": {"password"}, "username": {"alice@contoso.test"}, "password": {testPassword}, "client_id": {azureCLIClientID}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return f
	}
	client := func(extra ...string) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {td.sp.AppID}, "client_secret": {td.secret}, "scope": {"https://containerregistry.azure.net/.default"}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		basic  []string
		status int
		// On success: the token's audience and principal, and whether a
		// refresh token and an id_token come with it. On failure: the
		// error and its AADSTS code.
		aud, oid        string
		refresh, openid bool
		err             string
		aadsts          float64
	}{
		{name: "password, v2 scope", path: "/" + testTenant + "/oauth2/v2.0/token", form: password("scope", "https://management.core.windows.net//.default"),
			status: 200, aud: AudienceARM, oid: td.user.ObjectID},
		{name: "password with offline_access", path: "/organizations/oauth2/v2.0/token", form: password("scope", "https://management.azure.com/.default offline_access"),
			status: 200, aud: AudienceARM, oid: td.user.ObjectID, refresh: true},
		{name: "password with openid", path: "/common/oauth2/v2.0/token", form: password("scope", "openid profile offline_access https://graph.microsoft.com/.default"),
			status: 200, aud: AudienceGraph, oid: td.user.ObjectID, refresh: true, openid: true},
		{name: "password, v1 resource", path: "/" + testTenant + "/oauth2/token", form: password("resource", "https://management.core.windows.net/"),
			status: 200, aud: AudienceARM, oid: td.user.ObjectID, refresh: true},
		{name: "password through the ADFS alias", path: "/adfs/oauth2/token", form: password("scope", testBase+"/.default offline_access openid"),
			status: 200, aud: AudienceARM, oid: td.user.ObjectID, refresh: true, openid: true},
		{name: "password through the domain", path: "/contoso.test/oauth2/v2.0/token", form: password("scope", testBase+"/graph/.default"),
			status: 200, aud: AudienceGraph, oid: td.user.ObjectID},
		{name: "wrong password", path: "/organizations/oauth2/v2.0/token", form: password("password", "nope", "scope", AudienceARM),
			status: 400, err: "invalid_grant", aadsts: 50126},
		{name: "unknown user", path: "/organizations/oauth2/v2.0/token", form: password("username", "bob@contoso.test", "scope", AudienceARM),
			status: 400, err: "invalid_grant", aadsts: 50126},
		{name: "no password", path: "/organizations/oauth2/v2.0/token", form: password("password", "", "scope", AudienceARM),
			status: 400, err: "invalid_request", aadsts: 900144},
		{name: "client credentials", path: "/" + testTenant + "/oauth2/v2.0/token", form: client(),
			status: 200, aud: AudienceACR, oid: td.sp.ObjectID},
		{name: "client credentials never refresh", path: "/" + testTenant + "/oauth2/v2.0/token", form: client("scope", "https://graph.microsoft.com/.default offline_access openid"),
			status: 200, aud: AudienceGraph, oid: td.sp.ObjectID},
		{name: "client credentials in Basic auth", path: "/" + testTenant + "/oauth2/v2.0/token", form: client("client_id", "", "client_secret", ""), basic: []string{td.sp.AppID, td.secret},
			status: 200, aud: AudienceACR, oid: td.sp.ObjectID},
		{name: "wrong client secret", path: "/" + testTenant + "/oauth2/v2.0/token", form: client("client_secret", "nope"),
			status: 401, err: "invalid_client", aadsts: 7000215},
		{name: "no client secret", path: "/" + testTenant + "/oauth2/v2.0/token", form: client("client_secret", ""),
			status: 401, err: "invalid_client", aadsts: 7000216},
		{name: "no client ID", path: "/" + testTenant + "/oauth2/v2.0/token", form: client("client_id", ""),
			status: 400, err: "invalid_request", aadsts: 900144},
		{name: "refresh token", path: "/" + testTenant + "/oauth2/v2.0/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"https://graph.microsoft.com/.default"}},
			status: 200, aud: AudienceGraph, oid: td.user.ObjectID, refresh: true},
		{name: "access token as refresh token", path: "/" + testTenant + "/oauth2/v2.0/token", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {access.AccessToken}, "scope": {AudienceARM}},
			status: 400, err: "invalid_grant", aadsts: 700082},
		{name: "unsupported grant", path: "/" + testTenant + "/oauth2/v2.0/token", form: url.Values{"grant_type": {"authorization_code"}, "scope": {AudienceARM}},
			status: 400, err: "unsupported_grant_type", aadsts: 70003},
		{name: "no grant", path: "/" + testTenant + "/oauth2/v2.0/token", form: url.Values{"scope": {AudienceARM}},
			status: 400, err: "invalid_request", aadsts: 900144},
		{name: "no scope", path: "/" + testTenant + "/oauth2/v2.0/token", form: password("scope", "offline_access openid"),
			status: 400, err: "invalid_scope", aadsts: 70011},
		{name: "unknown resource", path: "/" + testTenant + "/oauth2/v2.0/token", form: password("scope", "https://vault.azure.net/.default"),
			status: 400, err: "invalid_resource", aadsts: 500011},
		{name: "another tenant", path: "/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token", form: password("scope", AudienceARM),
			status: 400, err: "invalid_request", aadsts: 90002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := td.post(tc.path, tc.form, tc.basic...)
			if status != tc.status {
				t.Fatalf("status %d: %v", status, out)
			}
			if tc.err != "" {
				codes, _ := out["error_codes"].([]any)
				desc, _ := out["error_description"].(string)
				if out["error"] != tc.err || len(codes) != 1 || codes[0] != tc.aadsts || !strings.HasPrefix(desc, "AADSTS") || out["access_token"] != nil {
					t.Errorf("error %v", out)
				}
				return
			}
			tok, _ := out["access_token"].(string)
			c, err := td.VerifyAccessToken(tok, tc.aud)
			if err != nil || c.ObjectID != tc.oid || out["token_type"] != "Bearer" || out["resource"] != tc.aud || out["expires_in"] != float64(3600) {
				t.Fatalf("answer %v: %+v %v", out, c, err)
			}
			if _, ok := out["refresh_token"]; ok != tc.refresh {
				t.Errorf("refresh token given: %v, want %v", ok, tc.refresh)
			} else if ok {
				if p, err := td.Redeem(context.Background(), out["refresh_token"].(string)); err != nil || p.ObjectID != tc.oid {
					t.Errorf("its refresh token: %+v %v", p, err)
				}
			}
			idt, ok := out["id_token"].(string)
			if ok != tc.openid {
				t.Fatalf("id_token given: %v, want %v", ok, tc.openid)
			}
			if ok {
				ic, _ := claimsOf(t, idt)
				if ic.TokenUse != "id" || !slices.Equal(ic.Audience, jwt.ClaimStrings{azureCLIClientID}) || ic.PreferredUsername != "alice@contoso.test" ||
					ic.Issuer != td.Issuer() || ic.Scope != "" || ic.AppID != "" || ic.ObjectID != tc.oid {
					t.Errorf("id_token claims %+v", ic)
				}
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	td := newTestDir(t, nil)
	for _, tc := range []struct {
		path, issuer, token string
	}{
		{"/" + testTenant + "/v2.0/.well-known/openid-configuration", td.Issuer(), testBase + "/" + testTenant + "/oauth2/v2.0/token"},
		{"/organizations/v2.0/.well-known/openid-configuration", testBase + "/{tenantid}/v2.0", testBase + "/organizations/oauth2/v2.0/token"},
		// ADFS: its own endpoint names, and the issuer tokens carry.
		{"/adfs/.well-known/openid-configuration", td.Issuer(), testBase + "/adfs/oauth2/token"},
	} {
		status, out := td.get(tc.path)
		if status != http.StatusOK || out["issuer"] != tc.issuer || out["token_endpoint"] != tc.token {
			t.Errorf("%s: %d %v", tc.path, status, out)
		}
	}
	if status, out := td.get("/someone-else/v2.0/.well-known/openid-configuration"); status != http.StatusBadRequest || out["error"] != "invalid_tenant" {
		t.Errorf("unknown tenant: %d %v", status, out)
	}
	status, out := td.get("/adfs/discovery/keys")
	keys, _ := out["keys"].([]any)
	if status != http.StatusOK || len(keys) != 1 || keys[0].(map[string]any)["kid"] != td.key.KeyID() {
		t.Errorf("keys: %d %v", status, out)
	}
}

func TestResolveResource(t *testing.T) {
	td := newTestDir(t, nil)
	for _, tc := range []struct {
		in, want string
	}{
		{"https://management.core.windows.net/", AudienceARM},
		{"https://management.core.windows.net//.default", AudienceARM},
		{"https://management.azure.com", AudienceARM},
		{"HTTPS://MANAGEMENT.AZURE.COM/.default", AudienceARM},
		{testBase + "/", AudienceARM},
		{"https://containerregistry.azure.net/.default", AudienceACR},
		{"https://graph.microsoft.com/.default", AudienceGraph},
		{"00000003-0000-0000-c000-000000000000", AudienceGraph},
		{testBase + "/graph", AudienceGraph},
		{"https://vault.azure.net", ""},
		{"", ""},
	} {
		got, ok := td.ResolveResource(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ResolveResource(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
}
