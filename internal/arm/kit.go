package arm

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// Store is what the front door and providers need of the metadata store:
// its transactions (*store.Store).
type Store interface {
	View(ctx context.Context, fn func(*store.Tx) error) error
	Update(ctx context.Context, fn func(*store.Tx) error) error
}

// Memberships resolves a principal's group memberships, each effective
// from its EffectiveAt, on the directory's clock.
type Memberships interface {
	Groups(principalID string) []authz.Membership
	Now() time.Time
}

// Principals is what the front door needs of the directory: it verifies
// bearer tokens for the ARM audience and resolves their principals.
type Principals interface {
	Memberships
	VerifyAccessToken(token, audience string) (*tokens.Claims, error)
	AcceptedAudiences(canonical string) []string
	Issuer() string
	Get(ctx context.Context, objectID string) (directory.Principal, error)
}

// Authorizer decides whether a principal may perform an action at a scope.
type Authorizer interface {
	// Authorize is nil when the caller may perform action at scope, and
	// ARM's AuthorizationFailed when not.
	Authorize(ctx context.Context, c Caller, action, scope string) error
	// Decide is the engine's whole decision (for linked scopes, data
	// actions and explanations).
	Decide(principalID, action string, data bool, scope string) authz.Decision
}

// RBAC is the Authorizer of drydock: the authz engine asked with the
// principal's effective group memberships.
type RBAC struct {
	engine  *authz.Engine
	members Memberships
}

// NewRBAC returns the Authorizer that asks engine, with group memberships
// from members.
func NewRBAC(engine *authz.Engine, members Memberships) *RBAC {
	return &RBAC{engine: engine, members: members}
}

// Authorize implements Authorizer.
func (a *RBAC) Authorize(ctx context.Context, c Caller, action, scope string) error {
	if !a.Decide(c.ObjectID, action, false, scope).Allowed {
		return AuthorizationFailed(c, action, scope)
	}
	return nil
}

// Decide implements Authorizer.
func (a *RBAC) Decide(principalID, action string, data bool, scope string) authz.Decision {
	return a.engine.Decide(authz.Request{
		PrincipalID: principalID,
		Groups:      a.members.Groups(principalID),
		Action:      action,
		DataAction:  data,
		Scope:       scope,
		Now:         a.members.Now(),
	})
}

// Routes is where providers register their handlers (the Router).
type Routes interface {
	Handle(method, typeKey string, h Handler)
}

// DeleteHook cleans up what a provider keeps beside a resource row. It
// returns the names of role assignments it removed (for Scopes.Deleted).
type DeleteHook func(tx *store.Tx, r store.Resource) (removedAssignments []string, err error)

// Scopes deletes scopes: every resource at or below one, running each
// type's delete hook, and every role assignment there; after the commit
// it drops the assignments from the authorization engine and runs the
// after-delete callbacks.
type Scopes struct {
	assignments Assignments
	hooks       map[string]DeleteHook
	after       []func(context.Context)
}

// Assignments is access's part in deleting a scope (*access.Service):
// role assignments are access's rows, so the scope deleter removes them
// through it, and access then drops them from the authorization engine.
type Assignments interface {
	// DeleteBelow deletes, inside tx, every role assignment at or below
	// scope and returns their names.
	DeleteBelow(tx *store.Tx, scope string) ([]string, error)
	// Forget drops assignments whose deletion committed from the
	// authorization engine.
	Forget(names ...string)
}

// NewScopes returns the scope deleter, which deletes role assignments
// through assignments.
func NewScopes(assignments Assignments) *Scopes {
	return &Scopes{assignments: assignments, hooks: map[string]DeleteHook{}}
}

// OnDelete registers the cleanup for resources of a type.
func (s *Scopes) OnDelete(typ string, h DeleteHook) { s.hooks[strings.ToLower(typ)] = h }

// AfterDelete registers a callback run after every committed Delete.
func (s *Scopes) AfterDelete(f func(ctx context.Context)) { s.after = append(s.after, f) }

// Delete deletes, inside tx, every resource at or below scope (running
// each type's delete hook) and every role assignment at or below it. It
// returns the names of the removed assignments, which the caller passes
// to Deleted after the commit.
func (s *Scopes) Delete(tx *store.Tx, scope resourceid.ID) ([]string, error) {
	rows, err := tx.ListResources(store.ResourceFilter{Subscription: scope.SubscriptionID, ResourceGroup: scope.ResourceGroup})
	if err != nil {
		return nil, err
	}
	// Children before parents: longer IDs first.
	var removed []string
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		if !resourceid.Within(scope.String(), r.ID) {
			continue
		}
		if h := s.hooks[strings.ToLower(r.Type)]; h != nil {
			names, err := h(tx, r)
			if err != nil {
				return nil, err
			}
			removed = append(removed, names...)
		}
		if err := tx.DeleteResource(r.ID); err != nil && !errdefs.IsNotFound(err) {
			return nil, err
		}
	}
	names, err := s.assignments.DeleteBelow(tx, scope.String())
	return append(removed, names...), err
}

// Deleted finishes a committed Delete: it drops the removed assignments
// from the authorization engine and runs the after-delete callbacks
// (e.g. name resolution for deleted registries).
func (s *Scopes) Deleted(ctx context.Context, removedAssignments []string) {
	s.assignments.Forget(removedAssignments...)
	for _, f := range s.after {
		f(ctx)
	}
}

// Kit is what a resource provider is given to serve its types: its
// store, the authorizer, long-running operations and scope deletion.
// internal/server assembles one and hands it to every provider.
type Kit struct {
	Store  Store
	Auth   Authorizer
	Ops    *Operations
	Scopes *Scopes
}

// Authorize asks whether the request's caller may perform action on the
// request's target.
func (k *Kit) Authorize(r *Request, action string) error {
	return k.Auth.Authorize(r.Context(), r.Caller, action, r.ID.String())
}

// Accept authorizes the request's caller for action on the target, then
// decodes the request body into body (see Decode): the start of every
// write.
func (k *Kit) Accept(r *Request, action string, body any) error {
	if err := k.Authorize(r, action); err != nil {
		return err
	}
	return Decode(r, body)
}

// CanRead reports whether the caller may read the resource id, whose
// actions typ prefixes (the read filter of lists).
func (k *Kit) CanRead(c Caller, typ, id string) bool {
	return k.Auth.Decide(c.ObjectID, typ+"/read", false, id).Allowed
}

// Row reads one stored resource; a missing one is errdefs.ErrNotFound.
func (k *Kit) Row(ctx context.Context, id string) (store.Resource, error) {
	row, err := store.Read(ctx, k.Store, func(tx *store.Tx) (store.Resource, error) {
		return tx.GetResource(id)
	})
	return row, err
}

// Tracked declares a tracked resource type for the kit's generic
// handlers: read, list (at subscription and resource group scope, through
// the read filter) and delete (with its scope: child resources, the
// type's delete hook, role assignments below it).
type Tracked struct {
	// Type is the resource type, "Microsoft.ContainerRegistry/registries".
	Type string
	// Actions prefixes the RBAC actions (<Actions>/read, /delete); Type
	// when empty.
	Actions string
	// View is what GET and list answer for a stored row; the stored
	// Resource when nil.
	View func(row store.Resource) (any, error)
	// Missing is the error of a GET of an absent resource; ARM's
	// ResourceNotFound when nil.
	Missing func(id resourceid.ID) error
	// DeleteMissing makes the DELETE of an absent resource answer Missing
	// rather than 204.
	DeleteMissing bool
	// AsyncDelete deletes as a long-running operation (202 and polling);
	// BeforeDelete, if set, runs in it first, outside the transaction.
	AsyncDelete  bool
	BeforeDelete func(ctx context.Context, id resourceid.ID)
	// OnDelete cleans up what the provider keeps beside a row, whenever a
	// resource of the type is deleted (by itself or with its scope).
	OnDelete DeleteHook
}

func (t Tracked) prefix() string {
	if t.Actions != "" {
		return t.Actions
	}
	return t.Type
}

func (t Tracked) action(verb string) string { return t.prefix() + "/" + verb }

func (t Tracked) missing(id resourceid.ID) error {
	if t.Missing != nil {
		return t.Missing(id)
	}
	return NotFound(t.Type, id.Name(), id.ResourceGroup)
}

func (t Tracked) view(row store.Resource) (any, error) {
	if t.View != nil {
		return t.View(row)
	}
	return FromRow(row)
}

// Serve registers the generic GET, list and DELETE of t on routes, and
// t's delete hook.
func (k *Kit) Serve(routes Routes, t Tracked) {
	routes.Handle("GET", t.Type, k.Get(t))
	routes.Handle("GET", t.Type+"[]", k.List(t))
	routes.Handle("DELETE", t.Type, k.Delete(t))
	if t.OnDelete != nil {
		k.Scopes.OnDelete(t.Type, t.OnDelete)
	}
}

// Load reads a stored resource of t; a missing one is t's Missing error.
func (k *Kit) Load(ctx context.Context, t Tracked, id resourceid.ID) (store.Resource, error) {
	row, err := k.Row(ctx, id.String())
	if errdefs.IsNotFound(err) {
		return row, t.missing(id)
	}
	return row, err
}

// Get is the generic GET of one resource of t.
func (k *Kit) Get(t Tracked) Handler {
	return func(r *Request) (int, any, error) {
		if err := k.Authorize(r, t.action("read")); err != nil {
			return 0, nil, err
		}
		row, err := k.Load(r.Context(), t, r.ID)
		if err != nil {
			return 0, nil, err
		}
		v, err := t.view(row)
		return http.StatusOK, v, err
	}
}

// List is the generic list of t in a subscription or resource group: the
// resources the caller may read, as ARM's {"value": [...]}.
func (k *Kit) List(t Tracked) Handler {
	return func(r *Request) (int, any, error) {
		var out []any
		err := k.Store.View(r.Context(), func(tx *store.Tx) error {
			rows, err := tx.ListResources(store.ResourceFilter{Type: t.Type, Subscription: r.ID.SubscriptionID, ResourceGroup: r.ID.ResourceGroup})
			for _, row := range rows {
				if !k.CanRead(r.Caller, t.prefix(), row.ID) {
					continue
				}
				v, err := t.view(row)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			return err
		})
		return http.StatusOK, List(out), err
	}
}

// Delete is the generic DELETE of a resource of t with everything in its
// scope: 200 when deleted, 202 with polling for AsyncDelete, 204 when
// absent (t's Missing error for DeleteMissing).
func (k *Kit) Delete(t Tracked) Handler {
	return func(r *Request) (int, any, error) {
		if err := k.Authorize(r, t.action("delete")); err != nil {
			return 0, nil, err
		}
		if _, err := k.Load(r.Context(), t, r.ID); err != nil {
			if errdefs.IsNotFound(err) && !t.DeleteMissing {
				return NoContent()
			}
			return 0, nil, err
		}
		id := r.ID
		if !t.AsyncDelete {
			if err := k.DeleteScope(r.Context(), id); err != nil {
				return 0, nil, err
			}
			return http.StatusOK, nil, nil
		}
		if _, err := k.Ops.Start(r, func(ctx context.Context) (any, error) {
			if t.BeforeDelete != nil {
				t.BeforeDelete(ctx, id)
			}
			return nil, k.DeleteScope(ctx, id)
		}); err != nil {
			return 0, nil, err
		}
		return http.StatusAccepted, nil, nil
	}
}

// DeleteScope deletes scope with everything in it in one transaction and
// finishes the deletion after the commit (Scopes.Delete, Scopes.Deleted).
func (k *Kit) DeleteScope(ctx context.Context, scope resourceid.ID) error {
	var removed []string
	err := k.Store.Update(ctx, func(tx *store.Tx) (err error) {
		removed, err = k.Scopes.Delete(tx, scope)
		return err
	})
	if err == nil {
		k.Scopes.Deleted(ctx, removed)
	}
	return err
}
