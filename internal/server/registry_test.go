package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// registryClient returns a transport that reaches the registry listener
// whatever the login server resolves to, trusting drydock's CA.
func (e *env) registryTransport(t *testing.T) http.RoundTripper {
	code, meta := e.do(t, "", "GET", "/metadata/endpoints?api-version=2020-06-01", nil)
	if code != 200 {
		t.Fatalf("metadata: %d", code)
	}
	addr := meta["drydock"].(map[string]any)["registryAddress"].(string)
	base := e.client.Transport.(*http.Transport)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: base.TLSClientConfig.RootCAs},
		MaxIdleConnsPerHost: 64,
	}
	// Closed before the server stops (cleanups run last first): a spare
	// connection the transport dialed but never used would otherwise hold
	// the server's shutdown for 5 s (net/http waits that long for a
	// connection's first request).
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func (e *env) createRegistry(t *testing.T, group, name string, extra map[string]any) string {
	e.do(t, e.arm, "PUT", e.rg(group)+"?api-version=2022-09-01", map[string]any{"location": "eastus"})
	body := map[string]any{"location": "eastus", "sku": map[string]any{"name": "Standard"}}
	for k, v := range extra {
		body[k] = v
	}
	out := e.mustDo(t, e.arm, "PUT", e.rg(group)+"/providers/Microsoft.ContainerRegistry/registries/"+name+"?api-version=2023-07-01", body, 201)
	return out["properties"].(map[string]any)["loginServer"].(string)
}

// exchange trades a directory token for an ACR refresh token.
func (e *env) exchange(t *testing.T, rt http.RoundTripper, login, aadToken string) (int, string) {
	form := url.Values{"grant_type": {"access_token"}, "service": {login}, "tenant": {e.TenantID}, "access_token": {aadToken}}
	req, _ := http.NewRequest("POST", "https://"+login+"/oauth2/exchange", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = jsonDecode(resp, &out)
	s, _ := out["refresh_token"].(string)
	return resp.StatusCode, s
}

func TestRegistryPushPullWithRBAC(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	login := e.createRegistry(t, "rg", "pushacr", nil)
	rt := e.registryTransport(t)

	// The admin (Owner) pushes with the null-GUID user and a refresh token.
	code, refresh := e.exchange(t, rt, login, e.arm)
	if code != 200 || refresh == "" {
		t.Fatalf("exchange: %d", code)
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(login + "/team/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	owner := remote.WithAuth(&authn.Basic{Username: "00000000-0000-0000-0000-000000000000", Password: refresh})
	if err := remote.Write(ref, img, owner, remote.WithTransport(rt)); err != nil {
		t.Fatalf("push: %v", err)
	}
	got, err := remote.Image(ref, owner, remote.WithTransport(rt))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	d1, _ := img.Digest()
	d2, _ := got.Digest()
	if d1 != d2 {
		t.Fatalf("digest %s != %s", d2, d1)
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("pull layer: %v", err)
	}
	rc.Close()

	// A managed identity without a role can exchange but not pull; with
	// AcrPull it can pull and not push; without it again, it cannot.
	mi := e.mustDo(t, e.arm, "PUT", e.rg("rg")+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kubelet?api-version=2023-01-31", map[string]any{"location": "eastus"}, 201)
	vm := e.rg("rg") + "/providers/Microsoft.Compute/virtualMachines/node0"
	e.mustDo(t, e.arm, "PUT", vm+"?api-version=2024-07-01", map[string]any{"location": "eastus",
		"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{mi["id"].(string): map[string]any{}}}}, 201)
	cred := e.mustDo(t, e.arm, "POST", vm+"/issueHostCredential?api-version=2024-07-01", nil, 200)["hostCredential"].(string)
	req, _ := http.NewRequest("GET", e.Endpoint+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+url.QueryEscape("https://containerregistry.azure.net"), nil)
	req.Header.Set("Metadata", "true")
	req.Header.Set("X-IDENTITY-HEADER", cred)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var miTok map[string]any
	jsonDecode(resp, &miTok)
	resp.Body.Close()
	code, miRefresh := e.exchange(t, rt, login, miTok["access_token"].(string))
	if code != 200 {
		t.Fatalf("MI exchange: %d", code)
	}
	kubelet := remote.WithAuth(&authn.Basic{Username: "00000000-0000-0000-0000-000000000000", Password: miRefresh})
	if _, err := remote.Image(ref, kubelet, remote.WithTransport(rt)); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("pull without AcrPull: want 401, got %v", err)
	}
	assignment := e.assign(t, e.arm, e.rg("rg")+"/providers/Microsoft.ContainerRegistry/registries/pushacr", acrPullID, mi["properties"].(map[string]any)["principalId"].(string), 201)
	if _, err := remote.Image(ref, kubelet, remote.WithTransport(rt)); err != nil {
		t.Fatalf("pull with AcrPull: %v", err)
	}
	other, _ := name.NewTag(login + "/team/app:v2")
	if err := remote.Write(other, img, kubelet, remote.WithTransport(rt)); err == nil {
		t.Fatal("AcrPull could push")
	}
	e.mustDo(t, e.arm, "DELETE", assignment["id"].(string)+"?api-version=2022-04-01", nil, 200)
	if _, err := remote.Image(ref, kubelet, remote.WithTransport(rt)); err == nil {
		t.Fatal("pull still works after the assignment was removed")
	}

	// Per-registry metrics: pushes, pulls, bytes, auth outcomes, storage used.
	resp, err = e.client.Get(e.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"drydock_registry_pushes_total", "drydock_registry_pulls_total", "drydock_registry_push_bytes_total",
		"drydock_registry_auth_success_total", "drydock_registry_auth_failure_total", `drydock_registry_storage_bytes{registry="` + login + `"}`} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %s", m)
		}
	}

	// A refresh token of one registry is refused by another.
	login2 := e.createRegistry(t, "rg", "otheracr", nil)
	ref2, _ := name.NewTag(login2 + "/team/app:v1")
	if err := remote.Write(ref2, img, owner, remote.WithTransport(rt)); err == nil {
		t.Fatal("a refresh token for registry A was accepted by registry B")
	}
}
