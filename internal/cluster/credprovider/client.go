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
	"unicode"
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
type LookupHost func(ctx context.Context, host string) ([]string, error)

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
	lookup := d.Lookup
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	ips, err := lookup(ctx, host)
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ips, err
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
	var first error
	for _, ip := range ips {
		c, err := d.net.DialContext(ctx, network, net.JoinHostPort(ip, port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
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

// Challenge is what a registry's 401 on /v2/ says about its token service.
type Challenge struct {
	LoginServer string
	Realm       string
	Service     string
}

// Challenge sends GET https://<loginServer>/v2/ and reads the Bearer
// challenge, refusing what cloud-provider-azure refuses.
func (c *Client) Challenge(ctx context.Context, loginServer string) (Challenge, error) {
	u := url.URL{Scheme: "https", Host: loginServer, Path: "v2/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Challenge{}, fmt.Errorf("failed to construct request, got %w", err)
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Challenge{}, fmt.Errorf("error reaching registry endpoint %s, error: %w", u.String(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReadLength))
	return ParseChallenge(loginServer, resp)
}

// ParseChallenge validates a /v2/ response as cloud-provider-azure does:
// status 401, exactly one Www-Authenticate header, scheme Bearer, realm
// and service present.
func ParseChallenge(loginServer string, resp *http.Response) (Challenge, error) {
	if resp.StatusCode != http.StatusUnauthorized {
		return Challenge{}, fmt.Errorf("registry did not issue a valid AAD challenge, status: %d", resp.StatusCode)
	}
	h, ok := resp.Header["Www-Authenticate"]
	if !ok {
		return Challenge{}, errors.New("challenge response does not contain header 'Www-Authenticate'")
	}
	if len(h) != 1 {
		return Challenge{}, fmt.Errorf("registry did not issue a valid AAD challenge, authenticate header [%s]", strings.Join(h, ", "))
	}
	scheme, rest, _ := strings.Cut(h[0], " ")
	params, err := parseAssignments(rest)
	if err != nil {
		return Challenge{}, fmt.Errorf("unable to understand the contents of Www-Authenticate header %s", rest)
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return Challenge{}, fmt.Errorf("Www-Authenticate: expected realm: Bearer, actual: %s", strings.ToLower(scheme))
	}
	if params["service"] == "" {
		return Challenge{}, errors.New(`Www-Authenticate: missing header "service"`)
	}
	if params["realm"] == "" {
		return Challenge{}, errors.New(`Www-Authenticate: missing header "realm"`)
	}
	return Challenge{LoginServer: loginServer, Realm: params["realm"], Service: params["service"]}, nil
}

// parseAssignments reads `key1=value1, key2="value 2"` (quoted values may
// hold commas; quotes are not escaped).
func parseAssignments(s string) (map[string]string, error) {
	out := map[string]string{}
	bad := fmt.Errorf("malformed header value: %s", s)
	i := 0
	for {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, bad
		}
		key := strings.TrimSpace(s[i : i+eq])
		i += eq + 1
		for i < len(s) && unicode.IsSpace(rune(s[i])) {
			i++
		}
		if i >= len(s) {
			return nil, bad
		}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, bad
			}
			out[key] = s[i+1 : i+1+end]
			i += end + 2
			for i < len(s) && unicode.IsSpace(rune(s[i])) {
				i++
			}
			if i >= len(s) {
				return out, nil
			}
			if s[i] != ',' {
				return nil, bad
			}
			i++
			continue
		}
		comma := strings.IndexByte(s[i:], ',')
		var v string
		if comma < 0 {
			v = strings.TrimSpace(s[i:])
		} else {
			v = strings.TrimSpace(s[i : i+comma])
		}
		if v == "" {
			return nil, bad
		}
		out[key] = v
		if comma < 0 {
			return out, nil
		}
		i += comma + 1
	}
}

// ExchangeURL is <realm scheme>://<realm host>/oauth2/exchange.
func ExchangeURL(ch Challenge) (string, error) {
	u, err := url.Parse(ch.Realm)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("Www-Authenticate: invalid realm %s", ch.Realm)
	}
	return fmt.Sprintf("%s://%s/oauth2/exchange", u.Scheme, u.Host), nil
}

// Exchange turns a directory access token into an ACR refresh token the
// way cloud-provider-azure does: grant_type access_token_refresh_token with
// the token as both access_token and refresh_token.
func (c *Client) Exchange(ctx context.Context, ch Challenge, tenant, accessToken string) (string, error) {
	ep, err := ExchangeURL(ch)
	if err != nil {
		return "", err
	}
	form := url.Values{
		"service":       {ch.Service},
		"grant_type":    {"access_token_refresh_token"},
		"access_token":  {accessToken},
		"refresh_token": {accessToken},
		"tenant":        {tenant},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep, strings.NewReader(form))
	if err != nil {
		return "", fmt.Errorf("failed to construct request, got %w", err)
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("Www-Authenticate: failed to reach auth url %s: %w", ep, err)
	}
	defer resp.Body.Close()
	lr := &io.LimitedReader{R: resp.Body, N: maxReadLength}
	body, err := io.ReadAll(lr)
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("Www-Authenticate: auth url %s responded with status code %d", ep, resp.StatusCode)
		if m := RegistryErrorMessage(body); m != "" {
			msg += ": " + m
		}
		return "", errors.New(msg)
	}
	if err != nil {
		return "", fmt.Errorf("Www-Authenticate: error reading response from %s", ep)
	}
	if lr.N <= 0 {
		return "", errors.New("the read limit is reached")
	}
	var r struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.RefreshToken == "" {
		return "", fmt.Errorf("Www-Authenticate: unable to read response %s", body)
	}
	return r.RefreshToken, nil
}

// RegistryErrorMessage returns the messages of a registry error body
// ({"errors":[{"code","message"}]}), or the trimmed body when it is not one.
func RegistryErrorMessage(body []byte) string {
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		var parts []string
		for _, x := range e.Errors {
			parts = append(parts, x.Message)
		}
		return strings.Join(parts, "; ")
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return s
}
