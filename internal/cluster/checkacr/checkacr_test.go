package checkacr_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/cluster/checkacr"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider/credprovidertest"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

const suffix = credprovidertest.Suffix

var fixed = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	checkacr.FixClock(fixed)
	os.Exit(m.Run())
}

const ts = "[2026-03-01T12:00:00Z] "

// env is drydock's server, a host with the kubelet identity, and registry
// myacr; the node resolves login servers to the registry front.
type env struct {
	f     *credprovidertest.Env
	reg   *credprovidertest.Registry
	cfg   *credprovider.AzureConfig
	login string
}

var defaultRepos = map[string][]string{"nginx": {"v1", "latest"}, "tools/busybox": {"1.36"}}

func newEnv(t *testing.T, opts ...servertest.Option) *env {
	return newEnvWith(t, defaultRepos, opts...)
}

func newEnvWith(t *testing.T, repos map[string][]string, opts ...servertest.Option) *env {
	f := credprovidertest.New(t, opts...)
	reg := f.AddRegistry("myacr", repos)
	return &env{f: f, reg: reg, cfg: f.Config(), login: reg.LoginServer}
}

func (e *env) grantPull() {
	e.f.Assign("AcrPull", e.f.Kubelet.PrincipalID, e.reg.ID)
}

func (e *env) params(repo string) checkacr.Params {
	return checkacr.Params{Config: e.cfg, LoginServer: e.login, Repository: repo, ClusterName: "aks1", ResourceGroup: "rg", LookupHost: credprovidertest.ResolveToFront}
}

func check(t *testing.T, p checkacr.Params) (checkacr.Result, string) {
	t.Helper()
	var out bytes.Buffer
	r := checkacr.Run(t.Context(), p, &out)
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
	digest := e.reg.Digests["tools/busybox"]
	r, out = check(t, e.params(e.login+"/tools/busybox@"+digest))
	if !r.OK || !strings.Contains(out, "Validating image pull ("+e.login+"/tools/busybox@"+digest+"): SUCCEEDED\n") {
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
	e := newEnvWith(t, nil)
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
	e.f.Assign("AcrPull", e.f.NewIdentity("other").PrincipalID, e.reg.ID)
	for _, repo := range []string{"nginx:v1", ""} {
		r, out := check(t, e.params(repo))
		want := "Run 'az aks update -n aks1 -g rg --attach-acr myacr'"
		if r.OK || r.ExitCode != checkacr.ExitMissingImagePullPermission || !strings.HasSuffix(r.Reason, want) ||
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

// A grant through a group waits for the membership to propagate; the
// check says when it becomes effective. (That the grant then works is the
// server's RBAC, tested there by TestGroupPropagationDelay: its clock cannot
// be advanced from here.)
func TestPendingGroupMembership(t *testing.T) {
	e := newEnv(t, servertest.WithConfig(func(c *config.Config) { c.GroupPropagationDelay = config.Duration{Duration: 10 * time.Minute} }))
	group := e.f.NewGroup("acr-pullers")
	e.f.Assign("AcrPull", group, e.reg.ID)
	// The identity has had a token (the directory counts the membership
	// of an identity that never had one at once, as its first token
	// carries it).
	if r, out := check(t, e.params("nginx:v1")); r.OK {
		t.Fatalf("can pull before the membership:\n%s", out)
	}
	before := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	e.f.AddMember(group, e.f.Kubelet.PrincipalID)
	after := time.Now().Add(10 * time.Minute)
	r, out := check(t, e.params("nginx:v1"))
	m := regexp.MustCompile(`^AcrPull is granted through group ` + group + `; the membership becomes effective at (\S+) \(Entra group propagation\)\. ` +
		`Use a kubelet identity that is already in the group \('--assign-kubelet-identity'\) to avoid the delay\.$`).FindStringSubmatch(r.Reason)
	if r.OK || r.ExitCode != checkacr.ExitMissingImagePullPermission || m == nil {
		t.Fatalf("%+v\n%s", r, out)
	}
	if at, err := time.Parse(time.RFC3339, m[1]); err != nil || at.Before(before) || at.After(after) {
		t.Errorf("effective at %s (%v), want between %s and %s", m[1], err, before, after)
	}
	if !strings.Contains(out, ts+"Validating pull token for repository nginx: FAILED\n") {
		t.Errorf("%s", out)
	}
}

func TestFailures(t *testing.T) {
	shared := newEnv(t)
	shared.grantPull()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{"), 0o600)
	for _, tc := range []struct {
		name    string
		setup   func(e *env, p *checkacr.Params)
		code    int
		reason  string
		outHas  []string
		notPull bool
	}{
		{"no login server", func(e *env, p *checkacr.Params) { p.LoginServer = " " }, checkacr.ExitUsage, "no registry", []string{"No ACR input. Expect `canipull myacr.azurecr.io`.\n"}, true},
		{"no azure.json", func(e *env, p *checkacr.Params) { p.Config, p.AzureJSON = nil, filepath.Join(dir, "none.json") }, checkacr.ExitAzureConfigNotFound, "failed to load",
			[]string{"Failed to load azure.json. Are you running inside Kubernetes on Azure? \n"}, true},
		{"unreadable azure.json", func(e *env, p *checkacr.Params) { p.Config, p.AzureJSON = nil, dir }, checkacr.ExitAzureConfigReadFailure, "failed to read",
			[]string{"Failed to read azure.json file: "}, true},
		{"garbage azure.json", func(e *env, p *checkacr.Params) { p.Config, p.AzureJSON = nil, garbage }, checkacr.ExitAzureConfigUnmarshalFailure, "failed to read",
			[]string{"Failed to read azure.json file: unexpected end of JSON input"}, true},
		{"dns, no registryAddress", func(e *env, p *checkacr.Params) { p.LookupHost = nil; e.cfg.RegistryAddress = "" }, checkacr.ExitDNSResolutionFailure, "does not resolve on the node",
			[]string{"): FAILED\n", "Failed to resolve specified fqdn "}, true},
		{"untrusted certificate", func(e *env, p *checkacr.Params) { e.cfg.CAFile = credprovidertest.OtherCA(t) }, checkacr.ExitConnectionFailure, "no verified TLS connection", []string{"(certificate verified with ", "): FAILED\n", "certificate signed by unknown authority"}, true},
		{"missing CA file", func(e *env, p *checkacr.Params) { e.cfg.CAFile = filepath.Join(dir, "nope.crt") }, checkacr.ExitConnectionFailure, "reading the CA file", []string{"FAILED"}, true},
		{"identity not on the host", func(e *env, p *checkacr.Params) { e.cfg.UserAssignedIdentityID = uuid.NewString() }, checkacr.ExitServicePrincipalCredentialBad, "no token for the kubelet identity",
			[]string{"Validating managed identity existance: FAILED\n", "Getting managed identity token failed with: ", "Identity not found"}, true},
		{"wrong host credential", func(e *env, p *checkacr.Params) { e.cfg.HostCredentialFile = garbage }, checkacr.ExitServicePrincipalCredentialBad, "The host credential is not valid",
			[]string{"Validating managed identity existance: FAILED\n"}, true},
		{"service principal", func(e *env, p *checkacr.Params) { e.cfg.AADClientID, e.cfg.AADClientSecret = "app", "secret" }, checkacr.ExitServicePrincipalCredentialBad, "service principal",
			[]string{"The cluster uses service principal.\n", "Validating service principal credential: FAILED\n"}, true},
		{"exchange refused", func(e *env, p *checkacr.Params) {
			e.f.Intercept(credprovidertest.Answer("/oauth2/exchange", http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"token validation failed"}]}`))
		}, checkacr.ExitMissingImagePullPermission, "rejected token exchange",
			[]string{"Validating image pull permission: FAILED\n", "rejected token exchange: ACR token exchange endpoint returned error status: 401. body: {\"errors\""}, true},
		{"tag not found", func(e *env, p *checkacr.Params) { p.Repository = "nginx:v9" }, checkacr.ExitImageNotFound, "/nginx:v9 does not exist in ",
			[]string{"Validating pull token for repository nginx: SUCCEEDED\n", "/nginx:v9): FAILED\n"}, false},
		{"repository not found", func(e *env, p *checkacr.Params) { p.Repository = "nope" }, checkacr.ExitImageNotFound, "/nope does not exist in ",
			[]string{"/nope): FAILED\n", "repository name not known to registry"}, false},
		{"pull refused with a token", func(e *env, p *checkacr.Params) {
			e.f.Intercept(credprovidertest.Answer("/v2/nginx/manifests/", http.StatusForbidden, ""))
		}, checkacr.ExitMissingImagePullPermission, "refused to serve", []string{"/nginx:v1): FAILED\n"}, false},
		{"token endpoint broken", func(e *env, p *checkacr.Params) {
			e.f.Intercept(credprovidertest.Answer("/oauth2/token", http.StatusInternalServerError, ""))
		}, checkacr.ExitConnectionFailure, "failed with status 500", []string{"Validating pull token for repository nginx: FAILED\n"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The cases change a copy of azure.json and the faults.
			cfg := *shared.cfg
			e := &env{f: shared.f, reg: shared.reg, cfg: &cfg, login: shared.login}
			t.Cleanup(func() { e.f.Intercept(nil) })
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
	r, out := check(t, p)
	if r.OK || r.ExitCode != checkacr.ExitDNSResolutionFailure || !strings.Contains(r.Reason, "myacr."+suffix+" does not resolve on the node") {
		t.Errorf("%+v\n%s", r, out)
	}
	for _, s := range []string{
		ts + "Checking host name resolution (" + e.login + "): FAILED\n",
		ts + "Continuing the checks through the registry listener " + e.f.Front + " (registryAddress in azure.json)\n",
		"Validating image pull permission: SUCCEEDED\n",
		"Validating image pull (" + e.login + "/nginx:v1): SUCCEEDED\n",
		ts + "Pulls from " + e.login + " fail until myacr." + suffix + " resolves on the node: ",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "Your cluster can pull") {
		t.Errorf("%s", out)
	}
}
