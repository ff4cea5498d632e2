package acrtoken_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/acrtoken"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

// tokenEnv is drydock's real server with registry myacr (admin user
// enabled), and a token client that reaches its registry listener.
type tokenEnv struct {
	*servertest.Server
	tokens        *acrtoken.Client
	login, origin string
	// arm is the admin's directory token for ARM.
	arm                  string
	adminUser, adminPass string
}

func newTokenEnv(t *testing.T) *tokenEnv {
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.LoginServerSuffix = "azurecr.test" }))
	e := &tokenEnv{Server: s, arm: s.AdminToken(t, servertest.ARMScope)}
	do := func(method, path string, body any) map[string]any {
		code, out := s.Do(t, e.arm, method, path, body)
		if code >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, code, out)
		}
		return out
	}
	rg := "/subscriptions/" + s.SubscriptionID + "/resourceGroups/rg"
	do(http.MethodPut, rg+"?api-version=2022-09-01", map[string]any{"location": "eastus"})
	acr := rg + "/providers/Microsoft.ContainerRegistry/registries/myacr"
	out := do(http.MethodPut, acr+"?api-version=2023-07-01", map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"},
		"properties": map[string]any{"adminUserEnabled": true}})
	e.login = out["properties"].(map[string]any)["loginServer"].(string)
	e.origin = "https://" + e.login
	creds := do(http.MethodPost, acr+"/listCredentials?api-version=2023-07-01", nil)
	e.adminUser = creds["username"].(string)
	e.adminPass = creds["passwords"].([]any)[0].(map[string]any)["value"].(string)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.CAPool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.RegistryAddress)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	e.tokens = &acrtoken.Client{HTTP: &http.Client{Transport: tr}, Header: http.Header{"User-Agent": {"acrtoken-test"}}}
	return e
}

func TestAgainstDrydock(t *testing.T) {
	e := newTokenEnv(t)
	ctx := t.Context()

	// The challenge names the token service.
	res, err := e.tokens.Probe(ctx, e.login)
	if err != nil || res.Status != http.StatusUnauthorized || len(res.Authenticate()) != 1 {
		t.Fatalf("probe: %+v %v", res, err)
	}
	ch, err := acrtoken.ParseChallenge(res.Authenticate()[0])
	if err != nil || !ch.IsBearer() || ch.Service() != e.login {
		t.Fatalf("challenge %+v %v", ch, err)
	}
	if o, err := ch.Origin(); err != nil || o != e.origin {
		t.Errorf("origin %q %v", o, err)
	}

	for _, grant := range []acrtoken.Grant{"", acrtoken.GrantAccessToken, acrtoken.GrantAccessTokenRefreshToken} {
		refresh, err := e.tokens.Exchange(ctx, acrtoken.ExchangeRequest{Origin: e.origin, Service: e.login, Tenant: e.TenantID, AccessToken: e.arm, Grant: grant})
		if err != nil || refresh == "" {
			t.Fatalf("exchange (grant %q): %q %v", grant, refresh, err)
		}
		access, err := e.tokens.AccessToken(ctx, acrtoken.TokenRequest{Origin: e.origin, Service: e.login, Scope: "repository:hello:pull", RefreshToken: refresh})
		if err != nil || access == "" {
			t.Fatalf("access token from the refresh token (grant %q): %q %v", grant, access, err)
		}
	}
	access, err := e.tokens.AccessToken(ctx, acrtoken.TokenRequest{Origin: e.origin, Service: e.login, Scope: "registry:catalog:*", Username: e.adminUser, Password: e.adminPass})
	if err != nil || access == "" {
		t.Errorf("password grant: %q %v", access, err)
	}

	// Refusals come back as *Error with the status and the message.
	for _, tc := range []struct {
		name string
		call func() (string, error)
	}{
		{"exchange of a token the directory did not issue", func() (string, error) {
			return e.tokens.Exchange(ctx, acrtoken.ExchangeRequest{Origin: e.origin, Service: e.login, AccessToken: "not-a-token"})
		}},
		{"wrong password", func() (string, error) {
			return e.tokens.AccessToken(ctx, acrtoken.TokenRequest{Origin: e.origin, Service: e.login, Username: e.adminUser, Password: "wrong"})
		}},
		{"unknown refresh token", func() (string, error) {
			return e.tokens.AccessToken(ctx, acrtoken.TokenRequest{Origin: e.origin, Service: e.login, Scope: "repository:hello:pull", RefreshToken: "nope"})
		}},
	} {
		tok, err := tc.call()
		var te *acrtoken.Error
		if tok != "" || !errors.As(err, &te) || !te.Refused() || te.Status != http.StatusUnauthorized || te.Message() == "" ||
			!strings.HasPrefix(te.Error(), te.URL+" responded with status code 401: ") || !strings.HasPrefix(te.URL, e.origin+"/oauth2/") {
			t.Errorf("%s: %q %v", tc.name, tok, err)
		}
	}
}

// What drydock never answers: a 200 without a token, or too much.
func TestMalformedAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The origin's path names the case: /<case>/oauth2/...
		switch strings.Split(r.URL.Path, "/")[1] {
		case "no-token":
			w.Write([]byte(`{"access_token":""}`))
		case "not-json":
			w.Write([]byte(`<html>`))
		case "number":
			w.Write([]byte(`{"access_token":1,"refresh_token":1}`))
		case "huge":
			w.Write([]byte(`{"access_token":"` + strings.Repeat("a", 1<<20) + `"}`))
		}
	}))
	defer srv.Close()
	c := &acrtoken.Client{}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"no-token", nil}, {"not-json", nil}, {"number", nil}, {"huge", acrtoken.ErrTooLarge},
	} {
		origin := srv.URL + "/" + tc.name
		_, err := c.AccessToken(t.Context(), acrtoken.TokenRequest{Origin: origin, Service: "x", RefreshToken: "r"})
		var te *acrtoken.Error
		if !errors.As(err, &te) || te.Refused() || te.Status != http.StatusOK || !errors.Is(te.Err, tc.err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	_, err := c.Exchange(t.Context(), acrtoken.ExchangeRequest{Origin: srv.URL + "/number", Service: "x", AccessToken: "a"})
	var te *acrtoken.Error
	if !errors.As(err, &te) || te.Error() != srv.URL+"/number/oauth2/exchange answered no token: "+`{"access_token":1,"refresh_token":1}` {
		t.Errorf("exchange: %v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"errors":[{"code":"UNAUTHORIZED","message":"a"},{"code":"DENIED","message":"b"}]}`, "a; b"},
		{` plain text ` + "\n", "plain text"},
		{`{"errors":[]}`, `{"errors":[]}`},
		{strings.Repeat("x", 600), strings.Repeat("x", 512) + "..."},
		{``, ``},
	} {
		if got := acrtoken.ErrorMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("ErrorMessage(%.40q) = %.40q, want %.40q", tc.body, got, tc.want)
		}
	}
}
