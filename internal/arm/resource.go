package arm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

// Resource is the ARM envelope of a tracked resource.
type Resource struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location,omitempty"`
	Tags       map[string]string `json:"tags"`
	SKU        *SKU              `json:"sku,omitempty"`
	Identity   json.RawMessage   `json:"identity,omitempty"`
	ManagedBy  string            `json:"managedBy,omitempty"`
	Properties json.RawMessage   `json:"properties,omitempty"`
	SystemData *SystemData       `json:"systemData,omitempty"`
}

// SKU is a resource's pricing tier.
type SKU struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

// SystemData records who created and last changed a resource.
type SystemData struct {
	CreatedBy          string    `json:"createdBy"`
	CreatedByType      string    `json:"createdByType"`
	CreatedAt          time.Time `json:"createdAt"`
	LastModifiedBy     string    `json:"lastModifiedBy"`
	LastModifiedByType string    `json:"lastModifiedByType"`
	LastModifiedAt     time.Time `json:"lastModifiedAt"`
}

// Touch updates systemData for a write by c (creating it on first write).
func (res *Resource) Touch(c Caller) {
	now := time.Now().UTC()
	typ := "User"
	if c.PrincipalType != "User" {
		typ = "Application"
	}
	if res.SystemData == nil {
		res.SystemData = &SystemData{CreatedBy: c.Name, CreatedByType: typ, CreatedAt: now}
	}
	res.SystemData.LastModifiedBy, res.SystemData.LastModifiedByType, res.SystemData.LastModifiedAt = c.Name, typ, now
	if res.Tags == nil {
		res.Tags = map[string]string{}
	}
}

// Row converts the resource to its store row.
func (res *Resource) Row(id resourceid.ID) (store.Resource, error) {
	b, err := json.Marshal(res)
	return store.Resource{ID: id.String(), Type: id.Type(), Subscription: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Name: id.Name(), Body: b}, err
}

// FromRow decodes a stored resource body.
func FromRow(r store.Resource) (Resource, error) {
	var res Resource
	err := json.Unmarshal(r.Body, &res)
	return res, err
}

// NormalizeLocation lower-cases a location and removes spaces ("East US" → "eastus").
func NormalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(l), " ", ""))
}

var locationRE = regexp.MustCompile(`^[a-z0-9]{2,40}$`)

// CheckLocation validates a location, defaulting to def when empty.
func CheckLocation(l, def string) (string, error) {
	l = NormalizeLocation(l)
	if l == "" {
		l = def
	}
	if l == "" {
		return "", BadRequest("LocationRequired", "The location property is required for this definition.")
	}
	if !locationRE.MatchString(l) {
		return "", BadRequest("LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type. Locations are lower-case letters and digits, like 'eastus'.", l)
	}
	return l, nil
}

// DeleteHook cleans up what a provider keeps beside a resource row. It
// returns the names of role assignments it removed (for Deleted).
type DeleteHook func(tx *store.Tx, r store.Resource) (removedAssignments []string, err error)

// OnDelete registers the cleanup for resources of a type.
func (rt *Router) OnDelete(typ string, h DeleteHook) {
	if rt.hooks == nil {
		rt.hooks = map[string]DeleteHook{}
	}
	rt.hooks[strings.ToLower(typ)] = h
}

// DeleteScope deletes, inside tx, every resource at or below scope
// (running each type's delete hook) and every role assignment at or below
// it. It returns the names of the removed assignments, which the caller
// passes to Deleted after the commit.
func (rt *Router) DeleteScope(tx *store.Tx, scope resourceid.ID) ([]string, error) {
	f := store.ResourceFilter{Subscription: scope.SubscriptionID, ResourceGroup: scope.ResourceGroup}
	rows, err := tx.ListResources(f)
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
		if h := rt.hooks[strings.ToLower(r.Type)]; h != nil {
			names, err := h(tx, r)
			if err != nil {
				return nil, err
			}
			removed = append(removed, names...)
		}
		if err := tx.DeleteResource(r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	names, err := tx.DeleteRoleAssignmentsBelow(scope.String())
	return append(removed, names...), err
}

// Deleted finishes a committed DeleteScope: it drops the removed
// assignments from the authorization engine and runs the providers'
// after-delete callbacks (e.g. name resolution for deleted registries).
func (rt *Router) Deleted(ctx context.Context, removedAssignments []string) {
	for _, n := range removedAssignments {
		rt.engine.Remove(n)
	}
	for _, f := range rt.afterDelete {
		f(ctx)
	}
}

// AfterDelete registers a callback run after every committed DeleteScope.
func (rt *Router) AfterDelete(f func(ctx context.Context)) {
	rt.afterDelete = append(rt.afterDelete, f)
}

// Engine exposes the authorization engine to providers.
func (rt *Router) Engine() *authz.Engine { return rt.engine }

// Store exposes the metadata store to providers.
func (rt *Router) Store() *store.Store { return rt.st }

// CanRead reports whether the caller may read the resource (for filtering lists).
func (rt *Router) CanRead(c Caller, typ, id string) bool {
	return rt.Decide(c.ObjectID, typ+"/read", false, id).Allowed
}

// NoContent is a handler result for an absent body.
func NoContent() (int, any, error) { return http.StatusNoContent, nil, nil }

// List wraps items as ARM's {"value": [...]}.
func List[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"value": items}
}
