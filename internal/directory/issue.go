package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/tokens"
)

// The resources (token audiences) the directory issues tokens for.
const (
	AudienceARM   = "https://management.core.windows.net/"
	AudienceACR   = "https://containerregistry.azure.net"
	AudienceGraph = "https://graph.microsoft.com"
)

// ResolveResource maps a requested resource (v1 "resource" or a v2 scope
// without "/.default") to the canonical audience, accepting the aliases
// Azure clients use.
func (d *Directory) ResolveResource(resource string) (string, bool) {
	r := strings.TrimSuffix(strings.TrimSpace(resource), "/.default")
	norm := strings.ToLower(strings.TrimRight(r, "/"))
	switch norm {
	case "https://management.core.windows.net", "https://management.azure.com", strings.ToLower(strings.TrimRight(d.cfg.BaseURL, "/")):
		return AudienceARM, true
	case "https://containerregistry.azure.net":
		return AudienceACR, true
	case "https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000", strings.ToLower(d.cfg.BaseURL + GraphPath):
		return AudienceGraph, true
	}
	return "", false
}

// AcceptedAudiences lists the aud values a token for canonical may carry.
func (d *Directory) AcceptedAudiences(canonical string) []string {
	switch canonical {
	case AudienceARM:
		return []string{AudienceARM, "https://management.azure.com/", d.cfg.BaseURL + "/"}
	case AudienceGraph:
		return []string{AudienceGraph, "00000003-0000-0000-c000-000000000000"}
	}
	return []string{canonical}
}

// Token is an issued access token.
type Token struct {
	AccessToken  string
	RefreshToken string
	ExpiresOn    time.Time
	Audience     string
}

// IssueAccessToken signs an access token for p and the canonical audience.
func (d *Directory) IssueAccessToken(p Principal, audience string) (Token, error) {
	now := d.Now().UTC().Truncate(time.Second)
	exp := now.Add(d.cfg.AccessTokenLifetime)
	c := d.claims(p, audience, now, exp)
	s, err := d.signer.Sign(c)
	if err == nil {
		d.noteToken(p)
	}
	return Token{AccessToken: s, ExpiresOn: exp, Audience: audience}, err
}

// IssueRefreshToken signs a refresh token for p (audience: the issuer).
func (d *Directory) IssueRefreshToken(p Principal) (string, error) {
	now := d.Now().UTC().Truncate(time.Second)
	c := d.claims(p, d.Issuer(), now, now.Add(d.cfg.RefreshTokenLifetime))
	c.TokenUse = "refresh"
	return d.signer.Sign(c)
}

// IssueIDToken signs an OpenID Connect id_token for user p, for the
// public client clientID (its audience). It is never an access token:
// no resource accepts that audience, and its token_use says "id".
func (d *Directory) IssueIDToken(p Principal, clientID string) (string, error) {
	now := d.Now().UTC().Truncate(time.Second)
	c := d.claims(p, clientID, now, now.Add(d.cfg.AccessTokenLifetime))
	c.TokenUse = "id"
	c.Scope, c.AppID = "", ""
	c.PreferredUsername = p.UPN
	return d.signer.Sign(c)
}

func (d *Directory) claims(p Principal, audience string, now, exp time.Time) *tokens.Claims {
	c := &tokens.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    d.Issuer(),
			Subject:   p.ObjectID,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        uuid.NewString(),
		},
		TenantID: d.cfg.TenantID,
		ObjectID: p.ObjectID,
		Name:     p.DisplayName,
		Version:  "2.0",
	}
	if p.Kind == KindUser {
		c.IDType = "user"
		c.UPN = p.UPN
		c.AppID = azureCLIClientID
		c.Scope = "user_impersonation"
	} else {
		c.IDType = "app"
		c.AppID = p.AppID
		c.AzP = p.AppID
		c.MIResourceID = p.ResourceID
	}
	return c
}

// clockSkew is tolerated on directory tokens, which other machines' clients
// present (Entra allows about 5 minutes; drydock is stricter).
const clockSkew = 30 * time.Second

// azureCLIClientID is the public client users sign in through (az's).
const azureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// VerifyAccessToken checks an access token for the canonical audience and
// returns its claims.
func (d *Directory) VerifyAccessToken(token, audience string) (*tokens.Claims, error) {
	c := &tokens.Claims{}
	err := d.signer.Verify(token, c, tokens.VerifyOptions{Issuer: d.Issuer(), Audiences: d.AcceptedAudiences(audience), Now: d.cfg.Now, Leeway: clockSkew})
	if err != nil {
		return nil, err
	}
	if c.TokenUse != "" {
		return nil, fmt.Errorf("%w: a %s token is not an access token", tokens.ErrMalformed, c.TokenUse)
	}
	if !strings.EqualFold(c.TenantID, d.cfg.TenantID) {
		return nil, fmt.Errorf("%w: tenant %q", tokens.ErrIssuer, c.TenantID)
	}
	return c, nil
}

// Redeem checks a refresh token and returns its (still existing) principal.
func (d *Directory) Redeem(ctx context.Context, refreshToken string) (Principal, error) {
	c := &tokens.Claims{}
	if err := d.signer.Verify(refreshToken, c, tokens.VerifyOptions{Issuer: d.Issuer(), Audiences: []string{d.Issuer()}, Now: d.cfg.Now, Leeway: clockSkew}); err != nil {
		return Principal{}, err
	}
	if c.TokenUse != "refresh" {
		return Principal{}, errors.New("not a refresh token")
	}
	return d.Get(ctx, c.ObjectID)
}
