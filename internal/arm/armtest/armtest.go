// Package armtest assembles drydock's real ARM front door for unit tests
// of the router and its providers: a store on a temporary directory, the
// directory with a fresh signing key, the RBAC engine, a Router and the
// Kit providers are given, as internal/server wires them. Tests register
// the providers they test on it, sign users in with real tokens, grant
// them roles, and send requests through Router.ServeHTTP.
package armtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/access"
	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// BaseURL is the public URL the environment's server pretends to have.
const BaseURL = "https://drydock.test"

// Env is one assembled front door.
type Env struct {
	Store  *store.Store
	Dir    *directory.Directory
	Engine *authz.Engine
	RBAC   *arm.RBAC
	Router *arm.Router
	Kit    *arm.Kit
	// Access owns the role assignments (the kit deletes a scope's
	// through it).
	Access *access.Service
	// Sub is a subscription that exists.
	Sub string
}

// New assembles a front door on a temporary directory; it is closed when
// the test ends.
func New(t testing.TB) *Env {
	t.Helper()
	st := storetest.Open(t)
	signer, err := tokens.LoadOrCreate(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := directory.New(ctx, st, signer, directory.Config{TenantID: uuid.NewString(), BaseURL: BaseURL, Domain: "drydock.test"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &Env{Store: st, Dir: d, Engine: authz.NewEngine(authz.BuiltInRoles()), Sub: uuid.NewString()}
	e.RBAC = arm.NewRBAC(e.Engine, d)
	e.Router = arm.NewRouter(st, d, BaseURL, log)
	if e.Access, err = access.New(ctx, st, e.Engine, e.RBAC, d); err != nil {
		t.Fatal(err)
	}
	e.Kit = &arm.Kit{Store: st, Auth: e.RBAC, Ops: e.Router.Ops, Scopes: arm.NewScopes(e.Access)}
	t.Cleanup(e.Router.Ops.Wait)
	if err := st.Update(ctx, func(tx *store.Tx) error {
		return tx.CreateSubscription(store.Subscription{ID: e.Sub, DisplayName: "test", TenantID: d.TenantID(), State: "Enabled"})
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// User creates a user and returns its object ID and an ARM access token.
func (e *Env) User(t testing.TB, alias string) (objectID, token string) {
	t.Helper()
	return e.user(t, alias, nil)
}

// Admin creates a Global Administrator of the directory, as User does.
func (e *Env) Admin(t testing.TB, alias string) (objectID, token string) {
	t.Helper()
	return e.user(t, alias, []string{directory.GlobalAdministrator})
}

func (e *Env) user(t testing.TB, alias string, roles []string) (objectID, token string) {
	t.Helper()
	var p directory.Principal
	if err := e.Store.Update(context.Background(), func(tx *store.Tx) (err error) {
		p, err = e.Dir.CreateUser(context.Background(), tx, alias+"@drydock.test", alias, "password-of-"+alias, roles)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tok, err := e.Dir.IssueAccessToken(p, directory.AudienceARM)
	if err != nil {
		t.Fatal(err)
	}
	return p.ObjectID, tok.AccessToken
}

// Grant assigns the role with roleGUID to principalID at scope: in the
// store, then in the engine, as access does.
func (e *Env) Grant(t testing.TB, principalID, roleGUID, scope string) {
	t.Helper()
	a := authz.Assignment{Name: uuid.NewString(), Scope: scope, RoleDefinitionID: roleGUID, PrincipalID: principalID, PrincipalType: "User"}
	if err := e.Store.Update(context.Background(), func(tx *store.Tx) error {
		return accessdb.CreateRoleAssignment(tx, accessdb.RoleAssignment{Name: a.Name, Scope: scope, RoleGUID: roleGUID, PrincipalID: principalID, Body: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
	e.Engine.Add(a)
}

// Group creates the resource group name in the subscription and returns
// its ID.
func (e *Env) Group(t testing.TB, name string) resourceid.ID {
	t.Helper()
	id := resourceid.ResourceGroupID(e.Sub, name)
	e.Put(t, arm.Resource{ID: id.String(), Name: name, Type: "Microsoft.Resources/resourceGroups", Location: "eastus"})
	return id
}

// Put stores res as a row, as a provider's PUT would.
func (e *Env) Put(t testing.TB, res arm.Resource) {
	t.Helper()
	id, err := resourceid.Parse(res.ID)
	if err != nil {
		t.Fatal(err)
	}
	row, err := res.Row(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.Update(context.Background(), func(tx *store.Tx) error { return tx.PutResource(row) }); err != nil {
		t.Fatal(err)
	}
}

// Response is what the router answered.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any // the JSON object of Raw, if it is one
}

// ErrorCode is error.code of an ARM error envelope, or "".
func (r Response) ErrorCode() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		c, _ := e["code"].(string)
		return c
	}
	return ""
}

// Do sends one request with token ("" for none; one with a space is the
// whole Authorization header) and body (nil for none; a string is sent as
// it is) through the router.
func (e *Env) Do(t testing.TB, token, method, target string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, BaseURL+target, rd)
	switch {
	case strings.Contains(token, " "):
		req.Header.Set("Authorization", token)
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.Router.ServeHTTP(w, req)
	res := Response{Status: w.Code, Header: w.Header(), Raw: w.Body.Bytes()}
	_ = json.Unmarshal(res.Raw, &res.Body)
	return res
}
