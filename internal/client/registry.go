package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/internal/acrtoken"
	"github.com/drydock-dev/drydock/internal/hostdial"
)

// This file is the client of a registry's data plane, reached at its login
// server (<name>.<suffix>[:port]), with ACR's token flow as az runs it
// (azure-cli's acr/_docker_utils.py):
//
//  1. GET https://<login>/v2/ answers 401 with a Bearer challenge naming the
//     realm and service;
//  2. POST <realm origin>/oauth2/exchange trades the CLI's ARM access token
//     for an ACR refresh token;
//  3. POST <realm origin>/oauth2/token trades the refresh token (or a user
//     name and password) for an access token of one scope.
//
// Its HTTP transport trusts the same CA as the ARM client. When the login
// server's name does not resolve, it dials the registry listener's address
// that the server's cloud metadata publishes, keeping the login server as
// TLS server name and Host.

// RegistryNullGUID is the user name that marks an ACR refresh or access
// token passed as a password (docker login -u <it> -p <token>).
const RegistryNullGUID = "00000000-0000-0000-0000-000000000000"

// ScopeCatalog is the scope of listing a registry's repositories (the
// catalog only knows "*", even to read).
const ScopeCatalog = "registry:catalog:*"

// RepositoryScope is the scope of actions on a repository, e.g.
// RepositoryScope("hello", "metadata_read") = "repository:hello:metadata_read".
func RepositoryScope(repo string, actions ...string) string {
	return "repository:" + repo + ":" + strings.Join(actions, ",")
}

// ManifestMediaTypes are the manifest types asked for when reading a
// manifest: OCI and Docker images and indexes.
var ManifestMediaTypes = []string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
}

// Titles of registry errors, as az's acr/_errors.py names them (check-health
// prints them).
const (
	TitleDNS             = "CONNECTIVITY_DNS_ERROR"
	TitleSSL             = "CONNECTIVITY_SSL_ERROR"
	TitleConnection      = "CONNECTIVITY_ERROR"
	TitleForbidden       = "CONNECTIVITY_FORBIDDEN_ERROR"
	TitleChallenge       = "CONNECTIVITY_CHALLENGE_ERROR"
	TitleAADLogin        = "CONNECTIVITY_AAD_LOGIN_ERROR"
	TitleWWWAuthenticate = "CONNECTIVITY_WWW_AUTHENTICATE_ERROR"
	TitleRefreshToken    = "CONNECTIVITY_REFRESH_TOKEN_ERROR"
	TitleAccessToken     = "CONNECTIVITY_ACCESS_TOKEN_ERROR"
)

// RegistryError is a failure to reach a registry, to authenticate to it,
// or an error answered by its API.
type RegistryError struct {
	// Title is one of the Title constants for connectivity and token
	// errors, empty for errors of data calls.
	Title string
	// Message is what az prints after "ERROR: ".
	Message string
	// Status is the HTTP status of the response, 0 when there was none.
	Status int
	// Code is the first error code of a data call's error body
	// ({"errors":[{"code":..,"message":..}]}), when it had one.
	Code string
	// Err is the underlying transport error, if any.
	Err error
}

func (e *RegistryError) Error() string { return e.Message }
func (e *RegistryError) Unwrap() error { return e.Err }

// RegistryOptions configures a Registry.
type RegistryOptions struct {
	// Name is the registry's name, used in messages (default: the login
	// server's first label).
	Name string
	// Username and Password authenticate with the password grant (admin
	// user, service principal, or the null GUID with an ACR token) instead
	// of the AAD exchange.
	Username, Password string
	// Tenant is sent with the exchange (default: the credentials' tenant).
	Tenant string
	// LookupHost resolves host names (default net.DefaultResolver).
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// CAFile is drydock's CA certificate. When set, a login server whose
	// name resolves to a peer with a certificate that does not chain to it
	// (a real registry of the same name, when drydock's hosts entries are
	// missing) is reached at the registry listener's address instead.
	CAFile string
}

// Registry is a client of one registry's data plane. It caches the
// challenge, the refresh token and access tokens per scope, so one Registry
// serves one command.
type Registry struct {
	// LoginServer is host[:port], without scheme.
	LoginServer string
	Name        string
	Username    string
	Password    string
	Tenant      string
	// HTTP performs the requests.
	HTTP *http.Client
	// AADToken returns the directory access token exchanged for a refresh
	// token.
	AADToken func(ctx context.Context) (string, error)
	// Retries is how often a data call is tried when the registry cannot
	// be reached or answers 5xx (az tries 3 times); RetryInterval is the
	// pause between tries and Sleep performs it.
	Retries       int
	RetryInterval time.Duration
	Sleep         func(ctx context.Context, d time.Duration) error
	// PageSize is the page size of List (0: DefaultPageSize).
	PageSize int

	dialer *registryDialer

	mu        sync.Mutex
	challenge *Challenge
	refresh   string
	access    map[string]string
}

// Challenge is a parsed WWW-Authenticate header.
type Challenge = acrtoken.Challenge

// Registry returns a client of the registry at loginServer that trusts the
// same certificates as c and falls back to the registry listener address
// published in c's cloud metadata when the name does not resolve (or
// resolves to a peer that is not drydock, see RegistryOptions.CAFile).
func (c *Client) Registry(loginServer string, opts RegistryOptions) *Registry {
	loginServer = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(loginServer, "https://"), "http://"), "/")
	base, debug := c.baseTransport()
	tr := base.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	}
	tr.TLSClientConfig.ServerName = ""
	d := &registryDialer{lookup: opts.LookupHost, fallback: c.registryAddress, tls: tr.TLSClientConfig, anchors: readAnchors(opts.CAFile)}
	d.net.Timeout = 30 * time.Second
	if d.lookup == nil {
		d.lookup = net.DefaultResolver.LookupHost
	}
	// Login servers resolve through drydock's hosts entries (or the
	// fallback address), which a proxy would not know.
	tr.Proxy = nil
	tr.DialContext = d.DialContext
	tr.DialTLSContext = d.DialTLSContext
	var rt http.RoundTripper = tr
	if debug != nil {
		// Registry traffic: hide tokens and passwords in forms, JSON
		// bodies and headers.
		rt = &debugTransport{next: tr, w: debug, redact: registryRedact}
	}
	name := opts.Name
	if name == "" {
		name = loginServer
		if i := strings.IndexAny(name, ".:"); i > 0 {
			name = name[:i]
		}
	}
	tenant := opts.Tenant
	if tenant == "" {
		if cr := c.Credentials(); cr != nil {
			tenant = cr.TenantID
		}
	}
	timeout := 2 * time.Minute
	if c.HTTP != nil && c.HTTP.Timeout > 0 {
		timeout = c.HTTP.Timeout
	}
	sleep := c.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	return &Registry{
		LoginServer: loginServer,
		Name:        name,
		Username:    opts.Username,
		Password:    opts.Password,
		Tenant:      tenant,
		HTTP:        &http.Client{Transport: rt, Timeout: timeout},
		AADToken: func(ctx context.Context) (string, error) {
			t, err := c.Token(ctx, ARMScope)
			return t.Token, err
		},
		Retries:       3,
		RetryInterval: 2 * time.Second,
		Sleep:         sleep,
		dialer:        d,
		access:        map[string]string{},
	}
}

// readAnchors reads the certificates of a PEM file (none when it cannot be
// read: the check is then skipped).
func readAnchors(file string) []*x509.Certificate {
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			out = append(out, cert)
		}
	}
}

// baseTransport finds the *http.Transport under c's HTTP client (and the
// debug log writer, when --debug wrapped it).
func (c *Client) baseTransport() (*http.Transport, io.Writer) {
	var debug io.Writer
	var rt http.RoundTripper
	if c.HTTP != nil {
		rt = c.HTTP.Transport
	}
	if d, ok := rt.(*debugTransport); ok {
		debug, rt = d.w, d.next
	}
	if t, ok := rt.(*http.Transport); ok {
		return t, debug
	}
	return http.DefaultTransport.(*http.Transport), debug
}

// registryAddress reads the registry listener's address from the cloud
// metadata (drydock.registryAddress). An unspecified IP (a listener on all
// interfaces), or a loopback one when the endpoint is not on this machine's
// loopback, is replaced by the endpoint's host.
func (c *Client) registryAddress(ctx context.Context) (string, error) {
	md, err := c.Metadata(ctx)
	if err != nil {
		return "", err
	}
	dd, _ := md["drydock"].(map[string]any)
	addr, _ := dd["registryAddress"].(string)
	if addr == "" {
		return "", errors.New("the server's metadata has no drydock.registryAddress")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("invalid drydock.registryAddress %q: %w", addr, err)
	}
	endpointHost := "127.0.0.1"
	if u, err := url.Parse(c.Endpoint); err == nil && u.Hostname() != "" {
		endpointHost = u.Hostname()
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()):
		host = endpointHost
	case ip != nil && ip.IsLoopback() && !isLoopbackHost(endpointHost):
		// A listener on the server's loopback is not this machine's.
		host = endpointHost
	}
	return net.JoinHostPort(host, port), nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// registryDialer dials login servers: by name when it resolves (to
// drydock), else at the registry listener's address.
type registryDialer struct {
	lookup   func(ctx context.Context, host string) ([]string, error)
	fallback func(ctx context.Context) (string, error)
	net      net.Dialer
	tls      *tls.Config
	// anchors are drydock's CA certificates; a peer whose verified chain
	// does not end in one of them is not drydock.
	anchors []*x509.Certificate

	mu       sync.Mutex
	resolved bool
	addr     string
	addrErr  error
}

// fallbackAddress fetches the listener address once.
func (d *registryDialer) fallbackAddress(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.resolved {
		if d.fallback == nil {
			d.addrErr = errors.New("no fallback address")
		} else {
			d.addr, d.addrErr = d.fallback(ctx)
		}
		d.resolved = d.addrErr == nil || ctx.Err() == nil
	}
	return d.addr, d.addrErr
}

// dialByName dials host:port at the addresses host resolves to.
func (d *registryDialer) dialByName(ctx context.Context, network, host, port string) (net.Conn, error) {
	if net.ParseIP(host) != nil {
		return d.net.DialContext(ctx, network, net.JoinHostPort(host, port))
	}
	ips, err := hostdial.Resolve(ctx, d.lookup, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	return hostdial.Dial(ctx, &d.net, network, ips, port)
}

// DialContext dials addr (host:port) by name, falling back to the listener
// address when the name is unknown or none of its addresses answers.
func (d *registryDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dial(ctx, network, addr, func(conn net.Conn, _ string, _ bool) (net.Conn, error) { return conn, nil })
}

// DialTLSContext opens a verified TLS connection to addr with host as the
// server name: by name first; at the listener address when the name does
// not resolve, nothing answers there, or what answers is not drydock.
func (d *registryDialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dial(ctx, network, addr, func(conn net.Conn, host string, byName bool) (net.Conn, error) {
		tc, err := d.handshake(ctx, conn, host)
		if err != nil {
			return nil, err
		}
		if !byName || d.isDrydock(tc.ConnectionState()) {
			return tc, nil
		}
		tc.Close()
		return nil, fmt.Errorf("tls: the certificate of %s does not chain to drydock's CA (the name resolves to another server)", addr)
	})
}

// dial dials addr by name and hands the connection to open; when that
// fails, it dials the listener address (see dialFallback) and hands that
// connection to open, byName false.
func (d *registryDialer) dial(ctx context.Context, network, addr string, open func(conn net.Conn, host string, byName bool) (net.Conn, error)) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	conn, err := d.dialByName(ctx, network, host, port)
	if err == nil {
		if conn, err = open(conn, host, true); err == nil {
			return conn, nil
		}
	}
	if conn, err = d.dialFallback(ctx, network, host, err); err != nil {
		return nil, err
	}
	return open(conn, host, false)
}

// dialFallback dials the listener address after dialing host by name failed
// with err, which it returns when host is an IP address, there is no
// listener address, or nothing answers there.
func (d *registryDialer) dialFallback(ctx context.Context, network, host string, err error) (net.Conn, error) {
	if ctx.Err() != nil || net.ParseIP(host) != nil {
		return nil, err
	}
	fb, ferr := d.fallbackAddress(ctx)
	if ferr != nil || fb == "" {
		return nil, err
	}
	conn, ferr := d.net.DialContext(ctx, network, fb)
	if ferr != nil {
		return nil, err
	}
	return conn, nil
}

func (d *registryDialer) handshake(ctx context.Context, conn net.Conn, host string) (*tls.Conn, error) {
	cfg := d.tls.Clone()
	cfg.ServerName = host
	tc := tls.Client(conn, cfg)
	deadline := time.Now().Add(30 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return tc, nil
}

// isDrydock reports whether a verified chain of the peer ends in one of
// drydock's CA certificates (always true when they are not known).
func (d *registryDialer) isDrydock(st tls.ConnectionState) bool {
	if len(d.anchors) == 0 {
		return true
	}
	for _, chain := range st.VerifiedChains {
		for _, c := range chain {
			for _, a := range d.anchors {
				if c.Equal(a) {
					return true
				}
			}
		}
	}
	return false
}

// Handshake opens a TLS connection to the login server and verifies its
// certificate, as the data calls do.
func (r *Registry) Handshake(ctx context.Context) (*tls.ConnectionState, error) {
	host, port := r.hostPort()
	conn, err := r.dialer.DialTLSContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	return &st, nil
}

func (r *Registry) hostPort() (string, string) {
	if h, p, err := net.SplitHostPort(r.LoginServer); err == nil {
		return h, p
	}
	return r.LoginServer, "443"
}

// Host is the login server without its port.
func (r *Registry) Host() string {
	h, _ := r.hostPort()
	return h
}

// ChallengeURL is the URL of the challenge endpoint.
func (r *Registry) ChallengeURL() string { return acrtoken.ChallengeURL(r.LoginServer) }

// connectError explains a failure to reach the login server.
func (r *Registry) connectError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	title := TitleConnection
	var dnsErr *net.DNSError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr):
		title = TitleDNS
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &hostname), errors.As(err, &recordErr),
		strings.Contains(cause.Error(), "certificate"), strings.Contains(cause.Error(), "tls:"):
		title = TitleSSL
	}
	return &RegistryError{
		Title: title,
		Message: fmt.Sprintf("Could not connect to the registry login server '%s'. Please verify that the registry exists and the URL '%s' is reachable from your environment. (%v)",
			r.LoginServer, r.ChallengeURL(), cause),
		Err: err,
	}
}

// tokens is the token protocol's client over r's HTTP client.
func (r *Registry) tokens() *acrtoken.Client {
	return &acrtoken.Client{HTTP: r.HTTP, Header: http.Header{"User-Agent": {"drydock-cli"}, "Accept": {"application/json"}}}
}

// Challenge GETs /v2/ without credentials and parses the challenge. It
// fails when the registry cannot be reached, forbids access (403), or does
// not answer 401 with a WWW-Authenticate header.
func (r *Registry) Challenge(ctx context.Context) (*Challenge, error) {
	r.mu.Lock()
	ch := r.challenge
	r.mu.Unlock()
	if ch != nil {
		return ch, nil
	}
	res, err := r.tokens().Probe(ctx, r.LoginServer)
	if err != nil {
		return nil, r.connectError(err)
	}
	if res.Status == http.StatusForbidden {
		return nil, &RegistryError{Title: TitleForbidden, Status: res.Status, Message: fmt.Sprintf(
			"Looks like you don't have access to registry '%s'. To see configured firewall rules, run 'az acr show --query networkRuleSet --name %s'. "+
				"Please refer to https://aka.ms/acr/errors#connectivity_forbidden_error for more information.", r.LoginServer, r.Name)}
	}
	hdr := res.Header.Get("WWW-Authenticate")
	if res.Status != http.StatusUnauthorized || hdr == "" {
		return nil, &RegistryError{Title: TitleChallenge, Status: res.Status, Message: fmt.Sprintf("Registry '%s' did not issue a challenge.", r.LoginServer)}
	}
	// A challenge the parser cannot read entirely is used as far as it
	// was read: what it lacks fails the checks of bearer.
	ch, _ = acrtoken.ParseChallenge(hdr)
	r.mu.Lock()
	r.challenge = ch
	r.mu.Unlock()
	return ch, nil
}

// bearer checks the challenge asks for a Bearer token with realm and
// service, returning the origin of the realm (where /oauth2/* live).
func (r *Registry) bearer(ch *Challenge, title, format string) (string, error) {
	if ch.IsBearer() {
		if origin, err := ch.Origin(); err == nil {
			return origin, nil
		}
	}
	return "", &RegistryError{Title: title, Message: fmt.Sprintf(format, r.LoginServer)}
}

// tokenError turns a failed token request into az's message.
func (r *Registry) tokenError(err error, title string) error {
	var te *acrtoken.Error
	if !errors.As(err, &te) {
		return r.connectError(err)
	}
	if !te.Refused() && te.Err != nil {
		return r.connectError(te.Err)
	}
	return &RegistryError{Title: title, Status: te.Status, Message: fmt.Sprintf(
		"Access to registry '%s' was denied. Response code: %d. Please try running 'az login' again to refresh permissions.", r.LoginServer, te.Status)}
}

// RefreshToken exchanges the CLI's directory access token for an ACR
// refresh token (POST /oauth2/exchange).
func (r *Registry) RefreshToken(ctx context.Context) (string, error) {
	r.mu.Lock()
	rt := r.refresh
	r.mu.Unlock()
	if rt != "" {
		return rt, nil
	}
	ch, err := r.Challenge(ctx)
	if err != nil {
		return "", err
	}
	origin, err := r.bearer(ch, TitleAADLogin, "Registry '%s' does not support AAD login.")
	if err != nil {
		return "", err
	}
	if r.AADToken == nil {
		return "", ErrNotLoggedIn
	}
	aad, err := r.AADToken(ctx)
	if err != nil {
		return "", err
	}
	rt, err = r.tokens().Exchange(ctx, acrtoken.ExchangeRequest{Origin: origin, Service: ch.Service(), Tenant: r.Tenant, AccessToken: aad})
	if err != nil {
		return "", r.tokenError(err, TitleRefreshToken)
	}
	r.mu.Lock()
	r.refresh = rt
	r.mu.Unlock()
	return rt, nil
}

// AccessToken returns an access token for scope (which may be empty, to
// only check credentials): from the refresh token, or with the password
// grant when the Registry has a user name. It returns "" when the
// registry asks for Basic credentials instead of tokens.
func (r *Registry) AccessToken(ctx context.Context, scope string) (string, error) {
	r.mu.Lock()
	tok, ok := r.access[scope]
	r.mu.Unlock()
	if ok {
		return tok, nil
	}
	ch, err := r.Challenge(ctx)
	if err != nil {
		return "", err
	}
	req := acrtoken.TokenRequest{Service: ch.Service(), Scope: scope}
	if r.Username != "" {
		if ch.Scheme == "basic" {
			return "", nil
		}
		if req.Origin, err = r.bearer(ch, TitleWWWAuthenticate, "Registry '%s' did not ask properly for a basic or a bearer authentication."); err != nil {
			return "", err
		}
		req.Username, req.Password = r.Username, r.Password
	} else {
		if req.RefreshToken, err = r.RefreshToken(ctx); err != nil {
			return "", err
		}
		req.Origin, _ = r.bearer(ch, TitleAADLogin, "Registry '%s' does not support AAD login.")
	}
	tok, err = r.tokens().AccessToken(ctx, req)
	if err != nil {
		return "", r.tokenError(err, TitleAccessToken)
	}
	r.mu.Lock()
	r.access[scope] = tok
	r.mu.Unlock()
	return tok, nil
}

// authorization is the Authorization header of a data call on scope.
func (r *Registry) authorization(ctx context.Context, scope string) (string, error) {
	tok, err := r.AccessToken(ctx, scope)
	if err != nil {
		return "", err
	}
	if tok == "" {
		req, _ := http.NewRequest(http.MethodGet, "https://x/", nil)
		req.SetBasicAuth(r.Username, r.Password)
		return req.Header.Get("Authorization"), nil
	}
	return "Bearer " + tok, nil
}

// forget drops the cached access token of scope.
func (r *Registry) forget(scope string) {
	r.mu.Lock()
	delete(r.access, scope)
	r.mu.Unlock()
}

// dataRequest is one data call.
type dataRequest struct {
	Method string
	// Path is absolute, with its segments escaped by the caller.
	Path  string
	Query url.Values
	// Scope is the token scope the call needs.
	Scope  string
	Accept []string
}

// do performs a data call with an access token for req.Scope. A 401 is
// retried once with a new token; transport errors and 5xx answers are
// retried up to Retries times.
func (r *Registry) do(ctx context.Context, req dataRequest) (*response, error) {
	u := "https://" + r.LoginServer + req.Path
	if enc := EncodeQuery(req.Query); enc != "" {
		u += "?" + enc
	}
	tries := max(r.Retries, 1)
	renewed := false
	var lastErr error
	for attempt := 0; attempt < tries; attempt++ {
		if attempt > 0 && r.Sleep != nil {
			if err := r.Sleep(ctx, r.RetryInterval); err != nil {
				return nil, err
			}
		}
		auth, err := r.authorization(ctx, req.Scope)
		if err != nil {
			return nil, err
		}
		hr, err := http.NewRequestWithContext(ctx, req.Method, u, nil)
		if err != nil {
			return nil, err
		}
		hr.Header.Set("Authorization", auth)
		hr.Header.Set("Accept", "application/json")
		if len(req.Accept) > 0 {
			hr.Header.Set("Accept", strings.Join(req.Accept, ", "))
		}
		res, err := roundTrip(r.HTTP, hr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = r.connectError(err)
			continue
		}
		if res.Status == http.StatusUnauthorized && !renewed && strings.HasPrefix(auth, "Bearer ") {
			renewed = true
			r.forget(req.Scope)
			attempt--
			continue
		}
		if res.Status >= 500 || res.Status == http.StatusTooManyRequests {
			lastErr = registryAPIError(req.Method, res)
			continue
		}
		return res, nil
	}
	return nil, lastErr
}

// registryAPIError turns a failed data call into az's message
// (request_data_from_registry and parse_error_message).
func registryAPIError(method string, res *response) *RegistryError {
	var msg string
	switch res.Status {
	case http.StatusUnauthorized:
		msg = "Authentication required."
	case http.StatusNotFound:
		msg = "The requested data does not exist."
	case http.StatusMethodNotAllowed:
		msg = "This operation is not supported."
	case http.StatusConflict:
		msg = "Failed to request data due to a conflict."
	default:
		msg = fmt.Sprintf("Could not %s the requested data.", strings.ToLower(method))
	}
	e := &RegistryError{Status: res.Status}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(res.Body, &body) == nil && len(body.Errors) > 0 {
		e.Code = body.Errors[0].Code
		if m := body.Errors[0].Message; m != "" {
			msg = "Error: " + m
		}
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	if id := res.Header.Get("x-ms-correlation-request-id"); id != "" {
		msg += " Correlation ID: " + id + "."
	}
	e.Message = msg
	return e
}

// IsRouteMissing reports whether err says the server does not serve the
// route at all: a 405, or a 404 without an error code of the registry API
// or with the distribution API's NOT_FOUND ("not part of the distribution
// API"), as opposed to NAME_UNKNOWN, MANIFEST_UNKNOWN and the like.
func IsRouteMissing(err error) bool {
	var re *RegistryError
	if !errors.As(err, &re) || re.Title != "" {
		return false
	}
	return re.Status == http.StatusMethodNotAllowed || (re.Status == http.StatusNotFound && (re.Code == "" || re.Code == "NOT_FOUND"))
}

// Data performs a data call the way az's request_data_from_registry does:
// a 200 answer's JSON (its resultIndex member when not empty) and the Link
// header; 201/202 answers' JSON when they have one; nothing for 204; a
// RegistryError otherwise.
func (r *Registry) Data(ctx context.Context, method, path string, query url.Values, scope, resultIndex string) (any, string, error) {
	res, err := r.do(ctx, dataRequest{Method: method, Path: path, Query: query, Scope: scope})
	if err != nil {
		return nil, "", err
	}
	switch res.Status {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted:
		var v any
		if len(bytes.TrimSpace(res.Body)) > 0 {
			if err := json.Unmarshal(res.Body, &v); err != nil {
				if res.Status == http.StatusOK {
					return nil, "", fmt.Errorf("invalid JSON response from %s: %w", path, err)
				}
				v = nil
			}
		}
		if resultIndex != "" {
			if m, ok := v.(map[string]any); ok {
				v = m[resultIndex]
			} else {
				v = nil
			}
		}
		link := ""
		if res.Status == http.StatusOK {
			link = res.Header.Get("Link")
		}
		return v, link, nil
	case http.StatusNoContent:
		return nil, "", nil
	}
	return nil, "", registryAPIError(method, res)
}

// DefaultPageSize is the page size of listings (az's DEFAULT_PAGINATION).
const DefaultPageSize = 100

// List reads a paged listing (az's _obtain_data_from_registry): pages of
// at most PageSize (default DefaultPageSize) items, following the Link header, stopping after
// top items when top >= 0. orderby is sent as is ("timeasc", "timedesc").
func (r *Registry) List(ctx context.Context, path, scope, resultIndex string, top int, orderby string) ([]any, error) {
	out := []any{}
	size := cmp.Or(r.PageSize, DefaultPageSize)
	params := url.Values{"n": {fmt.Sprint(size)}}
	if orderby != "" {
		params.Set("orderby", orderby)
	}
	seen := map[string]bool{}
	topGiven := top >= 0
	for {
		if topGiven {
			n := min(top, size)
			params.Set("n", fmt.Sprint(n))
			top -= n
		}
		key := EncodeQuery(params)
		if seen[key] {
			return out, nil
		}
		seen[key] = true
		v, link, err := r.Data(ctx, http.MethodGet, path, params, scope, resultIndex)
		if err != nil {
			return nil, err
		}
		if items, ok := v.([]any); ok {
			out = append(out, items...)
		}
		if topGiven && top <= 0 {
			return out, nil
		}
		next := nextLinkQuery(link)
		if next == nil {
			return out, nil
		}
		if orderby != "" && next.Get("orderby") == "" {
			next.Set("orderby", orderby)
		}
		params = next
	}
}

var linkTarget = regexp.MustCompile(`<([^>]*)>`)

// nextLinkQuery extracts the query of a Link header's target such as
// `</acr/v1/_catalog?last=hello&n=100>; rel="next"`.
func nextLinkQuery(link string) url.Values {
	m := linkTarget.FindStringSubmatch(link)
	if m == nil {
		return nil
	}
	u, err := url.Parse(m[1])
	if err != nil || u.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q) == 0 {
		return nil
	}
	return q
}

// ManifestDigest returns the digest of the manifest ref (a tag or digest)
// points to: HEAD /v2/<repo>/manifests/<ref> and its Docker-Content-Digest
// header, else a GET whose body is hashed.
func (r *Registry) ManifestDigest(ctx context.Context, repo, ref, scope string) (string, error) {
	path := "/v2/" + EscapeRepository(repo) + "/manifests/" + url.PathEscape(ref)
	res, err := r.do(ctx, dataRequest{Method: http.MethodHead, Path: path, Scope: scope, Accept: ManifestMediaTypes})
	if err != nil {
		return "", err
	}
	if res.Status == http.StatusOK {
		if d := res.Header.Get("Docker-Content-Digest"); d != "" {
			return d, nil
		}
	}
	res, err = r.do(ctx, dataRequest{Method: http.MethodGet, Path: path, Scope: scope, Accept: ManifestMediaTypes})
	if err != nil {
		return "", err
	}
	if res.Status != http.StatusOK {
		return "", registryAPIError(http.MethodGet, res)
	}
	if d := res.Header.Get("Docker-Content-Digest"); d != "" {
		return d, nil
	}
	sum := sha256.Sum256(res.Body)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// EscapeRepository escapes each segment of a repository name, keeping the
// slashes between them.
func EscapeRepository(repo string) string {
	parts := strings.Split(repo, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

var registryFormSecrets = []string{"password", "refresh_token", "access_token"}

var registrySecretJSON = regexp.MustCompile(`"(access_token|refresh_token|token|password|accessToken|refreshToken)"\s*:\s*"[^"]*"`)

func registryRedact(b []byte, contentType string) string {
	if form, ok := redactForm(b, contentType, registryFormSecrets); ok {
		return form
	}
	if ct := strings.ToLower(contentType); ct != "" && !strings.Contains(ct, "json") && !strings.HasPrefix(ct, "text/") {
		return fmt.Sprintf("<%d bytes of %s>", len(b), contentType)
	}
	return registrySecretJSON.ReplaceAllString(string(b), `"$1": "*****"`)
}
