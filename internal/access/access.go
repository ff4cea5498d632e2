// Package access serves Microsoft.Authorization: role definitions, role
// assignments (persisted in the store and mirrored into the authz engine
// after each commit), and drydock's explainAccess, which tells why a
// principal may or may not perform an action at a scope.
package access

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/access/accessdb"
	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	provider           = "Microsoft.Authorization"
	assignmentsType    = "Microsoft.Authorization/roleAssignments"
	definitionsType    = "Microsoft.Authorization/roleDefinitions"
	actionAssignRead   = "Microsoft.Authorization/roleAssignments/read"
	actionAssignWrite  = "Microsoft.Authorization/roleAssignments/write"
	actionAssignDelete = "Microsoft.Authorization/roleAssignments/delete"
)

// Directory is what role assignments need of the directory: the tenant,
// principals and their group memberships.
type Directory interface {
	arm.Memberships
	TenantID() string
	Get(ctx context.Context, objectID string) (directory.Principal, error)
}

// Service owns role assignments: it keeps them in its store and mirrors
// them into the authorization engine, which it owns.
type Service struct {
	st     arm.Store
	engine *authz.Engine
	auth   arm.Authorizer
	dir    Directory
}

// New creates the service and loads every stored assignment into engine.
// auth decides the callers' own access (asking the same engine).
func New(ctx context.Context, st arm.Store, engine *authz.Engine, auth arm.Authorizer, dir Directory) (*Service, error) {
	s := &Service{st: st, engine: engine, auth: auth, dir: dir}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload replaces the engine's assignments with those stored: when
// another replica of the set changed them (see internal/replica).
//
// The rows are read one at a time and decoded into what the engine keeps
// only, with the strings that many assignments share (scopes, role GUIDs,
// principal types) held once. After a load of many, the load's garbage is
// handed back to the operating system at once rather than over minutes:
// without that, a server with 100,000 assignments kept about twice the
// memory the engine needs.
func (s *Service) Reload(ctx context.Context) error {
	var as []authz.Assignment
	in := interner{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return accessdb.EachRoleAssignment(tx, func(name string, body []byte) error {
			var a engineFields
			if err := json.Unmarshal(body, &a); err != nil {
				return fmt.Errorf("role assignment %s: %w", name, err)
			}
			as = append(as, authz.Assignment{
				Name: a.Name, Scope: in.get(a.Properties.Scope), RoleDefinitionID: in.get(roleGUID(a.Properties.RoleDefinitionID)),
				PrincipalID: a.Properties.PrincipalID, PrincipalType: in.get(a.Properties.PrincipalType), CreatedOn: a.Properties.CreatedOn,
			})
			return nil
		})
	})
	if err != nil {
		return err
	}
	s.engine.Load(as)
	if len(as) >= freeAfterLoading {
		as, in = nil, nil
		debug.FreeOSMemory()
	}
	return nil
}

// freeAfterLoading is the number of assignments from which Reload returns
// its garbage to the operating system (a full collection: a few
// milliseconds per 10,000 assignments, once per load).
const freeAfterLoading = 10000

// engineFields are the fields of a stored Assignment that the engine
// keeps; decoding only them allocates nothing for the rest.
type engineFields struct {
	Name       string `json:"name"`
	Properties struct {
		RoleDefinitionID string    `json:"roleDefinitionId"`
		PrincipalID      string    `json:"principalId"`
		PrincipalType    string    `json:"principalType"`
		Scope            string    `json:"scope"`
		CreatedOn        time.Time `json:"createdOn"`
	} `json:"properties"`
}

// interner returns one copy of each distinct string it is given.
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	s = strings.Clone(s) // not a substring of a larger string that would stay alive
	in[s] = s
	return s
}

// Register adds the provider's routes to the router.
func (s *Service) Register(rt arm.Routes) {
	rt.Handle("PUT", assignmentsType, s.put)
	rt.Handle("GET", assignmentsType, s.get)
	rt.Handle("DELETE", assignmentsType, s.delete)
	rt.Handle("GET", assignmentsType+"[]", s.list)
	rt.Handle("GET", definitionsType, s.getDefinition)
	rt.Handle("GET", definitionsType+"[]", s.listDefinitions)
	rt.Handle("POST", provider+"/explainAccess", s.explain)
}

// Assignment is the ARM representation of a role assignment.
type Assignment struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Properties Properties `json:"properties"`
}

// Properties of a role assignment.
type Properties struct {
	RoleDefinitionID string    `json:"roleDefinitionId"`
	PrincipalID      string    `json:"principalId"`
	PrincipalType    string    `json:"principalType"`
	Scope            string    `json:"scope"`
	Condition        *string   `json:"condition"`
	ConditionVersion *string   `json:"conditionVersion"`
	Description      *string   `json:"description"`
	CreatedOn        time.Time `json:"createdOn"`
	UpdatedOn        time.Time `json:"updatedOn"`
	CreatedBy        string    `json:"createdBy"`
	UpdatedBy        string    `json:"updatedBy"`
	DelegatedMIResID *string   `json:"delegatedManagedIdentityResourceId"`
}

func (a Assignment) engine() authz.Assignment {
	return authz.Assignment{
		Name: a.Name, Scope: a.Properties.Scope, RoleDefinitionID: roleGUID(a.Properties.RoleDefinitionID),
		PrincipalID: a.Properties.PrincipalID, PrincipalType: a.Properties.PrincipalType, CreatedOn: a.Properties.CreatedOn,
	}
}

func roleGUID(id string) string { return strings.ToLower(id[strings.LastIndex(id, "/")+1:]) }

// roleDefinitionID is the role's ID as seen from scope: subscription-level
// for scopes inside a subscription, tenant-level otherwise.
func roleDefinitionID(scope resourceid.ID, guid string) string {
	if scope.SubscriptionID != "" {
		return "/subscriptions/" + scope.SubscriptionID + authz.RoleDefinitionsPath + guid
	}
	return authz.RoleDefinitionsPath + guid
}

// scopeOf returns the scope an Authorization path is attached to.
func scopeOf(id resourceid.ID) resourceid.ID {
	if id.Scope != nil {
		return *id.Scope
	}
	return resourceid.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// NewAssignment describes an assignment to create.
type NewAssignment struct {
	Name          string // GUID
	Scope         resourceid.ID
	RoleGUID      string
	PrincipalID   string
	PrincipalType string // optional; checked against the directory
	Description   *string
	CreatedBy     string // object ID of the creator
}

// Create validates and stores an assignment inside tx, without checking the
// caller's permission (callers do that). After tx commits, pass the result
// to Commit.
func (s *Service) Create(tx *store.Tx, n NewAssignment) (Assignment, error) {
	if !guidRE.MatchString(n.Name) {
		return Assignment{}, arm.BadRequest("InvalidRoleAssignmentId", "The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", n.Name)
	}
	role, ok := s.engine.Role(n.RoleGUID)
	if !ok {
		return Assignment{}, arm.BadRequest("RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", n.RoleGUID)
	}
	p, err := directory.GetTx(tx, n.PrincipalID)
	if err != nil || p.Kind == directory.KindApplication {
		return Assignment{}, arm.BadRequest("PrincipalNotFound",
			"Principal %s does not exist in the directory %s. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
			strings.ReplaceAll(n.PrincipalID, "-", ""), s.dir.TenantID())
	}
	if n.PrincipalType != "" && !strings.EqualFold(n.PrincipalType, p.PrincipalType()) {
		return Assignment{}, arm.BadRequest("UnmatchedPrincipalType", "The PrincipalId '%s' has type '%s' , which is different from specified PrincipalType '%s'.",
			strings.ReplaceAll(p.ObjectID, "-", ""), p.PrincipalType(), n.PrincipalType)
	}
	if existing, ok := s.engine.Get(n.Name); ok {
		same := strings.EqualFold(existing.PrincipalID, p.ObjectID) && strings.EqualFold(existing.RoleDefinitionID, role.GUID) &&
			resourceid.Normalize(existing.Scope) == resourceid.Normalize(n.Scope.String())
		if !same {
			return Assignment{}, arm.BadRequest("RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
		}
	}
	now := time.Now().UTC()
	a := Assignment{
		ID:   resourceid.Extension(n.Scope, provider, "roleAssignments", strings.ToLower(n.Name)).String(),
		Name: strings.ToLower(n.Name), Type: assignmentsType,
		Properties: Properties{
			RoleDefinitionID: roleDefinitionID(n.Scope, role.GUID), PrincipalID: p.ObjectID, PrincipalType: p.PrincipalType(),
			Scope: n.Scope.String(), Description: n.Description, CreatedOn: now, UpdatedOn: now, CreatedBy: n.CreatedBy, UpdatedBy: n.CreatedBy,
		},
	}
	body, _ := json.Marshal(a)
	err = accessdb.CreateRoleAssignment(tx, accessdb.RoleAssignment{Name: a.Name, Scope: a.Properties.Scope, RoleGUID: role.GUID, PrincipalID: p.ObjectID, Body: body})
	if errdefs.IsAlreadyExists(err) {
		if _, ok := s.engine.Get(n.Name); ok {
			return s.stored(tx, n.Name)
		}
		return Assignment{}, arm.Errorf(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists.")
	}
	return a, err
}

func (s *Service) stored(tx *store.Tx, name string) (Assignment, error) {
	row, err := accessdb.GetRoleAssignment(tx, name)
	if err != nil {
		return Assignment{}, arm.Errorf(http.StatusNotFound, "RoleAssignmentNotFound", "The role assignment '%s' is not found.", name)
	}
	var a Assignment
	return a, json.Unmarshal(row.Body, &a)
}

// DeleteBelow deletes, inside tx, every role assignment at or below scope
// (a deleted resource's or resource group's) and returns their names, for
// Forget once tx committed. It is how other domains delete assignments
// (arm.Scopes).
func (s *Service) DeleteBelow(tx *store.Tx, scope string) ([]string, error) {
	return accessdb.DeleteRoleAssignmentsBelow(tx, scope)
}

// Forget drops assignments whose deletion committed from the
// authorization engine.
func (s *Service) Forget(names ...string) {
	for _, n := range names {
		s.engine.Remove(n)
	}
}

// Commit mirrors committed assignments into the authorization engine.
func (s *Service) Commit(as ...Assignment) {
	for _, a := range as {
		s.engine.Add(a.engine())
	}
}

// Assign creates an assignment in its own transaction and commits it: the
// path for server-side callers such as bootstrap and cluster attach.
func (s *Service) Assign(ctx context.Context, n NewAssignment) (Assignment, error) {
	var a Assignment
	err := s.st.Update(ctx, func(tx *store.Tx) (err error) {
		a, err = s.Create(tx, n)
		return err
	})
	if err == nil {
		s.Commit(a)
	}
	return a, err
}

func (s *Service) put(r *arm.Request) (int, any, error) {
	scope := scopeOf(r.ID)
	if err := s.auth.Authorize(r.Context(), r.Caller, actionAssignWrite, scope.String()); err != nil {
		return 0, nil, err
	}
	if err := s.checkScopeExists(r.Context(), scope); err != nil {
		return 0, nil, err
	}
	var body struct {
		Properties struct {
			RoleDefinitionID string  `json:"roleDefinitionId"`
			PrincipalID      string  `json:"principalId"`
			PrincipalType    string  `json:"principalType"`
			Description      *string `json:"description"`
		} `json:"properties"`
	}
	if err := arm.Decode(r, &body); err != nil {
		return 0, nil, err
	}
	p := body.Properties
	if p.RoleDefinitionID == "" || p.PrincipalID == "" {
		return 0, nil, arm.BadRequest("InvalidRequestContent", "The request content must set properties.roleDefinitionId and properties.principalId.")
	}
	_, existed := s.engine.Get(r.ID.Name())
	a, err := s.Assign(r.Context(), NewAssignment{
		Name: r.ID.Name(), Scope: scope, RoleGUID: roleGUID(p.RoleDefinitionID), PrincipalID: p.PrincipalID,
		PrincipalType: p.PrincipalType, Description: p.Description, CreatedBy: r.Caller.ObjectID,
	})
	if err != nil {
		return 0, nil, err
	}
	if existed {
		return http.StatusOK, a, nil
	}
	return http.StatusCreated, a, nil
}

// checkScopeExists rejects assignments on resources that do not exist.
func (s *Service) checkScopeExists(ctx context.Context, scope resourceid.ID) error {
	if !scope.IsResource() {
		return nil
	}
	return s.st.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetResource(scope.String()); err != nil {
			return arm.NotFound(scope.Type(), scope.Name(), scope.ResourceGroup)
		}
		return nil
	})
}

func (s *Service) lookup(r *arm.Request) (authz.Assignment, error) {
	a, ok := s.engine.Get(r.ID.Name())
	if !ok || resourceid.Normalize(a.Scope) != resourceid.Normalize(scopeOf(r.ID).String()) {
		return a, arm.Errorf(http.StatusNotFound, "RoleAssignmentNotFound", "The role assignment '%s' is not found.", r.ID.Name())
	}
	return a, nil
}

func (s *Service) get(r *arm.Request) (int, any, error) {
	if err := s.auth.Authorize(r.Context(), r.Caller, actionAssignRead, scopeOf(r.ID).String()); err != nil {
		return 0, nil, err
	}
	if _, err := s.lookup(r); err != nil {
		return 0, nil, err
	}
	a, err := store.Read(r.Context(), s.st, func(tx *store.Tx) (Assignment, error) {
		return s.stored(tx, r.ID.Name())
	})
	return http.StatusOK, a, err
}

func (s *Service) delete(r *arm.Request) (int, any, error) {
	if err := s.auth.Authorize(r.Context(), r.Caller, actionAssignDelete, scopeOf(r.ID).String()); err != nil {
		return 0, nil, err
	}
	if _, err := s.lookup(r); err != nil {
		return arm.NoContent()
	}
	var a Assignment
	err := s.st.Update(r.Context(), func(tx *store.Tx) (err error) {
		if a, err = s.stored(tx, r.ID.Name()); err != nil {
			return err
		}
		return accessdb.DeleteRoleAssignment(tx, r.ID.Name())
	})
	if err != nil {
		return 0, nil, err
	}
	s.engine.Remove(r.ID.Name())
	return http.StatusOK, a, nil
}

func (s *Service) list(r *arm.Request) (int, any, error) {
	scope := scopeOf(r.ID).String()
	if err := s.auth.Authorize(r.Context(), r.Caller, actionAssignRead, scope); err != nil {
		return 0, nil, err
	}
	f, err := parseListFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		return 0, nil, arm.BadRequest("InvalidFilterInQueryString", "%v", err)
	}
	principals := map[string]bool{}
	if f.principalID != "" {
		principals[f.principalID] = true
	}
	if f.assignedTo != "" {
		principals[f.assignedTo] = true
		for _, m := range s.dir.Groups(f.assignedTo) {
			principals[strings.ToLower(m.GroupID)] = true
		}
	}
	matches := s.engine.List(func(a authz.Assignment) bool {
		above := resourceid.Within(a.Scope, scope)
		if !above && (f.atScope || !resourceid.Within(scope, a.Scope)) {
			return false
		}
		return len(principals) == 0 || principals[strings.ToLower(a.PrincipalID)]
	})
	out := make([]Assignment, 0, len(matches))
	err = s.st.View(r.Context(), func(tx *store.Tx) error {
		for _, m := range matches {
			a, err := s.stored(tx, m.Name)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return http.StatusOK, arm.List(out), err
}

// Definition is the ARM representation of a role definition.
type Definition struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Type       string               `json:"type"`
	Properties DefinitionProperties `json:"properties"`
}

// DefinitionProperties are a role definition's properties.
type DefinitionProperties struct {
	RoleName         string             `json:"roleName"`
	Type             string             `json:"type"`
	Description      string             `json:"description"`
	AssignableScopes []string           `json:"assignableScopes"`
	Permissions      []authz.Permission `json:"permissions"`
	CreatedOn        *time.Time         `json:"createdOn"`
	UpdatedOn        *time.Time         `json:"updatedOn"`
	CreatedBy        *string            `json:"createdBy"`
	UpdatedBy        *string            `json:"updatedBy"`
}

func definition(scope resourceid.ID, r authz.RoleDefinition) Definition {
	return Definition{
		ID: roleDefinitionID(scope, r.GUID), Name: r.GUID, Type: definitionsType,
		Properties: DefinitionProperties{RoleName: r.Name, Type: r.RoleType, Description: r.Description, AssignableScopes: r.AssignableScopes, Permissions: r.Permissions},
	}
}

func (s *Service) getDefinition(r *arm.Request) (int, any, error) {
	role, ok := s.engine.Role(r.ID.Name())
	if !ok {
		return 0, nil, arm.Errorf(http.StatusNotFound, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", r.ID.Name())
	}
	return http.StatusOK, definition(scopeOf(r.ID), role), nil
}

func (s *Service) listDefinitions(r *arm.Request) (int, any, error) {
	f, err := parseRoleFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		return 0, nil, arm.BadRequest("InvalidFilterInQueryString", "%v", err)
	}
	scope := scopeOf(r.ID)
	var out []Definition
	for _, role := range s.engine.Roles() {
		if f.roleName != "" && !strings.EqualFold(role.Name, f.roleName) {
			continue
		}
		if f.roleType != "" && !strings.EqualFold(role.RoleType, f.roleType) {
			continue
		}
		out = append(out, definition(scope, role))
	}
	return http.StatusOK, arm.List(out), nil
}

// Explanation is explainAccess's answer.
type Explanation struct {
	PrincipalID   string      `json:"principalId"`
	PrincipalName string      `json:"principalName"`
	Action        string      `json:"action"`
	DataAction    bool        `json:"dataAction"`
	Scope         string      `json:"scope"`
	Allowed       bool        `json:"allowed"`
	Reason        string      `json:"reason"`
	Granted       []GrantInfo `json:"granted"`
	Pending       []GrantInfo `json:"pending"`
}

// GrantInfo names an assignment that decided (or will decide) the answer.
type GrantInfo struct {
	AssignmentID string     `json:"roleAssignmentId"`
	RoleName     string     `json:"roleDefinitionName"`
	Scope        string     `json:"scope"`
	PrincipalID  string     `json:"principalId"`
	ViaGroup     string     `json:"viaGroup,omitempty"`
	EffectiveAt  *time.Time `json:"effectiveAt,omitempty"`
}

func grantInfos(gs []authz.Grant) []GrantInfo {
	out := []GrantInfo{}
	for _, g := range gs {
		scope, _ := resourceid.Parse(g.Assignment.Scope)
		gi := GrantInfo{
			AssignmentID: resourceid.Extension(scope, provider, "roleAssignments", g.Assignment.Name).String(),
			RoleName:     g.Role.Name, Scope: g.Assignment.Scope, PrincipalID: g.Assignment.PrincipalID, ViaGroup: g.ViaGroup,
		}
		if !g.EffectiveAt.IsZero() {
			t := g.EffectiveAt.UTC()
			gi.EffectiveAt = &t
		}
		out = append(out, gi)
	}
	return out
}

func (s *Service) explain(r *arm.Request) (int, any, error) {
	var body struct {
		PrincipalID string `json:"principalId"`
		Action      string `json:"action"`
		DataAction  bool   `json:"dataAction"`
	}
	if err := arm.Decode(r, &body); err != nil {
		return 0, nil, err
	}
	if body.PrincipalID == "" || body.Action == "" {
		return 0, nil, arm.BadRequest("InvalidRequestContent", "The request content must set principalId and action.")
	}
	scope := scopeOf(r.ID).String()
	if !strings.EqualFold(body.PrincipalID, r.Caller.ObjectID) {
		if err := s.auth.Authorize(r.Context(), r.Caller, actionAssignRead, scope); err != nil {
			return 0, nil, err
		}
	}
	p, err := s.dir.Get(r.Context(), body.PrincipalID)
	if err != nil {
		return 0, nil, arm.BadRequest("PrincipalNotFound", "Principal %s does not exist in the directory %s.", body.PrincipalID, s.dir.TenantID())
	}
	d := s.auth.Decide(p.ObjectID, body.Action, body.DataAction, scope)
	return http.StatusOK, Explanation{
		PrincipalID: p.ObjectID, PrincipalName: p.Name(), Action: body.Action, DataAction: body.DataAction, Scope: scope,
		Allowed: d.Allowed, Reason: d.Reason, Granted: grantInfos(d.Granted), Pending: grantInfos(d.Pending),
	}, nil
}
