package directory

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/httpjson"
)

// oauthError writes Entra's token-endpoint error body.
func oauthError(w http.ResponseWriter, status int, code string, aadsts int, msg string) {
	httpjson.Write(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, msg),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          uuid.NewString(),
		"correlation_id":    uuid.NewString(),
	})
}

// ADFSPath is the ADFS-shaped authority (<base>/adfs) the cloud metadata
// names as its login endpoint. MSAL, and so the real az, treats an
// authority whose first path segment is "adfs" as known to the developer:
// it reads <base>/adfs/.well-known/openid-configuration and skips the
// instance and user-realm discovery that would call login.microsoftonline.com.
// Here it is one more name of the tenant.
const ADFSPath = "/" + adfsTenant

const adfsTenant = "adfs"

// knownTenant reports whether a tenant path segment names this tenant.
func (d *Directory) knownTenant(t string) bool {
	switch strings.ToLower(t) {
	case "organizations", "common", adfsTenant, strings.ToLower(d.cfg.TenantID), strings.ToLower(d.cfg.Domain):
		return true
	}
	return false
}

// Routes registers the login endpoints (token, discovery, keys) on mux.
func (d *Directory) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", d.handleToken)
	mux.HandleFunc("POST /{tenant}/oauth2/token", d.handleToken)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", d.handleDiscovery)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", d.handleDiscovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", d.handleKeys)
	mux.HandleFunc("GET /{tenant}/discovery/keys", d.handleKeys)
	mux.HandleFunc("GET /metadata/identity/oauth2/token", d.handleIMDS)
	// App Service's 2017-09-01 clients (msrestazure: `az login --identity`
	// with MSI_ENDPOINT and MSI_SECRET) add a slash before the query.
	mux.HandleFunc("GET /metadata/identity/oauth2/token/", d.handleIMDS)
	d.graphRoutes(mux)
}

func (d *Directory) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	t := r.PathValue("tenant")
	if !d.knownTenant(t) {
		oauthError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", t))
		return
	}
	issuer := d.Issuer()
	base := d.cfg.BaseURL + "/" + t
	// AAD's v2 endpoints; ADFS's are oauth2/{token,authorize,devicecode}
	// and discovery/keys, and its issuer is the one tokens carry (MSAL
	// checks the id_token's iss against it).
	v2 := "/v2.0"
	switch {
	case strings.EqualFold(t, adfsTenant):
		v2 = ""
	case !strings.EqualFold(t, d.cfg.TenantID):
		issuer = d.cfg.BaseURL + "/{tenantid}/v2.0"
	}
	httpjson.Write(w, http.StatusOK, map[string]any{
		"issuer":                                issuer,
		"token_endpoint":                        base + "/oauth2" + v2 + "/token",
		"authorization_endpoint":                base + "/oauth2" + v2 + "/authorize",
		"device_authorization_endpoint":         base + "/oauth2" + v2 + "/devicecode",
		"jwks_uri":                              base + "/discovery" + v2 + "/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"grant_types_supported":                 []string{"password", "client_credentials", "refresh_token"},
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   "drydock",
	})
}

func (d *Directory) handleKeys(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, d.signer.JWKS())
}

// tokenRequest is what a token request asks for besides the grant.
type tokenRequest struct {
	resource string // a v1 "resource", or the v2 scope that is not an OIDC one
	offline  bool   // offline_access (or v1): answer a refresh token too
	openid   bool   // openid: answer an id_token too
}

// requestedResource reads the audience from a v2 "scope" or a v1 "resource".
func requestedResource(r *http.Request) tokenRequest {
	if res := r.PostForm.Get("resource"); res != "" {
		return tokenRequest{resource: res, offline: true}
	}
	var tr tokenRequest
	for _, s := range strings.Fields(r.PostForm.Get("scope")) {
		switch strings.ToLower(s) {
		case "offline_access":
			tr.offline = true
		case "openid":
			tr.openid = true
		case "profile", "email":
		default:
			if tr.resource == "" {
				tr.resource = s
			}
		}
	}
	return tr
}

func (d *Directory) handleToken(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !d.knownTenant(tenant) {
		oauthError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		if status, msg := httpjson.BodyFailure(err); status != 0 {
			oauthError(w, status, "invalid_request", 90023, "Invalid STS request: "+msg+".")
			return
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return
	}
	req := requestedResource(r)
	resource := req.resource
	grant := r.PostForm.Get("grant_type")
	var p Principal
	var err error
	ctx := r.Context()
	switch grant {
	case "password":
		user, pass := r.PostForm.Get("username"), r.PostForm.Get("password")
		if user == "" || pass == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'username' and 'password'.")
			return
		}
		p, err = d.AuthenticateUser(ctx, user, pass)
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
			return
		}
	case "client_credentials":
		id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		if u, s, ok := r.BasicAuth(); ok && secret == "" {
			id, secret = u, s
		}
		if id == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
			return
		}
		if secret == "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
			return
		}
		p, err = d.AuthenticateClient(ctx, id, secret)
		if err != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", id))
			return
		}
	case "refresh_token":
		p, err = d.Redeem(ctx, r.PostForm.Get("refresh_token"))
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", 700082, "The refresh token is invalid or has expired due to inactivity. The user must sign in again.")
			return
		}
		req.offline = true
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
		return
	}
	if resource == "" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter.")
		return
	}
	aud, ok := d.ResolveResource(resource)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s.", resource, d.cfg.TenantID))
		return
	}
	tok, err := d.IssueAccessToken(p, aud)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
		return
	}
	lifetime := int(tok.ExpiresOn.Sub(d.Now()).Seconds())
	resp := map[string]any{
		"token_type":     "Bearer",
		"scope":          grantedScope(resource),
		"expires_in":     lifetime,
		"ext_expires_in": lifetime,
		"expires_on":     fmt.Sprint(tok.ExpiresOn.Unix()),
		"resource":       aud,
		"access_token":   tok.AccessToken,
	}
	if p.Kind == KindUser {
		// A user's sign-in also proves who signed in: MSAL (the real az)
		// builds its account from the id_token.
		if req.offline {
			if resp["refresh_token"], err = d.IssueRefreshToken(p); err != nil {
				oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
				return
			}
		}
		if req.openid {
			if resp["id_token"], err = d.IssueIDToken(p, clientIDOf(r)); err != nil {
				oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
				return
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, resp)
}

var errNoHost = errors.New("no host credential")

// clientIDOf is the public client a user signs in through: the request's
// client_id, else az's.
func clientIDOf(r *http.Request) string {
	if id := r.PostForm.Get("client_id"); id != "" {
		return id
	}
	return azureCLIClientID
}

// grantedScope echoes the requested resource scope (MSAL compares it with
// what it asked for), in v2 form for v1 "resource" requests.
func grantedScope(resource string) string {
	if strings.HasSuffix(resource, "/.default") {
		return resource
	}
	return strings.TrimSuffix(resource, "/") + "/.default"
}
