package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// fakeJWT builds an unsigned token carrying claims.
func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(b) + ".sig"
}

// testServer is a TLS server whose handler a test sets, plus a client
// that trusts it through a CA file. It holds no state and stands in for no
// server: tests use it only for response shapes drydock's server never
// sends and the client must still handle (Location chains on PUT and POST,
// a failed operation, an operation on another origin, Graph paging).
// Everything else runs against the real server (server_test.go).
type testServer struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	log []string
	h   http.HandlerFunc
}

func newTestServer(t *testing.T, h http.HandlerFunc) (*testServer, *Client) {
	t.Helper()
	ts := &testServer{t: t, h: h}
	ts.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.log = append(ts.log, r.Method+" "+r.URL.RequestURI())
		ts.mu.Unlock()
		ts.h(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Endpoint: ts.srv.URL + "/", CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	c.Sleep = func(ctx context.Context, d time.Duration) error { return nil }
	return ts, c
}

func (ts *testServer) requests() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.log...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func loggedIn(c *Client) {
	c.SetCredentials(&Credentials{TenantID: "t1", RefreshToken: "rt", AccessTokens: map[string]AccessToken{
		ARMScope:   {Token: "arm", TokenType: "Bearer", ExpiresOn: time.Now().Add(time.Hour)},
		GraphScope: {Token: "graph", TokenType: "Bearer", ExpiresOn: time.Now().Add(time.Hour)},
	}})
}

func TestLoginPassword(t *testing.T) {
	rs, c := startServer(t)
	cr, err := c.LoginPassword(context.Background(), "", rs.Admin, rs.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.requests(); len(got) != 1 || got[0] != "POST /organizations/oauth2/v2.0/token" {
		t.Errorf("requests = %q", got)
	}
	form := rs.tokenForms()[0]
	want := map[string]string{
		"grant_type": "password", "client_id": AzureCLIClientID, "username": rs.Admin, "password": rs.AdminPassword,
		"scope": "https://management.core.windows.net//.default offline_access",
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, form.Get(k), v)
		}
	}
	claims, err := ParseClaims(cr.AccessTokens[ARMScope].Token)
	if err != nil || cr.TenantID != rs.TenantID || claims.TenantID != rs.TenantID || claims.Username() != rs.Admin || cr.RefreshToken == "" {
		t.Errorf("credentials = %+v, claims %+v %v", cr, claims, err)
	}
	if d := time.Until(cr.AccessTokens[ARMScope].ExpiresOn); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expiry in %v", d)
	}
}

func TestOAuthErrorSurfacesDescription(t *testing.T) {
	rs, c := startServer(t)
	_, err := c.LoginPassword(context.Background(), "", rs.Admin, "wrong")
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Fatalf("err = %#v", err)
	}
	if err.Error() != "AADSTS50126: Error validating credentials due to invalid username or password." {
		t.Errorf("message %q", err.Error())
	}
}

func TestTokenRefresh(t *testing.T) {
	rs, c := startServer(t)
	first := rs.login(t, c)
	now := time.Now()
	c.Now = func() time.Time { return now }
	saved := 0
	c.OnCredentialsChange = func(*Credentials) error { saved++; return nil }
	c.SetCredentials(&Credentials{TenantID: first.TenantID, RefreshToken: first.RefreshToken, AccessTokens: map[string]AccessToken{
		ARMScope:   {Token: "fresh", ExpiresOn: now.Add(time.Hour)},
		GraphScope: {Token: "stale", ExpiresOn: now.Add(2 * time.Minute)},
	}})
	ctx := context.Background()
	tok, err := c.Token(ctx, ARMScope)
	if err != nil || tok.Token != "fresh" {
		t.Fatalf("cached token = %v, %v", tok, err)
	}
	tok, err = c.Token(ctx, GraphScope)
	claims, _ := ParseClaims(tok.Token)
	if err != nil || fmt.Sprint(claims.Audience) != "["+GraphAudience+"]" || claims.TenantID != rs.TenantID {
		t.Fatalf("refreshed token = %v (claims %+v), %v", tok, claims, err)
	}
	forms := rs.tokenForms()[1:] // after the login
	if len(forms) != 1 || forms[0].Get("grant_type") != "refresh_token" || forms[0].Get("scope") != "https://graph.microsoft.com/.default" ||
		forms[0].Get("refresh_token") != first.RefreshToken {
		t.Errorf("grants = %v", forms)
	}
	if got := rs.requests(); got[len(got)-1] != "POST /"+rs.TenantID+"/oauth2/v2.0/token" {
		t.Errorf("requests = %q", got)
	}
	if c.Credentials().RefreshToken == "" || saved != 1 {
		t.Errorf("refresh token %q saved %d", c.Credentials().RefreshToken, saved)
	}
	// The refreshed token is now cached.
	if again, _ := c.Token(ctx, GraphScope); again.Token != tok.Token || len(rs.tokenForms()) != 2 {
		t.Errorf("second call refreshed again: %v", rs.tokenForms())
	}
}

func TestServicePrincipalToken(t *testing.T) {
	rs, c := startServer(t)
	rs.login(t, c)
	ctx := context.Background()
	var app, sp, secret map[string]any
	if err := c.Graph(ctx, http.MethodPost, "/applications", nil, map[string]any{"displayName": "ci"}, &app); err != nil {
		t.Fatal(err)
	}
	appID, _ := app["appId"].(string)
	if err := c.Graph(ctx, http.MethodPost, "/servicePrincipals", nil, map[string]any{"appId": appID}, &sp); err != nil {
		t.Fatal(err)
	}
	if err := c.Graph(ctx, http.MethodPost, "/applications/"+app["id"].(string)+"/addPassword", nil, map[string]any{"passwordCredential": map[string]any{}}, &secret); err != nil {
		t.Fatal(err)
	}
	s3, _ := secret["secretText"].(string)
	c.SetCredentials(&Credentials{TenantID: rs.TenantID, ServicePrincipal: &ServicePrincipalSecret{AppID: appID, Secret: s3}})
	tok, err := c.Token(ctx, GraphScope)
	if err != nil {
		t.Fatal(err)
	}
	forms := rs.tokenForms()
	form := forms[len(forms)-1]
	if got := form.Get("grant_type") + " " + form.Get("client_id") + " " + form.Get("client_secret") + " " + form.Get("scope"); got != "client_credentials "+appID+" "+s3+" https://graph.microsoft.com/.default" {
		t.Errorf("form = %q", got)
	}
	if claims, _ := ParseClaims(tok.Token); claims.AppID != appID || claims.ObjectID != sp["id"] {
		t.Errorf("claims %+v, service principal %v", claims, sp["id"])
	}
}

func TestNotLoggedIn(t *testing.T) {
	rs, c := startServer(t)
	if err := c.ARM(context.Background(), Request{Method: "GET", Path: "/subscriptions"}, nil); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("err = %v", err)
	}
	if n := len(rs.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestARMSendsAPIVersionTokenAndBody(t *testing.T) {
	rs, c := startServer(t)
	cr := rs.login(t, c)
	var got struct{ auth, query, ctype, body string }
	rs.setInject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			got.auth, got.query, got.ctype, got.body = r.Header.Get("Authorization"), r.URL.RawQuery, r.Header.Get("Content-Type"), string(b)
		}
		return false
	})
	var out map[string]any
	err := c.ARM(context.Background(), Request{Method: "PUT", Path: "/subscriptions/" + rs.SubscriptionID + "/resourcegroups/rg", APIVersion: APIVersionResources, Body: map[string]string{"location": "westus"}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got.auth != "Bearer "+cr.AccessTokens[ARMScope].Token || got.query != "api-version=2022-09-01" || got.ctype != "application/json" || strings.TrimSpace(got.body) != `{"location":"westus"}` {
		t.Errorf("request = %+v", got)
	}
	if out["name"] != "rg" || out["location"] != "westus" {
		t.Errorf("out = %v", out)
	}
}

func TestAsyncOperationPolling(t *testing.T) {
	polls := 0
	ts, c := newTestServer(t, nil)
	ts.h = func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "PUT":
			w.Header().Set("Azure-AsyncOperation", ts.srv.URL+"/ops/1?api-version=2023-07-01")
			w.Header().Set("Retry-After", "3")
			writeJSON(w, 201, map[string]any{"name": "r", "properties": map[string]any{"provisioningState": "Creating"}})
		case r.URL.Path == "/ops/1":
			if r.Header.Get("Authorization") != "Bearer arm" {
				t.Errorf("poll without token")
			}
			polls++
			status := "InProgress"
			if polls == 2 {
				status = "Succeeded"
			}
			writeJSON(w, 200, map[string]any{"status": status})
		case r.Method == "GET":
			writeJSON(w, 200, map[string]any{"name": "r", "properties": map[string]any{"provisioningState": "Succeeded"}})
		}
	}
	var sleeps []time.Duration
	c.Sleep = func(ctx context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
	loggedIn(c)
	var out map[string]any
	if err := c.ARM(context.Background(), Request{Method: "PUT", Path: "/x/r", APIVersion: "v", Body: map[string]any{}}, &out); err != nil {
		t.Fatal(err)
	}
	if out["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
		t.Errorf("out = %v", out)
	}
	want := []string{"PUT /x/r?api-version=v", "GET /ops/1?api-version=2023-07-01", "GET /ops/1?api-version=2023-07-01", "GET /x/r?api-version=v"}
	if fmt.Sprint(ts.requests()) != fmt.Sprint(want) {
		t.Errorf("requests = %q", ts.requests())
	}
	if fmt.Sprint(sleeps) != fmt.Sprint([]time.Duration{3 * time.Second, time.Second}) {
		t.Errorf("sleeps = %v", sleeps)
	}
}

func TestAsyncOperationFailed(t *testing.T) {
	ts, c := newTestServer(t, nil)
	ts.h = func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "DELETE" {
			w.Header().Set("Azure-AsyncOperation", ts.srv.URL+"/ops/2")
			w.WriteHeader(202)
			return
		}
		writeJSON(w, 200, map[string]any{"status": "Failed", "error": map[string]any{"code": "Conflict", "message": "it is in use"}})
	}
	loggedIn(c)
	err := c.ARM(context.Background(), Request{Method: "DELETE", Path: "/x"}, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "Conflict" || err.Error() != "(Conflict) it is in use" {
		t.Fatalf("err = %v", err)
	}
}

func TestLocationPolling(t *testing.T) {
	for _, method := range []string{"DELETE", "POST", "PUT"} {
		t.Run(method, func(t *testing.T) {
			polls := 0
			ts, c := newTestServer(t, nil)
			ts.h = func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/loc":
					polls++
					if polls < 3 {
						w.Header().Set("Location", ts.srv.URL+"/loc")
						w.WriteHeader(202)
						return
					}
					writeJSON(w, 200, map[string]any{"result": "from-location"})
				case r.Method == "GET":
					writeJSON(w, 200, map[string]any{"result": "resource"})
				default:
					w.Header().Set("Location", ts.srv.URL+"/loc")
					w.WriteHeader(202)
				}
			}
			loggedIn(c)
			var out map[string]any
			if err := c.ARM(context.Background(), Request{Method: method, Path: "/res"}, &out); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"DELETE": nil, "POST": "from-location", "PUT": "resource"}[method]
			if out["result"] != want {
				t.Errorf("out = %v, want %v", out, want)
			}
			if polls != 3 {
				t.Errorf("polls = %d", polls)
			}
		})
	}
}

func TestNoWait(t *testing.T) {
	rs, c, rg := startWithGroup(t)
	ctx := context.Background()
	before := len(rs.requests())
	if err := c.ARM(ctx, Request{Method: "DELETE", Path: rg, APIVersion: APIVersionResources, NoWait: true}, nil); err != nil {
		t.Fatal(err)
	}
	if got := rs.requests()[before:]; len(got) != 1 || !strings.HasPrefix(got[0], "DELETE ") {
		t.Errorf("requests %q", got)
	}
}

// TestDeletePollsTheServersOperation deletes a resource group on the real
// server, whose operation is made to run one poll longer than it does.
func TestDeletePollsTheServersOperation(t *testing.T) {
	rs, c, rg := startWithGroup(t)
	ctx := context.Background()
	polls := 0
	rs.setInject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/operationStatuses/") {
			return false
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("poll without token")
		}
		if polls++; polls > 1 {
			return false
		}
		w.Header().Set("Retry-After", "3")
		writeJSON(w, 200, map[string]any{"status": "InProgress"})
		return true
	})
	var sleeps []time.Duration
	c.Sleep = func(ctx context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
	before := len(rs.requests())
	if err := c.ARM(ctx, Request{Method: "DELETE", Path: rg, APIVersion: APIVersionResources}, nil); err != nil {
		t.Fatal(err)
	}
	got := rs.requests()[before:]
	if len(got) < 3 || !strings.HasPrefix(got[0], "DELETE "+rg) || !strings.Contains(got[1], "/operationStatuses/") || got[2] != got[1] || polls < 2 {
		t.Errorf("requests = %q", got)
	}
	// The server may still be deleting at the first real poll: the client
	// then polls again, so the counts are lower bounds.
	if len(sleeps) < 2 || sleeps[1] != 3*time.Second {
		t.Errorf("sleeps = %v", sleeps)
	}
	var out map[string]any
	if err := c.ARM(ctx, Request{Method: "GET", Path: rg, APIVersion: APIVersionResources}, &out); !errdefs.IsNotFound(err) {
		t.Errorf("after delete: %v %v", out, err)
	}
}

func TestUnauthorizedRetriesWithNewToken(t *testing.T) {
	rs, c := startServer(t)
	cr := rs.login(t, c)
	// A cached token the server does not accept (revoked, or signed by a
	// key it no longer has): 401, then one refresh and a retry.
	cr.AccessTokens[ARMScope] = AccessToken{Token: "not-a-token", TokenType: "Bearer", ExpiresOn: time.Now().Add(time.Hour)}
	c.SetCredentials(cr)
	var out map[string]any
	if err := c.ARM(context.Background(), Request{Method: "GET", Path: "/subscriptions", APIVersion: APIVersionResources}, &out); err != nil || len(out["value"].([]any)) != 1 {
		t.Fatalf("out %v err %v", out, err)
	}
	if got := rs.requests()[1:]; len(got) != 3 || !strings.HasPrefix(got[0], "GET /subscriptions") || got[1] != "POST /"+rs.TenantID+"/oauth2/v2.0/token" || got[2] != got[0] {
		t.Errorf("requests = %q", got)
	}
}

func TestDecodeAPIError(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{404, `{"error":{"code":"ResourceGroupNotFound","message":"Resource group 'x' could not be found."}}`, "(ResourceGroupNotFound) Resource group 'x' could not be found."},
		{400, `{"code":"BadRequest","message":"nope"}`, "(BadRequest) nope"},
		{500, `oops`, "(InternalServerError) oops"},
		{403, ``, "(Forbidden) Operation returned an invalid status 'Forbidden'"},
		{409, `{"error":{"code":"Conflict"}}`, "(Conflict) Operation returned an invalid status 'Conflict'"},
	}
	for _, tt := range tests {
		e := DecodeAPIError(tt.status, []byte(tt.body))
		if e.Error() != tt.want || e.Status != tt.status {
			t.Errorf("DecodeAPIError(%d, %s) = %q", tt.status, tt.body, e.Error())
		}
	}
	if !errdefs.IsNotFound(fmt.Errorf("wrapped: %w", DecodeAPIError(404, nil))) {
		t.Error("IsNotFound through wrapping")
	}
}

func TestDecodeOAuthError(t *testing.T) {
	tests := []struct {
		body, code, want string
	}{
		{`{"error":"invalid_grant","error_description":"AADSTS50126: bad"}`, "invalid_grant", "AADSTS50126: bad"},
		{`{"error":"invalid_client"}`, "invalid_client", "invalid_client"},
		{`{"error":{"code":"NotFound","message":"no such tenant"}}`, "NotFound", "no such tenant"},
		{`garbage`, "invalid_request", "token request failed with status 400 Bad Request"},
	}
	for _, tt := range tests {
		e := DecodeOAuthError(400, []byte(tt.body))
		if e.Code != tt.code || e.Error() != tt.want {
			t.Errorf("DecodeOAuthError(%s) = %q %q", tt.body, e.Code, e.Error())
		}
	}
}

func TestGraphListPaging(t *testing.T) {
	ts, c := newTestServer(t, nil)
	ts.h = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer graph" {
			t.Errorf("graph call with %q", r.Header.Get("Authorization"))
		}
		if r.URL.Query().Get("page") == "2" {
			writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"id": "b"}}})
			return
		}
		if r.URL.Query().Get("$filter") != "displayName eq 'x'" {
			t.Errorf("filter %q", r.URL.RawQuery)
		}
		writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"id": "a"}}, "@odata.nextLink": ts.srv.URL + "/v1.0/users?page=2"})
	}
	loggedIn(c)
	q := map[string][]string{"$filter": {"displayName eq 'x'"}}
	items, more, err := ListPath[Principal](context.Background(), c, "/users", q, false)
	if err != nil || len(items) != 1 || !more {
		t.Fatalf("first page: %v %v %v", items, more, err)
	}
	items, more, err = ListPath[Principal](context.Background(), c, "/users", q, true)
	if err != nil || len(items) != 2 || more {
		t.Fatalf("all pages: %v %v %v", items, more, err)
	}
	if got := ts.requests()[0]; got != "GET /v1.0/users?$filter=displayName%20eq%20%27x%27" {
		t.Errorf("request %q", got)
	}
}

func TestTokenNotSentElsewhere(t *testing.T) {
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("token leaked to another origin")
		}
		writeJSON(w, 200, map[string]any{"status": "Succeeded"})
	}))
	defer other.Close()
	ts, c := newTestServer(t, nil)
	ts.h = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Azure-AsyncOperation", other.URL+"/op")
		w.WriteHeader(202)
	}
	c.HTTP.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(other.Certificate())
	loggedIn(c)
	if err := c.ARM(context.Background(), Request{Method: "DELETE", Path: "/x"}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Client{PollInterval: 2 * time.Second, Now: func() time.Time { return now }}
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 2 * time.Second},
		{"0", 0},
		{"5", 5 * time.Second},
		{"junk", 2 * time.Second},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Retry-After", tt.header)
		}
		if got := c.retryAfter(h); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, err := New(Config{Endpoint: "127.0.0.1:8443"}); err == nil {
		t.Error("endpoint without scheme accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := New(Config{CAFile: bad}); err == nil {
		t.Error("CA file without PEM accepted")
	}
	if _, err := New(Config{CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("missing CA file accepted")
	}
}

func TestDebugRedactsSecrets(t *testing.T) {
	rs, _ := startServer(t)
	var log strings.Builder
	c, err := New(Config{Endpoint: rs.URL, CAFile: rs.CAFile, Debug: &log})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := c.LoginPassword(context.Background(), "", rs.Admin, rs.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(context.Background(), GraphScope); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	graph := c.Credentials().AccessTokens[GraphScope].Token
	for name, s := range map[string]string{"access token": cr.AccessTokens[ARMScope].Token, "graph token": graph, "refresh token": cr.RefreshToken, "password": rs.AdminPassword} {
		if strings.Contains(out, s) {
			t.Errorf("debug log contains the %s:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "DEBUG: Request URL:") || !strings.Contains(out, "DEBUG: Response status: 200") {
		t.Errorf("debug log lacks request/response lines:\n%s", out)
	}
}

func TestExpiredRefreshTokenAsksForLogin(t *testing.T) {
	rs, c := startServer(t)
	c.SetCredentials(&Credentials{TenantID: rs.TenantID, RefreshToken: "old"})
	_, err := c.Token(context.Background(), ARMScope)
	if err == nil || !strings.HasSuffix(err.Error(), " Interactive authentication is needed. Please run 'az login'.") || !strings.HasPrefix(err.Error(), "AADSTS") {
		t.Errorf("err = %v", err)
	}
}
