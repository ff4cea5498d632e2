package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/config"
)

const (
	armScope   = "https://management.core.windows.net//.default"
	graphScope = "https://graph.microsoft.com/.default"
	acrPullID  = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	contribID  = "b24988ac-6180-42a0-ab88-20f7382dd24c"
)

// env is a started server with the admin's tokens and the default subscription.
type env struct {
	*testServer
	arm, graph string
	sub        string
}

func newEnv(t *testing.T, mutate func(*config.Config)) *env {
	return envOf(t, startServer(t, mutate))
}

// envOf signs the admin in on a started server.
func envOf(t *testing.T, ts *testServer) *env {
	e := &env{testServer: ts}
	e.arm = ts.userToken(t, ts.Admin, ts.adminPassword(t), armScope)
	e.graph = ts.userToken(t, ts.Admin, ts.adminPassword(t), graphScope)
	code, subs := ts.do(t, e.arm, "GET", "/subscriptions?api-version=2022-12-01", nil)
	if code != 200 {
		t.Fatalf("subscriptions: %d %v", code, subs)
	}
	e.sub = subs["value"].([]any)[0].(map[string]any)["subscriptionId"].(string)
	return e
}

func (e *env) rg(name string) string { return "/subscriptions/" + e.sub + "/resourceGroups/" + name }

// createGroup creates resource group name (in eastus) as the admin.
func (e *env) createGroup(t *testing.T, name string) {
	t.Helper()
	e.mustDo(t, e.arm, "PUT", e.rg(name)+"?api-version=2022-09-01", map[string]any{"location": "eastus"}, 201)
}

func (e *env) mustDo(t *testing.T, token, method, path string, body any, want int) map[string]any {
	t.Helper()
	code, out := e.do(t, token, method, path, body)
	if code != want {
		t.Fatalf("%s %s: want %d, got %d %v", method, path, want, code, out)
	}
	return out
}

// newUser creates a user through Graph and returns its object ID and ARM token.
func (e *env) newUser(t *testing.T, alias string) (string, string) {
	upn := alias + "@drydock.local"
	u := e.mustDo(t, e.graph, "POST", "/v1.0/users", map[string]any{"userPrincipalName": upn, "displayName": alias, "passwordProfile": map[string]any{"password": "Passw0rd!" + alias}}, 201)
	return u["id"].(string), e.userToken(t, upn, "Passw0rd!"+alias, armScope)
}

func (e *env) assign(t *testing.T, token, scope, roleGUID, principal string, want int) map[string]any {
	t.Helper()
	return e.mustDo(t, token, "PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + roleGUID, "principalId": principal}}, want)
}

func TestARMErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	acr := e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/"
	e.mustDo(t, e.arm, "PUT", acr+"taken1?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "basic"}}, 201)
	e.mustDo(t, e.arm, "PUT", e.rg("other")+"?api-version=2022-09-01", map[string]any{"location": "westus"}, 201)

	cases := []struct {
		name, token, method, path string
		body                      any
		status                    int
		code, msg                 string
	}{
		{"no token", "", "GET", e.rg("rg") + "?api-version=2022-09-01", nil, 401, "AuthenticationFailed", "'Authorization' header is missing"},
		{"forged token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "GET", e.rg("rg") + "?api-version=2022-09-01", nil, 401, "InvalidAuthenticationToken", ""},
		{"graph token on ARM", e.graph, "GET", e.rg("rg") + "?api-version=2022-09-01", nil, 401, "InvalidAuthenticationTokenAudience", ""},
		{"missing api-version", e.arm, "GET", e.rg("rg"), nil, 400, "MissingApiVersionParameter", "api-version query parameter"},
		{"bad api-version", e.arm, "GET", e.rg("rg") + "?api-version=latest", nil, 400, "InvalidApiVersionParameter", ""},
		{"unknown subscription", e.arm, "GET", "/subscriptions/" + uuid.NewString() + "/resourceGroups/rg?api-version=2022-09-01", nil, 404, "SubscriptionNotFound", ""},
		{"unknown group", e.arm, "GET", e.rg("nope") + "?api-version=2022-09-01", nil, 404, "ResourceGroupNotFound", "Resource group 'nope' could not be found."},
		{"registry in unknown group", e.arm, "PUT", e.rg("nope") + "/providers/Microsoft.ContainerRegistry/registries/abcde?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}}, 404, "ResourceGroupNotFound", ""},
		{"unknown registry", e.arm, "GET", acr + "missing1?api-version=2023-07-01", nil, 404, "ResourceNotFound", "Microsoft.ContainerRegistry/registries/missing1"},
		{"bad segment", e.arm, "GET", "/subscriptions/" + e.sub + "/bogus/x?api-version=2022-09-01", nil, 400, "InvalidResourceId", "expected 'providers'"},
		{"bad JSON", e.arm, "PUT", acr + "newreg1?api-version=2023-07-01", "{not json", 400, "InvalidRequestContent", ""},
		{"short registry name", e.arm, "PUT", acr + "ab?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}}, 400, "InvalidResourceName", "between 5 and 50"},
		{"registry name with dash", e.arm, "PUT", acr + "my-reg?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}}, 400, "InvalidResourceName", ""},
		{"bad sku", e.arm, "PUT", acr + "newreg1?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Gold"}}, 400, "InvalidSku", ""},
		{"no location", e.arm, "PUT", acr + "newreg1?api-version=2023-07-01", map[string]any{"sku": map[string]any{"name": "Basic"}}, 400, "LocationRequired", ""},
		{"name taken elsewhere", e.arm, "PUT", e.rg("other") + "/providers/Microsoft.ContainerRegistry/registries/TAKEN1?api-version=2023-07-01", map[string]any{"location": "westus", "sku": map[string]any{"name": "Basic"}}, 409, "AlreadyInUse", "taken1.azurecr.io is already in use"},
		{"anonymous pull on basic", e.arm, "PATCH", acr + "taken1?api-version=2023-07-01", map[string]any{"properties": map[string]any{"anonymousPullEnabled": true}}, 400, "AnonymousPullNotSupported", ""},
		{"admin creds disabled", e.arm, "POST", acr + "taken1/listCredentials?api-version=2023-07-01", nil, 400, "AdminUserDisabled", "--admin-enabled true"},
		{"unknown role", e.arm, "PUT", e.rg("rg") + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=2022-04-01", map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + uuid.NewString(), "principalId": uuid.NewString()}}, 400, "RoleDefinitionDoesNotExist", ""},
		{"unknown principal", e.arm, "PUT", e.rg("rg") + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=2022-04-01", map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + acrPullID, "principalId": uuid.NewString()}}, 400, "PrincipalNotFound", "does not exist in the directory"},
		{"assignment name not a GUID", e.arm, "PUT", e.rg("rg") + "/providers/Microsoft.Authorization/roleAssignments/abc?api-version=2022-04-01", map[string]any{"properties": map[string]any{"roleDefinitionId": acrPullID, "principalId": uuid.NewString()}}, 400, "InvalidRoleAssignmentId", ""},
		{"assignment on missing resource", e.arm, "PUT", acr + "ghost1/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=2022-04-01", map[string]any{"properties": map[string]any{"roleDefinitionId": acrPullID, "principalId": uuid.NewString()}}, 404, "ResourceNotFound", ""},
		{"bad filter", e.arm, "GET", e.rg("rg") + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=" + url.QueryEscape("name eq 'x'"), nil, 400, "InvalidFilterInQueryString", ""},
		{"group in other location", e.arm, "PUT", e.rg("rg") + "?api-version=2022-09-01", map[string]any{"location": "westus"}, 400, "InvalidResourceGroupLocation", ""},
		{"unknown resource type", e.arm, "GET", e.rg("rg") + "/providers/Microsoft.Fake/things/x?api-version=2022-09-01", nil, 400, "InvalidResourceType", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var code int
			var out map[string]any
			if s, ok := c.body.(string); ok {
				code, out = e.doRaw(t, c.token, c.method, c.path, s)
			} else {
				code, out = e.do(t, c.token, c.method, c.path, c.body)
			}
			if code != c.status || errCode(out) != c.code || !strings.Contains(errMessage(out), c.msg) {
				t.Fatalf("want %d %s %q, got %d %v", c.status, c.code, c.msg, code, out)
			}
		})
	}
	// Nothing was half-written by the failed requests.
	list := e.mustDo(t, e.arm, "GET", "/subscriptions/"+e.sub+"/providers/Microsoft.ContainerRegistry/registries?api-version=2023-07-01", nil, 200)
	if n := len(list["value"].([]any)); n != 1 {
		t.Fatalf("registries after failures: %d, want 1", n)
	}
}

func (e *env) doRaw(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.Endpoint+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	return e.send(t, req)
}

// send sends req and decodes the JSON answer (nil when there is none).
func (e *env) send(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = jsonDecode(resp, &out)
	return resp.StatusCode, out
}

func TestAuthorizationAcrossRoles(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	reg := e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/myacr01"
	e.mustDo(t, e.arm, "PUT", reg+"?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}}, 201)
	contribID2, contribTok := e.newUser(t, "carol")
	readerID, readerTok := e.newUser(t, "rita")
	e.assign(t, e.arm, e.rg("rg"), contribID, contribID2, 201)
	e.assign(t, e.arm, e.rg("rg"), "acdd72a7-3385-48ef-bd42-f606fba81ae7", readerID, 201)

	// The Contributor may create registries but not role assignments, and
	// the error names the missing permission and the scope.
	e.mustDo(t, contribTok, "PUT", e.rg("rg")+"/providers/Microsoft.ContainerRegistry/registries/carolacr?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}}, 201)
	out := e.assign(t, contribTok, reg, acrPullID, readerID, 403)
	want := fmt.Sprintf("The client 'carol@drydock.local' with object id '%s' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '%s'", contribID2, reg)
	if errCode(out) != "AuthorizationFailed" || !strings.Contains(errMessage(out), want) {
		t.Fatalf("contributor assignment: %v", out)
	}
	// The Reader may read but not write, and sees nothing outside its scope.
	e.mustDo(t, readerTok, "GET", reg+"?api-version=2023-07-01", nil, 200)
	e.mustDo(t, readerTok, "PATCH", reg+"?api-version=2023-07-01", map[string]any{"properties": map[string]any{"adminUserEnabled": true}}, 403)
	e.createGroup(t, "private")
	e.mustDo(t, readerTok, "GET", e.rg("private")+"?api-version=2022-09-01", nil, 403)
	groups := e.mustDo(t, readerTok, "GET", "/subscriptions/"+e.sub+"/resourcegroups?api-version=2022-09-01", nil, 200)
	if n := len(groups["value"].([]any)); n != 1 {
		t.Fatalf("reader sees %d groups, want 1", n)
	}
	// Duplicates conflict; the Owner removes the Contributor's access.
	e.assign(t, e.arm, e.rg("rg"), contribID, contribID2, 409)
	list := e.mustDo(t, e.arm, "GET", e.rg("rg")+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter="+url.QueryEscape("principalId eq '"+contribID2+"'"), nil, 200)
	items := list["value"].([]any)
	if len(items) != 1 {
		t.Fatalf("principal filter: %v", items)
	}
	e.mustDo(t, e.arm, "DELETE", items[0].(map[string]any)["id"].(string)+"?api-version=2022-04-01", nil, 200)
	e.mustDo(t, contribTok, "PUT", e.rg("rg")+"/providers/Microsoft.ContainerRegistry/registries/carolacr2?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}}, 403)

	// explainAccess says why.
	ex := e.mustDo(t, e.arm, "POST", reg+"/providers/Microsoft.Authorization/explainAccess?api-version=2022-04-01",
		map[string]any{"principalId": readerID, "action": "Microsoft.ContainerRegistry/registries/pull/read"}, 200)
	if ex["allowed"] != true || !strings.Contains(ex["reason"].(string), "Reader") {
		t.Fatalf("explain: %v", ex)
	}
}

func TestGroupPropagationDelay(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.GroupPropagationDelay = config.Duration{Duration: time.Hour} })
	e.createGroup(t, "rg")
	reg := e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/groupacr"
	e.mustDo(t, e.arm, "PUT", reg+"?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}}, 201)
	// A principal that already holds a token (the user signed in): its
	// new membership waits for the propagation delay.
	miID, _ := e.newUser(t, "gina")
	g := e.mustDo(t, e.graph, "POST", "/v1.0/groups", map[string]any{"displayName": "acr-pullers", "mailNickname": "acr-pullers"}, 201)
	e.assign(t, e.arm, reg, acrPullID, g["id"].(string), 201)
	e.mustDo(t, e.graph, "POST", "/v1.0/groups/"+g["id"].(string)+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + miID}, 204)

	members := e.mustDo(t, e.graph, "GET", "/v1.0/groups/"+g["id"].(string)+"/members", nil, 200)["value"].([]any)
	eff, _ := time.Parse(time.RFC3339, members[0].(map[string]any)["effectiveDateTime"].(string))
	if d := time.Until(eff); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("membership effective in %v, want ~1h", d)
	}
	check := e.mustDo(t, e.graph, "POST", "/v1.0/directoryObjects/"+miID+"/checkMemberGroups", map[string]any{"groupIds": []string{g["id"].(string)}}, 200)
	if len(check["value"].([]any)) != 1 {
		t.Fatalf("checkMemberGroups: %v", check)
	}
	ex := e.mustDo(t, e.arm, "POST", reg+"/providers/Microsoft.Authorization/explainAccess?api-version=2022-04-01",
		map[string]any{"principalId": miID, "action": "Microsoft.ContainerRegistry/registries/pull/read"}, 200)
	if ex["allowed"] != false || len(ex["pending"].([]any)) != 1 || !strings.Contains(ex["reason"].(string), "becomes effective at") {
		t.Fatalf("explain during propagation: %v", ex)
	}

	// An identity that never had a token (the AKS workaround: pre-create
	// the kubelet identity and add it to the group first) counts at once.
	fresh := e.mustDo(t, e.arm, "PUT", e.rg("rg")+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/byo-kubelet?api-version=2023-01-31", map[string]any{"location": "eastus"}, 201)
	freshID := fresh["properties"].(map[string]any)["principalId"].(string)
	e.mustDo(t, e.graph, "POST", "/v1.0/groups/"+g["id"].(string)+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + freshID}, 204)
	ex = e.mustDo(t, e.arm, "POST", reg+"/providers/Microsoft.Authorization/explainAccess?api-version=2022-04-01",
		map[string]any{"principalId": freshID, "action": "Microsoft.ContainerRegistry/registries/pull/read"}, 200)
	if ex["allowed"] != true {
		t.Fatalf("explain for a never-used identity: %v", ex)
	}
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {e.Admin}, "password": {"nope"}, "scope": {armScope}}, 400, "invalid_grant"},
		{"unknown user", url.Values{"grant_type": {"password"}, "username": {"ghost@drydock.local"}, "password": {"nope"}, "scope": {armScope}}, 400, "invalid_grant"},
		{"bad client secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {uuid.NewString()}, "client_secret": {"x"}, "scope": {armScope}}, 401, "invalid_client"},
		{"unknown grant", url.Values{"grant_type": {"implicit"}}, 400, "unsupported_grant_type"},
		{"unknown resource", url.Values{"grant_type": {"password"}, "username": {e.Admin}, "password": {e.adminPassword(t)}, "scope": {"https://vault.azure.net/.default"}}, 400, "invalid_resource"},
		{"forged refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"a.b.c"}, "scope": {armScope}}, 400, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := e.token(t, c.form)
			if code != c.status || out["error"] != c.code || !strings.HasPrefix(out["error_description"].(string), "AADSTS") {
				t.Fatalf("want %d %s, got %d %v", c.status, c.code, code, out)
			}
		})
	}
	// A refresh token yields tokens for another audience.
	code, out := e.token(t, url.Values{"grant_type": {"password"}, "username": {e.Admin}, "password": {e.adminPassword(t)}, "scope": {armScope + " offline_access"}})
	if code != 200 || out["refresh_token"] == nil {
		t.Fatalf("password grant: %d %v", code, out)
	}
	code, out = e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}, "scope": {"https://containerregistry.azure.net/.default"}})
	if code != 200 {
		t.Fatalf("refresh grant: %d %v", code, out)
	}
	// A registry-audience token is refused by the resource manager.
	e.mustDo(t, out["access_token"].(string), "GET", "/subscriptions?api-version=2022-12-01", nil, 401)
	// Discovery and keys.
	disc := e.mustDo(t, "", "GET", "/"+e.TenantID+"/v2.0/.well-known/openid-configuration", nil, 200)
	if disc["issuer"] != e.Endpoint+"/"+e.TenantID+"/v2.0" {
		t.Fatalf("issuer: %v", disc["issuer"])
	}
	keys := e.mustDo(t, "", "GET", "/"+e.TenantID+"/discovery/v2.0/keys", nil, 200)
	if len(keys["keys"].([]any)) != 1 {
		t.Fatalf("jwks: %v", keys)
	}
}

// imds asks the managed-identity endpoint for a token with the query q,
// sending header.
func (e *env) imds(t *testing.T, header map[string]string, q string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.Endpoint+"/metadata/identity/oauth2/token?"+q, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return e.send(t, req)
}

func TestManagedIdentityEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	ids := e.rg("rg") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
	kubelet := e.mustDo(t, e.arm, "PUT", ids+"kubelet?api-version=2023-01-31", map[string]any{"location": "eastus"}, 201)
	other := e.mustDo(t, e.arm, "PUT", ids+"other?api-version=2023-01-31", map[string]any{"location": "eastus"}, 201)
	vm := e.rg("rg") + "/providers/Microsoft.Compute/virtualMachines/node0"
	e.mustDo(t, e.arm, "PUT", vm+"?api-version=2024-07-01", map[string]any{"location": "eastus",
		"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{kubelet["id"].(string): map[string]any{}}}}, 201)
	cred := e.mustDo(t, e.arm, "POST", vm+"/issueHostCredential?api-version=2024-07-01", nil, 200)["hostCredential"].(string)
	clientID := kubelet["properties"].(map[string]any)["clientId"].(string)
	otherClient := other["properties"].(map[string]any)["clientId"].(string)

	imds := func(header map[string]string, q string) (int, map[string]any) { return e.imds(t, header, q) }
	q := "api-version=2018-02-01&resource=" + url.QueryEscape("https://containerregistry.azure.net")
	cases := []struct {
		name   string
		header map[string]string
		query  string
		status int
		errc   string
	}{
		{"no metadata header", nil, q, 400, "invalid_request"},
		{"no host credential", map[string]string{"Metadata": "true"}, q, 401, "unauthorized_client"},
		{"forged host credential", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": "dhc_abc.def"}, q, 401, "unauthorized_client"},
		{"identity not on this host", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": cred}, q + "&client_id=" + otherClient, 400, "invalid_request"},
		{"unknown resource", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": cred}, "api-version=2018-02-01&resource=https://vault.azure.net", 400, "invalid_resource"},
		{"kubelet by client_id", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": cred}, q + "&client_id=" + clientID, 200, ""},
		{"only identity, none named", map[string]string{"X-IDENTITY-HEADER": cred}, q, 200, ""},
		{"by msi_res_id", map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": cred}, q + "&msi_res_id=" + url.QueryEscape(kubelet["id"].(string)), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := imds(c.header, c.query)
			if code != c.status || (c.errc != "" && out["error"] != c.errc) {
				t.Fatalf("want %d %s, got %d %v", c.status, c.errc, code, out)
			}
			if code == 200 {
				if out["client_id"] != clientID || out["expires_in"] == nil || out["token_type"] != "Bearer" {
					t.Fatalf("token response: %v", out)
				}
				if _, isString := out["expires_on"].(string); !isString {
					t.Fatalf("expires_on must be a string as IMDS sends it: %v", out)
				}
			}
		})
	}
	// Assigning an identity to a host needs assign permission on it.
	uid, utok := e.newUser(t, "vmop")
	e.assign(t, e.arm, e.rg("rg")+"/providers/Microsoft.Compute/virtualMachines/node0", contribID, uid, 201)
	out := e.mustDo(t, utok, "PUT", vm+"?api-version=2024-07-01", map[string]any{"location": "eastus",
		"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{other["id"].(string): map[string]any{}}}}, 403)
	if errCode(out) != "LinkedAuthorizationFailed" {
		t.Fatalf("linked authorization: %v", out)
	}
	// A new credential replaces the old one.
	e.mustDo(t, e.arm, "POST", vm+"/issueHostCredential?api-version=2024-07-01", nil, 200)
	if code, _ := imds(map[string]string{"Metadata": "true", "X-IDENTITY-HEADER": cred}, q); code != 401 {
		t.Fatalf("old credential still works: %d", code)
	}
}
