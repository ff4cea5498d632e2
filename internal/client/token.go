package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// expirySkew is how long before its expiry a cached access token is
// considered stale, as MSAL does.
const expirySkew = 5 * time.Minute

// Credentials is what tokens.json holds: what is needed to acquire new
// access tokens without the user, plus the access tokens acquired so far.
type Credentials struct {
	// TenantID is the tenant tokens are requested from.
	TenantID string `json:"tenantId"`
	// RefreshToken is the user's refresh token (user logins).
	RefreshToken string `json:"refreshToken,omitempty"`
	// ServicePrincipal is the application credential (service principal
	// logins), kept like az keeps it in its service principal cache.
	ServicePrincipal *ServicePrincipalSecret `json:"servicePrincipal,omitempty"`
	// AccessTokens caches access tokens by scope.
	AccessTokens map[string]AccessToken `json:"accessTokens,omitempty"`
}

// ServicePrincipalSecret is an application's client credential.
type ServicePrincipalSecret struct {
	AppID  string `json:"appId"`
	Secret string `json:"secret"`
}

// AccessToken is a bearer token and its expiry.
type AccessToken struct {
	Token     string    `json:"accessToken"`
	TokenType string    `json:"tokenType"`
	ExpiresOn time.Time `json:"expiresOn"`
}

// TokenResponse is the token endpoint's successful answer.
type TokenResponse struct {
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"-"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// UnmarshalJSON accepts expires_in as a number or a string.
func (t *TokenResponse) UnmarshalJSON(b []byte) error {
	type plain TokenResponse
	var aux struct {
		plain
		ExpiresIn json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*t = TokenResponse(aux.plain)
	raw := strings.Trim(string(aux.ExpiresIn), `"`)
	if raw != "" && raw != "null" {
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("invalid expires_in %s", aux.ExpiresIn)
		}
		t.ExpiresIn = int64(n)
	}
	return nil
}

// Claims are the unverified claims of an access token the CLI looks at.
type Claims struct {
	TenantID          string `json:"tid"`
	ObjectID          string `json:"oid"`
	UPN               string `json:"upn"`
	UniqueName        string `json:"unique_name"`
	PreferredUsername string `json:"preferred_username"`
	AppID             string `json:"appid"`
	Audience          any    `json:"aud"`
}

// Username returns the best user name the claims carry.
func (c Claims) Username() string {
	for _, s := range []string{c.UPN, c.PreferredUsername, c.UniqueName} {
		if s != "" {
			return s
		}
	}
	return ""
}

// ParseClaims decodes a JWT's payload without verifying it; the CLI only
// reads informational claims such as the tenant.
func ParseClaims(token string) (Claims, error) {
	var c Claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, fmt.Errorf("access token payload: %w", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("access token claims: %w", err)
	}
	return c, nil
}

// RequestToken posts form to the tenant's token endpoint.
func (c *Client) RequestToken(ctx context.Context, tenant string, form url.Values) (*TokenResponse, error) {
	if tenant == "" {
		tenant = OrganizationsTenant
	}
	u := c.Endpoint + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewBufferString(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := roundTrip(c.HTTP, req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if res.Status >= 400 {
		return nil, DecodeOAuthError(res.Status, res.Body)
	}
	var tr TokenResponse
	if err := json.Unmarshal(res.Body, &tr); err != nil {
		return nil, fmt.Errorf("invalid token response: %w", err)
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("invalid token response: no access_token")
	}
	if tr.TokenType == "" {
		tr.TokenType = "Bearer"
	}
	return &tr, nil
}

func (c *Client) accessToken(tr *TokenResponse) AccessToken {
	exp := tr.ExpiresIn
	if exp <= 0 {
		exp = 3600
	}
	return AccessToken{Token: tr.AccessToken, TokenType: tr.TokenType, ExpiresOn: c.Now().Add(time.Duration(exp) * time.Second).UTC()}
}

// tenantOf returns the tenant a login landed in: the token's tid claim,
// else the tenant asked for unless it was a placeholder.
func tenantOf(token, asked string) string {
	if cl, err := ParseClaims(token); err == nil && cl.TenantID != "" {
		return cl.TenantID
	}
	switch strings.ToLower(asked) {
	case "", OrganizationsTenant, "common":
		return ""
	}
	return asked
}

// LoginPassword signs a user in with the resource-owner password grant as
// az's client, for ARM plus a refresh token, and installs the resulting
// credentials.
func (c *Client) LoginPassword(ctx context.Context, tenant, username, password string) (*Credentials, error) {
	form := url.Values{
		"grant_type": {"password"},
		"client_id":  {AzureCLIClientID},
		"username":   {username},
		"password":   {password},
		"scope":      {ARMScope + " offline_access"},
	}
	return c.login(ctx, tenant, form, func(tr *TokenResponse) *Credentials {
		return &Credentials{TenantID: tenantOf(tr.AccessToken, tenant), RefreshToken: tr.RefreshToken}
	})
}

// LoginServicePrincipal signs an application in with the client credentials
// grant and installs the resulting credentials.
func (c *Client) LoginServicePrincipal(ctx context.Context, tenant, appID, secret string) (*Credentials, error) {
	sp := &ServicePrincipalSecret{AppID: appID, Secret: secret}
	return c.login(ctx, tenant, sp.form(ARMScope), func(tr *TokenResponse) *Credentials {
		return &Credentials{TenantID: cmp.Or(tenantOf(tr.AccessToken, tenant), tenant), ServicePrincipal: sp}
	})
}

// login requests an ARM token with form and installs the credentials
// creds makes of the answer, with that token cached.
func (c *Client) login(ctx context.Context, tenant string, form url.Values, creds func(*TokenResponse) *Credentials) (*Credentials, error) {
	tr, err := c.RequestToken(ctx, tenant, form)
	if err != nil {
		return nil, err
	}
	cr := creds(tr)
	cr.AccessTokens = map[string]AccessToken{ARMScope: c.accessToken(tr)}
	c.SetCredentials(cr)
	return cr, nil
}

// form is the client credentials grant of the application, for scope.
func (sp *ServicePrincipalSecret) form(scope string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {sp.AppID},
		"client_secret": {sp.Secret},
		"scope":         {scope},
	}
}

// Token returns a valid access token for scope, from the cache or freshly
// acquired with the refresh token (users) or the client credential (service
// principals). New tokens are persisted through OnCredentialsChange.
func (c *Client) Token(ctx context.Context, scope string) (AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cr := c.creds
	if cr == nil {
		return AccessToken{}, ErrNotLoggedIn
	}
	if t, ok := cr.AccessTokens[scope]; ok && t.Token != "" && t.ExpiresOn.After(c.Now().Add(expirySkew)) {
		return t, nil
	}
	var form url.Values
	switch {
	case cr.ServicePrincipal != nil:
		form = cr.ServicePrincipal.form(scope)
	case cr.RefreshToken != "":
		form = url.Values{
			"grant_type":    {"refresh_token"},
			"client_id":     {AzureCLIClientID},
			"refresh_token": {cr.RefreshToken},
			"scope":         {scope},
		}
	default:
		return AccessToken{}, ErrNotLoggedIn
	}
	tr, err := c.RequestToken(ctx, cr.TenantID, form)
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) && (oe.Code == "invalid_grant" || oe.Code == "invalid_client") {
			return AccessToken{}, &OAuthError{Status: oe.Status, Code: oe.Code, Description: oe.Error() + " Interactive authentication is needed. Please run 'az login'."}
		}
		return AccessToken{}, err
	}
	t := c.accessToken(tr)
	if cr.AccessTokens == nil {
		cr.AccessTokens = map[string]AccessToken{}
	}
	cr.AccessTokens[scope] = t
	if tr.RefreshToken != "" && cr.ServicePrincipal == nil {
		cr.RefreshToken = tr.RefreshToken
	}
	if c.OnCredentialsChange != nil {
		if err := c.OnCredentialsChange(cr); err != nil {
			return AccessToken{}, fmt.Errorf("saving tokens: %w", err)
		}
	}
	return t, nil
}

// InvalidateToken drops the cached access token for scope, so that the
// next Token call acquires a new one.
func (c *Client) InvalidateToken(scope string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.creds != nil {
		delete(c.creds.AccessTokens, scope)
	}
}
