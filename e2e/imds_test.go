package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestManagedIdentityEndpoint: a VM with an assigned identity gets tokens for
// it from the managed-identity endpoint, presenting its host credential.
func TestManagedIdentityEndpoint(t *testing.T) {
	s, az := sharedAdmin(t)
	az.ok("group", "create", "-n", "imds-rg", "-l", "eastus", "-o", "none")
	assigned := az.obj("identity", "create", "-n", "imds-kubelet", "-g", "imds-rg")
	other := az.obj("identity", "create", "-n", "imds-other", "-g", "imds-rg")
	clientID, principalID := str(assigned, "clientId"), str(assigned, "principalId")

	vm := az.obj("vm", "create", "-n", "node0", "-g", "imds-rg", "--assign-identity", "imds-kubelet")
	expectFields(t, "vm create", vm, map[string]any{"powerState": "VM running", "resourceGroup": "imds-rg", "location": "eastus"})
	ua, _ := get(vm, "identity", "userAssignedIdentities").(map[string]any)
	if len(ua) != 1 || str(ua[str(assigned, "id")], "clientId") != clientID || str(ua[str(assigned, "id")], "principalId") != principalID {
		t.Errorf("vm create: identity.userAssignedIdentities = %v, want %s", ua, str(assigned, "id"))
	}

	hc := az.obj("vm", "host-credential", "-n", "node0", "-g", "imds-rg")
	endpoint := s.Endpoint + "/metadata/identity/oauth2/token"
	expectFields(t, "vm host-credential", hc, map[string]any{"identityEndpoint": endpoint, "identityHeader": "X-IDENTITY-HEADER"})
	credential := str(hc, "hostCredential")
	if credential == "" {
		t.Fatalf("vm host-credential: %v", hc)
	}

	tokenURL := func(clientID string) string {
		q := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://containerregistry.azure.net"}}
		if clientID != "" {
			q.Set("client_id", clientID)
		}
		return endpoint + "?" + q.Encode()
	}
	call := func(u string, headers map[string]string) (int, map[string]any) {
		t.Helper()
		status, body, err := s.get(t.Context(), u, headers)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("GET %s: %d, body is not JSON: %s", u, status, body)
		}
		return status, m
	}
	withCredential := map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": credential}

	status, tok := call(tokenURL(clientID), withCredential)
	if status != http.StatusOK {
		t.Fatalf("token request with the host credential: %d %v", status, tok)
	}
	expectFields(t, "token", tok, map[string]any{"token_type": "Bearer", "resource": "https://containerregistry.azure.net", "client_id": clientID})
	claims := jwtClaims(t, str(tok, "access_token"))
	if str(claims, "oid") != principalID || str(claims, "tid") != s.TenantID || !audienceHas(claims, "https://containerregistry.azure.net") {
		t.Errorf("token claims: oid %v tid %v aud %v; want oid %s, tid %s, aud the registry", claims["oid"], claims["tid"], claims["aud"], principalID, s.TenantID)
	}
	if !strings.HasPrefix(str(claims, "iss"), s.Endpoint+"/"+s.TenantID) {
		t.Errorf("token issuer %q", str(claims, "iss"))
	}
	// The only identity of the host is the default.
	if status, tok := call(tokenURL(""), withCredential); status != http.StatusOK || str(jwtClaims(t, str(tok, "access_token")), "oid") != principalID {
		t.Errorf("token request without client_id: %d %v", status, tok)
	}

	if status, body := call(tokenURL(clientID), map[string]string{"Metadata": "true"}); status != http.StatusUnauthorized {
		t.Errorf("token request without the host credential: %d %v, want 401", status, body)
	}
	if status, body := call(tokenURL(clientID), map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": credential + "x"}); status != http.StatusUnauthorized {
		t.Errorf("token request with a wrong host credential: %d %v, want 401", status, body)
	}
	if status, body := call(tokenURL(str(other, "clientId")), withCredential); status != http.StatusBadRequest {
		t.Errorf("token request for an identity not assigned to the host: %d %v, want 400", status, body)
	}

	// A new credential replaces the old one.
	newCredential := az.tsv("vm", "host-credential", "-n", "node0", "-g", "imds-rg", "--query", "hostCredential")
	if newCredential == credential {
		t.Fatal("host-credential issued the same credential twice")
	}
	if status, _ := call(tokenURL(clientID), withCredential); status != http.StatusUnauthorized {
		t.Errorf("old host credential after re-issue: %d, want 401", status)
	}
	if status, _ := call(tokenURL(clientID), map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": newCredential}); status != http.StatusOK {
		t.Errorf("new host credential: %d, want 200", status)
	}

	// Assigning an identity to a host needs .../assign/action on it: a
	// Contributor of another group may not borrow this one.
	az.ok("group", "create", "-n", "imds-borrower", "-l", "eastus", "-o", "none")
	az.ok("ad", "user", "create", "--display-name", "Heidi", "--user-principal-name", "heidi@drydock.local", "--password", "Heidi-Passw0rd!", "-o", "none")
	az.ok("role", "assignment", "create", "--role", "Contributor", "--assignee", "heidi@drydock.local", "-g", "imds-borrower", "-o", "none")
	heidi := s.login(t, "heidi@drydock.local", "Heidi-Passw0rd!")
	heidi.fails(1, `^ERROR: \(LinkedAuthorizationFailed\) .*Microsoft\.ManagedIdentity/userAssignedIdentities/assign/action`,
		"vm", "create", "-n", "borrowed", "-g", "imds-borrower", "--assign-identity", str(assigned, "id"))
	if got := az.tsv("vm", "list", "-g", "imds-borrower", "--query", "[].name"); got != "" {
		t.Errorf("the refused vm exists: %q", got)
	}
}

// jwtClaims decodes a JWT's payload (the signature is the server's business;
// other tests check it).
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return claims
}

func audienceHas(claims map[string]any, aud string) bool {
	switch a := claims["aud"].(type) {
	case string:
		return a == aud
	case []any:
		return slices.Contains(a, any(aud))
	}
	return false
}
