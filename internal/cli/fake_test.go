package cli

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// fakeAzure is an in-memory stand-in for the drydock server, just large
// enough to drive the CLI's commands end to end.
type fakeAzure struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string

	mu        sync.Mutex
	requests  []string
	resources map[string]map[string]any // lower-case id → resource
	subs      []map[string]any
	directory []map[string]any // users, groups, servicePrincipals, applications
	members   map[string][]string
	// principalNotFound makes the next n role assignment PUTs fail as if the
	// principal had not replicated yet.
	principalNotFound int
	seq               int
}

const (
	fakeTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	fakeSub      = "11111111-2222-3333-4444-555555555555"
	fakeUserID   = "aaaaaaaa-0000-0000-0000-000000000001"
	acrPullGUID  = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	readerGUID   = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	fakeUser     = "alice@contoso.com"
	fakePassword = "P@ssw0rd"
)

func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(`{"alg":"none"}`)) + "." + e.EncodeToString(b) + ".x"
}

func newFakeAzure(t *testing.T) *fakeAzure {
	f := &fakeAzure{t: t, resources: map[string]map[string]any{}, members: map[string][]string{}}
	f.subs = []map[string]any{{"id": "/subscriptions/" + fakeSub, "subscriptionId": fakeSub, "tenantId": fakeTenant, "displayName": "Dev", "state": "Enabled"}}
	f.directory = []map[string]any{
		{"@odata.type": "#microsoft.graph.user", "id": fakeUserID, "displayName": "Alice", "userPrincipalName": fakeUser},
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeAzure) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeAzure) newID() string {
	f.seq++
	return fmt.Sprintf("00000000-0000-0000-0000-%012d", f.seq)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func (f *fakeAzure) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	p := r.URL.Path
	lp := strings.ToLower(p)
	if strings.HasSuffix(lp, "/oauth2/v2.0/token") {
		f.token(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	switch {
	case lp == "/metadata/endpoints":
		reply(w, 200, []any{map[string]any{"name": "drydock", "resourceManager": f.srv.URL + "/",
			"authentication": map[string]any{"loginEndpoint": f.srv.URL + "/adfs", "audiences": []any{"https://management.core.windows.net/"}},
			"graph":          f.srv.URL + "/graph/", "microsoftGraphResourceId": f.srv.URL + "/graph/", "suffixes": map[string]any{"acrLoginServer": "azurecr.localhost"},
			"drydock": map[string]any{"caFile": "/tmp/ca.pem"}}})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		armError(w, 401, "AuthenticationFailed", "no token")
		return
	}
	if strings.HasPrefix(lp, "/v1.0/") {
		f.graph(w, r, strings.TrimPrefix(p, "/v1.0"), in)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	f.arm(w, r, p, in)
}

func (f *fakeAzure) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	switch r.PostForm.Get("grant_type") {
	case "password":
		if r.PostForm.Get("username") != fakeUser || r.PostForm.Get("password") != fakePassword {
			reply(w, 400, map[string]any{"error": "invalid_grant", "error_description": "AADSTS50126: Error validating credentials due to invalid username or password."})
			return
		}
	case "client_credentials":
		if r.PostForm.Get("client_secret") != "sp-secret" {
			reply(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
			return
		}
	case "refresh_token":
		if r.PostForm.Get("refresh_token") != "rt" {
			reply(w, 400, map[string]any{"error": "invalid_grant", "error_description": "AADSTS700082: The refresh token has expired."})
			return
		}
	}
	tok := fakeJWT(map[string]any{"tid": fakeTenant, "oid": fakeUserID, "upn": fakeUser, "scp": r.PostForm.Get("scope")})
	reply(w, 200, map[string]any{"token_type": "Bearer", "access_token": tok, "expires_in": 3600, "refresh_token": "rt"})
}

// segs splits a path, dropping the leading slash.
func segs(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

var (
	eqFilter  = regexp.MustCompile(`^(\w+) eq '(.*)'$`)
	anyFilter = regexp.MustCompile(`^servicePrincipalNames/any\(c:c eq '(.*)'\)$`)
	swFilter  = regexp.MustCompile(`^startswith\(displayName,'(.*)'\)$`)
)

func matches(obj map[string]any, filter string) bool {
	if filter == "" {
		return true
	}
	if m := eqFilter.FindStringSubmatch(filter); m != nil {
		v, _ := obj[m[1]].(string)
		return strings.EqualFold(v, m[2])
	}
	if m := anyFilter.FindStringSubmatch(filter); m != nil {
		names, _ := obj["servicePrincipalNames"].([]any)
		for _, n := range names {
			if s, _ := n.(string); strings.EqualFold(s, m[1]) {
				return true
			}
		}
		return false
	}
	if m := swFilter.FindStringSubmatch(filter); m != nil {
		v, _ := obj["displayName"].(string)
		return strings.HasPrefix(strings.ToLower(v), strings.ToLower(m[1]))
	}
	return false
}

func odataType(kind string) string { return "#microsoft.graph." + kind }

func (f *fakeAzure) graph(w http.ResponseWriter, r *http.Request, p string, in map[string]any) {
	s := segs(p)
	kinds := map[string]string{"users": "user", "groups": "group", "servicePrincipals": "servicePrincipal", "applications": "application"}
	find := func(id string) map[string]any {
		for _, o := range f.directory {
			if strings.EqualFold(o["id"].(string), id) || strings.EqualFold(fmt.Sprint(o["userPrincipalName"]), id) {
				return o
			}
		}
		return nil
	}
	notFound := func(id string) {
		armError(w, 404, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
	}
	switch {
	case r.Method == "GET" && p == "/me":
		reply(w, 200, find(fakeUserID))
	case r.Method == "GET" && len(s) == 1 && kinds[s[0]] != "":
		out := []any{}
		for _, o := range f.directory {
			if o["@odata.type"] == odataType(kinds[s[0]]) && matches(o, r.URL.Query().Get("$filter")) {
				out = append(out, o)
			}
		}
		reply(w, 200, map[string]any{"value": out})
	case r.Method == "POST" && len(s) == 1 && kinds[s[0]] != "":
		o := map[string]any{"@odata.type": odataType(kinds[s[0]]), "id": f.newID()}
		for k, v := range in {
			if k != "passwordProfile" {
				o[k] = v
			}
		}
		switch s[0] {
		case "applications":
			o["appId"] = f.newID()
		case "servicePrincipals":
			o["servicePrincipalNames"] = []any{in["appId"]}
			o["appOwnerOrganizationId"] = fakeTenant
			for _, app := range f.directory {
				if app["appId"] == in["appId"] && app["@odata.type"] == odataType("application") {
					o["displayName"] = app["displayName"]
				}
			}
		}
		f.directory = append(f.directory, o)
		reply(w, 201, o)
	case len(s) == 2 && kinds[s[0]] != "":
		o := find(s[1])
		if o == nil || o["@odata.type"] != odataType(kinds[s[0]]) {
			notFound(s[1])
			return
		}
		if r.Method == "DELETE" {
			for i, x := range f.directory {
				if x["id"] == o["id"] {
					f.directory = append(f.directory[:i], f.directory[i+1:]...)
					break
				}
			}
			reply(w, 204, nil)
			return
		}
		reply(w, 200, o)
	case r.Method == "POST" && len(s) == 3 && s[0] == "applications" && s[2] == "addPassword":
		reply(w, 200, map[string]any{"secretText": "sp-secret", "keyId": f.newID(), "hint": "sp-"})
	case len(s) == 4 && s[0] == "groups" && s[2] == "members" && s[3] == "$ref" && r.Method == "POST":
		ref, _ := in["@odata.id"].(string)
		f.members[s[1]] = append(f.members[s[1]], ref[strings.LastIndex(ref, "/")+1:])
		reply(w, 204, nil)
	case len(s) == 5 && s[0] == "groups" && s[2] == "members" && r.Method == "DELETE":
		ms := f.members[s[1]]
		for i, m := range ms {
			if m == s[3] {
				f.members[s[1]] = append(ms[:i], ms[i+1:]...)
			}
		}
		reply(w, 204, nil)
	case len(s) == 3 && s[0] == "groups" && s[2] == "members":
		out := []any{}
		for _, m := range f.members[s[1]] {
			o := find(m)
			out = append(out, map[string]any{"@odata.type": o["@odata.type"], "id": m, "displayName": o["displayName"], "addedDateTime": "2025-01-01T00:00:00Z", "effectiveDateTime": "2025-01-01T00:00:00Z"})
		}
		reply(w, 200, map[string]any{"value": out})
	case p == "/directoryObjects/getByIds":
		out := []any{}
		ids, _ := in["ids"].([]any)
		for _, id := range ids {
			if o := find(id.(string)); o != nil && o["id"] == id {
				out = append(out, o)
			}
		}
		reply(w, 200, map[string]any{"value": out})
	case len(s) == 3 && s[0] == "directoryObjects" && s[2] == "checkMemberGroups":
		out := []any{}
		gids, _ := in["groupIds"].([]any)
		for _, g := range gids {
			for _, m := range f.members[g.(string)] {
				if m == s[1] {
					out = append(out, g)
				}
			}
		}
		reply(w, 200, map[string]any{"value": out})
	default:
		armError(w, 404, "NotFound", "no route "+r.Method+" "+p)
	}
}

func (f *fakeAzure) arm(w http.ResponseWriter, r *http.Request, p string, in map[string]any) {
	lp := strings.ToLower(strings.TrimRight(p, "/"))
	s := segs(p)
	switch {
	case r.Method == "GET" && lp == "/subscriptions":
		reply(w, 200, map[string]any{"value": f.subs})
		return
	case r.Method == "GET" && len(s) == 2 && s[0] == "subscriptions":
		for _, sub := range f.subs {
			if strings.EqualFold(sub["subscriptionId"].(string), s[1]) {
				reply(w, 200, sub)
				return
			}
		}
		armError(w, 404, "SubscriptionNotFound", "The subscription '"+s[1]+"' could not be found.")
		return
	case r.Method == "PUT" && strings.HasPrefix(lp, "/providers/microsoft.subscription/aliases/"):
		id := "99999999-2222-3333-4444-555555555555"
		props, _ := in["properties"].(map[string]any)
		f.subs = append(f.subs, map[string]any{"id": "/subscriptions/" + id, "subscriptionId": id, "tenantId": fakeTenant, "displayName": props["displayName"], "state": "Enabled"})
		reply(w, 200, map[string]any{"name": s[len(s)-1], "properties": map[string]any{"subscriptionId": id, "provisioningState": "Succeeded"}})
		return
	case strings.HasPrefix(lp, "/operations/"):
		reply(w, 200, map[string]any{"status": "Succeeded"})
		return
	case strings.HasSuffix(lp, "/providers/microsoft.authorization/roledefinitions"):
		f.roleDefinitions(w, r, p)
		return
	case strings.HasSuffix(lp, "/providers/microsoft.authorization/explainaccess"):
		reply(w, 200, map[string]any{"allowed": true, "reason": "granted by an assignment", "action": in["action"], "dataAction": in["dataAction"],
			"scope": strings.TrimSuffix(p, "/providers/Microsoft.Authorization/explainAccess"), "principalId": in["principalId"], "principalName": "Alice",
			"granted": []any{map[string]any{"roleAssignmentId": "/x/ra1", "roleDefinitionName": "AcrPull", "scope": "/subscriptions/" + fakeSub, "principalId": in["principalId"]}},
			"pending": []any{map[string]any{"roleAssignmentId": "/x/ra2", "roleDefinitionName": "Reader", "scope": "/subscriptions/" + fakeSub, "viaGroup": "devs", "effectiveAt": "2030-01-01T00:00:00Z"}}})
		return
	case strings.HasSuffix(lp, "/providers/microsoft.authorization/roleassignments"):
		f.listAssignments(w, r, p)
		return
	case strings.HasSuffix(lp, "/checknameavailability"):
		name, _ := in["name"].(string)
		if _, taken := f.byName("registries", name); taken {
			reply(w, 200, map[string]any{"nameAvailable": false, "reason": "AlreadyExists", "message": "The registry " + name + " is already in use."})
			return
		}
		reply(w, 200, map[string]any{"nameAvailable": true})
		return
	case r.Method == "POST" && strings.HasSuffix(lp, "/listcredentials"):
		reply(w, 200, map[string]any{"username": s[len(s)-2], "passwords": []any{map[string]any{"name": "password", "value": "p1"}, map[string]any{"name": "password2", "value": "p2"}}})
		return
	case r.Method == "POST" && strings.HasSuffix(lp, "/regeneratecredential"):
		reply(w, 200, map[string]any{"username": s[len(s)-2], "passwords": []any{map[string]any{"name": "password", "value": "new-" + fmt.Sprint(in["name"])}, map[string]any{"name": "password2", "value": "p2"}}})
		return
	case r.Method == "POST" && strings.HasSuffix(lp, "/issuehostcredential"):
		reply(w, 200, map[string]any{"hostCredential": "hc-secret", "identityEndpoint": f.srv.URL + "/metadata/identity/oauth2/token"})
		return
	}
	// Collections: /subscriptions/{s}/resourcegroups and
	// [/subscriptions/{s}[/resourceGroups/{g}]]/providers/{ns}/{type}.
	if r.Method == "GET" && (len(s)%2 == 1 || strings.HasSuffix(lp, "/resourcegroups")) {
		out := []any{}
		keys := make([]string, 0, len(f.resources))
		for k := range f.resources {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			res := f.resources[k]
			if strings.HasSuffix(lp, "/resourcegroups") {
				if k[:strings.LastIndex(k, "/")] == lp {
					out = append(out, res)
				}
				continue
			}
			i := strings.Index(lp, "/providers/")
			container, typ := lp[:i], lp[i+len("/providers/"):]
			if strings.EqualFold(fmt.Sprint(res["type"]), typ) && strings.HasPrefix(k, container+"/") {
				out = append(out, res)
			}
		}
		reply(w, 200, map[string]any{"value": out})
		return
	}
	key := lp
	switch r.Method {
	case "GET", "HEAD":
		res, ok := f.resources[key]
		if !ok {
			if len(s) == 4 {
				armError(w, 404, "ResourceGroupNotFound", "Resource group '"+s[3]+"' could not be found.")
				return
			}
			armError(w, 404, "ResourceNotFound", "The Resource '"+s[len(s)-1]+"' was not found.")
			return
		}
		if r.Method == "HEAD" {
			w.WriteHeader(204)
			return
		}
		reply(w, 200, res)
	case "DELETE":
		if _, ok := f.resources[key]; !ok {
			reply(w, 204, nil)
			return
		}
		delete(f.resources, key)
		if k := strings.ToLower(key); strings.Contains(k, "/microsoft.managedidentity/") || strings.Contains(k, "/microsoft.authorization/") {
			// As drydock (and Azure) answer: not a long-running operation.
			reply(w, 200, nil)
			return
		}
		for k := range f.resources {
			if strings.HasPrefix(k, key+"/") {
				delete(f.resources, k)
			}
		}
		w.Header().Set("Location", f.srv.URL+"/operations/delete?api-version=2022-09-01")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(202)
	case "PUT", "PATCH":
		f.put(w, r, p, in)
	default:
		armError(w, 405, "MethodNotAllowed", r.Method)
	}
}

func (f *fakeAzure) byName(typ, name string) (map[string]any, bool) {
	for _, res := range f.resources {
		if strings.HasSuffix(strings.ToLower(fmt.Sprint(res["type"])), "/"+strings.ToLower(typ)) && strings.EqualFold(fmt.Sprint(res["name"]), name) {
			return res, true
		}
	}
	return nil, false
}

func (f *fakeAzure) put(w http.ResponseWriter, r *http.Request, p string, in map[string]any) {
	s := segs(p)
	key := strings.ToLower(p)
	if strings.Contains(key, "/providers/microsoft.authorization/roleassignments/") {
		f.putAssignment(w, p, in)
		return
	}
	if len(s) >= 4 && len(s) != 4 {
		if _, ok := f.resources[strings.ToLower("/"+strings.Join(s[:4], "/"))]; !ok {
			armError(w, 404, "ResourceGroupNotFound", "Resource group '"+s[3]+"' could not be found.")
			return
		}
	}
	old, exists := f.resources[key]
	res := map[string]any{"id": p, "name": s[len(s)-1]}
	if exists {
		for k, v := range old {
			res[k] = v
		}
	}
	props, _ := res["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	for k, v := range in {
		if k == "properties" {
			for pk, pv := range v.(map[string]any) {
				props[pk] = pv
			}
			continue
		}
		res[k] = v
	}
	res["properties"] = props
	props["provisioningState"] = "Succeeded"
	async := false
	switch {
	case len(s) == 4:
		res["type"] = "Microsoft.Resources/resourceGroups"
	default:
		res["type"] = s[5] + "/" + s[6]
		switch strings.ToLower(s[6]) {
		case "registries":
			sku, _ := res["sku"].(map[string]any)
			res["sku"] = map[string]any{"name": sku["name"], "tier": sku["name"]}
			props["loginServer"] = strings.ToLower(s[7]) + ".azurecr.localhost"
			props["creationDate"] = "2025-01-01T00:00:00Z"
			async = !exists
		case "userassignedidentities":
			props["principalId"] = "bbbbbbbb-0000-0000-0000-00000000000" + fmt.Sprint(len(f.resources)%10)
			props["clientId"] = "cccccccc-0000-0000-0000-000000000001"
			props["tenantId"] = fakeTenant
			f.directory = append(f.directory, map[string]any{"@odata.type": "#microsoft.graph.servicePrincipal", "id": props["principalId"], "displayName": s[7],
				"servicePrincipalType": "ManagedIdentity", "appId": props["clientId"], "servicePrincipalNames": []any{props["clientId"], p}})
		case "virtualmachines":
			if id, ok := res["identity"].(map[string]any); ok {
				ua, _ := id["userAssignedIdentities"].(map[string]any)
				for k := range ua {
					ua[k] = map[string]any{"principalId": "p-" + k[strings.LastIndex(k, "/")+1:], "clientId": "c"}
				}
			}
		}
	}
	f.resources[key] = res
	if async {
		props["provisioningState"] = "Creating"
		w.Header().Set("Azure-AsyncOperation", f.srv.URL+"/operations/create?api-version=2023-07-01")
		w.Header().Set("Retry-After", "0")
		reply(w, 201, res)
		cp := props
		defer func() { cp["provisioningState"] = "Succeeded" }()
		return
	}
	status := 201
	if exists {
		status = 200
	}
	reply(w, status, res)
}

func (f *fakeAzure) roleDefinitions(w http.ResponseWriter, r *http.Request, p string) {
	scope := strings.TrimSuffix(p, "/providers/Microsoft.Authorization/roleDefinitions")
	sub := "/subscriptions/" + fakeSub
	defs := []any{}
	for _, d := range []struct{ guid, name string }{{acrPullGUID, "AcrPull"}, {readerGUID, "Reader"}} {
		def := map[string]any{"id": sub + "/providers/Microsoft.Authorization/roleDefinitions/" + d.guid, "name": d.guid, "type": "Microsoft.Authorization/roleDefinitions",
			"properties": map[string]any{"roleName": d.name, "type": "BuiltInRole", "description": d.name + " role", "assignableScopes": []any{"/"},
				"permissions": []any{map[string]any{"actions": []any{}, "notActions": []any{}, "dataActions": []any{}, "notDataActions": []any{}}}}}
		if m := eqFilter.FindStringSubmatch(r.URL.Query().Get("$filter")); m != nil && !strings.EqualFold(m[2], d.name) {
			continue
		}
		defs = append(defs, def)
	}
	_ = scope
	reply(w, 200, map[string]any{"value": defs})
}

func (f *fakeAzure) putAssignment(w http.ResponseWriter, p string, in map[string]any) {
	if f.principalNotFound > 0 {
		f.principalNotFound--
		armError(w, 400, "PrincipalNotFound", "Principal does not exist in the directory.")
		return
	}
	props := in["properties"].(map[string]any)
	i := strings.Index(strings.ToLower(p), "/providers/microsoft.authorization/roleassignments/")
	scope := p[:i]
	if scope == "" {
		scope = "/"
	}
	props["scope"] = scope
	props["condition"] = nil
	props["conditionVersion"] = nil
	props["createdOn"] = "2025-01-01T00:00:00Z"
	ra := map[string]any{"id": p, "name": p[strings.LastIndex(p, "/")+1:], "type": "Microsoft.Authorization/roleAssignments", "properties": props}
	f.resources[strings.ToLower(p)] = ra
	reply(w, 201, ra)
}

func (f *fakeAzure) listAssignments(w http.ResponseWriter, r *http.Request, p string) {
	scope := strings.ToLower(strings.TrimSuffix(p, "/providers/Microsoft.Authorization/roleAssignments"))
	filter := r.URL.Query().Get("$filter")
	out := []any{}
	keys := make([]string, 0)
	for k, res := range f.resources {
		if res["type"] == "Microsoft.Authorization/roleAssignments" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		ra := f.resources[k]
		props := ra["properties"].(map[string]any)
		raScope := strings.ToLower(props["scope"].(string))
		within := strings.HasPrefix(raScope+"/", scope+"/") || strings.HasPrefix(scope+"/", raScope+"/")
		if strings.Contains(filter, "atScope()") {
			within = strings.HasPrefix(scope+"/", raScope+"/") || raScope == "/"
		}
		if m := regexp.MustCompile(`principalId eq '(.*)'`).FindStringSubmatch(filter); m != nil && !strings.EqualFold(props["principalId"].(string), m[1]) {
			continue
		}
		if within {
			out = append(out, ra)
		}
	}
	reply(w, 200, map[string]any{"value": out})
}
