// Package checkacr checks, from a node's side, that a cluster can pull from
// a registry, step by step like canipull (the tool behind `az aks
// check-acr`): host name resolution, the node's azure.json, the kubelet
// identity's token from the managed-identity endpoint and the registry's
// token exchange, printed the way canipull prints them and with its exit
// codes. Unlike canipull it then asks the registry for a repository-scoped
// pull token and reads a manifest with it, so it cannot pass while pulls
// fail, and it turns the registry's refusal into the fix (attach the
// registry, or wait for a group membership to propagate).
package checkacr

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/acrtoken"
	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
)

// Exit codes: canipull's (pkg/exitcode), and drydock's own for the checks
// canipull does not make.
const (
	ExitOK                            = 0
	ExitAzureConfigNotFound           = 1
	ExitAzureConfigReadFailure        = 2
	ExitAzureConfigUnmarshalFailure   = 3
	ExitServicePrincipalCredentialBad = 10 // also: the managed identity has no token
	ExitDNSResolutionFailure          = 52
	ExitMissingImagePullPermission    = 60

	// drydock's own.
	ExitConnectionFailure = 53 // no verified TLS connection, or the registry fails
	ExitImageNotFound     = 61 // the repository or the tag to pull does not exist
	ExitUsage             = 64 // no registry given
)

// Params says what to check and from where.
type Params struct {
	// AzureJSON is the node's azure.json; Config, when set, is used
	// instead (no file is read).
	AzureJSON string
	Config    *credprovider.AzureConfig
	// LoginServer is the registry's login server (myacr.azurecr.io[:port]).
	LoginServer string
	// Repository to pull: repo, repo:tag or repo@digest (an optional
	// "<login server>/" prefix is dropped). Empty: the first repository
	// the token can list.
	Repository string
	// ClusterName and ResourceGroup name the cluster in the fixes printed
	// (by default, the clusterName and clusterResourceGroup of azure.json).
	ClusterName   string
	ResourceGroup string
	// LookupHost resolves host names (nil: the system resolver).
	LookupHost credprovider.LookupHost
}

// Result is the outcome: OK when the cluster can pull; otherwise the exit
// code canipull would exit with and one sentence saying why and what to do.
type Result struct {
	OK       bool
	ExitCode int
	Reason   string
}

// probeRepository is the repository named in the pull token request when
// no repository is known: the registry grants pull per identity, not per
// repository, so any name shows whether pulls are allowed.
const probeRepository = "check-acr-probe"

// now is the clock of the log lines (tests fix it).
var now = time.Now

type checker struct {
	ctx    context.Context
	p      Params
	out    io.Writer
	cfg    *credprovider.AzureConfig
	client *credprovider.Client
	acr    string // login server, host[:port]
	host   string // without port
}

// logf prints one line as canipull does: "[<RFC3339 UTC>] <message>".
func (c *checker) logf(format string, args ...any) {
	fmt.Fprintf(c.out, "[%s] %s\n", now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func status(ok bool) string {
	if ok {
		return "SUCCEEDED"
	}
	return "FAILED"
}

// Run runs the checks, printing each step to out.
func Run(ctx context.Context, p Params, out io.Writer) Result {
	c := &checker{ctx: ctx, p: p, out: out}
	return c.run()
}

func (c *checker) run() Result {
	acr := strings.TrimSpace(c.p.LoginServer)
	acr = strings.TrimPrefix(strings.TrimPrefix(acr, "https://"), "http://")
	acr = strings.TrimRight(acr, "/")
	if acr == "" {
		fmt.Fprintln(c.out, "No ACR input. Expect `canipull myacr.azurecr.io`.")
		return Result{ExitCode: ExitUsage, Reason: "no registry login server was given"}
	}
	c.acr, c.host = acr, acr
	if h, _, err := net.SplitHostPort(acr); err == nil {
		c.host = h
	}

	// 1. Host name resolution.
	d := &credprovider.Dialer{Lookup: c.p.LookupHost}
	var dnsErr error
	if _, err := d.Resolve(c.ctx, c.host); err != nil {
		dnsErr = err
		c.logf("Checking host name resolution (%s): FAILED", c.acr)
		c.logf("Failed to resolve specified fqdn %s: %s", c.acr, err)
	} else {
		c.logf("Checking host name resolution (%s): SUCCEEDED", c.acr)
	}

	// 2. azure.json.
	if r, ok := c.loadConfig(); !ok {
		return r
	}
	var first *Result
	if dnsErr != nil {
		reason := fmt.Sprintf("%s does not resolve on the node (%v), so the node's container runtime cannot reach it", c.host, dnsErr)
		if c.cfg.RegistryAddress == "" {
			return Result{ExitCode: ExitDNSResolutionFailure, Reason: reason}
		}
		c.logf("Continuing the checks through the registry listener %s (registryAddress in azure.json)", c.cfg.RegistryAddress)
		first = &Result{ExitCode: ExitDNSResolutionFailure, Reason: reason}
	}
	client, err := credprovider.NewClient(c.cfg, c.p.LookupHost)
	if err != nil {
		c.logf("Checking TLS connection to %s: FAILED", c.acr)
		c.logf("%s", err)
		return Result{ExitCode: ExitConnectionFailure, Reason: err.Error()}
	}
	c.client = client

	// 3. TLS, verified against the CA of azure.json.
	if r, ok := c.checkTLS(); !ok {
		return r
	}

	// 4. The kubelet identity.
	token, r, ok := c.identityToken()
	if !ok {
		return r
	}

	// 5. The token exchange (canipull's "image pull permission").
	refresh, r, ok := c.exchange(token)
	if !ok {
		return r
	}

	// 6. Beyond canipull: a pull token for a repository, and a pull.
	if r, ok := c.checkPull(refresh); !ok {
		return r
	}

	if first != nil {
		c.logf("Pulls from %s fail until %s resolves on the node: %s", c.acr, c.host, first.Reason)
		return *first
	}
	c.logf("\nYour cluster can pull images from %s!", c.acr)
	return Result{OK: true, ExitCode: ExitOK}
}

func (c *checker) loadConfig() (Result, bool) {
	if c.p.Config != nil {
		c.cfg = c.p.Config
		return Result{}, true
	}
	path := c.p.AzureJSON
	if path == "" {
		path = credprovider.DefaultConfigPath
	}
	c.logf("Loading azure.json file from %s", path)
	if _, err := os.Stat(path); err != nil {
		c.logf("Failed to load azure.json. Are you running inside Kubernetes on Azure? ")
		return Result{ExitCode: ExitAzureConfigNotFound, Reason: fmt.Sprintf("failed to load %s: %v", path, err)}, false
	}
	cfg, err := credprovider.LoadConfig(path)
	if err != nil {
		var ce *credprovider.ConfigError
		code := ExitAzureConfigReadFailure
		if errors.As(err, &ce) && ce.Op == "parse" {
			code = ExitAzureConfigUnmarshalFailure
		}
		inner := err
		if ce != nil {
			inner = ce.Err
		}
		c.logf("Failed to read azure.json file: %s", inner)
		return Result{ExitCode: code, Reason: fmt.Sprintf("failed to read %s: %v", path, inner)}, false
	}
	c.cfg = cfg
	return Result{}, true
}

func (c *checker) checkTLS() (Result, bool) {
	port := "443"
	if _, p, err := net.SplitHostPort(c.acr); err == nil {
		port = p
	}
	tc, err := credprovider.TLSConfig(c.cfg)
	ca := c.cfg.CAFile
	if ca == "" {
		ca = "the system roots"
	}
	fail := func(err error) (Result, bool) {
		c.logf("Checking TLS connection to %s (certificate verified with %s): FAILED", c.acr, ca)
		c.logf("TLS connection to %s failed: %s", c.acr, err)
		return Result{ExitCode: ExitConnectionFailure, Reason: fmt.Sprintf("no verified TLS connection to %s: %v", c.acr, err)}, false
	}
	if err != nil {
		return fail(err)
	}
	d := &credprovider.Dialer{Lookup: c.p.LookupHost, Suffix: c.cfg.Suffix(), Fallback: c.cfg.RegistryAddress}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(c.host, port))
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	tc.ServerName = c.host
	tlsConn := tls.Client(conn, tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		return fail(err)
	}
	c.logf("Checking TLS connection to %s (certificate verified with %s): SUCCEEDED", c.acr, ca)
	return Result{}, true
}

func (c *checker) identityToken() (string, Result, bool) {
	if !c.cfg.IsMSI() {
		c.logf("The cluster uses service principal.")
		c.logf("Validating service principal credential: FAILED")
		reason := fmt.Sprintf("azure.json names a service principal (aadClientId %s); drydock's nodes authenticate with the kubelet managed identity", c.cfg.AADClientID)
		c.logf("Sign in to AAD failed with: %s", reason)
		return "", Result{ExitCode: ExitServicePrincipalCredentialBad, Reason: reason}, false
	}
	c.logf("Checking managed identity...")
	c.logf("Cluster cloud name: %s", c.cfg.Cloud)
	c.logf("Kubelet managed identity client ID: %s", c.cfg.UserAssignedIdentityID)
	resource := strings.TrimSpace(c.cfg.ResourceManagerEndpoint)
	if resource == "" {
		resource = "https://management.azure.com/"
	}
	tok, err := c.client.IdentityToken(c.ctx, resource)
	if err != nil {
		c.logf("Validating managed identity existance: FAILED")
		c.logf("Getting managed identity token failed with: %s", err)
		return "", Result{ExitCode: ExitServicePrincipalCredentialBad, Reason: fmt.Sprintf("the node gets no token for the kubelet identity %s: %v", c.cfg.UserAssignedIdentityID, err)}, false
	}
	c.logf("Validating managed identity existance: SUCCEEDED")
	return tok.AccessToken, Result{}, true
}

// tenantOf reads the tid (or tenant) claim of a JWT without verifying it,
// as canipull does.
func tenantOf(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) < 2 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var cl struct {
		TID    string `json:"tid"`
		Tenant string `json:"tenant"`
	}
	if json.Unmarshal(b, &cl) != nil {
		return ""
	}
	if cl.TID != "" {
		return cl.TID
	}
	return cl.Tenant
}

func (c *checker) exchange(token string) (string, Result, bool) {
	tenant := tenantOf(token)
	if tenant == "" {
		tenant = c.cfg.TenantID
	}
	refresh, err := c.tokens().Exchange(c.ctx, acrtoken.ExchangeRequest{Origin: "https://" + c.acr, Service: c.acr, Tenant: tenant, AccessToken: token})
	var te *acrtoken.Error
	switch {
	case err == nil:
	case !errors.As(err, &te):
		err = fmt.Errorf("failed to send token exchange request: %w", err)
	case te.Refused():
		err = fmt.Errorf("ACR token exchange endpoint returned error status: %d. body: %s", te.Status, strings.TrimSpace(string(te.Body)))
	default:
		err = fmt.Errorf("failed to read token exchange response: %s", te.Body)
	}
	if err != nil {
		c.logf("Validating image pull permission: FAILED")
		c.logf("ACR %s rejected token exchange: %s", c.acr, err)
		return "", Result{ExitCode: ExitMissingImagePullPermission, Reason: fmt.Sprintf("ACR %s rejected token exchange: %v", c.acr, err)}, false
	}
	c.logf("Validating image pull permission: SUCCEEDED")
	return refresh, Result{}, true
}

// splitRepository splits repo[:tag|@digest], dropping a "<acr>/" prefix.
func splitRepository(s, acr string) (repo, ref string, explicit bool) {
	s = strings.TrimSpace(s)
	if len(s) > len(acr) && strings.EqualFold(s[:len(acr)+1], acr+"/") {
		s = s[len(acr)+1:]
	}
	if i := strings.Index(s, "@"); i >= 0 {
		return s[:i], s[i+1:], true
	}
	slash := strings.LastIndex(s, "/")
	if i := strings.LastIndex(s, ":"); i > slash {
		return s[:i], s[i+1:], true
	}
	return s, "latest", false
}

// tokens is the token protocol's client over the node's HTTP client.
func (c *checker) tokens() *acrtoken.Client { return &acrtoken.Client{HTTP: c.client.HTTP} }

// registryToken asks /oauth2/token for an access token with scope. A
// refusal comes back as its status and message, with no error.
func (c *checker) registryToken(refresh, scope string) (string, int, string, error) {
	tok, err := c.tokens().AccessToken(c.ctx, acrtoken.TokenRequest{Origin: "https://" + c.acr, Service: c.acr, Scope: scope, RefreshToken: refresh})
	var te *acrtoken.Error
	switch {
	case err == nil:
		return tok, http.StatusOK, "", nil
	case !errors.As(err, &te):
		return "", 0, "", fmt.Errorf("failed to send token request: %w", err)
	case te.Refused():
		return "", te.Status, te.Message(), nil
	}
	return "", te.Status, "", fmt.Errorf("failed to read token response: %s", te.Body)
}

// get sends a registry request with a bearer token.
func (c *checker) get(method, path, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(c.ctx, method, "https://"+c.acr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := c.client.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, nil
}

// firstRepository lists the registry's catalog with a catalog token.
func (c *checker) firstRepository(refresh string) (string, string) {
	tok, code, msg, err := c.registryToken(refresh, "registry:catalog:*")
	switch {
	case err != nil:
		return "", err.Error()
	case tok == "":
		return "", fmt.Sprintf("the registry refused a catalog token (status %d: %s)", code, msg)
	}
	status, body, err := c.get(http.MethodGet, "/v2/_catalog?n=1", tok)
	if err != nil {
		return "", err.Error()
	}
	if status != http.StatusOK {
		return "", fmt.Sprintf("listing the catalog returned status %d: %s", status, acrtoken.ErrorMessage(body))
	}
	var cat struct {
		Repositories []string `json:"repositories"`
	}
	if json.Unmarshal(body, &cat) != nil || len(cat.Repositories) == 0 {
		return "", "the registry has no repositories"
	}
	return cat.Repositories[0], ""
}

func (c *checker) checkPull(refresh string) (Result, bool) {
	repo, ref, explicit := splitRepository(c.p.Repository, c.acr)
	probe := false
	if repo == "" {
		name, why := c.firstRepository(refresh)
		if name == "" {
			c.logf("No repository to pull was given and none could be listed (%s); checking the pull permission with a token for repository '%s' (it need not exist)", why, probeRepository)
			repo, probe = probeRepository, true
		} else {
			c.logf("No repository to pull was given; checking repository %s (the first one listed)", name)
			repo = name
		}
	}
	tok, code, msg, err := c.registryToken(refresh, "repository:"+repo+":pull")
	if err != nil || tok == "" {
		c.logf("Validating pull token for repository %s: FAILED", repo)
		if err != nil {
			c.logf("ACR %s token request failed: %s", c.acr, err)
			return Result{ExitCode: ExitConnectionFailure, Reason: err.Error()}, false
		}
		if code != http.StatusUnauthorized && code != http.StatusForbidden {
			why := fmt.Sprintf("the token endpoint of ACR %s failed with status %d: %s", c.acr, code, msg)
			c.logf("%s", why)
			return Result{ExitCode: ExitConnectionFailure, Reason: why}, false
		}
		c.logf("ACR %s refused a pull token for repository %s (status %d): %s", c.acr, repo, code, msg)
		reason := c.explainRefusal(msg)
		for _, line := range reason {
			c.logf("%s", line)
		}
		return Result{ExitCode: ExitMissingImagePullPermission, Reason: strings.Join(reason, " ")}, false
	}
	c.logf("Validating pull token for repository %s: SUCCEEDED", repo)
	if probe {
		return Result{}, true
	}

	image := c.acr + "/" + repo + sep(ref) + ref
	status, body, err := c.get(http.MethodHead, "/v2/"+repo+"/manifests/"+ref, tok)
	if err == nil && status == http.StatusNotFound && !explicit {
		// No "latest": reading the tags list proves the pull permission.
		st, b, e := c.get(http.MethodGet, "/v2/"+repo+"/tags/list", tok)
		if e == nil && st == http.StatusOK {
			var tl struct {
				Tags []string `json:"tags"`
			}
			_ = json.Unmarshal(b, &tl)
			c.logf("Validating image pull (%s/%s: no tag 'latest'; read its tags list, %d tags): SUCCEEDED", c.acr, repo, len(tl.Tags))
			return Result{}, true
		}
		status, body, err = st, b, e
		image = c.acr + "/" + repo
	}
	switch {
	case err != nil:
		c.logf("Validating image pull (%s): FAILED", image)
		c.logf("Reading the manifest failed: %s", err)
		return Result{ExitCode: ExitConnectionFailure, Reason: fmt.Sprintf("reading %s failed: %v", image, err)}, false
	case status == http.StatusOK:
		c.logf("Validating image pull (%s): SUCCEEDED", image)
		return Result{}, true
	case status == http.StatusNotFound:
		c.logf("Validating image pull (%s): FAILED", image)
		why := fmt.Sprintf("%s does not exist in %s", image, c.acr)
		if m := acrtoken.ErrorMessage(body); m != "" {
			why += " (" + m + ")"
		}
		c.logf("%s", why)
		return Result{ExitCode: ExitImageNotFound, Reason: why}, false
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		c.logf("Validating image pull (%s): FAILED", image)
		why := fmt.Sprintf("ACR %s refused to serve %s with the pull token it issued (status %d): %s", c.acr, image, status, acrtoken.ErrorMessage(body))
		c.logf("%s", why)
		return Result{ExitCode: ExitMissingImagePullPermission, Reason: why}, false
	default:
		c.logf("Validating image pull (%s): FAILED", image)
		why := fmt.Sprintf("reading %s returned status %d: %s", image, status, acrtoken.ErrorMessage(body))
		c.logf("%s", why)
		return Result{ExitCode: ExitConnectionFailure, Reason: why}, false
	}
}

func sep(ref string) string {
	if strings.Contains(ref, ":") {
		return "@"
	}
	return ":"
}

// The registry token service's refusal says why (internal/registry/auth and
// the RBAC engine's reason): "no role assignment of <principal> at or above
// scope '<registry ID>' grants '<action>'", and, when a grant waits for a
// group membership, "yet: role '<role>' assigned to group <group> (of which
// <principal> is a member) at scope '...' (assignment ...) becomes effective
// at <time> (group membership propagation)".
var (
	noRoleRE  = regexp.MustCompile(`no role assignment of (\S+) at or above scope '([^']*)' grants`)
	pendingRE = regexp.MustCompile(`role '([^']+)' assigned to group (\S+) \(of which \S+ is a member\) at scope '[^']*' \(assignment [^)]*\) becomes effective at (\S+) \(group membership propagation\)`)
)

// explainRefusal turns the registry's refusal into what is wrong and how to
// fix it.
func (c *checker) explainRefusal(msg string) []string {
	if m := pendingRE.FindStringSubmatch(msg); m != nil {
		return []string{
			fmt.Sprintf("%s is granted through group %s; the membership becomes effective at %s (Entra group propagation).", m[1], m[2], m[3]),
			"Use a kubelet identity that is already in the group ('--assign-kubelet-identity') to avoid the delay.",
		}
	}
	if m := noRoleRE.FindStringSubmatch(msg); m != nil {
		target := c.registryArg(m[2])
		cluster, rg := cmp.Or(c.p.ClusterName, c.cfg.ClusterName, "<cluster>"), cmp.Or(c.p.ResourceGroup, c.cfg.ClusterResourceGroup, "<resource-group>")
		return []string{
			fmt.Sprintf("The kubelet identity (client ID %s) has no AcrPull role assignment at registry %s or above it.", c.cfg.UserAssignedIdentityID, c.registryName(m[2])),
			fmt.Sprintf("Run 'az aks update -n %s -g %s --attach-acr %s'", cluster, rg, target),
		}
	}
	return []string{fmt.Sprintf("ACR %s refused a pull token: %s", c.acr, msg)}
}

// registryName is the registry's name: the last segment of its resource
// ID, or the first label of its login server.
func (c *checker) registryName(scope string) string {
	if i := strings.LastIndex(scope, "/"); i >= 0 && strings.Contains(strings.ToLower(scope), "/registries/") {
		return scope[i+1:]
	}
	name, _, _ := strings.Cut(c.host, ".")
	return name
}

// registryArg is what --attach-acr needs: the name when the registry is in
// the cluster's subscription, its resource ID otherwise.
func (c *checker) registryArg(scope string) string {
	lower := strings.ToLower(scope)
	if !strings.Contains(lower, "/registries/") {
		return c.registryName(scope)
	}
	if c.cfg.SubscriptionID != "" && strings.HasPrefix(lower, "/subscriptions/"+strings.ToLower(c.cfg.SubscriptionID)+"/") {
		return c.registryName(scope)
	}
	return scope
}
