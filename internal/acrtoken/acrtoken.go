// Package acrtoken is the client side of ACR's token protocol, written
// once for every program that speaks it: the CLI (az acr login and the data
// commands), the kubelet credential provider and check-acr on nodes, and
// the benchmarks. The protocol is:
//
//  1. GET https://<login server>/v2/ without credentials answers 401 with a
//     challenge `Bearer realm="https://<origin>/oauth2/token",service="…"`
//     (Probe, ParseChallenge);
//  2. POST <origin>/oauth2/exchange trades a directory access token for an
//     ACR refresh token (Client.Exchange);
//  3. POST <origin>/oauth2/token trades the refresh token, or a user name
//     and password, for an access token of a scope (Client.AccessToken).
//
// It is a leaf: it imports only the standard library, so the node-side
// programs that use it link nothing of drydock's server. Callers word their
// own messages from its typed results and errors (*Error for a token
// service's refusal; transport failures come back as the HTTP client
// returns them).
package acrtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds what is read of a token service's answer.
const maxBody = 1 << 20

// ErrTooLarge is the Err of an *Error whose body exceeded the read limit.
var ErrTooLarge = errors.New("the read limit is reached")

// Grant is the grant_type of an exchange or token request.
type Grant string

const (
	// GrantAccessToken exchanges a directory access token (az's exchange).
	GrantAccessToken Grant = "access_token"
	// GrantAccessTokenRefreshToken is cloud-provider-azure's exchange: the
	// directory token is sent as both access_token and refresh_token.
	GrantAccessTokenRefreshToken Grant = "access_token_refresh_token"
	// GrantRefreshToken trades an ACR refresh token for an access token.
	GrantRefreshToken Grant = "refresh_token"
	// GrantPassword trades a user name and password for an access token.
	GrantPassword Grant = "password"
)

// Client sends the token protocol's requests.
type Client struct {
	// HTTP performs the requests (nil: http.DefaultClient).
	HTTP *http.Client
	// Header is added to every request (User-Agent, Accept).
	Header http.Header
}

// ExchangeRequest asks /oauth2/exchange for a refresh token.
type ExchangeRequest struct {
	// Origin is the token service's https://host[:port] (see
	// Challenge.Origin).
	Origin  string
	Service string
	// Tenant is the directory token's tenant; not sent when empty.
	Tenant      string
	AccessToken string
	// Grant is GrantAccessToken (the default) or
	// GrantAccessTokenRefreshToken.
	Grant Grant
}

// TokenRequest asks /oauth2/token for an access token: with the password
// grant when Username is set, else with RefreshToken.
type TokenRequest struct {
	Origin  string
	Service string
	// Scope, such as "repository:hello:pull"; not sent when empty (the
	// request then only checks the credentials).
	Scope              string
	RefreshToken       string
	Username, Password string
}

// Error is a token service's answer that holds no token: a status other
// than 200, or a 200 whose body could not be read or names no token.
type Error struct {
	// URL is the endpoint asked.
	URL    string
	Status int
	// Body is what was read of the answer.
	Body []byte
	// Err is why the body of a 200 could not be read (ErrTooLarge when it
	// exceeded the read limit); nil otherwise.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Status != http.StatusOK:
		return fmt.Sprintf("%s responded with status code %d: %s", e.URL, e.Status, e.Message())
	case e.Err != nil:
		return fmt.Sprintf("reading the response of %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("%s answered no token: %s", e.URL, e.Body)
}

func (e *Error) Unwrap() error { return e.Err }

// Refused reports whether the service answered a status other than 200.
func (e *Error) Refused() bool { return e.Status != http.StatusOK }

// Message is the registry error messages of the body (see ErrorMessage).
func (e *Error) Message() string { return ErrorMessage(e.Body) }

// ErrorMessage returns the messages of a registry error body
// ({"errors":[{"code","message"}]}) joined by "; ", or the trimmed body
// (at most 512 bytes of it) when it is not one.
func ErrorMessage(body []byte) string {
	var e struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		parts := make([]string, len(e.Errors))
		for i, x := range e.Errors {
			parts[i] = x.Message
		}
		return strings.Join(parts, "; ")
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return s
}

// ChallengeURL is the URL a challenge is asked at: https://<login>/v2/.
func ChallengeURL(loginServer string) string { return "https://" + loginServer + "/v2/" }

// ProbeResult is a registry's answer to an unauthenticated GET /v2/.
type ProbeResult struct {
	Status int
	Header http.Header
}

// Authenticate returns the WWW-Authenticate header's values.
func (p ProbeResult) Authenticate() []string { return p.Header.Values("Www-Authenticate") }

// Probe sends GET https://<loginServer>/v2/ without credentials and
// returns the status and headers (the body is drained). An error is a
// transport failure, as the HTTP client returns it.
func (c *Client) Probe(ctx context.Context, loginServer string) (ProbeResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ChallengeURL(loginServer), nil)
	if err != nil {
		return ProbeResult{}, err
	}
	resp, err := c.do(req)
	if err != nil {
		return ProbeResult{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return ProbeResult{Status: resp.StatusCode, Header: resp.Header}, nil
}

// Exchange trades a directory access token for an ACR refresh token.
func (c *Client) Exchange(ctx context.Context, r ExchangeRequest) (string, error) {
	grant := r.Grant
	if grant == "" {
		grant = GrantAccessToken
	}
	form := url.Values{"grant_type": {string(grant)}, "service": {r.Service}, "access_token": {r.AccessToken}}
	if grant == GrantAccessTokenRefreshToken {
		form.Set("refresh_token", r.AccessToken)
	}
	if r.Tenant != "" {
		form.Set("tenant", r.Tenant)
	}
	return c.post(ctx, r.Origin+"/oauth2/exchange", form, "refresh_token")
}

// AccessToken trades a refresh token, or a user name and password, for an
// access token.
func (c *Client) AccessToken(ctx context.Context, r TokenRequest) (string, error) {
	form := url.Values{"service": {r.Service}}
	if r.Username != "" {
		form.Set("grant_type", string(GrantPassword))
		form.Set("username", r.Username)
		form.Set("password", r.Password)
	} else {
		form.Set("grant_type", string(GrantRefreshToken))
		form.Set("refresh_token", r.RefreshToken)
	}
	if r.Scope != "" {
		form.Set("scope", r.Scope)
	}
	return c.post(ctx, r.Origin+"/oauth2/token", form, "access_token")
}

// post sends form to u and returns the member named field of the JSON
// object a 200 answers.
func (c *Client) post(ctx context.Context, u string, form url.Values, field string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	e := &Error{URL: u, Status: resp.StatusCode, Body: body}
	switch {
	case resp.StatusCode != http.StatusOK:
		e.Body = body[:min(len(body), maxBody)]
		return "", e
	case rerr != nil:
		e.Err = rerr
		return "", e
	case len(body) > maxBody:
		e.Body, e.Err = body[:maxBody], ErrTooLarge
		return "", e
	}
	var out map[string]json.RawMessage
	var tok string
	if json.Unmarshal(body, &out) != nil || json.Unmarshal(out[field], &tok) != nil || tok == "" {
		return "", e
	}
	return tok, nil
}

func (c *Client) do(req *http.Request) (*http.Response, error) {
	for k, v := range c.Header {
		req.Header[k] = v
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}
