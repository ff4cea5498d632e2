package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// Caller is the authenticated principal of an ARM request.
type Caller struct {
	ObjectID      string
	TenantID      string
	AppID         string
	Name          string // UPN for users, appId for applications
	PrincipalType string // User or ServicePrincipal
}

type callerKey struct{}

// CallerFrom returns the caller stored in ctx by the authentication step.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// WithCaller stores c in ctx (for in-process callers such as tests).
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// authenticate verifies the bearer token for the ARM audience and checks
// the principal still exists.
func authenticate(dir Principals, r *http.Request) (Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Caller{}, Errorf(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return Caller{}, Errorf(http.StatusUnauthorized, "AuthenticationFailedInvalidHeader", "Authentication failed. The 'Authorization' header is provided in an invalid format.")
	}
	c, err := dir.VerifyAccessToken(strings.TrimSpace(tok), directory.AudienceARM)
	switch {
	case err == nil:
	case errors.Is(err, tokens.ErrExpired):
		return Caller{}, Errorf(http.StatusUnauthorized, "ExpiredAuthenticationToken",
			"The access token expiry UTC time is earlier than current UTC time '%s'.", time.Now().UTC().Format(time.RFC1123))
	case errors.Is(err, tokens.ErrAudience):
		return Caller{}, Errorf(http.StatusUnauthorized, "InvalidAuthenticationTokenAudience",
			"The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences '%s'.",
			strings.Join(dir.AcceptedAudiences(directory.AudienceARM), "','"))
	case errors.Is(err, tokens.ErrIssuer):
		return Caller{}, Errorf(http.StatusUnauthorized, "InvalidAuthenticationTokenTenant",
			"The access token is from the wrong issuer. It must match the tenant '%s' associated with this subscription.", dir.Issuer())
	default:
		return Caller{}, Errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid: %v.", err)
	}
	p, err := dir.Get(r.Context(), c.ObjectID)
	if err != nil {
		return Caller{}, Errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "The principal '%s' of the access token no longer exists in the directory.", c.ObjectID)
	}
	return Caller{ObjectID: p.ObjectID, TenantID: c.TenantID, AppID: p.AppID, Name: p.Name(), PrincipalType: p.PrincipalType()}, nil
}

func (c Caller) String() string { return fmt.Sprintf("%s (%s)", c.Name, c.ObjectID) }
