// Package client is the HTTP client of the drydock API: token acquisition
// and refresh, ARM requests with api-version, long-running-operation polling,
// and ARM/Graph/OAuth error decoding.
//
// One Client talks to one drydock base URL, which serves the ARM-shaped REST
// API, the Microsoft-Graph-shaped directory API under /v1.0 and the
// Entra-shaped token endpoint under /{tenant}/oauth2/v2.0/token.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Well-known identifiers shared with Azure.
const (
	// DefaultEndpoint is the base URL of a locally running drydock server.
	DefaultEndpoint = "https://127.0.0.1:8443"
	// AzureCLIClientID is the client (application) id az uses for user logins.
	AzureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	// ARMAudience is the audience of Azure Resource Manager tokens.
	ARMAudience = "https://management.core.windows.net/"
	// GraphAudience is the audience of Microsoft Graph tokens.
	GraphAudience = "https://graph.microsoft.com"
	// OrganizationsTenant is the tenant used to log in before the user's
	// tenant is known.
	OrganizationsTenant = "organizations"
)

// API versions sent with ARM requests.
const (
	APIVersionResources         = "2022-09-01" // subscriptions, resource groups
	APIVersionContainerRegistry = "2023-07-01"
	APIVersionManagedIdentity   = "2023-01-31"
	APIVersionAuthorization     = "2022-04-01"
	APIVersionSubscriptionAlias = "2021-10-01"
	APIVersionCompute           = "2024-07-01"
	APIVersionMetadata          = "2022-09-01"
)

// ScopeFor returns the OAuth scope requesting the default permissions of an
// audience, exactly as az (MSAL) builds it: the audience followed by
// "/.default", so the ARM audience yields
// "https://management.core.windows.net//.default".
func ScopeFor(audience string) string { return audience + "/.default" }

// ARMScope and GraphScope are the scopes of the two audiences the CLI uses.
var (
	ARMScope   = ScopeFor(ARMAudience)
	GraphScope = ScopeFor(GraphAudience)
)

// ErrNotLoggedIn is returned when a token is needed but no credentials are
// known.
var ErrNotLoggedIn = errors.New("Please run 'az login' to setup account.")

// Config selects the server a Client talks to.
type Config struct {
	// Endpoint is the base URL; DefaultEndpoint when empty.
	Endpoint string
	// CAFile is a PEM file of certificates trusted in addition to the
	// system roots (drydock's own CA).
	CAFile string
	// Debug, when set, receives a log of every HTTP request and response
	// with secrets redacted.
	Debug io.Writer
}

// Client is a drydock API client. Its exported fields may be adjusted after
// New and before first use.
type Client struct {
	// Endpoint is the base URL without a trailing slash.
	Endpoint string
	// HTTP performs the requests.
	HTTP *http.Client
	// PollInterval is the delay between long-running-operation polls when
	// the server sends no Retry-After (default 1s).
	PollInterval time.Duration
	// Sleep waits between polls; tests may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for token expiry.
	Now func() time.Time
	// OnCredentialsChange is called (with the client's lock held) whenever
	// tokens are acquired or refreshed, to persist them.
	OnCredentialsChange func(*Credentials) error

	mu    sync.Mutex
	creds *Credentials
}

// New builds a Client for cfg.
func New(cfg Config) (*Client, error) {
	endpoint, err := NormalizeEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	pool, err := rootPool(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	var rt http.RoundTripper = tr
	if cfg.Debug != nil {
		rt = &debugTransport{next: tr, w: cfg.Debug}
	}
	return &Client{
		Endpoint:     endpoint,
		HTTP:         &http.Client{Transport: rt, Timeout: 2 * time.Minute},
		PollInterval: time.Second,
		Sleep:        sleepCtx,
		Now:          time.Now,
	}, nil
}

// NormalizeEndpoint validates a base URL and strips its trailing slash.
// The empty string yields DefaultEndpoint.
func NormalizeEndpoint(s string) (string, error) {
	if s == "" {
		return DefaultEndpoint, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("invalid endpoint '%s': expected a URL such as %s", s, DefaultEndpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid endpoint '%s': it must not have a query or fragment", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func rootPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file '%s' holds no PEM certificate", caFile)
	}
	return pool, nil
}

// sleepCtx is SleepContext under the name the package uses.
var sleepCtx = SleepContext

// SleepContext waits for d, returning early with ctx's error when ctx ends.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SetCredentials installs the credentials used to acquire tokens (nil
// logs out). The client keeps and updates the value it is given.
func (c *Client) SetCredentials(cr *Credentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.creds = cr
}

// Credentials returns the credentials in use (nil when logged out).
func (c *Client) Credentials() *Credentials {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creds
}

// sameOrigin reports whether raw points at the client's endpoint host, so
// that bearer tokens are never sent elsewhere.
func (c *Client) sameOrigin(raw string) bool {
	u, err := url.Parse(raw)
	base, berr := url.Parse(c.Endpoint)
	return err == nil && berr == nil && strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host)
}
