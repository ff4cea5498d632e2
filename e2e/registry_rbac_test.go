package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// tokenResponse is /oauth2/token's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
}

// postToken asks a login server's /oauth2/token for an access token with a
// refresh token, as docker and the Azure SDK do. It returns the status and
// the access token.
func (e *regEnv) postToken(t *testing.T, login, refresh, scope string) (int, string, string) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "service": {login}, "scope": {scope}, "refresh_token": {refresh}}
	resp, err := e.httpClient().PostForm("https://"+login+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tr tokenResponse
	_ = json.Unmarshal(body, &tr)
	return resp.StatusCode, tr.AccessToken, string(body)
}

// getManifest GETs a manifest with a bearer access token and returns the
// status.
func (e *regEnv) getManifest(t *testing.T, login, repo, ref, accessToken string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+login+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := e.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// testRegistryRBAC: a service principal with AcrPull pulls but may not
// push, with its ACR refresh token (from `acr login --expose-token` after
// `login --service-principal`) and with its appId and secret as Basic
// credentials. Once the assignment is deleted, no new access token is
// issued, and the one it held stops working when it expires.
func testRegistryRBAC(t *testing.T, e *regEnv) {
	ctx := t.Context()
	const acr = "e2erbac"
	az, login, acrID := e.adminRegistry(t, acr)
	ref := mustTag(t, login+"/rbac/app:v1")
	img := e.pushRandom(t, az, acr, ref)

	sp := createSP(t, az, "e2e-rbac-puller", "--role", "AcrPull", "--scopes", acrID)
	spCLI := e.s.newCLI(t)
	spCLI.ok("login", "--service-principal", "-u", sp.AppID, "-p", sp.Password, "--tenant", sp.Tenant, "-o", "none")
	spRT := refreshToken(t, spCLI, acr)
	secret := &authn.Basic{Username: sp.AppID, Password: sp.Password}

	for name, a := range map[string]authn.Authenticator{"refresh token": bearerAuth(spRT), "appId and secret": secret} {
		pulled, err := remote.Image(ref, e.ggcr(ctx, a)...)
		if err != nil {
			t.Errorf("AcrPull (%s): pull: %v", name, err)
		} else if err := validate.Image(pulled); err != nil {
			t.Errorf("AcrPull (%s): pulled image: %v", name, err)
		}
		other, _ := random.Image(1024, 1)
		expectRefused(t, "AcrPull ("+name+"): push a new tag", remote.Write(mustTag(t, login+"/rbac/app:pushed"), other, e.ggcr(ctx, a)...))
		expectRefused(t, "AcrPull ("+name+"): push to a new repository", remote.Write(mustTag(t, login+"/rbac/new:v1"), other, e.ggcr(ctx, a)...))
		expectRefused(t, "AcrPull ("+name+"): delete", remote.Delete(mustDigestRef(t, login+"/rbac/app@"+mustDigest(t, img).String()), e.ggcr(ctx, a)...))
	}
	// A token asked for pull and push carries pull only.
	status, access, body := e.postToken(t, login, spRT, "repository:rbac/app:pull,push")
	if status != http.StatusOK {
		t.Fatalf("/oauth2/token for pull,push as AcrPull: %d %s", status, body)
	}
	if got := e.getManifest(t, login, "rbac/app", "v1", access); got != http.StatusOK {
		t.Errorf("GET manifest with the AcrPull access token: %d", got)
	}
	granted, _ := json.Marshal(jwtClaims(t, access)["access"])
	if !strings.Contains(string(granted), `"pull"`) || strings.Contains(string(granted), `"push"`) {
		t.Errorf("access token for pull,push as AcrPull grants %s, want pull only", granted)
	}
	exp, _ := jwtClaims(t, access)["exp"].(float64)

	az.ok("role", "assignment", "delete", "--assignee", sp.AppID, "--role", "AcrPull", "--scope", acrID)

	// A new token is refused at once: a fresh client cannot pull.
	if status, _, body := e.postToken(t, login, spRT, "repository:rbac/app:pull"); status != http.StatusUnauthorized {
		t.Errorf("/oauth2/token after the assignment was deleted: %d %s, want 401", status, body)
	}
	for name, a := range map[string]authn.Authenticator{"refresh token": bearerAuth(spRT), "appId and secret": secret} {
		_, err := remote.Image(ref, e.ggcr(ctx, a)...)
		expectRefused(t, "pull after the assignment was deleted ("+name+")", err)
	}
	// The access token issued before lives until it expires (at most the
	// server's registry access token lifetime), then it is refused.
	if wait := time.Until(time.Unix(int64(exp), 0).Add(time.Second)); wait > 0 {
		if wait > registryAccessTokenLifetime+time.Second {
			t.Fatalf("the access token expires in %v, beyond the server's lifetime of %v", wait, registryAccessTokenLifetime)
		}
		time.Sleep(wait)
	}
	if got := e.getManifest(t, login, "rbac/app", "v1", access); got != http.StatusUnauthorized {
		t.Errorf("GET manifest with an expired access token: %d, want 401", got)
	}
}

// testRegistryAnonymousPull: anonymous pull needs Standard or Premium; once
// enabled, a client with no credentials pulls (and still may not push or
// list the catalog); disabled again, it is refused.
func testRegistryAnonymousPull(t *testing.T, e *regEnv) {
	ctx := t.Context()
	const acr = "e2eanon"
	az, login, _ := e.adminRegistry(t, acr)
	ref := mustTag(t, login+"/public/app:v1")
	img := e.pushRandom(t, az, acr, ref)

	_, err := remote.Image(ref, e.ggcr(ctx, authn.Anonymous)...)
	expectRefused(t, "anonymous pull from a Basic registry", err)
	az.fails(1, `^ERROR: \(AnonymousPullNotSupported\) .*Basic`, "acr", "update", "-n", acr, "--anonymous-pull-enabled", "true")
	_, err = remote.Image(ref, e.ggcr(ctx, authn.Anonymous)...)
	expectRefused(t, "anonymous pull after the refused update", err)

	reg := az.obj("acr", "update", "-n", acr, "--sku", "Standard", "--anonymous-pull-enabled", "true")
	expectFields(t, "acr update --sku Standard --anonymous-pull-enabled true", reg, map[string]any{"sku.name": "Standard", "anonymousPullEnabled": true})
	pulled, err := remote.Image(ref, e.ggcr(ctx, authn.Anonymous)...)
	if err != nil {
		t.Fatalf("anonymous pull with anonymous pull enabled: %v", err)
	}
	if mustDigest(t, pulled) != mustDigest(t, img) {
		t.Errorf("anonymous pull: digest %s, want %s", mustDigest(t, pulled), mustDigest(t, img))
	}
	if err := validate.Image(pulled); err != nil {
		t.Errorf("anonymous pull: %v", err)
	}
	other, _ := random.Image(1024, 1)
	expectRefused(t, "anonymous push", remote.Write(mustTag(t, login+"/public/app:anon"), other, e.ggcr(ctx, authn.Anonymous)...))
	reg2, _ := name.NewRegistry(login)
	_, err = remote.Catalog(ctx, reg2, e.ggcr(ctx, authn.Anonymous)...)
	expectRefused(t, "anonymous catalog", err)
	if _, err := exec.LookPath("skopeo"); err == nil {
		sk := newSkopeo(t)
		out := sk.ok("inspect", "--raw", "--cert-dir", e.certDir, "docker://"+login+"/public/app:v1")
		raw, _ := img.RawManifest()
		if out != string(raw) {
			t.Errorf("anonymous skopeo inspect --raw: other bytes")
		}
	}

	az.ok("acr", "update", "-n", acr, "--anonymous-pull-enabled", "false", "-o", "none")
	_, err = remote.Image(ref, e.ggcr(ctx, authn.Anonymous)...)
	expectRefused(t, "anonymous pull after anonymous pull was disabled", err)
}
