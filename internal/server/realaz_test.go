package server

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The requests the real az makes besides ARM CRUD (e2e/realaz_test.go runs
// az itself): cloud metadata per api-version, the ADFS-shaped authority,
// id_tokens, /tenants, the generic resource list, Graph under /graph.

// get fetches path without a token and decodes any JSON answer.
func (ts *testServer) getJSON(t *testing.T, path string) (int, any) {
	t.Helper()
	resp, err := ts.client.Get(ts.Endpoint + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %s", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func TestCloudMetadataVersions(t *testing.T) {
	ts := startServer(t, nil)
	login := ts.Endpoint + "/adfs"
	cases := []struct {
		query string
		array bool   // an array of clouds
		key   string // a key the object (or the cloud) must have
		code  int
	}{
		{"", false, "galleryEndpoint", 200},
		{"?api-version=2015-01-01", false, "graphEndpoint", 200},
		{"?api-version=2019-05-01", true, "microsoftGraphResourceId", 200},
		{"?api-version=2020-06-01", false, "microsoftGraphResourceId", 200},
		{"?api-version=2022-09-01", true, "suffixes", 200},
		{"?api-version=1999-01-01", false, "error", 400},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			code, body := ts.getJSON(t, "/metadata/endpoints"+c.query)
			if code != c.code {
				t.Fatalf("status %d, want %d: %v", code, c.code, body)
			}
			obj, _ := body.(map[string]any)
			if l, ok := body.([]any); ok {
				if !c.array || len(l) != 1 {
					t.Fatalf("got an array %v", body)
				}
				obj, _ = l[0].(map[string]any)
			} else if c.array {
				t.Fatalf("want an array of clouds, got %v", body)
			}
			if _, ok := obj[c.key]; !ok {
				t.Fatalf("no %q in %v", c.key, obj)
			}
			if c.code != 200 {
				return
			}
			auth, _ := obj["authentication"].(map[string]any)
			if auth["loginEndpoint"] != login || obj["microsoftGraphResourceId"] != ts.Endpoint+"/graph/" {
				t.Errorf("loginEndpoint %v, microsoftGraphResourceId %v", auth["loginEndpoint"], obj["microsoftGraphResourceId"])
			}
		})
	}
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	return jwtPart(t, jwt, 1)
}

// jwtPart decodes part i of a JWT (0: header, 1: payload).
func jwtPart(t *testing.T, jwt string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestADFSAuthority(t *testing.T) {
	e := newEnv(t, nil)
	disc := e.mustDo(t, "", "GET", "/adfs/.well-known/openid-configuration", nil, 200)
	issuer := e.Endpoint + "/" + e.TenantID + "/v2.0"
	if disc["issuer"] != issuer || disc["token_endpoint"] != e.Endpoint+"/adfs/oauth2/token" || disc["jwks_uri"] != e.Endpoint+"/adfs/discovery/keys" {
		t.Fatalf("ADFS discovery: %v", disc)
	}
	e.mustDo(t, "", "GET", "/adfs/discovery/keys", nil, 200)

	// MSAL's username-and-password request, as az sends it.
	const azClient = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	form := url.Values{"grant_type": {"password"}, "username": {e.Admin}, "password": {e.adminPassword(t)}, "client_id": {azClient},
		"scope": {"https://management.core.windows.net//.default offline_access openid profile"}, "client_info": {"1"}}
	resp, err := e.client.PostForm(disc["token_endpoint"].(string), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v %v", resp.StatusCode, tok, err)
	}
	idt, _ := tok["id_token"].(string)
	c := claimsOf(t, idt)
	if c["aud"] != azClient && !(func() bool { l, _ := c["aud"].([]any); return len(l) == 1 && l[0] == azClient })() {
		t.Errorf("id_token aud %v, want the client", c["aud"])
	}
	if c["iss"] != issuer || c["preferred_username"] != e.Admin || c["sub"] == nil || c["token_use"] != "id" {
		t.Errorf("id_token claims: %v", c)
	}
	if tok["refresh_token"] == nil || tok["scope"] != "https://management.core.windows.net//.default" {
		t.Errorf("token response: refresh_token %v, scope %v", tok["refresh_token"] != nil, tok["scope"])
	}
	// An id_token is not an access token anywhere.
	e.mustDo(t, idt, "GET", "/subscriptions?api-version=2022-12-01", nil, 401)
	e.mustDo(t, idt, "GET", "/graph/v1.0/me", nil, 401)
	// Without openid, no id_token.
	code, out := e.token(t, url.Values{"grant_type": {"password"}, "username": {e.Admin}, "password": {e.adminPassword(t)}, "scope": {armScope}})
	if code != 200 || out["id_token"] != nil {
		t.Errorf("without openid: %d, id_token %v", code, out["id_token"] != nil)
	}
}

func TestARMListsAzReads(t *testing.T) {
	e := newEnv(t, nil)
	tenants := e.mustDo(t, e.arm, "GET", "/tenants?api-version=2022-12-01", nil, 200)
	if l, _ := tenants["value"].([]any); len(l) != 1 || l[0].(map[string]any)["tenantId"] != e.TenantID {
		t.Fatalf("tenants: %v", tenants)
	}
	e.createGroup(t, "rg1")
	e.mustDo(t, e.arm, "PUT", e.rg("rg2")+"?api-version=2022-09-01", map[string]any{"location": "westus"}, 201)
	ids := "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
	e.mustDo(t, e.arm, "PUT", e.rg("rg1")+ids+"one?api-version=2023-01-31", map[string]any{"location": "eastus"}, 201)
	e.mustDo(t, e.arm, "PUT", e.rg("rg2")+ids+"two?api-version=2023-01-31", map[string]any{"location": "westus"}, 201)
	names := func(path string) []string {
		t.Helper()
		out := e.mustDo(t, e.arm, "GET", path, nil, 200)
		var got []string
		for _, v := range out["value"].([]any) {
			got = append(got, v.(map[string]any)["name"].(string))
		}
		return got
	}
	filter := func(f string) string { return "&$filter=" + url.QueryEscape(f) }
	sub := "/subscriptions/" + e.sub
	cases := []struct {
		path string
		want string
	}{
		{sub + "/resources?api-version=2021-04-01", "one,two"},
		{sub + "/resources?api-version=2021-04-01" + filter("resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'"), "one,two"},
		{sub + "/resources?api-version=2021-04-01" + filter("resourceType eq 'Microsoft.ContainerRegistry/registries'"), ""},
		{sub + "/resources?api-version=2021-04-01" + filter("name eq 'TWO'"), "two"},
		{e.rg("rg1") + "/resources?api-version=2021-04-01", "one"},
	}
	for _, c := range cases {
		if got := strings.Join(names(c.path), ","); got != c.want {
			t.Errorf("GET %s: %q, want %q", c.path, got, c.want)
		}
	}
	code, out := e.do(t, e.arm, "GET", sub+"/resources?api-version=2021-04-01"+filter("resourceType gt 'x'"), nil)
	if code != 400 || errCode(out) != "InvalidFilterInQueryString" {
		t.Errorf("bad $filter: %d %v", code, out)
	}
	// A caller with no role there sees nothing.
	_, stranger := e.newUser(t, "stranger")
	if got := names(sub + "/resources?api-version=2021-04-01"); len(got) != 2 {
		t.Fatalf("admin: %v", got)
	}
	code, out = e.do(t, stranger, "GET", sub+"/resources?api-version=2021-04-01", nil)
	if code != 200 || len(out["value"].([]any)) != 0 {
		t.Errorf("a stranger's resource list: %d %v", code, out)
	}
}

func TestGraphUnderCloudResourceID(t *testing.T) {
	e := newEnv(t, nil)
	// The token az asks for: <microsoftGraphResourceId>/.default.
	graph := e.userToken(t, e.Admin, e.adminPassword(t), e.Endpoint+"/graph//.default")
	if me := e.mustDo(t, graph, "GET", "/graph/v1.0/me", nil, http.StatusOK); me["userPrincipalName"] != e.Admin {
		t.Fatalf("/graph/v1.0/me: %v", me)
	}
	e.mustDo(t, e.arm, "GET", "/graph/v1.0/me", nil, http.StatusUnauthorized)
	// az ad sp create-for-rbac reads the application's passwordCredentials.
	app := e.mustDo(t, graph, "POST", "/graph/v1.0/applications", map[string]any{"displayName": "app1"}, 201)
	id := app["id"].(string)
	if pc, ok := app["passwordCredentials"].([]any); !ok || len(pc) != 0 {
		t.Fatalf("new application's passwordCredentials: %v", app["passwordCredentials"])
	}
	cred := e.mustDo(t, graph, "POST", "/graph/v1.0/applications/"+id+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "rbac"}}, 200)
	got := e.mustDo(t, graph, "GET", "/graph/v1.0/applications/"+id, nil, 200)
	if pc := got["passwordCredentials"].([]any); len(pc) != 1 || pc[0].(map[string]any)["keyId"] != cred["keyId"] || pc[0].(map[string]any)["secretText"] != nil {
		t.Fatalf("passwordCredentials after addPassword: %v", got["passwordCredentials"])
	}
	e.mustDo(t, graph, "POST", "/graph/v1.0/applications/"+id+"/removePassword", map[string]any{"keyId": cred["keyId"]}, 204)
	e.mustDo(t, graph, "POST", "/graph/v1.0/applications/"+id+"/removePassword", map[string]any{"keyId": cred["keyId"]}, 404)
	e.mustDo(t, graph, "PATCH", "/graph/v1.0/applications/"+id, map[string]any{"displayName": "app2"}, 204)
	if got := e.mustDo(t, graph, "GET", "/graph/v1.0/applications/"+id, nil, 200); got["displayName"] != "app2" || len(got["passwordCredentials"].([]any)) != 0 {
		t.Fatalf("after removePassword and PATCH: %v", got)
	}
}
