package directory

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/odata"
	"github.com/drydock-dev/drydock/internal/store"
)

// The Microsoft-Graph-shaped management API (https://graph.microsoft.com
// audience) for users, applications, service principals and groups.

// decodeBody reads a Graph request's JSON body into v, answering the
// failure when it cannot: 413 for a body over 4 MiB, 408 for one that
// stalled, 400 otherwise.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, required bool) bool {
	err := httpjson.Decode(r, v, required)
	if err == nil {
		return true
	}
	switch status, msg := httpjson.BodyFailure(err); status {
	case http.StatusRequestEntityTooLarge:
		graphError(w, status, "RequestEntityTooLarge", msg)
	case http.StatusRequestTimeout:
		graphError(w, status, "RequestTimeout", msg)
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload: "+err.Error())
	}
	return false
}

type graphHandler func(w http.ResponseWriter, r *http.Request, caller Principal)

// graphAuth verifies the Graph bearer token and loads the caller.
func (d *Directory) graphAuth(h graphHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
			return
		}
		c, err := d.VerifyAccessToken(tok, AudienceGraph)
		if err != nil {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: "+err.Error())
			return
		}
		caller, err := d.Get(r.Context(), c.ObjectID)
		if err != nil {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The signed-in principal no longer exists in the directory.")
			return
		}
		h(w, r, caller)
	}
}

// GraphPath is where Microsoft Graph is served besides /v1.0: the cloud's
// microsoftGraphResourceId is <base>/graph/, which az uses both as the
// token resource and as the base URL of its Graph requests.
const GraphPath = "/graph"

func (d *Directory) graphRoutes(mux *http.ServeMux) {
	mux.Handle(GraphPath+"/v1.0/", http.StripPrefix(GraphPath, mux))
	route := func(pattern string, h graphHandler) { mux.HandleFunc(pattern, d.graphAuth(h)) }
	route("GET /v1.0/me", func(w http.ResponseWriter, r *http.Request, c Principal) {
		httpjson.Write(w, 200, d.graphObject(r.Context(), c))
	})
	route("GET /v1.0/users", d.listKind(KindUser))
	route("POST /v1.0/users", d.createUser)
	route("GET /v1.0/users/{id}", d.getKind(KindUser))
	route("DELETE /v1.0/users/{id}", d.deleteKind(KindUser))
	route("GET /v1.0/applications", d.listKind(KindApplication))
	route("POST /v1.0/applications", d.createApplication)
	route("GET /v1.0/applications/{id}", d.getKind(KindApplication))
	route("DELETE /v1.0/applications/{id}", d.deleteKind(KindApplication))
	route("POST /v1.0/applications/{id}/addPassword", d.addPassword)
	route("POST /v1.0/applications/{id}/removePassword", d.removePassword)
	route("PATCH /v1.0/applications/{id}", d.patchApplication)
	route("GET /v1.0/servicePrincipals", d.listKind(KindServicePrincipal, KindManagedIdentity))
	route("POST /v1.0/servicePrincipals", d.createServicePrincipal)
	route("GET /v1.0/servicePrincipals/{id}", d.getKind(KindServicePrincipal, KindManagedIdentity))
	route("DELETE /v1.0/servicePrincipals/{id}", d.deleteKind(KindServicePrincipal))
	route("GET /v1.0/groups", d.listKind(KindGroup))
	route("POST /v1.0/groups", d.createGroup)
	route("GET /v1.0/groups/{id}", d.getKind(KindGroup))
	route("DELETE /v1.0/groups/{id}", d.deleteKind(KindGroup))
	route("GET /v1.0/groups/{id}/members", d.listMembers)
	route("POST /v1.0/groups/{id}/members/$ref", d.addMember)
	route("DELETE /v1.0/groups/{id}/members/{member}/$ref", d.removeMember)
	route("GET /v1.0/directoryObjects/{id}", d.getKind())
	route("POST /v1.0/directoryObjects/getByIds", d.getByIDs)
	route("POST /v1.0/directoryObjects/{id}/checkMemberGroups", d.checkMemberGroups)
}

// graphObject renders a principal the way Microsoft Graph does.
func (d *Directory) graphObject(ctx context.Context, p Principal) map[string]any {
	o := map[string]any{"id": p.ObjectID, "displayName": p.DisplayName, "createdDateTime": p.CreatedAt.Format(time.RFC3339)}
	switch p.Kind {
	case KindUser:
		o["@odata.type"] = "#microsoft.graph.user"
		o["userPrincipalName"] = p.UPN
		o["accountEnabled"] = true
		o["mail"] = nil
	case KindGroup:
		o["@odata.type"] = "#microsoft.graph.group"
		o["mailNickname"] = p.UPN
		o["securityEnabled"] = true
		o["mailEnabled"] = false
	case KindApplication:
		o["@odata.type"] = "#microsoft.graph.application"
		o["appId"] = p.AppID
		o["signInAudience"] = "AzureADMyOrg"
		o["keyCredentials"] = []any{}
		o["passwordCredentials"] = d.passwordCredentials(ctx, p.ObjectID)
	case KindServicePrincipal, KindManagedIdentity:
		o["@odata.type"] = "#microsoft.graph.servicePrincipal"
		o["appId"] = p.AppID
		o["appOwnerOrganizationId"] = d.cfg.TenantID
		o["accountEnabled"] = true
		names := []string{p.AppID}
		o["servicePrincipalType"] = "Application"
		if p.Kind == KindManagedIdentity {
			o["servicePrincipalType"] = "ManagedIdentity"
			names = append(names, p.ResourceID)
			o["alternativeNames"] = []string{"isExplicit=True", p.ResourceID}
		}
		o["servicePrincipalNames"] = names
	}
	return o
}

func (d *Directory) writeList(w http.ResponseWriter, r *http.Request, ps []Principal) {
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, d.graphObject(r.Context(), p))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"value": out})
}

func (d *Directory) listKind(kinds ...string) graphHandler {
	return func(w http.ResponseWriter, r *http.Request, _ Principal) {
		f, err := odata.ParseFilter(r.URL.Query().Get("$filter"))
		if err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+err.Error())
			return
		}
		ps, err := d.List(r.Context(), kinds...)
		if err != nil {
			graphErr(w, err)
			return
		}
		var out []Principal
		for _, p := range ps {
			if f.Match(d.graphObject(r.Context(), p)) {
				out = append(out, p)
			}
		}
		d.writeList(w, r, out)
	}
}

// find resolves a path id (object ID, or UPN for users, or appId for
// applications and service principals) to a principal of one of kinds
// (any kind when none).
func (d *Directory) find(ctx context.Context, id string, kinds ...string) (Principal, error) {
	var p Principal
	err := d.st.View(ctx, func(tx *store.Tx) error {
		sp, err := directorydb.GetPrincipal(tx, id)
		if err != nil {
			sp, err = directorydb.PrincipalByUPN(tx, id)
		}
		if err != nil {
			if len(kinds) > 0 && kinds[0] == KindApplication {
				sp, err = directorydb.ApplicationByAppID(tx, id)
			} else {
				sp, err = directorydb.PrincipalByAppID(tx, id)
			}
		}
		p = fromStore(sp)
		return err
	})
	ok := err == nil
	if ok && len(kinds) > 0 {
		ok = false
		for _, k := range kinds {
			ok = ok || p.Kind == k
		}
	}
	if !ok {
		return Principal{}, notFound("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
	}
	return p, nil
}

func (d *Directory) getKind(kinds ...string) graphHandler {
	return func(w http.ResponseWriter, r *http.Request, _ Principal) {
		p, err := d.find(r.Context(), r.PathValue("id"), kinds...)
		if err != nil {
			graphErr(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, d.graphObject(r.Context(), p))
	}
}

func (d *Directory) deleteKind(kind string) graphHandler {
	return func(w http.ResponseWriter, r *http.Request, caller Principal) {
		p, err := d.find(r.Context(), r.PathValue("id"), kind)
		if err != nil {
			graphErr(w, err)
			return
		}
		if !caller.IsGlobalAdmin() && (kind == KindUser || !strings.EqualFold(p.OwnerID, caller.ObjectID)) {
			graphErr(w, errdefs.ErrPermissionDenied)
			return
		}
		if strings.EqualFold(p.ObjectID, caller.ObjectID) {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "The signed-in user cannot delete itself.")
			return
		}
		if err := d.Delete(r.Context(), p.ObjectID); err != nil {
			graphErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (d *Directory) createUser(w http.ResponseWriter, r *http.Request, caller Principal) {
	if !caller.IsGlobalAdmin() {
		graphErr(w, errdefs.ErrPermissionDenied)
		return
	}
	createObject(d, w, r, func(tx *store.Tx, body struct {
		DisplayName       string `json:"displayName"`
		UserPrincipalName string `json:"userPrincipalName"`
		PasswordProfile   struct {
			Password string `json:"password"`
		} `json:"passwordProfile"`
	}) (Principal, error) {
		return d.CreateUser(r.Context(), tx, body.UserPrincipalName, body.DisplayName, body.PasswordProfile.Password, nil)
	})
}

// createObject answers a Graph create request: it decodes the body into a
// B, creates the object with create in a write transaction, and writes 201
// with the object, or Graph's error.
func createObject[B any](d *Directory, w http.ResponseWriter, r *http.Request, create func(tx *store.Tx, body B) (Principal, error)) {
	var body B
	if !decodeBody(w, r, &body, true) {
		return
	}
	var p Principal
	err := d.st.Update(r.Context(), func(tx *store.Tx) (err error) {
		p, err = create(tx, body)
		return err
	})
	if err != nil {
		graphErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, d.graphObject(r.Context(), p))
}

func (d *Directory) createApplication(w http.ResponseWriter, r *http.Request, caller Principal) {
	createObject(d, w, r, func(tx *store.Tx, body struct {
		DisplayName string `json:"displayName"`
	}) (Principal, error) {
		return d.CreateApplication(tx, body.DisplayName, caller.ObjectID)
	})
}

// ownedApplication is the application the path's {id} names, when the
// caller owns it or is a Global Administrator; otherwise it writes Graph's
// error and returns false.
func (d *Directory) ownedApplication(w http.ResponseWriter, r *http.Request, caller Principal) (Principal, bool) {
	app, err := d.find(r.Context(), r.PathValue("id"), KindApplication)
	if err != nil {
		graphErr(w, err)
		return Principal{}, false
	}
	if !caller.IsGlobalAdmin() && !strings.EqualFold(app.OwnerID, caller.ObjectID) {
		graphErr(w, errdefs.ErrPermissionDenied)
		return Principal{}, false
	}
	return app, true
}

func (d *Directory) addPassword(w http.ResponseWriter, r *http.Request, caller Principal) {
	var body struct {
		PasswordCredential struct {
			DisplayName string    `json:"displayName"`
			EndDateTime time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if !decodeBody(w, r, &body, false) {
		return
	}
	app, ok := d.ownedApplication(w, r, caller)
	if !ok {
		return
	}
	var secret string
	var s directorydb.Secret
	err := d.st.Update(r.Context(), func(tx *store.Tx) (err error) {
		secret, s, err = d.AddPassword(tx, app.ObjectID, body.PasswordCredential.DisplayName, body.PasswordCredential.EndDateTime)
		return err
	})
	if err != nil {
		graphErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, passwordCredential(s, secret))
}

// passwordCredential is Graph's passwordCredential: the secret's text only
// when it was just made.
func passwordCredential(s directorydb.Secret, secretText string) map[string]any {
	var text any
	if secretText != "" {
		text = secretText
	}
	return map[string]any{
		"keyId": s.KeyID, "displayName": s.DisplayName, "hint": s.Hint, "secretText": text, "customKeyIdentifier": nil,
		"startDateTime": s.StartAt.Format(time.RFC3339), "endDateTime": s.EndAt.Format(time.RFC3339),
	}
}

// passwordCredentials lists an application's secrets, without their text.
func (d *Directory) passwordCredentials(ctx context.Context, appObjectID string) []map[string]any {
	out := []map[string]any{}
	_ = d.st.View(ctx, func(tx *store.Tx) error {
		secrets, err := directorydb.Secrets(tx, appObjectID)
		for _, s := range secrets {
			out = append(out, passwordCredential(s, ""))
		}
		return err
	})
	return out
}

// patchApplication serves PATCH /applications/{id}. Of an application's
// properties drydock keeps the display name; the others a client may send
// (web, keyCredentials, ...) have no effect here, as they have none on
// what drydock authorizes.
func (d *Directory) patchApplication(w http.ResponseWriter, r *http.Request, caller Principal) {
	var body struct {
		DisplayName *string `json:"displayName"`
	}
	if !decodeBody(w, r, &body, false) {
		return
	}
	app, ok := d.ownedApplication(w, r, caller)
	if !ok {
		return
	}
	if body.DisplayName != nil {
		if strings.TrimSpace(*body.DisplayName) == "" {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'displayName' of resource 'Application'.")
			return
		}
		if err := d.st.Update(r.Context(), func(tx *store.Tx) error { return directorydb.RenamePrincipal(tx, app.ObjectID, *body.DisplayName) }); err != nil {
			graphErr(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// removePassword serves POST /applications/{id}/removePassword.
func (d *Directory) removePassword(w http.ResponseWriter, r *http.Request, caller Principal) {
	var body struct {
		KeyID string `json:"keyId"`
	}
	if !decodeBody(w, r, &body, false) {
		return
	}
	if body.KeyID == "" {
		graphError(w, http.StatusBadRequest, "BadRequest", "The request body must name the password credential: {\"keyId\": \"<id>\"}.")
		return
	}
	app, ok := d.ownedApplication(w, r, caller)
	if !ok {
		return
	}
	err := d.st.Update(r.Context(), func(tx *store.Tx) error {
		secrets, err := directorydb.Secrets(tx, app.ObjectID)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.EqualFold(s.KeyID, body.KeyID) {
				return directorydb.DeleteSecrets(tx, app.ObjectID, s.KeyID)
			}
		}
		return notFound("no password credential with keyId '%s' on application '%s'", body.KeyID, app.ObjectID)
	})
	if err != nil {
		graphErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Directory) createServicePrincipal(w http.ResponseWriter, r *http.Request, caller Principal) {
	createObject(d, w, r, func(tx *store.Tx, body struct {
		AppID string `json:"appId"`
	}) (Principal, error) {
		return d.CreateServicePrincipal(tx, body.AppID, caller.ObjectID)
	})
}

func (d *Directory) createGroup(w http.ResponseWriter, r *http.Request, caller Principal) {
	createObject(d, w, r, func(tx *store.Tx, body struct {
		DisplayName  string `json:"displayName"`
		MailNickname string `json:"mailNickname"`
	}) (Principal, error) {
		return d.CreateGroup(tx, body.DisplayName, body.MailNickname, caller.ObjectID)
	})
}

func (d *Directory) groupForChange(ctx context.Context, id string, caller Principal) (Principal, error) {
	g, err := d.find(ctx, id, KindGroup)
	if err != nil {
		return g, err
	}
	if !caller.IsGlobalAdmin() && !strings.EqualFold(g.OwnerID, caller.ObjectID) {
		return g, errdefs.ErrPermissionDenied
	}
	return g, nil
}

func (d *Directory) listMembers(w http.ResponseWriter, r *http.Request, _ Principal) {
	g, err := d.find(r.Context(), r.PathValue("id"), KindGroup)
	if err != nil {
		graphErr(w, err)
		return
	}
	ms, err := d.Members(r.Context(), g.ObjectID)
	if err != nil {
		graphErr(w, err)
		return
	}
	out := []map[string]any{}
	for _, m := range ms {
		p, err := d.Get(r.Context(), m.MemberID)
		if err != nil {
			continue
		}
		o := d.graphObject(r.Context(), p)
		o["addedDateTime"] = m.AddedAt.Format(time.RFC3339)
		o["effectiveDateTime"] = m.EffectiveAt.Format(time.RFC3339)
		out = append(out, o)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"value": out})
}

func (d *Directory) addMember(w http.ResponseWriter, r *http.Request, caller Principal) {
	g, err := d.groupForChange(r.Context(), r.PathValue("id"), caller)
	if err != nil {
		graphErr(w, err)
		return
	}
	var body struct {
		Ref string `json:"@odata.id"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	if body.Ref == "" {
		graphError(w, http.StatusBadRequest, "BadRequest", "The request body must be {\"@odata.id\": \"https://graph.microsoft.com/v1.0/directoryObjects/<id>\"}.")
		return
	}
	member := body.Ref[strings.LastIndex(body.Ref, "/")+1:]
	if _, err := d.AddMember(r.Context(), g.ObjectID, member); err != nil {
		graphErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Directory) removeMember(w http.ResponseWriter, r *http.Request, caller Principal) {
	g, err := d.groupForChange(r.Context(), r.PathValue("id"), caller)
	if err != nil {
		graphErr(w, err)
		return
	}
	if err := d.RemoveMember(r.Context(), g.ObjectID, r.PathValue("member")); err != nil {
		graphErr(w, notFound("'%s' is not a member of group '%s'", r.PathValue("member"), g.DisplayName))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Directory) getByIDs(w http.ResponseWriter, r *http.Request, _ Principal) {
	var body struct {
		IDs []string `json:"ids"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	var out []Principal
	for _, id := range body.IDs {
		if p, err := d.Get(r.Context(), id); err == nil {
			out = append(out, p)
		}
	}
	d.writeList(w, r, out)
}

func (d *Directory) checkMemberGroups(w http.ResponseWriter, r *http.Request, _ Principal) {
	var body struct {
		GroupIDs []string `json:"groupIds"`
	}
	if !decodeBody(w, r, &body, true) {
		return
	}
	p, err := d.find(r.Context(), r.PathValue("id"))
	if err != nil {
		graphErr(w, err)
		return
	}
	out := []string{}
	for _, g := range body.GroupIDs {
		if d.IsMember(p.ObjectID, g) {
			out = append(out, g)
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"value": out})
}
