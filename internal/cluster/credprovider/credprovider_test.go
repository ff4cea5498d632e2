package credprovider_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/acrtoken"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider/credprovidertest"
)

const suffix = credprovidertest.Suffix

func request(image string) string {
	return `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"` + image + `"}`
}

func run(t *testing.T, stdin string, args ...string) (map[string]any, string, error) {
	t.Helper()
	var out bytes.Buffer
	err := credprovider.Run(t.Context(), strings.NewReader(stdin), &out, args)
	if err != nil {
		return nil, out.String(), err
	}
	var m map[string]any
	if jerr := json.Unmarshal(out.Bytes(), &m); jerr != nil {
		t.Fatalf("response is not JSON: %q", out.String())
	}
	return m, out.String(), nil
}

// setup starts drydock with a host holding the kubelet identity, which
// has AcrPull on registry myacr; it returns the node's azure.json.
func setup(t *testing.T) (*credprovidertest.Env, *credprovidertest.Registry, string) {
	e := credprovidertest.New(t)
	reg := e.AddRegistry("myacr", map[string][]string{"nginx": {"v1"}})
	e.Assign("AcrPull", e.Kubelet.PrincipalID, reg.ID)
	return e, reg, e.WriteConfig(e.Config())
}

func TestRunIssuesRefreshToken(t *testing.T) {
	e, reg, azureJSON := setup(t)
	_, port, _ := net.SplitHostPort(reg.LoginServer)
	for _, tc := range []struct {
		name, image, login string
		args               []string
	}{
		{"tag", "myacr." + suffix + "/nginx:v1", "myacr." + suffix, []string{azureJSON}},
		{"dashdash", "myacr." + suffix + "/library/nginx@sha256:" + strings.Repeat("a", 64), "myacr." + suffix, []string{"--", azureJSON}},
		{"port", "myacr." + suffix + ":" + port + "/nginx", "myacr." + suffix + ":" + port, []string{azureJSON}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Reset()
			m, raw, err := run(t, request(tc.image), tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if m["apiVersion"] != "credentialprovider.kubelet.k8s.io/v1" || m["kind"] != "CredentialProviderResponse" ||
				m["cacheKeyType"] != "Registry" || m["cacheDuration"] != "1h0m0s" {
				t.Errorf("response %s", raw)
			}
			auth, _ := m["auth"].(map[string]any)
			if len(auth) != 2 {
				t.Fatalf("auth = %v", auth)
			}
			if a, _ := auth["*."+suffix].(map[string]any); a == nil || a["username"] != "" || a["password"] != "" {
				t.Errorf("anonymous entry: %v", auth)
			}
			a, _ := auth[tc.login].(map[string]any)
			if a == nil || a["username"] != "00000000-0000-0000-0000-000000000000" {
				t.Fatalf("login server entry: %v", auth)
			}
			// The password is a refresh token the registry takes for a
			// pull token.
			tokens := &acrtoken.Client{HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CAPool},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, e.RegistryAddress)
				}}}}
			if _, err := tokens.AccessToken(t.Context(), acrtoken.TokenRequest{Origin: "https://" + reg.LoginServer, Service: reg.LoginServer,
				Scope: "repository:nginx:pull", RefreshToken: a["password"].(string)}); err != nil {
				t.Errorf("the refresh token does not give a pull token: %v", err)
			}
			// The flow is cloud-provider-azure's: IMDS, challenge, exchange.
			var saw []string
			for _, r := range e.Requests() {
				saw = append(saw, strings.SplitN(r, " ", 3)[2])
			}
			if got, want := strings.Join(saw, " "), "/metadata/identity/oauth2/token /v2/ /oauth2/exchange"; got != want {
				t.Errorf("requests %v, want %s", saw, want)
			}
		})
	}
}

func TestRunSendsWhatCPASends(t *testing.T) {
	e, reg, azureJSON := setup(t)
	var imds, exchange *http.Request
	var exchangeForm url.Values
	e.Intercept(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		switch r.URL.Path {
		case "/metadata/identity/oauth2/token":
			imds = r.Clone(context.Background())
		case "/oauth2/exchange":
			exchange = r.Clone(context.Background())
			exchangeForm, _ = url.ParseQuery(string(body))
		}
		return false
	})
	if _, raw, err := run(t, request("myacr."+suffix+"/nginx:v1"), azureJSON); err != nil {
		t.Fatal(err, raw)
	}
	q := imds.URL.Query()
	if imds.Header.Get("Metadata") != "true" || imds.Header.Get("X-IDENTITY-HEADER") != e.HostCredential ||
		q.Get("api-version") != "2018-02-01" || q.Get("resource") != "https://containerregistry.azure.net" || q.Get("client_id") != e.Kubelet.ClientID {
		t.Errorf("identity request: %v %v", imds.Header, q)
	}
	if exchange.Header.Get("User-Agent") != "kubernetes-credentialprovider-acr" || exchange.Host != reg.LoginServer {
		t.Errorf("exchange request: host %s headers %v", exchange.Host, exchange.Header)
	}
	get := func(k string) string { return strings.Join(exchangeForm[k], ",") }
	if get("grant_type") != "access_token_refresh_token" || get("service") != reg.LoginServer || get("tenant") != e.TenantID ||
		get("access_token") == "" || get("access_token") != get("refresh_token") {
		t.Errorf("exchange form: %v", exchangeForm)
	}
}

func TestRunNotARegistryImage(t *testing.T) {
	e, _, azureJSON := setup(t)
	e.Reset()
	for _, image := range []string{"nginx", "docker.io/library/nginx:1", "myacr.azurecr.io/nginx", "my-acr." + suffix + "/x",
		"a.b." + suffix + "/x", "myacr." + suffix + ".evil.com/x", "myacr." + suffix + ":abc/x", "mcr.microsoft.com/aks/canipull:v0.1.0"} {
		m, raw, err := run(t, request(image), azureJSON)
		if err != nil {
			t.Fatalf("%s: %v", image, err)
		}
		if m["cacheKeyType"] != "Registry" || m["cacheDuration"] != "0s" || len(m["auth"].(map[string]any)) != 0 || !strings.Contains(raw, `"auth":{}`) {
			t.Errorf("%s: %s", image, raw)
		}
	}
	if n := len(e.Requests()); n != 0 {
		t.Errorf("%d requests for images outside the registries: %v", n, e.Requests())
	}
}

// A request the plugin refuses is refused before azure.json is read.
func TestRunRejectsBadRequests(t *testing.T) {
	azureJSON := filepath.Join(t.TempDir(), "unread.json")
	for _, tc := range []struct{ name, stdin, want string }{
		{"v1alpha1", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1","kind":"CredentialProviderRequest","image":"x"}`, "group version credentialprovider.kubelet.k8s.io/v1alpha1 is not supported"},
		{"no apiVersion", `{"kind":"CredentialProviderRequest","image":"x"}`, "group version  is not supported"},
		{"kind", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","image":"x"}`, `kind was "CredentialProviderResponse", expected CredentialProviderRequest`},
		{"empty image", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":""}`, "image in plugin request was empty"},
		{"no image", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest"}`, "image in plugin request was empty"},
		{"not json", `image: x`, "json parse error"},
		{"empty", ``, "json parse error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out, err := run(t, tc.stdin, azureJSON)
			if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
				t.Errorf("err = %v, stdout %q; want %q", err, out, tc.want)
			}
		})
	}
}

func TestRunConfigErrors(t *testing.T) {
	e, _, _ := setup(t)
	dir := t.TempDir()
	write := func(name string, mutate func(*credprovider.AzureConfig)) string {
		c := e.Config()
		mutate(c)
		b, _ := json.Marshal(c)
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{not json"), 0o600)
	untrusted := credprovidertest.OtherCA(t)
	image := "myacr." + suffix + "/nginx:v1"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.json")}, "failed to load config"},
		{"garbage", []string{garbage}, "failed to load config: parsing"},
		{"two args", []string{garbage, garbage}, "expected at most one argument"},
		{"unknown flag", []string{"--registry-mirror=mcr.microsoft.com:myacr." + suffix, garbage}, "unknown flag: --registry-mirror"},
		{"missing CA file", []string{write("ca.json", func(c *credprovider.AzureConfig) { c.CAFile = filepath.Join(dir, "no-ca") })}, "reading the CA file"},
		{"untrusted CA", []string{write("otherca.json", func(c *credprovider.AzureConfig) { c.CAFile = untrusted })}, "certificate signed by unknown authority"},
		{"missing host credential", []string{write("hc.json", func(c *credprovider.AzureConfig) { c.HostCredentialFile = filepath.Join(dir, "no-hc") })}, "reading the host credential"},
		{"wrong host credential", []string{write("hc2.json", func(c *credprovider.AzureConfig) { c.HostCredentialFile = garbage })}, "responded with status code 401: unauthorized_client: The host credential is not valid"},
		{"identity not assigned", []string{write("id.json", func(c *credprovider.AzureConfig) { c.UserAssignedIdentityID = "11111111-2222-3333-4444-555555555555" })}, "status code 400: invalid_request: Identity not found"},
		{"no identity endpoint", []string{write("ep.json", func(c *credprovider.AzureConfig) { c.IdentityEndpoint, c.ResourceManagerEndpoint = "", "" })}, "azure.json names no identityEndpoint"},
		{"no registry address", []string{write("ra.json", func(c *credprovider.AzureConfig) { c.RegistryAddress = "" })}, "error reaching registry endpoint https://myacr." + suffix + "/v2/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out, err := run(t, request(image), tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
				t.Errorf("err = %v, stdout %q; want %q", err, out, tc.want)
			}
		})
	}
}

// Faults the server does not produce, injected in front of it.
func TestRunRegistryFailures(t *testing.T) {
	credprovider.SetRetryDelaysForTest(t, []time.Duration{time.Millisecond})
	e, reg, azureJSON := setup(t)
	image := "myacr." + suffix + "/nginx:v1"
	for _, tc := range []struct {
		name  string
		fault credprovidertest.Interceptor
		want  string
	}{
		{"exchange refused", credprovidertest.Answer("/oauth2/exchange", http.StatusUnauthorized,
			`{"errors":[{"code":"UNAUTHORIZED","message":"token validation failed: the exchange is refused by the test"}]}`), "Www-Authenticate: auth url https://" + reg.LoginServer + "/oauth2/exchange responded with status code 401: token validation failed"},
		{"exchange answers no token", credprovidertest.Answer("/oauth2/exchange", http.StatusOK, `{"access_token":"x"}`), `Www-Authenticate: unable to read response {"access_token":"x"}`},
		{"identity endpoint down", credprovidertest.Answer("/metadata/identity/", http.StatusServiceUnavailable,
			`{"error":"unknown","error_description":"the identity endpoint is unavailable"}`), "responded with status code 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Intercept(tc.fault)
			_, out, err := run(t, request(image), azureJSON)
			if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
				t.Errorf("err = %v, stdout %q; want %q", err, out, tc.want)
			}
		})
	}
	e.Intercept(nil)
	if _, _, err := run(t, request(image), azureJSON); err != nil {
		t.Errorf("without faults: %v", err)
	}
}

func TestRunServicePrincipalCluster(t *testing.T) {
	e, _, _ := setup(t)
	c := e.Config()
	c.UseManagedIdentityExtension, c.AADClientID, c.AADClientSecret = false, "app-id", "app-secret"
	e.Reset()
	m, raw, err := run(t, request("myacr."+suffix+"/nginx:v1"), e.WriteConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	auth := m["auth"].(map[string]any)
	if a, _ := auth["*."+suffix].(map[string]any); len(auth) != 1 || a["username"] != "app-id" || a["password"] != "app-secret" {
		t.Errorf("%s", raw)
	}
	if len(e.Requests()) != 0 {
		t.Errorf("requests: %v", e.Requests())
	}
}

func TestLoginServerOf(t *testing.T) {
	for image, want := range map[string]string{
		"myacr.azurecr.io/nginx:v1":         "myacr.azurecr.io",
		"MyAcr.AzureCR.io/nginx":            "MyAcr.AzureCR.io",
		"myacr.azurecr.io":                  "myacr.azurecr.io",
		"myacr.azurecr.io:5443/a/b:c":       "myacr.azurecr.io:5443",
		"myacr.azurecr.io:/a":               "",
		"myacr.azurecr.io.evil/a":           "",
		"evil.com/myacr.azurecr.io/a":       "",
		"my_acr.azurecr.io/a":               "",
		"azurecr.io/a":                      "",
		"nginx":                             "",
		"myacr.azurecr.cn/nginx":            "",
		"x.myacr.azurecr.io/nginx":          "",
		"myacr.azurecr.io@sha256:abc/weird": "",
	} {
		if got := credprovider.LoginServerOf(image, "azurecr.io"); got != want {
			t.Errorf("LoginServerOf(%q) = %q, want %q", image, got, want)
		}
	}
}

// The /v2/ answers cloud-provider-azure refuses, with its messages.
func TestCheckChallenge(t *testing.T) {
	for _, tc := range []struct {
		name           string
		status         int
		headers        []string
		realm, service string
		origin         string
		want           string
	}{
		{name: "quoted", status: 401, headers: []string{`Bearer realm="https://a.azurecr.io/oauth2/token",service="a.azurecr.io",scope="repository:x,y:pull"`},
			realm: "https://a.azurecr.io/oauth2/token", service: "a.azurecr.io", origin: "https://a.azurecr.io"},
		{name: "unquoted", status: 401, headers: []string{`bearer realm=https://a:5443/oauth2/token, service = a:5443`},
			realm: "https://a:5443/oauth2/token", service: "a:5443", origin: "https://a:5443"},
		{name: "challenge status", status: 200, want: "registry did not issue a valid AAD challenge, status: 200"},
		{name: "no header", status: 401, want: "challenge response does not contain header 'Www-Authenticate'"},
		{name: "two headers", status: 401, headers: []string{`Bearer realm="https://a/oauth2/token",service="a"`, `Basic realm="x"`},
			want: `registry did not issue a valid AAD challenge, authenticate header [Bearer realm="https://a/oauth2/token",service="a", Basic realm="x"]`},
		{name: "basic", status: 401, headers: []string{`Basic realm="x"`}, want: "Www-Authenticate: expected realm: Bearer, actual: basic"},
		{name: "no service", status: 401, headers: []string{`Bearer realm="https://myacr.azurecr.test/oauth2/token"`}, want: `Www-Authenticate: missing header "service"`},
		{name: "no realm", status: 401, headers: []string{`Bearer service="myacr.azurecr.test"`}, want: `Www-Authenticate: missing header "realm"`},
		{name: "malformed", status: 401, headers: []string{`Bearer realm="unterminated`}, want: `unable to understand the contents of Www-Authenticate header realm="unterminated`},
		{name: "no parameters", status: 401, headers: []string{`Bearer`}, want: "unable to understand the contents of Www-Authenticate header "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.headers {
				h.Add("Www-Authenticate", v)
			}
			ch, err := credprovider.CheckChallenge(acrtoken.ProbeResult{Status: tc.status, Header: h})
			if tc.want != "" {
				if err == nil || err.Error() != tc.want {
					t.Errorf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || ch.Realm() != tc.realm || ch.Service() != tc.service {
				t.Fatalf("%+v %v", ch, err)
			}
			if o, err := ch.Origin(); err != nil || o != tc.origin {
				t.Errorf("origin %q %v", o, err)
			}
		})
	}
}

func TestExampleConfig(t *testing.T) {
	got := string(credprovider.ExampleConfig("azurecr.io", "/var/lib/kubelet/credential-provider", "/etc/kubernetes/azure.json"))
	want := `# kubelet --image-credential-provider-config=<this file> --image-credential-provider-bin-dir=/var/lib/kubelet/credential-provider
# /var/lib/kubelet/credential-provider/acr-credential-provider runs ` + "`drydock acr-credential-provider`" + `.
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: acr-credential-provider
  matchImages:
  - "*.azurecr.io"
  defaultCacheDuration: "10m"
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  args:
  - "/etc/kubernetes/azure.json"
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = string(credprovider.ExampleConfig("azurecr.io:5443", "", "/n/azure.json"))
	if !strings.Contains(got, "  matchImages:\n  - \"*.azurecr.io\"\n  - \"*.azurecr.io:5443\"\n  defaultCacheDuration") || strings.Contains(got, "bin-dir") {
		t.Errorf("with port:\n%s", got)
	}
}

func TestInstallPlugin(t *testing.T) {
	dir := t.TempDir()
	p, err := credprovider.InstallPlugin(filepath.Join(dir, "bin"), "/opt/dry dock/drydock")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if filepath.Base(p) != "acr-credential-provider" || st.Mode().Perm() != 0o755 ||
		string(b) != "#!/bin/sh\n# drydock's kubelet image credential provider\nexec '/opt/dry dock/drydock' acr-credential-provider -- \"$@\"\n" {
		t.Errorf("%s %v %q", p, st.Mode(), b)
	}
}

// A node's azure.json names its host credential and CA relative to its own
// directory, so the same file works from the node's directory on the host
// and mounted at /etc/kubernetes in a pod.
func TestLoadConfigResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, cred, ca   string
		wantCred, wantCA string
	}{
		{"relative", "host-credential", "ca.crt", filepath.Join(dir, "host-credential"), filepath.Join(dir, "ca.crt")},
		{"below", "pki/host-credential", "./pki/ca.crt", filepath.Join(dir, "pki", "host-credential"), filepath.Join(dir, "pki", "ca.crt")},
		{"above", "../host-credential", "../ca.crt", filepath.Join(filepath.Dir(dir), "host-credential"), filepath.Join(filepath.Dir(dir), "ca.crt")},
		{"absolute", "/var/lib/node/host-credential", "/etc/ssl/ca.crt", "/var/lib/node/host-credential", "/etc/ssl/ca.crt"},
		{"none", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(credprovider.AzureConfig{HostCredentialFile: tc.cred, CAFile: tc.ca})
			path := filepath.Join(dir, "azure.json")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := credprovider.LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HostCredentialFile != tc.wantCred || cfg.CAFile != tc.wantCA {
				t.Errorf("hostCredentialFile %q, caFile %q; want %q, %q", cfg.HostCredentialFile, cfg.CAFile, tc.wantCred, tc.wantCA)
			}
		})
	}
	// And the plugin gets credentials with such a file.
	e, _, _ := setup(t)
	cfg := e.Config()
	cfg.HostCredentialFile, cfg.CAFile = filepath.Base(e.HostCredentialFile), filepath.Base(e.CAFile)
	if _, raw, err := run(t, request("myacr."+suffix+"/nginx:v1"), e.WriteConfig(cfg)); err != nil {
		t.Fatalf("relative paths: %v (%s)", err, raw)
	}
}
