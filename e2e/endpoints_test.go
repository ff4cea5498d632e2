package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestServiceEndpoints: health, metrics, cloud metadata, OIDC discovery, and
// the audience separation of tokens on the real listener.
func TestServiceEndpoints(t *testing.T) {
	s, az := sharedAdmin(t)
	call := func(path string, headers map[string]string) (int, string) {
		t.Helper()
		status, body, err := s.get(t.Context(), s.Endpoint+path, headers)
		if err != nil {
			t.Fatal(err)
		}
		return status, string(body)
	}
	decode := func(body string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, body)
		}
		return m
	}

	if status, body := call("/healthz", nil); status != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	if status, body := call("/readyz", nil); status != http.StatusOK {
		t.Errorf("/readyz: %d %q", status, body)
	}
	if status, body := call("/metrics", nil); status != http.StatusOK || !strings.Contains(body, "drydock_http_requests_total{") {
		t.Errorf("/metrics: %d, no drydock_http_requests_total", status)
	}

	status, body := call("/metadata/endpoints", nil)
	meta := decode(body)
	if status != http.StatusOK || str(meta, "name") != "drydock" || str(meta, "resourceManager") != s.Endpoint+"/" ||
		str(meta, "authentication", "tenant") != s.TenantID || str(meta, "suffixes", "acrLoginServer") != "azurecr.io" ||
		str(meta, "drydock", "caFile") != s.CAFile {
		t.Errorf("/metadata/endpoints: %d %v", status, meta)
	}
	cloud := az.obj("cloud", "show")
	expectFields(t, "cloud show", cloud, map[string]any{"name": "drydock", "caFile": s.CAFile, "endpoints.resourceManager": s.Endpoint + "/", "suffixes.acrLoginServerEndpoint": ".azurecr.io", "endpoints.activeDirectory": s.Endpoint + "/adfs"})

	status, body = call("/"+s.TenantID+"/v2.0/.well-known/openid-configuration", nil)
	oidc := decode(body)
	issuer := s.Endpoint + "/" + s.TenantID + "/v2.0"
	if status != http.StatusOK || str(oidc, "issuer") != issuer || str(oidc, "token_endpoint") != s.Endpoint+"/"+s.TenantID+"/oauth2/v2.0/token" {
		t.Errorf("openid-configuration: %d %v", status, oidc)
	}
	status, body = call(strings.TrimPrefix(str(oidc, "jwks_uri"), s.Endpoint), nil)
	keys, _ := decode(body)["keys"].([]any)
	if status != http.StatusOK || len(keys) == 0 || str(keys[0], "kty") != "RSA" || str(keys[0], "alg") != "RS256" || str(keys[0], "kid") == "" {
		t.Errorf("JWKS: %d %s", status, body)
	}

	// Tokens from the CLI, one per audience.
	armToken := az.tsv("account", "get-access-token", "--query", "accessToken")
	graphToken := az.tsv("account", "get-access-token", "--resource-type", "ms-graph", "--query", "accessToken")
	acrToken := az.tsv("account", "get-access-token", "--resource", "https://containerregistry.azure.net", "--query", "accessToken")
	for name, tok := range map[string]string{"arm": armToken, "graph": graphToken, "acr": acrToken} {
		c := jwtClaims(t, tok)
		if str(c, "iss") != issuer || str(c, "tid") != s.TenantID {
			t.Errorf("%s token: iss %v tid %v", name, c["iss"], c["tid"])
		}
	}
	if kid := jwtHeader(t, armToken)["kid"]; kid != str(keys[0], "kid") {
		t.Errorf("ARM token kid %v is not the JWKS key %s", kid, str(keys[0], "kid"))
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	const subs = "/subscriptions?api-version=2022-12-01"

	if status, body := call(subs, nil); status != http.StatusUnauthorized || str(decode(body), "error", "code") != "AuthenticationFailed" {
		t.Errorf("ARM without a token: %d %s", status, body)
	}
	if status, body := call(subs, bearer(armToken)); status != http.StatusOK || !strings.Contains(body, `"subscriptionId"`) {
		t.Errorf("ARM with an ARM token: %d %s", status, body)
	}
	for name, tok := range map[string]string{"graph": graphToken, "registry": acrToken} {
		if status, body := call(subs, bearer(tok)); status != http.StatusUnauthorized || str(decode(body), "error", "code") != "InvalidAuthenticationTokenAudience" {
			t.Errorf("ARM with a %s token: %d %s", name, status, body)
		}
	}
	if status, body := call("/subscriptions", bearer(armToken)); status != http.StatusBadRequest || str(decode(body), "error", "code") != "MissingApiVersionParameter" {
		t.Errorf("ARM without api-version: %d %s", status, body)
	}
	if status, body := call("/v1.0/me", bearer(graphToken)); status != http.StatusOK || str(decode(body), "userPrincipalName") != "admin@drydock.local" {
		t.Errorf("Graph /me with a Graph token: %d %s", status, body)
	}
	if status, body := call("/v1.0/me", bearer(armToken)); status != http.StatusUnauthorized {
		t.Errorf("Graph /me with an ARM token: %d %s", status, body)
	}
	// A tampered token is refused.
	parts := strings.Split(armToken, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if status, body := call(subs, bearer(forged)); status != http.StatusUnauthorized {
		t.Errorf("ARM with a forged signature: %d %s", status, body)
	}
}

func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	return jwtClaims(t, "x."+strings.SplitN(token, ".", 2)[0]+".x")
}
