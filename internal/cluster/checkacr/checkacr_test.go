package checkacr

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider/credprovidertest"
)

const suffix = "azurecr.test"

var fixed = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	now = func() time.Time { return fixed }
	os.Exit(m.Run())
}

const ts = "[2026-03-01T12:00:00Z] "

func resolves(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }

type env struct {
	f     *credprovidertest.Fake
	reg   *credprovidertest.Registry
	cfg   *credprovider.AzureConfig
	login string
}

func newEnv(t *testing.T) *env {
	f := credprovidertest.New(t, suffix)
	reg := f.AddRegistry("myacr", map[string][]string{"nginx": {"v1", "latest"}, "tools/busybox": {"1.36"}})
	e := &env{f: f, reg: reg, cfg: f.Config(), login: "myacr." + suffix + ":" + f.Port()}
	return e
}

func (e *env) grantPull() {
	e.f.Assign("AcrPull", e.f.Kubelet.PrincipalID, "ServicePrincipal", e.reg.ID)
}

func (e *env) params(repo string) Params {
	return Params{Config: e.cfg, LoginServer: e.login, Repository: repo, ClusterName: "aks1", ResourceGroup: "rg", LookupHost: resolves}
}

func check(t *testing.T, p Params) (Result, string) {
	t.Helper()
	var out bytes.Buffer
	r := Run(t.Context(), p, &out)
	return r, out.String()
}

func lines(ls ...string) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(ts + l + "\n")
	}
	return b.String()
}

func (e *env) preamble() string {
	return lines(
		"Checking host name resolution ("+e.login+"): SUCCEEDED",
		"Checking TLS connection to "+e.login+" (certificate verified with "+e.f.CAFile+"): SUCCEEDED",
		"Checking managed identity...",
		"Cluster cloud name: drydock",
		"Kubelet managed identity client ID: "+e.f.Kubelet.ClientID,
		"Validating managed identity existance: SUCCEEDED",
		"Validating image pull permission: SUCCEEDED",
	)
}

func TestCanPull(t *testing.T) {
	e := newEnv(t)
	e.grantPull()
	r, out := check(t, e.params("nginx:v1"))
	want := e.preamble() + lines(
		"Validating pull token for repository nginx: SUCCEEDED",
		"Validating image pull ("+e.login+"/nginx:v1): SUCCEEDED",
		"\nYour cluster can pull images from "+e.login+"!",
	)
	if !r.OK || r.ExitCode != 0 || out != want {
		t.Errorf("%+v\n%s\nwant\n%s", r, out, want)
	}

	// The image named with its login server, and by digest.
	r, out = check(t, e.params(e.login+"/tools/busybox@sha256:"+strings.Repeat("1", 64)))
	if !r.OK || !strings.Contains(out, "Validating image pull ("+e.login+"/tools/busybox@sha256:1111") {
		t.Errorf("%+v\n%s", r, out)
	}
}

func TestCanPullFromAzureJSONFile(t *testing.T) {
	e := newEnv(t)
	e.grantPull()
	p := e.params("")
	p.Config, p.AzureJSON = nil, e.f.WriteConfig(e.cfg)
	r, out := check(t, p)
	want := lines("Checking host name resolution ("+e.login+"): SUCCEEDED", "Loading azure.json file from "+p.AzureJSON) +
		strings.TrimPrefix(e.preamble(), lines("Checking host name resolution ("+e.login+"): SUCCEEDED")) + lines(
		"No repository to pull was given; checking repository nginx (the first one listed)",
		"Validating pull token for repository nginx: SUCCEEDED",
		"Validating image pull ("+e.login+"/nginx:latest): SUCCEEDED",
		"\nYour cluster can pull images from "+e.login+"!",
	)
	if !r.OK || out != want {
		t.Errorf("%+v\n%s\nwant\n%s", r, out, want)
	}
}

func TestNoLatestTagReadsTagsList(t *testing.T) {
	e := newEnv(t)
	e.grantPull()
	r, out := check(t, e.params("tools/busybox"))
	if !r.OK || !strings.Contains(out, "Validating image pull ("+e.login+"/tools/busybox: no tag 'latest'; read its tags list, 1 tags): SUCCEEDED\n") {
		t.Errorf("%+v\n%s", r, out)
	}
}

func TestEmptyRegistryChecksPermissionOnly(t *testing.T) {
	e := newEnv(t)
	e.reg.Repos = map[string][]string{}
	e.grantPull()
	r, out := check(t, e.params(""))
	if !r.OK || !strings.Contains(out, "No repository to pull was given and none could be listed (the registry has no repositories); "+
		"checking the pull permission with a token for repository 'check-acr-probe' (it need not exist)\n"+
		ts+"Validating pull token for repository check-acr-probe: SUCCEEDED\n"+ts+"\nYour cluster can pull images from") {
		t.Errorf("%+v\n%s", r, out)
	}
}

func TestNoAcrPull(t *testing.T) {
	e := newEnv(t)
	// Another identity's AcrPull does not help.
	e.f.Assign("AcrPull", uuid.NewString(), "ServicePrincipal", e.reg.ID)
	for _, repo := range []string{"nginx:v1", ""} {
		r, out := check(t, e.params(repo))
		want := "Run 'az aks update -n aks1 -g rg --attach-acr myacr'"
		if r.OK || r.ExitCode != ExitMissingImagePullPermission || !strings.HasSuffix(r.Reason, want) ||
			!strings.Contains(r.Reason, "The kubelet identity (client ID "+e.f.Kubelet.ClientID+") has no AcrPull role assignment at registry myacr or above it.") {
			t.Errorf("repo %q: %+v\n%s", repo, r, out)
		}
		if !strings.Contains(out, e.preamble()) || !strings.Contains(out, "FAILED\n") ||
			!strings.Contains(out, "refused a pull token for repository") || !strings.Contains(out, "no role assignment of "+e.f.Kubelet.PrincipalID) ||
			!strings.HasSuffix(out, ts+want+"\n") || strings.Contains(out, "Your cluster can pull") {
			t.Errorf("repo %q output:\n%s", repo, out)
		}
	}

	// A registry in another subscription is attached by resource ID; the
	// placeholders stand in for unknown cluster names.
	e.cfg.SubscriptionID = uuid.NewString()
	p := e.params("nginx")
	p.ClusterName, p.ResourceGroup = "", ""
	r, _ := check(t, p)
	if !strings.HasSuffix(r.Reason, "Run 'az aks update -n <cluster> -g <resource-group> --attach-acr "+e.reg.ID+"'") {
		t.Errorf("other subscription: %+v", r)
	}
}

func TestPendingGroupMembership(t *testing.T) {
	e := newEnv(t)
	group := uuid.NewString()
	e.f.Assign("AcrPull", group, "Group", e.reg.ID)
	at := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	e.f.AddMember(group, e.f.Kubelet.PrincipalID, at)
	r, out := check(t, e.params("nginx:v1"))
	want := "AcrPull is granted through group " + group + "; the membership becomes effective at " + at.Format(time.RFC3339) +
		" (Entra group propagation). Use a kubelet identity that is already in the group ('--assign-kubelet-identity') to avoid the delay."
	if r.OK || r.ExitCode != ExitMissingImagePullPermission || r.Reason != want {
		t.Errorf("%+v\nwant %s\n%s", r, want, out)
	}
	if !strings.Contains(out, ts+"Validating pull token for repository nginx: FAILED\n") {
		t.Errorf("%s", out)
	}

	// Once the membership is effective, pulls work.
	e.f.Now = func() time.Time { return at.Add(time.Second) }
	if r, out := check(t, e.params("nginx:v1")); !r.OK {
		t.Errorf("after propagation: %+v\n%s", r, out)
	}
}

func TestFailures(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{"), 0o600)
	for _, tc := range []struct {
		name    string
		setup   func(e *env, p *Params)
		code    int
		reason  string
		outHas  []string
		notPull bool
	}{
		{"no login server", func(e *env, p *Params) { p.LoginServer = " " }, ExitUsage, "no registry", []string{"No ACR input. Expect `canipull myacr.azurecr.io`.\n"}, true},
		{"no azure.json", func(e *env, p *Params) { p.Config, p.AzureJSON = nil, filepath.Join(dir, "none.json") }, ExitAzureConfigNotFound, "failed to load",
			[]string{"Failed to load azure.json. Are you running inside Kubernetes on Azure? \n"}, true},
		{"unreadable azure.json", func(e *env, p *Params) { p.Config, p.AzureJSON = nil, dir }, ExitAzureConfigReadFailure, "failed to read",
			[]string{"Failed to read azure.json file: "}, true},
		{"garbage azure.json", func(e *env, p *Params) { p.Config, p.AzureJSON = nil, garbage }, ExitAzureConfigUnmarshalFailure, "failed to read",
			[]string{"Failed to read azure.json file: unexpected end of JSON input"}, true},
		{"dns, no registryAddress", func(e *env, p *Params) { p.LookupHost = nil; e.cfg.RegistryAddress = "" }, ExitDNSResolutionFailure, "does not resolve on the node",
			[]string{"): FAILED\n", "Failed to resolve specified fqdn "}, true},
		{"untrusted certificate", func(e *env, p *Params) {
			other := credprovidertest.New(t, suffix)
			e.cfg.CAFile = other.CAFile
		}, ExitConnectionFailure, "no verified TLS connection", []string{"(certificate verified with ", "): FAILED\n", "certificate signed by unknown authority"}, true},
		{"missing CA file", func(e *env, p *Params) { e.cfg.CAFile = filepath.Join(dir, "nope.crt") }, ExitConnectionFailure, "reading the CA file", []string{"FAILED"}, true},
		{"identity not on the host", func(e *env, p *Params) { e.cfg.UserAssignedIdentityID = uuid.NewString() }, ExitServicePrincipalCredentialBad, "no token for the kubelet identity",
			[]string{"Validating managed identity existance: FAILED\n", "Getting managed identity token failed with: ", "Identity not found"}, true},
		{"wrong host credential", func(e *env, p *Params) { e.cfg.HostCredentialFile = garbage }, ExitServicePrincipalCredentialBad, "The host credential is not valid",
			[]string{"Validating managed identity existance: FAILED\n"}, true},
		{"service principal", func(e *env, p *Params) { e.cfg.AADClientID, e.cfg.AADClientSecret = "app", "secret" }, ExitServicePrincipalCredentialBad, "service principal",
			[]string{"The cluster uses service principal.\n", "Validating service principal credential: FAILED\n"}, true},
		{"exchange refused", func(e *env, p *Params) { e.f.ExchangeStatus = 401 }, ExitMissingImagePullPermission, "rejected token exchange",
			[]string{"Validating image pull permission: FAILED\n", "rejected token exchange: ACR token exchange endpoint returned error status: 401. body: {\"errors\""}, true},
		{"tag not found", func(e *env, p *Params) { p.Repository = "nginx:v9" }, ExitImageNotFound, "/nginx:v9 does not exist in ",
			[]string{"Validating pull token for repository nginx: SUCCEEDED\n", "/nginx:v9): FAILED\n"}, false},
		{"repository not found", func(e *env, p *Params) { p.Repository = "nope" }, ExitImageNotFound, "/nope does not exist in ",
			[]string{"/nope): FAILED\n", "repository name not known to registry"}, false},
		{"pull refused with a token", func(e *env, p *Params) {
			e.f.V2Hook = func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "/manifests/") {
					w.WriteHeader(http.StatusForbidden)
					return true
				}
				return false
			}
		}, ExitMissingImagePullPermission, "refused to serve", []string{"/nginx:v1): FAILED\n"}, false},
		{"token endpoint broken", func(e *env, p *Params) {
			e.f.TokenHook = func(w http.ResponseWriter) bool { w.WriteHeader(500); return true }
		}, ExitConnectionFailure, "failed with status 500", []string{"Validating pull token for repository nginx: FAILED\n"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.grantPull()
			p := e.params("nginx:v1")
			tc.setup(e, &p)
			r, out := check(t, p)
			if r.OK || r.ExitCode != tc.code || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%+v, want exit %d and a reason with %q\n%s", r, tc.code, tc.reason, out)
			}
			for _, s := range tc.outHas {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if strings.Contains(out, "Your cluster can pull") || (tc.notPull && strings.Contains(out, "pull token")) {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}

func TestDNSFailureContinuesThroughRegistryAddress(t *testing.T) {
	e := newEnv(t)
	e.grantPull()
	p := e.params("nginx:v1")
	p.LookupHost = nil // myacr.azurecr.test does not resolve
	p.LoginServer = "myacr." + suffix
	r, out := check(t, p)
	if r.OK || r.ExitCode != ExitDNSResolutionFailure || !strings.Contains(r.Reason, "myacr."+suffix+" does not resolve on the node") {
		t.Errorf("%+v\n%s", r, out)
	}
	for _, s := range []string{
		ts + "Checking host name resolution (myacr." + suffix + "): FAILED\n",
		ts + "Continuing the checks through the registry listener " + e.f.Addr() + " (registryAddress in azure.json)\n",
		"Validating image pull permission: SUCCEEDED\n",
		"Validating image pull (myacr." + suffix + "/nginx:v1): SUCCEEDED\n",
		ts + "Pulls from myacr." + suffix + " fail until myacr." + suffix + " resolves on the node: ",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "Your cluster can pull") {
		t.Errorf("%s", out)
	}
}

func TestSplitRepository(t *testing.T) {
	for in, want := range map[string][3]string{
		"nginx":                       {"nginx", "latest", "false"},
		"nginx:v1":                    {"nginx", "v1", "true"},
		"a/b/c:1.0":                   {"a/b/c", "1.0", "true"},
		"a/b@sha256:abc":              {"a/b", "sha256:abc", "true"},
		"myacr.azurecr.io:5443/x/y:z": {"x/y", "z", "true"},
		"MYACR.azurecr.io:5443/x":     {"x", "latest", "false"},
		"other.azurecr.io:5443/x":     {"other.azurecr.io:5443/x", "latest", "false"},
		"":                            {"", "latest", "false"},
	} {
		repo, ref, explicit := splitRepository(in, "myacr.azurecr.io:5443")
		if got := [3]string{repo, ref, map[bool]string{true: "true", false: "false"}[explicit]}; got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}
