package credprovider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/acrtoken"
	"github.com/drydock-dev/drydock/internal/hostdial"
)

// ACRAudience is the resource of the directory tokens the plugin exchanges
// (cloud-provider-azure's AcrAudience).
const ACRAudience = "https://containerregistry.azure.net"

// UserAgent is the User-Agent of the plugin's registry requests.
const UserAgent = "kubernetes-credentialprovider-acr"

// HostCredentialHeader carries the host credential to the identity endpoint.
const HostCredentialHeader = "X-IDENTITY-HEADER"

// IMDSAPIVersion is the api-version of identity endpoint requests.
const IMDSAPIVersion = "2018-02-01"

const maxReadLength = 10 << 20

// LookupHost resolves a host name; nil means net.DefaultResolver.
type LookupHost = hostdial.Lookup

// Client makes a node's requests: to the managed-identity endpoint with
// the host credential, and to registries, trusting the configured CA and
// dialing registryAddress for login servers whose names do not resolve.
type Client struct {
	Config *AzureConfig
	HTTP   *http.Client
}

// imdsRetryDelays are the pauses before the retries of an identity
// endpoint request that failed with a retriable status (tests shorten them).
var imdsRetryDelays = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}

// NewClient builds a client for cfg. lookup resolves host names (nil:
// the system resolver).
func NewClient(cfg *AzureConfig, lookup LookupHost) (*Client, error) {
	hc, err := NewHTTPClient(cfg, lookup)
	if err != nil {
		return nil, err
	}
	return &Client{Config: cfg, HTTP: hc}, nil
}

// TLSConfig trusts cfg's CA file, or the system roots when it names none.
func TLSConfig(cfg *AzureConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file of azure.json: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// NewHTTPClient returns an HTTP client (60 s timeout, as
// cloud-provider-azure's) that trusts cfg's CA and reaches login servers
// under the registry suffix at registryAddress when their names do not
// resolve. The URL's host stays the TLS server name and the Host header.
// It uses no proxy: everything it talks to is drydock's.
func NewHTTPClient(cfg *AzureConfig, lookup LookupHost) (*http.Client, error) {
	tc, err := TLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	d := &Dialer{Lookup: lookup, Suffix: cfg.Suffix(), Fallback: cfg.RegistryAddress}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// Dialer dials host:port at the addresses the host resolves to; for a
// host under Suffix whose name does not resolve it dials Fallback.
type Dialer struct {
	Lookup   LookupHost
	Suffix   string
	Fallback string
	net      net.Dialer
}

// IsRegistryHost reports whether host (without port) is under the suffix.
func (d *Dialer) IsRegistryHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	return d.Suffix != "" && len(host) > len(d.Suffix)+1 &&
		strings.EqualFold(host[len(host)-len(d.Suffix):], d.Suffix) && host[len(host)-len(d.Suffix)-1] == '.'
}

// Resolve looks host up.
func (d *Dialer) Resolve(ctx context.Context, host string) ([]string, error) {
	return hostdial.Resolve(ctx, d.Lookup, host)
}

// DialContext implements the transport's dialing.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) != nil {
		return d.net.DialContext(ctx, network, addr)
	}
	ips, err := d.Resolve(ctx, host)
	if err != nil {
		if d.Fallback != "" && d.IsRegistryHost(host) && ctx.Err() == nil {
			return d.net.DialContext(ctx, network, d.Fallback)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	return hostdial.Dial(ctx, &d.net, network, ips, port)
}

// Token is a directory access token from the identity endpoint.
type Token struct {
	AccessToken string
	ExpiresOn   time.Time
	ClientID    string
}

// IdentityError is a refusal of the managed-identity endpoint.
type IdentityError struct {
	Endpoint    string
	StatusCode  int // 0 when the endpoint was not reached
	Code        string
	Description string
	Body        string
	Err         error
}

func (e *IdentityError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("ManagedIdentityCredential: failed to reach the identity endpoint %s: %v", e.Endpoint, e.Err)
	}
	msg := e.Description
	if msg == "" {
		msg = strings.TrimSpace(e.Body)
	}
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	return fmt.Sprintf("ManagedIdentityCredential: the identity endpoint %s responded with status code %d: %s", e.Endpoint, e.StatusCode, msg)
}

func (e *IdentityError) Unwrap() error { return e.Err }

// identityEndpoint returns the configured endpoint.
func (c *Client) identityEndpoint() (string, error) {
	ep := strings.TrimSpace(c.Config.IdentityEndpoint)
	if ep == "" {
		if rm := strings.TrimRight(c.Config.ResourceManagerEndpoint, "/"); rm != "" {
			return rm + "/metadata/identity/oauth2/token", nil
		}
		return "", errors.New("azure.json names no identityEndpoint")
	}
	return ep, nil
}

// hostCredential reads the node's host credential ("" when none is
// configured).
func (c *Client) hostCredential() (string, error) {
	if c.Config.HostCredentialFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(c.Config.HostCredentialFile)
	if err != nil {
		return "", fmt.Errorf("reading the host credential: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// IdentityToken gets a token for resource for the identity
// userAssignedIdentityID names (client ID, or resource ID when it contains
// /subscriptions/), retrying the statuses IMDS clients retry.
func (c *Client) IdentityToken(ctx context.Context, resource string) (Token, error) {
	ep, err := c.identityEndpoint()
	if err != nil {
		return Token{}, err
	}
	cred, err := c.hostCredential()
	if err != nil {
		return Token{}, err
	}
	u, err := url.Parse(ep)
	if err != nil {
		return Token{}, fmt.Errorf("azure.json: invalid identityEndpoint %q: %w", ep, err)
	}
	q := u.Query()
	q.Set("api-version", IMDSAPIVersion)
	q.Set("resource", strings.TrimSuffix(resource, "/.default"))
	if id := c.Config.UserAssignedIdentityID; id != "" {
		if strings.Contains(strings.ToUpper(id), "/SUBSCRIPTIONS/") {
			q.Set("msi_res_id", id)
		} else {
			q.Set("client_id", id)
		}
	}
	u.RawQuery = q.Encode()
	for attempt := 0; ; attempt++ {
		tok, retry, err := c.identityTokenOnce(ctx, u.String(), ep, cred)
		if err == nil || !retry || attempt >= len(imdsRetryDelays) {
			return tok, err
		}
		select {
		case <-ctx.Done():
			return Token{}, err
		case <-time.After(imdsRetryDelays[attempt]):
		}
	}
}

func (c *Client) identityTokenOnce(ctx context.Context, u, ep, cred string) (Token, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Token{}, false, err
	}
	req.Header.Set("Metadata", "true")
	if cred != "" {
		req.Header.Set(HostCredentialHeader, cred)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var cv *tls.CertificateVerificationError
		return Token{}, ctx.Err() == nil && !errors.As(err, &cv), &IdentityError{Endpoint: ep, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReadLength))
	if err != nil {
		return Token{}, true, &IdentityError{Endpoint: ep, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		s := resp.StatusCode
		retry := s == http.StatusNotFound || s == http.StatusGone || s == http.StatusTooManyRequests || s >= 500
		return Token{}, retry, &IdentityError{Endpoint: ep, StatusCode: s, Code: e.Error, Description: e.Description, Body: string(body)}
	}
	var t struct {
		AccessToken string          `json:"access_token"`
		ExpiresOn   json.RawMessage `json:"expires_on"`
		ClientID    string          `json:"client_id"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return Token{}, false, &IdentityError{Endpoint: ep, StatusCode: resp.StatusCode, Description: "the response holds no access_token", Body: string(body)}
	}
	tok := Token{AccessToken: t.AccessToken, ClientID: t.ClientID}
	if s, err := strconv.Unquote(string(t.ExpiresOn)); err == nil {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			tok.ExpiresOn = time.Unix(n, 0)
		}
	} else if n, err := strconv.ParseInt(string(t.ExpiresOn), 10, 64); err == nil {
		tok.ExpiresOn = time.Unix(n, 0)
	}
	return tok, false, nil
}

// tokens is the token protocol's client with the plugin's User-Agent.
func (c *Client) tokens() *acrtoken.Client {
	return &acrtoken.Client{HTTP: c.HTTP, Header: http.Header{"User-Agent": {UserAgent}}}
}

// Challenge sends GET https://<loginServer>/v2/ and reads the Bearer
// challenge, refusing what cloud-provider-azure refuses.
func (c *Client) Challenge(ctx context.Context, loginServer string) (*acrtoken.Challenge, error) {
	res, err := c.tokens().Probe(ctx, loginServer)
	if err != nil {
		return nil, fmt.Errorf("error reaching registry endpoint %s, error: %w", acrtoken.ChallengeURL(loginServer), err)
	}
	return CheckChallenge(res)
}

// CheckChallenge validates a /v2/ answer as cloud-provider-azure does:
// status 401, exactly one Www-Authenticate header, scheme Bearer, realm
// and service present.
func CheckChallenge(res acrtoken.ProbeResult) (*acrtoken.Challenge, error) {
	if res.Status != http.StatusUnauthorized {
		return nil, fmt.Errorf("registry did not issue a valid AAD challenge, status: %d", res.Status)
	}
	h := res.Authenticate()
	if len(h) == 0 {
		return nil, errors.New("challenge response does not contain header 'Www-Authenticate'")
	}
	if len(h) != 1 {
		return nil, fmt.Errorf("registry did not issue a valid AAD challenge, authenticate header [%s]", strings.Join(h, ", "))
	}
	ch, err := acrtoken.ParseChallenge(h[0])
	if err != nil {
		return nil, err
	}
	if ch.Scheme != "bearer" {
		return nil, fmt.Errorf("Www-Authenticate: expected realm: Bearer, actual: %s", ch.Scheme)
	}
	if ch.Service() == "" {
		return nil, errors.New(`Www-Authenticate: missing header "service"`)
	}
	if ch.Realm() == "" {
		return nil, errors.New(`Www-Authenticate: missing header "realm"`)
	}
	return ch, nil
}

// Exchange turns a directory access token into an ACR refresh token the
// way cloud-provider-azure does: grant_type access_token_refresh_token with
// the token as both access_token and refresh_token.
func (c *Client) Exchange(ctx context.Context, ch *acrtoken.Challenge, tenant, accessToken string) (string, error) {
	origin, err := ch.Origin()
	if err != nil {
		return "", err
	}
	ep := origin + "/oauth2/exchange"
	rt, err := c.tokens().Exchange(ctx, acrtoken.ExchangeRequest{Origin: origin, Service: ch.Service(), Tenant: tenant,
		AccessToken: accessToken, Grant: acrtoken.GrantAccessTokenRefreshToken})
	var te *acrtoken.Error
	switch {
	case err == nil:
		return rt, nil
	case !errors.As(err, &te):
		return "", fmt.Errorf("Www-Authenticate: failed to reach auth url %s: %w", ep, err)
	case te.Refused():
		msg := fmt.Sprintf("Www-Authenticate: auth url %s responded with status code %d", ep, te.Status)
		if m := te.Message(); m != "" {
			msg += ": " + m
		}
		return "", errors.New(msg)
	case errors.Is(te.Err, acrtoken.ErrTooLarge):
		return "", te.Err
	case te.Err != nil:
		return "", fmt.Errorf("Www-Authenticate: error reading response from %s", ep)
	}
	return "", fmt.Errorf("Www-Authenticate: unable to read response %s", te.Body)
}
