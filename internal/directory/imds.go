package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/store"
)

// HostCredentialHeader carries a host's credential to the managed-identity
// endpoint. It is the App Service managed-identity header, so Azure SDKs
// reach drydock with IDENTITY_ENDPOINT + IDENTITY_HEADER set.
const HostCredentialHeader = "X-IDENTITY-HEADER"

// legacyHostCredentialHeader is the App Service header of api-version
// 2017-09-01 (MSI_ENDPOINT + MSI_SECRET), which the real az's
// `az login --identity` sends (msrestazure).
const legacyHostCredentialHeader = "secret"

const hostCredentialPrefix = "dhc_"

// RegisterHost records a host with the managed identities (principal
// object IDs) assigned to it and returns a new host credential; earlier
// credentials of the host stop working. Only the credential's hash is kept.
func (d *Directory) RegisterHost(tx *store.Tx, hostID string, identities []string) (string, error) {
	if err := directorydb.PutHost(tx, hostID, identities); err != nil {
		return "", err
	}
	if err := directorydb.DeleteSecrets(tx, hostID, ""); err != nil {
		return "", err
	}
	keyID := strings.ReplaceAll(uuid.NewString(), "-", "")
	secret := NewSecret(43)
	now := d.Now().UTC()
	err := directorydb.AddSecret(tx, directorydb.Secret{KeyID: keyID, OwnerID: hostID, Hash: HashSecret(secret), Hint: secret[:3], DisplayName: "host credential", StartAt: now, EndAt: now.AddDate(100, 0, 0)})
	return hostCredentialPrefix + keyID + "." + secret, err
}

// SetHostIdentities replaces the identities assigned to a registered host.
func (d *Directory) SetHostIdentities(tx *store.Tx, hostID string, identities []string) error {
	return directorydb.PutHost(tx, hostID, identities)
}

// UnregisterHost removes a host and its credential.
func (d *Directory) UnregisterHost(tx *store.Tx, hostID string) error {
	return directorydb.DeleteHost(tx, hostID)
}

// AuthenticateHost checks a host credential and returns the host ID and the
// identities assigned to it.
func (d *Directory) AuthenticateHost(ctx context.Context, credential string) (string, []string, error) {
	rest, ok := strings.CutPrefix(credential, hostCredentialPrefix)
	keyID, secret, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || keyID == "" || secret == "" {
		return "", nil, errNoHost
	}
	var hostID string
	var ids []string
	err := d.st.View(ctx, func(tx *store.Tx) error {
		s, err := directorydb.SecretByKeyID(tx, keyID)
		if err != nil || !SecretMatches(s.Hash, secret) {
			return errNoHost
		}
		hostID = s.OwnerID
		ids, err = directorydb.HostIdentities(tx, hostID)
		return err
	})
	if err != nil {
		return "", nil, errNoHost
	}
	return hostID, ids, nil
}

func imdsError(w http.ResponseWriter, status int, code, desc string) {
	httpjson.Write(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleIMDS serves GET /metadata/identity/oauth2/token in IMDS format
// (Metadata: true) and App Service format (X-IDENTITY-HEADER). The caller
// must present a host credential; it gets tokens only for identities
// assigned to that host.
func (d *Directory) handleIMDS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cred := r.Header.Get(HostCredentialHeader)
	if cred == "" {
		cred = r.Header.Get(legacyHostCredentialHeader)
	}
	if !strings.EqualFold(r.Header.Get("Metadata"), "true") && cred == "" {
		imdsError(w, http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	}
	if q.Get("api-version") == "" {
		imdsError(w, http.StatusBadRequest, "invalid_request", "Required query variable 'api-version' is missing")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		imdsError(w, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	if cred == "" {
		imdsError(w, http.StatusUnauthorized, "unauthorized_client", "This endpoint gives tokens only to registered hosts: send the host credential in the "+HostCredentialHeader+" header")
		return
	}
	hostID, assigned, err := d.AuthenticateHost(r.Context(), cred)
	if err != nil {
		imdsError(w, http.StatusUnauthorized, "unauthorized_client", "The host credential is not valid")
		return
	}
	aud, ok := d.ResolveResource(resource)
	if !ok {
		imdsError(w, http.StatusBadRequest, "invalid_resource", fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant named %s.", resource, d.cfg.TenantID))
		return
	}
	p, err := d.selectIdentity(r.Context(), assigned, q)
	if err != nil {
		imdsError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	tok, err := d.IssueAccessToken(p, aud)
	if err != nil {
		imdsError(w, http.StatusInternalServerError, "unknown", "failed to issue a token")
		return
	}
	_ = hostID
	now := d.Now()
	httpjson.Write(w, http.StatusOK, map[string]string{
		"access_token":  tok.AccessToken,
		"refresh_token": "",
		"expires_in":    fmt.Sprint(int(tok.ExpiresOn.Sub(now).Seconds())),
		"expires_on":    fmt.Sprint(tok.ExpiresOn.Unix()),
		"not_before":    fmt.Sprint(now.Unix()),
		"resource":      resource,
		"token_type":    "Bearer",
		"client_id":     p.AppID,
	})
}

// selectIdentity picks the identity the request names among those assigned
// to the host, or the only one when none is named.
func (d *Directory) selectIdentity(ctx context.Context, assigned []string, q map[string][]string) (Principal, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	clientID, objectID := get("client_id"), get("object_id")
	if clientID == "" {
		clientID = get("clientid") // App Service 2017-09-01
	}
	if objectID == "" {
		objectID = get("principal_id")
	}
	resID := get("msi_res_id")
	if resID == "" {
		resID = get("mi_res_id")
	}
	var candidates []Principal
	for _, id := range assigned {
		p, err := d.Get(ctx, id)
		if err == nil {
			candidates = append(candidates, p)
		}
	}
	if clientID == "" && objectID == "" && resID == "" {
		if len(candidates) == 1 {
			return candidates[0], nil
		}
		if len(candidates) == 0 {
			return Principal{}, errors.New("No managed identity is assigned to this host")
		}
		return Principal{}, errors.New("Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request")
	}
	for _, p := range candidates {
		if (clientID != "" && strings.EqualFold(p.AppID, clientID)) ||
			(objectID != "" && strings.EqualFold(p.ObjectID, objectID)) ||
			(resID != "" && strings.EqualFold(p.ResourceID, resID)) {
			return p, nil
		}
	}
	return Principal{}, errors.New("Identity not found")
}
