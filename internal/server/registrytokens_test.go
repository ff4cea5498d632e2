package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// regRequest is one request to a login server: a form body (POST) or
// none, and an Authorization header built from bearer or basic.
type regRequest struct {
	method, path string
	form         url.Values
	bearer       string
	basic        *[2]string
}

// registryDo sends req to login and returns the status and decoded body.
func registryDo(t *testing.T, rt http.RoundTripper, login string, req regRequest) (int, map[string]any) {
	t.Helper()
	code, _, out := registrySend(t, rt, login, req)
	return code, out
}

// registrySend is registryDo with the response's headers.
func registrySend(t *testing.T, rt http.RoundTripper, login string, req regRequest) (int, http.Header, map[string]any) {
	t.Helper()
	var body io.Reader
	if req.form != nil {
		body = strings.NewReader(req.form.Encode())
	}
	r, _ := http.NewRequest(req.method, "https://"+login+req.path, body)
	if req.form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if req.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+req.bearer)
	}
	if req.basic != nil {
		r.SetBasicAuth(req.basic[0], req.basic[1])
	}
	resp, err := rt.RoundTrip(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: status %d, non-JSON body %q", req.method, req.path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// registryTokens exchanges the admin's ARM token for a refresh token of
// login and redeems it for an access token with pull on repo "app".
func (e *env) registryTokens(t *testing.T, rt http.RoundTripper, login string) (refresh, access string) {
	t.Helper()
	code, refresh := e.exchange(t, rt, login, e.arm)
	if code != 200 {
		t.Fatalf("exchange: %d", code)
	}
	code, out := registryDo(t, rt, login, redeemRequest(login, refresh))
	if code != 200 {
		t.Fatalf("redeem: %d %v", code, out)
	}
	return refresh, out["access_token"].(string)
}

func redeemRequest(login, refresh string) regRequest {
	return regRequest{method: "POST", path: "/oauth2/token", form: url.Values{
		"grant_type": {"refresh_token"}, "service": {login}, "scope": {"repository:app:pull"}, "refresh_token": {refresh}}}
}

func nullGUID(tok string) *[2]string { return &[2]string{"00000000-0000-0000-0000-000000000000", tok} }

// Each token kind is verified as itself whatever it was seen as before:
// the null-GUID user takes either kind, as ACR does, and a token used in
// the wrong place is a 401, not a dropped connection.
func TestRegistryTokenKinds(t *testing.T) {
	e := newEnv(t, nil)
	login := e.createRegistry(t, "rg", "kindsacr", nil)
	rt := e.registryTransport(t)
	refresh, access := e.registryTokens(t, rt, login)
	getToken := "/oauth2/token?service=" + url.QueryEscape(login) + "&scope=repository:app:pull"

	cases := []struct {
		name string
		req  regRequest
		want int
	}{
		{"refresh token as bearer on /v2/", regRequest{method: "GET", path: "/v2/", bearer: refresh}, 401},
		{"refresh token redeemed after its bearer use", redeemRequest(login, refresh), 200},
		{"null GUID + access token on /v2/", regRequest{method: "GET", path: "/v2/", basic: nullGUID(access)}, 200},
		{"null GUID + access token at GET /oauth2/token", regRequest{method: "GET", path: getToken, basic: nullGUID(access)}, 200},
		{"null GUID + refresh token on /v2/", regRequest{method: "GET", path: "/v2/", basic: nullGUID(refresh)}, 200},
		{"null GUID + refresh token at GET /oauth2/token", regRequest{method: "GET", path: getToken, basic: nullGUID(refresh)}, 200},
		{"access token redeemed as a refresh token", redeemRequest(login, access), 401},
		{"access token as bearer on /v2/", regRequest{method: "GET", path: "/v2/", bearer: access}, 200},
		{"access token as password grant", regRequest{method: "POST", path: "/oauth2/token", form: url.Values{
			"grant_type": {"password"}, "service": {login}, "scope": {"repository:app:pull"}, "refresh_token": {access}}}, 200},
	}
	// Twice: the second round finds every token in the caches the first
	// round filled, in every order.
	for round := 1; round <= 2; round++ {
		for _, c := range cases {
			code, out := registryDo(t, rt, login, c.req)
			if code != c.want {
				t.Errorf("round %d, %s: want %d, got %d %v", round, c.name, c.want, code, out)
			}
			if code == 401 && out["errors"] == nil {
				t.Errorf("round %d, %s: 401 without an errors body: %v", round, c.name, out)
			}
		}
	}
}

// A registry's tokens die with it: a new registry of the same name does
// not accept them.
func TestRegistryTokensBoundToRegistry(t *testing.T) {
	e := newEnv(t, nil)
	login := e.createRegistry(t, "rg", "reusedacr", nil)
	rt := e.registryTransport(t)
	refresh, access := e.registryTokens(t, rt, login)
	e.mustDo(t, e.arm, "DELETE", e.rg("rg")+"/providers/Microsoft.ContainerRegistry/registries/reusedacr?api-version=2023-07-01", nil, 200)
	if again := e.createRegistry(t, "rg", "reusedacr", nil); again != login {
		t.Fatalf("login server %s, then %s", login, again)
	}
	old := []struct {
		name string
		req  regRequest
	}{
		{"old access token as bearer", regRequest{method: "GET", path: "/v2/", bearer: access}},
		{"old access token with the null GUID", regRequest{method: "GET", path: "/v2/", basic: nullGUID(access)}},
		{"old refresh token with the null GUID", regRequest{method: "GET", path: "/v2/", basic: nullGUID(refresh)}},
		{"old refresh token redeemed", redeemRequest(login, refresh)},
	}
	for _, c := range old {
		if code, out := registryDo(t, rt, login, c.req); code != 401 {
			t.Errorf("%s: want 401, got %d %v", c.name, code, out)
		}
	}
	_, access = e.registryTokens(t, rt, login)
	if code, out := registryDo(t, rt, login, regRequest{method: "GET", path: "/v2/", bearer: access}); code != 200 {
		t.Errorf("new access token: want 200, got %d %v", code, out)
	}
}

// A registry's admin passwords (rows of the directory, which the registry
// writes through it) die with the registry: a new registry of the same
// name gets new ones.
func TestRegistryAdminPasswordsBoundToRegistry(t *testing.T) {
	e := newEnv(t, nil)
	reg := e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/adminacr"
	passwords := func() []string {
		t.Helper()
		e.createRegistry(t, "rg", "adminacr", map[string]any{"properties": map[string]any{"adminUserEnabled": true}})
		out := e.mustDo(t, e.arm, "POST", reg+"/listCredentials?api-version=2023-07-01", nil, 200)
		var ps []string
		for _, p := range out["passwords"].([]any) {
			ps = append(ps, p.(map[string]any)["value"].(string))
		}
		if len(ps) != 2 {
			t.Fatalf("listCredentials: %v", out)
		}
		return ps
	}
	first := passwords()
	e.mustDo(t, e.arm, "DELETE", reg+"?api-version=2023-07-01", nil, 200)
	for _, p := range passwords() {
		if slices.Contains(first, p) {
			t.Errorf("an admin password of the deleted registry is its successor's: %s...", p[:3])
		}
	}
}
