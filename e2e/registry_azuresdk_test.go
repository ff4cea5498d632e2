package e2e

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/opencontainers/go-digest"
)

// servicePrincipal is what `ad sp create-for-rbac` prints.
type servicePrincipal struct {
	AppID    string `json:"appId"`
	Password string `json:"password"`
	Tenant   string `json:"tenant"`
}

// createSP runs `ad sp create-for-rbac` with extra arguments (e.g. --role
// and --scopes).
func createSP(t *testing.T, az *cli, name string, args ...string) servicePrincipal {
	t.Helper()
	var sp servicePrincipal
	az.json(&sp, append([]string{"ad", "sp", "create-for-rbac", "--name", name}, args...)...)
	if !isGUID(sp.AppID) || sp.Password == "" || sp.Tenant == "" {
		t.Fatalf("create-for-rbac %s printed %+v", name, sp)
	}
	return sp
}

// azureCloud points the Azure SDK at drydock: its directory for tokens and
// audience for the registries.
func (e *regEnv) azureCloud(audience string) cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: e.s.Endpoint + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azcontainerregistry.ServiceName: {Audience: audience},
		},
	}
}

// acrClient is an azcontainerregistry client acting as a service principal
// (azidentity's client-secret credential against drydock's directory).
func (e *regEnv) acrClient(t *testing.T, login string, sp servicePrincipal, audience string) *azcontainerregistry.Client {
	t.Helper()
	// No retries: the SDK retries a refused token request with back-off,
	// which only slows the refusals down.
	co := azcore.ClientOptions{Cloud: e.azureCloud(audience), Transport: e.httpClient(), Retry: policy.RetryOptions{MaxRetries: -1}}
	cred, err := azidentity.NewClientSecretCredential(sp.Tenant, sp.AppID, sp.Password,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := azcontainerregistry.NewClient("https://"+login, cred, &azcontainerregistry.ClientOptions{ClientOptions: co})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testRegistryAzureSDK reads a registry with the Azure SDK's
// azcontainerregistry client as a service principal with AcrPull (the
// SDK's exchange of a directory token for an ACR refresh token and then an
// access token), with the registry audience and with the resource
// manager's; a service principal without a role is refused.
func testRegistryAzureSDK(t *testing.T, e *regEnv) {
	ctx := t.Context()
	const acr = "e2eazsdk"
	az, login, acrID := e.adminRegistry(t, acr)

	ref := mustTag(t, login+"/sdk/app:v1")
	img := e.pushRandom(t, az, acr, ref)
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	wantDigest := mustDigest(t, img).String()

	puller := createSP(t, az, "e2e-sdk-puller", "--role", "AcrPull", "--scopes", acrID)
	nobody := createSP(t, az, "e2e-sdk-nobody")

	for _, audience := range []string{"https://containerregistry.azure.net", "https://management.core.windows.net/"} {
		t.Run("audience="+audience, func(t *testing.T) {
			c := e.acrClient(t, login, puller, audience)
			var repos []string
			pager := c.NewListRepositoriesPager(nil)
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatalf("list repositories: %v", err)
				}
				for _, r := range page.Repositories.Names {
					repos = append(repos, *r)
				}
			}
			if !slices.Equal(repos, []string{"sdk/app"}) {
				t.Errorf("repositories %v, want [sdk/app]", repos)
			}

			var tags []string
			tp := c.NewListTagsPager("sdk/app", nil)
			for tp.More() {
				page, err := tp.NextPage(ctx)
				if err != nil {
					t.Fatalf("list tags: %v", err)
				}
				for _, tag := range page.Tags {
					tags = append(tags, *tag.Name)
					if tag.Digest == nil || *tag.Digest != wantDigest {
						t.Errorf("tag %s digest %v, want %s", *tag.Name, tag.Digest, wantDigest)
					}
				}
			}
			if !slices.Equal(tags, []string{"v1"}) {
				t.Errorf("tags %v, want [v1]", tags)
			}

			tp2, err := c.GetTagProperties(ctx, "sdk/app", "v1", nil)
			if err != nil {
				t.Fatalf("get tag properties: %v", err)
			}
			if tp2.Tag == nil || tp2.Tag.Digest == nil || *tp2.Tag.Digest != wantDigest || tp2.Tag.Name == nil || *tp2.Tag.Name != "v1" {
				t.Errorf("tag properties: %+v", tp2.Tag)
			}

			m, err := c.GetManifest(ctx, "sdk/app", "v1", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(mt))})
			if err != nil {
				t.Fatalf("get manifest: %v", err)
			}
			body, err := io.ReadAll(m.ManifestData)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != string(raw) {
				t.Errorf("manifest bytes differ:\n%s\nwant:\n%s", body, raw)
			}
			if m.DockerContentDigest == nil || *m.DockerContentDigest != wantDigest || digest.FromBytes(body).String() != wantDigest {
				t.Errorf("manifest Docker-Content-Digest %v, want %s", m.DockerContentDigest, wantDigest)
			}
			mp, err := c.GetManifestProperties(ctx, "sdk/app", wantDigest, nil)
			if err != nil {
				t.Fatalf("get manifest properties: %v", err)
			}
			if mp.Manifest == nil || mp.Manifest.Digest == nil || *mp.Manifest.Digest != wantDigest {
				t.Errorf("manifest properties: %+v", mp.Manifest)
			}

			// AcrPull cannot delete.
			_, err = c.DeleteTag(ctx, "sdk/app", "v1", nil)
			expectSDKRefused(t, "DeleteTag as AcrPull", err)
		})
	}

	t.Run("no role", func(t *testing.T) {
		c := e.acrClient(t, login, nobody, "https://containerregistry.azure.net")
		_, err := c.NewListRepositoriesPager(nil).NextPage(ctx)
		expectSDKRefused(t, "list repositories without a role", err)
		_, err = c.GetManifest(ctx, "sdk/app", "v1", nil)
		expectSDKRefused(t, "get manifest without a role", err)
	})
}

// expectSDKRefused checks that an Azure SDK call failed with 401 or 403.
func expectSDKRefused(t *testing.T, what string, err error) {
	t.Helper()
	var re *azcore.ResponseError
	switch {
	case err == nil:
		t.Errorf("%s: succeeded, want 401/403", what)
	case !errors.As(err, &re):
		t.Errorf("%s: %v, want an HTTP 401/403 response error", what, err)
	case re.StatusCode != http.StatusUnauthorized && re.StatusCode != http.StatusForbidden:
		t.Errorf("%s: status %d (%v), want 401/403", what, re.StatusCode, err)
	}
}
