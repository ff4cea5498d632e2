package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// NullGUID is the user name that marks an ACR refresh or access token
// passed as a password.
const NullGUID = "00000000-0000-0000-0000-000000000000"

// Issuer is the "iss" of every registry token.
const Issuer = "Azure Container Registry"

// Registry is what the token service needs to know about one registry.
type Registry struct {
	ID            string // ARM resource ID (the RBAC scope)
	Name          string
	LoginServer   string
	AnonymousPull bool
	AdminEnabled  bool
	// Created is when the registry was created. With ID it tells this
	// registry from an earlier one of the same name: tokens carry both
	// (see identity), so a deleted registry's tokens do not work for a new
	// registry that took its name.
	Created time.Time
}

// identity is the registry's unique identity as its tokens carry it: a
// digest of its resource ID and creation time.
func (r Registry) identity() string {
	sum := sha256.Sum256([]byte(strings.ToLower(r.ID) + "\n" + r.Created.UTC().Format(time.RFC3339Nano)))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// Decider evaluates RBAC (the resource manager's authz engine with the
// principal's group memberships).
type Decider func(principalID, action string, data bool, scope string) authz.Decision

// AdminPasswords returns the admin user's passwords of a registry.
type AdminPasswords func(ctx context.Context, registryID string) ([]string, error)

// Config holds the token lifetimes.
type Config struct {
	RefreshTokenLifetime time.Duration // ACR: about 3 h
	AccessTokenLifetime  time.Duration // RBAC is evaluated again when it runs out
	Now                  func() time.Time
}

// Service is the registry token service shared by every registry.
type Service struct {
	dir    *directory.Directory
	signer *tokens.Signer
	decide Decider
	admin  AdminPasswords
	audit  *slog.Logger
	cfg    Config

	// One cache per kind of verified value, so that a token verified as
	// one kind is never looked up as another.
	refreshTokens *verifiedCache[refreshClaims]
	accessTokens  *verifiedCache[accessClaims]
	principals    *verifiedCache[Identity]
}

// New builds the token service. audit receives one record per decision.
func New(dir *directory.Directory, signer *tokens.Signer, decide Decider, admin AdminPasswords, audit *slog.Logger, cfg Config) *Service {
	if cfg.RefreshTokenLifetime == 0 {
		cfg.RefreshTokenLifetime = 3 * time.Hour
	}
	if cfg.AccessTokenLifetime == 0 {
		cfg.AccessTokenLifetime = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{dir: dir, signer: signer, decide: decide, admin: admin, audit: audit, cfg: cfg,
		refreshTokens: newVerifiedCache[refreshClaims](16384), accessTokens: newVerifiedCache[accessClaims](16384),
		principals: newVerifiedCache[Identity](4096)}
}

// Identity is who a registry request or token acts for.
type Identity struct {
	Kind        string // "principal", "admin", "anonymous"
	PrincipalID string
	Name        string
}

// Grant types of registry tokens (their "grant_type" claim).
const (
	grantRefresh = "refresh_token"
	grantAccess  = "access_token"
)

// tokenClaims are the claims refresh and access tokens share.
type tokenClaims struct {
	jwt.RegisteredClaims
	Version   string   `json:"version"`
	GrantType string   `json:"grant_type"`
	Tenant    string   `json:"tenant,omitempty"`
	Roles     []string `json:"roles"`
	ObjectID  string   `json:"oid,omitempty"`
	// Registry is the identity of the registry the token was issued for
	// (Registry.identity); tokens issued before drydock set it have none.
	Registry string `json:"drydock_registry,omitempty"`
}

func (c *tokenClaims) shared() *tokenClaims { return c }

type refreshClaims struct {
	tokenClaims
	Permissions map[string]any `json:"permissions"`
}

type accessClaims struct {
	tokenClaims
	Access []Access `json:"access"`
	Kind   string   `json:"drydock_identity,omitempty"`
}

func (s *Service) claims(reg Registry, sub, grant string, ttl time.Duration) tokenClaims {
	now := s.cfg.Now().UTC().Truncate(time.Second)
	return tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			ID: uuid.NewString(), Subject: sub, Issuer: Issuer, Audience: jwt.ClaimStrings{reg.LoginServer},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Version: "1.0", GrantType: grant, Roles: []string{}, Registry: reg.identity(),
	}
}

func (s *Service) verifyOpts(reg Registry) tokens.VerifyOptions {
	return tokens.VerifyOptions{Issuer: Issuer, Audiences: []string{reg.LoginServer}, Now: s.cfg.Now}
}

// ---- errors on the wire ----

// OCIErrors is the registry's error envelope, the OCI Distribution
// specification's {"errors": [{"code", "message", "detail"}]}, which the
// token endpoints answer too.
type OCIErrors struct {
	Errors []OCIError `json:"errors"`
}

// OCIError is one error of an OCIErrors.
type OCIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

func writeErrors(w http.ResponseWriter, status int, code, msg string, detail any) {
	httpjson.Write(w, status, OCIErrors{Errors: []OCIError{{Code: code, Message: msg, Detail: detail}}})
}

// TooManyRequests writes the token endpoints' 429 (the caller has set
// Retry-After).
func TooManyRequests(w http.ResponseWriter, msg string) {
	writeErrors(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", msg, nil)
}

// Challenge writes ACR's 401: the Bearer challenge naming the realm,
// service and, when known, the scope the request needed.
func Challenge(w http.ResponseWriter, reg Registry, need []Access, insufficient bool) {
	h := fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, reg.LoginServer, reg.LoginServer)
	var scopes []string
	var detail []map[string]string
	for _, a := range need {
		scopes = append(scopes, a.String())
		for _, act := range a.Actions {
			detail = append(detail, map[string]string{"Type": a.Type, "Name": a.Name, "Action": act})
		}
	}
	if len(scopes) > 0 {
		h += fmt.Sprintf(`,scope="%s"`, strings.Join(scopes, " "))
	}
	if insufficient {
		h += `,error="insufficient_scope"`
	}
	w.Header().Set("WWW-Authenticate", h)
	msg := "authentication required, visit https://aka.ms/acr/authorization for more information."
	if detail == nil {
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", msg, nil)
		return
	}
	writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", msg, detail)
}

// maxForm bounds the form bodies of the token endpoints.
const maxForm = 1 << 20

// parseForm reads a token request's form body (at most maxForm bytes),
// answering the failure when it cannot: 413 for a larger body, 408 for one
// that stalled, 400 for one that is not a form.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if status, msg := httpjson.BodyFailure(err); status != 0 {
		writeErrors(w, status, "BAD_REQUEST", msg, nil)
		return false
	}
	writeErrors(w, http.StatusBadRequest, "BAD_REQUEST", "the body must be application/x-www-form-urlencoded", nil)
	return false
}

// ---- /oauth2/exchange ----

// HandleExchange serves POST /oauth2/exchange: it verifies a directory
// access token (registry or resource-manager audience, this tenant,
// signature, expiry) and returns an ACR refresh token for this registry.
func (s *Service) HandleExchange(w http.ResponseWriter, r *http.Request, reg Registry) {
	if r.Method != http.MethodPost {
		writeErrors(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "use POST with a form body", nil)
		return
	}
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	switch grant {
	case "access_token", "access_token_refresh_token":
	case "refresh_token":
		writeErrors(w, http.StatusBadRequest, "UNSUPPORTED", "grant_type 'refresh_token' (an AAD refresh token) is not supported; send grant_type=access_token with an AAD access token", nil)
		return
	default:
		writeErrors(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("unsupported grant_type %q: use access_token", grant), nil)
		return
	}
	if svc := f.Get("service"); !strings.EqualFold(svc, reg.LoginServer) {
		writeErrors(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("service %q does not match this registry's login server %q", svc, reg.LoginServer), nil)
		return
	}
	tok := f.Get("access_token")
	if tok == "" {
		writeErrors(w, http.StatusBadRequest, "BAD_REQUEST", "access_token is required", nil)
		return
	}
	claims, err := s.dir.VerifyAccessToken(tok, directory.AudienceACR)
	if errors.Is(err, tokens.ErrAudience) {
		claims, err = s.dir.VerifyAccessToken(tok, directory.AudienceARM)
	}
	if err != nil {
		s.record(r.Context(), reg, Identity{Kind: "unknown"}, "exchange", nil, nil, "rejected: "+err.Error())
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "token validation failed: "+err.Error(), nil)
		return
	}
	if t := f.Get("tenant"); t != "" && !strings.EqualFold(t, claims.TenantID) {
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("the access token is for tenant %q, not %q", claims.TenantID, t), nil)
		return
	}
	p, err := s.dir.Get(r.Context(), claims.ObjectID)
	if err != nil {
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "the token's principal no longer exists in the directory", nil)
		return
	}
	rc := refreshClaims{
		tokenClaims: s.claims(reg, p.Name(), grantRefresh, s.cfg.RefreshTokenLifetime),
		Permissions: map[string]any{"actions": []string{"*"}, "notActions": []string{}},
	}
	rc.Tenant, rc.ObjectID = claims.TenantID, p.ObjectID
	signed, err := s.signer.Sign(rc)
	if err != nil {
		writeErrors(w, http.StatusInternalServerError, "INTERNAL", "could not sign the refresh token", nil)
		return
	}
	s.record(r.Context(), reg, Identity{Kind: "principal", PrincipalID: p.ObjectID, Name: p.Name()}, "exchange", nil, nil, "refresh token issued")
	httpjson.Write(w, http.StatusOK, map[string]string{"refresh_token": signed})
}

// ---- /oauth2/token ----

// HandleToken serves POST (refresh_token or password grants) and GET
// (Basic credentials, or none for anonymous) /oauth2/token.
func (s *Service) HandleToken(w http.ResponseWriter, r *http.Request, reg Registry) {
	var service string
	var scopes []string
	var id Identity
	var viaToken []Access
	var err error
	switch r.Method {
	case http.MethodPost:
		if !parseForm(w, r) {
			return
		}
		f := r.PostForm
		service, scopes = f.Get("service"), f["scope"]
		switch f.Get("grant_type") {
		case "refresh_token":
			if f.Get("refresh_token") == "" {
				id = Identity{Kind: "anonymous"}
			} else {
				id, err = s.redeem(r.Context(), reg, f.Get("refresh_token"))
			}
		case "password":
			user, pass := f.Get("username"), f.Get("password")
			if user == "" && pass == "" && f.Get("refresh_token") == "" {
				id = Identity{Kind: "anonymous"}
			} else {
				if user == "" {
					user, pass = NullGUID, f.Get("refresh_token")
				}
				id, viaToken, err = s.credentials(r.Context(), reg, user, pass)
			}
		default:
			writeErrors(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("unsupported grant_type %q: use refresh_token or password", f.Get("grant_type")), nil)
			return
		}
	case http.MethodGet:
		q := r.URL.Query()
		service, scopes = q.Get("service"), q["scope"]
		if user, pass, ok := r.BasicAuth(); ok {
			id, viaToken, err = s.credentials(r.Context(), reg, user, pass)
		} else {
			id = Identity{Kind: "anonymous"}
		}
	default:
		writeErrors(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "use GET or POST", nil)
		return
	}
	if !strings.EqualFold(service, reg.LoginServer) {
		writeErrors(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("service %q does not match this registry's login server %q", service, reg.LoginServer), nil)
		return
	}
	requested, perr := ParseScopes(scopes)
	if perr != nil {
		writeErrors(w, http.StatusBadRequest, "BAD_REQUEST", perr.Error(), nil)
		return
	}
	if err != nil {
		s.record(r.Context(), reg, id, "token", requested, nil, "rejected: "+err.Error())
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", err.Error(), nil)
		return
	}
	if id.Kind == "anonymous" && !reg.AnonymousPull {
		s.record(r.Context(), reg, id, "token", requested, nil, "anonymous pull is not enabled")
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.", nil)
		return
	}
	granted, why := s.Grant(r.Context(), reg, id, requested)
	if viaToken != nil {
		granted = intersect(granted, viaToken)
	}
	s.record(r.Context(), reg, id, "token", requested, granted, why)
	if len(granted) == 0 && slices.ContainsFunc(requested, Access.exists) {
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("%s is not authorized for %s on %s: %s", id.Name, scopeList(requested), reg.LoginServer, why), nil)
		return
	}
	tok, exp, err := s.IssueAccessToken(reg, id, granted)
	if err != nil {
		writeErrors(w, http.StatusInternalServerError, "INTERNAL", "could not sign the access token", nil)
		return
	}
	now := s.cfg.Now().UTC()
	httpjson.Write(w, http.StatusOK, map[string]any{
		"access_token": tok, "token": tok, "expires_in": int(exp.Sub(now).Seconds()), "issued_at": now.Format(time.RFC3339),
	})
}

// IssueAccessToken signs an access token carrying grants.
func (s *Service) IssueAccessToken(reg Registry, id Identity, grants []Access) (string, time.Time, error) {
	if grants == nil {
		grants = []Access{}
	}
	ac := accessClaims{tokenClaims: s.claims(reg, id.Name, grantAccess, s.cfg.AccessTokenLifetime), Access: grants, Kind: id.Kind}
	ac.Tenant, ac.ObjectID = s.dir.TenantID(), id.PrincipalID
	tok, err := s.signer.Sign(ac)
	return tok, ac.ExpiresAt.Time, err
}

func scopeList(as []Access) string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return strings.Join(out, " ")
}

// claimsOf is a pointer to a kind of token claims.
type claimsOf[C any] interface {
	*C
	jwt.Claims
	shared() *tokenClaims
}

// verifyToken checks a registry token of one grant type: signature,
// issuer, audience (this login server), expiry and grant type, remembered
// in that kind's cache until the token expires; then that it was issued
// for this registry and not an earlier one of the same name.
func verifyToken[C any, P claimsOf[C]](s *Service, cache *verifiedCache[C], reg Registry, grant, tok string) (C, error) {
	key := reg.LoginServer + " " + tok
	c, ok := cache.get(key, s.cfg.Now())
	if !ok {
		if err := s.signer.Verify(tok, P(&c), s.verifyOpts(reg)); err != nil {
			return c, err
		}
		if g := P(&c).shared().GrantType; g != grant {
			return c, fmt.Errorf("its grant type is %q, not %q", g, grant)
		}
		exp, _ := P(&c).GetExpirationTime()
		cache.put(key, c, exp.Time)
	}
	return c, issuedFor(reg, P(&c).shared())
}

// issuedFor checks that a token was issued for this registry. A token
// without a registry identity (issued before drydock set one) passes when
// it was issued after the registry was created.
func issuedFor(reg Registry, c *tokenClaims) error {
	if c.Registry == reg.identity() {
		return nil
	}
	if c.Registry == "" && c.IssuedAt != nil && !c.IssuedAt.Time.Before(reg.Created.Truncate(time.Second)) {
		return nil
	}
	return errors.New("the token was issued for another registry of this name, since deleted")
}

// redeem verifies an ACR refresh token of this registry.
func (s *Service) redeem(ctx context.Context, reg Registry, tok string) (Identity, error) {
	rc, err := verifyToken(s, s.refreshTokens, reg, grantRefresh, tok)
	if err != nil {
		return Identity{Kind: "unknown"}, fmt.Errorf("invalid refresh token: %w", err)
	}
	return s.holder(ctx, rc)
}

// holder is the principal a verified refresh token was issued to.
func (s *Service) holder(ctx context.Context, rc refreshClaims) (Identity, error) {
	id, err := s.principal(ctx, rc.ObjectID)
	if err != nil {
		return Identity{Kind: "unknown"}, errors.New("the refresh token's principal no longer exists in the directory")
	}
	return id, nil
}

// principalTTL bounds how long a deleted principal's refresh tokens keep
// working after the deletion (the directory lookup is cached that long).
const principalTTL = 5 * time.Second

// principal looks a principal up in the directory, briefly cached.
func (s *Service) principal(ctx context.Context, objectID string) (Identity, error) {
	if id, ok := s.principals.get(objectID, s.cfg.Now()); ok {
		return id, nil
	}
	p, err := s.dir.Get(ctx, objectID)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Kind: "principal", PrincipalID: p.ObjectID, Name: p.Name()}
	s.principals.put(objectID, id, s.cfg.Now().Add(principalTTL))
	return id, nil
}

// credentials checks a user name and password: the null GUID with an ACR
// refresh or access token, the admin user, or a service principal's appId
// and secret. For an access token it also returns the token's grants,
// which bound what a new token may carry.
func (s *Service) credentials(ctx context.Context, reg Registry, user, pass string) (Identity, []Access, error) {
	switch {
	case user == NullGUID:
		if rc, err := verifyToken(s, s.refreshTokens, reg, grantRefresh, pass); err == nil {
			id, err := s.holder(ctx, rc)
			return id, nil, err
		}
		id, grants, err := s.VerifyAccessToken(reg, pass)
		if err != nil {
			return Identity{Kind: "unknown"}, nil, errors.New("the password is not a valid refresh or access token for this registry")
		}
		return id, grants, nil
	case strings.EqualFold(user, reg.Name):
		if !reg.AdminEnabled {
			return Identity{Kind: "unknown"}, nil, errors.New("the admin user is disabled for this registry")
		}
		pws, err := s.admin(ctx, reg.ID)
		if err != nil {
			return Identity{Kind: "unknown"}, nil, err
		}
		for _, pw := range pws {
			if subtle.ConstantTimeCompare([]byte(pw), []byte(pass)) == 1 {
				return Identity{Kind: "admin", Name: reg.Name}, nil, nil
			}
		}
		return Identity{Kind: "unknown"}, nil, errors.New("invalid admin password")
	default:
		p, err := s.dir.AuthenticateClient(ctx, user, pass)
		if err != nil {
			return Identity{Kind: "unknown"}, nil, errors.New("invalid username or password")
		}
		return Identity{Kind: "principal", PrincipalID: p.ObjectID, Name: p.Name()}, nil, nil
	}
}

func intersect(granted, bound []Access) []Access {
	var out []Access
	for _, g := range granted {
		var acts []string
		for _, a := range g.Actions {
			if Allows(bound, g.Type, g.Name, a) {
				acts = append(acts, a)
			}
		}
		if len(acts) > 0 {
			out = append(out, Access{Type: g.Type, Name: g.Name, Actions: acts})
		}
	}
	return out
}

// VerifyAccessToken checks a bearer token on a /v2 request.
func (s *Service) VerifyAccessToken(reg Registry, tok string) (Identity, []Access, error) {
	ac, err := verifyToken(s, s.accessTokens, reg, grantAccess, tok)
	if err != nil {
		return Identity{}, nil, err
	}
	return Identity{Kind: ac.Kind, PrincipalID: ac.ObjectID, Name: ac.Subject}, ac.Access, nil
}

// BasicGrants authenticates Basic credentials sent straight to /v2 and
// returns what they may do for the needed access.
func (s *Service) BasicGrants(ctx context.Context, reg Registry, user, pass string, need []Access) (Identity, []Access, error) {
	id, bound, err := s.credentials(ctx, reg, user, pass)
	if err != nil {
		return id, nil, err
	}
	granted, why := s.Grant(ctx, reg, id, need)
	if bound != nil {
		granted = intersect(granted, bound)
	}
	s.record(ctx, reg, id, "basic", need, granted, why)
	return id, granted, nil
}

// RBAC actions behind each registry action (legacy registry permissions:
// the Acr* roles, Owner/Contributor/Reader, and the repository data actions).
var rbacFor = map[string][2]string{
	"pull":   {"Microsoft.ContainerRegistry/registries/pull/read", authz.DataActionRepositoryContentRead},
	"push":   {"Microsoft.ContainerRegistry/registries/push/write", "Microsoft.ContainerRegistry/registries/repositories/content/write"},
	"delete": {"Microsoft.ContainerRegistry/registries/artifacts/delete", "Microsoft.ContainerRegistry/registries/repositories/content/delete"},
}

func registryAction(a string) string {
	switch a {
	case "metadata_read":
		return "pull"
	case "metadata_write":
		return "push"
	}
	return a
}

// Grant intersects requested access with what the identity may do and
// says why (the assignment that decided, or what is missing).
func (s *Service) Grant(ctx context.Context, reg Registry, id Identity, requested []Access) ([]Access, string) {
	var out []Access
	var reasons []string
	for _, req := range requested {
		var acts []string
		for _, a := range req.Actions {
			ok, why := s.allowed(reg, id, req, a)
			if ok {
				acts = append(acts, a)
			}
			if why != "" {
				reasons = append(reasons, why)
			}
		}
		if len(acts) > 0 {
			out = append(out, Access{Type: req.Type, Name: req.Name, Actions: acts})
		}
	}
	return out, strings.Join(dedupe(reasons), "; ")
}

func (s *Service) allowed(reg Registry, id Identity, req Access, action string) (bool, string) {
	if req.Type == "registry" && req.Name != "catalog" {
		return false, fmt.Sprintf("the registry has no resource %q (only \"catalog\")", req.Name)
	}
	switch id.Kind {
	case "admin":
		return true, "admin user"
	case "anonymous":
		ok := reg.AnonymousPull && req.Type != "registry" && (action == "pull" || action == "metadata_read")
		if ok {
			return true, "anonymous pull is enabled"
		}
		return false, "anonymous callers may only pull, and only when anonymous pull is enabled"
	case "principal":
	default:
		return false, "unknown identity"
	}
	if action == "*" {
		if req.Type == "registry" {
			return s.rbac(reg, id, "pull", "Microsoft.ContainerRegistry/registries/catalog/read")
		}
		for _, a := range []string{"pull", "push", "delete"} {
			if ok, why := s.allowed(reg, id, req, a); !ok {
				return false, why
			}
		}
		return true, ""
	}
	a := registryAction(action)
	if _, ok := rbacFor[a]; !ok {
		return false, fmt.Sprintf("unknown action %q", action)
	}
	return s.rbac(reg, id, a, rbacFor[a][1])
}

func (s *Service) rbac(reg Registry, id Identity, action, dataAction string) (bool, string) {
	d := s.decide(id.PrincipalID, rbacFor[action][0], false, reg.ID)
	if d.Allowed {
		return true, d.Reason
	}
	dd := s.decide(id.PrincipalID, dataAction, true, reg.ID)
	if dd.Allowed {
		return true, dd.Reason
	}
	return false, d.Reason
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// record writes one audit entry.
func (s *Service) record(ctx context.Context, reg Registry, id Identity, op string, asked, granted []Access, why string) {
	if s.audit == nil {
		return
	}
	a, _ := json.Marshal(asked)
	g, _ := json.Marshal(granted)
	s.audit.LogAttrs(ctx, slog.LevelInfo, "registry authorization",
		slog.String("registry", reg.LoginServer), slog.String("operation", op),
		slog.String("identity", id.Kind), slog.String("principalId", id.PrincipalID), slog.String("name", id.Name),
		slog.String("asked", string(a)), slog.String("granted", string(g)), slog.String("decidedBy", why))
}
