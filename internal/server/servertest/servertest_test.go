package servertest_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

func TestStartExposesTheRunningServer(t *testing.T) {
	s := servertest.Start(t)
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || s.TenantID == "" || s.Admin != "admin@drydock.local" || s.AdminPassword == "" {
		t.Errorf("server %+v", s)
	}
	if len(s.SubscriptionID) != 36 || s.SubscriptionName != "drydock" {
		t.Errorf("default subscription %q %q", s.SubscriptionID, s.SubscriptionName)
	}
	if b, err := os.ReadFile(s.CAFile); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Errorf("CA file %s: %v", s.CAFile, err)
	}
	code, sub := s.Do(t, s.AdminToken(t, servertest.ARMScope), http.MethodGet, "/subscriptions/"+s.SubscriptionID+"?api-version=2022-09-01", nil)
	if code != http.StatusOK || sub["subscriptionId"] != s.SubscriptionID {
		t.Errorf("GET subscription: %d %v", code, sub)
	}
	if code, _ := s.Do(t, "", http.MethodGet, "/subscriptions?api-version=2022-09-01", nil); code != http.StatusUnauthorized {
		t.Errorf("anonymous list: %d", code)
	}
	code, out := s.Token(t, url.Values{"grant_type": {"password"}, "username": {s.Admin}, "password": {"wrong"}, "scope": {servertest.ARMScope}, "client_id": {servertest.AzureCLIClientID}})
	if code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("bad password: %d %v", code, out)
	}
	if args := s.LoginArgs(); len(args) != 9 || args[0] != "login" || args[6] != s.URL || args[8] != s.CAFile {
		t.Errorf("login args %v", args)
	}
}

func TestRegistryListenerServesLoginServers(t *testing.T) {
	s := servertest.Start(t)
	_, port, _ := net.SplitHostPort(s.RegistryAddress)
	if got := s.LoginServer("MyReg"); got != "myreg.azurecr.io:"+port {
		t.Errorf("login server %q", got)
	}
	tok := s.AdminToken(t, servertest.ARMScope)
	rg := "/subscriptions/" + s.SubscriptionID + "/resourcegroups/rg"
	if code, out := s.Do(t, tok, http.MethodPut, rg+"?api-version=2022-09-01", map[string]any{"location": "westus"}); code != http.StatusCreated {
		t.Fatalf("group: %d %v", code, out)
	}
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myreg?api-version=2023-07-01"
	if code, out := s.Do(t, tok, http.MethodPut, reg, map[string]any{"location": "westus", "sku": map[string]any{"name": "Basic"}}); code/100 != 2 {
		t.Fatalf("registry: %d %v", code, out)
	}
	// The registry listener answers for the login server's host name, with
	// a certificate from the same CA, and challenges anonymous callers.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CAPool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.RegistryAddress)
		}}}
	resp, err := c.Get("https://" + s.LoginServer("myreg") + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="https://`+s.LoginServer("myreg")+`/oauth2/token"`) {
		t.Errorf("GET /v2/: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestWithConfig(t *testing.T) {
	s := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.LoginServerSuffix = "azurecr.test" }))
	if s.Config.LoginServerSuffix != "azurecr.test" || !strings.HasPrefix(s.LoginServer("a"), "a.azurecr.test:") {
		t.Errorf("suffix %q, login server %q", s.Config.LoginServerSuffix, s.LoginServer("a"))
	}
}

func TestInterceptorFrontsTheServer(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	s := servertest.Start(t, servertest.WithInterceptor(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/fault" {
			http.Error(w, "injected", http.StatusInternalServerError)
			return true
		}
		return false
	}))
	tok := s.AdminToken(t, servertest.ARMScope)
	code, sub := s.Do(t, tok, http.MethodGet, "/subscriptions/"+s.SubscriptionID+"?api-version=2022-09-01", nil)
	if code != http.StatusOK || sub["subscriptionId"] != s.SubscriptionID {
		t.Errorf("through the front: %d %v", code, sub)
	}
	resp, err := s.Client.Get(s.URL + "/fault")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("fault: %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 3 || seen[len(seen)-1] != "GET /fault" || s.URL == "https://"+s.Config.Listen {
		t.Errorf("URL %s (server on %s), seen %v", s.URL, s.Config.Listen, seen)
	}
}
