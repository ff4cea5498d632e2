// Package resources serves Microsoft.Resources and Microsoft.Subscription:
// subscriptions (listed by what the caller may see, created through
// aliases) and resource groups (deleted with everything in them as a
// long-running operation).
package resources

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/access"
	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/odata"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	groupType = "Microsoft.Resources/resourceGroups"
	// groupAction is the prefix of resource-group actions in role
	// definitions ("Microsoft.Resources/subscriptions/resourceGroups/read").
	groupAction = "Microsoft.Resources/subscriptions/resourceGroups"
)

// Directory is what subscriptions and resource groups need of the
// directory: the tenant, the caller's principal and its group memberships.
type Directory interface {
	arm.Memberships
	TenantID() string
	Domain() string
	Get(ctx context.Context, objectID string) (directory.Principal, error)
}

// Grants are the role assignments a principal holds (authz.Engine), which
// decide the subscriptions it sees.
type Grants interface {
	ForPrincipal(principalID string) []authz.Assignment
}

// Owners makes a new subscription's creator its Owner (access.Service).
type Owners interface {
	Create(tx *store.Tx, n access.NewAssignment) (access.Assignment, error)
	Commit(as ...access.Assignment)
}

// Provider serves subscriptions and resource groups.
type Provider struct {
	kit    *arm.Kit
	dir    Directory
	grants Grants
	owners Owners
}

// groups declares resource groups to the kit, which serves their read,
// list and delete (a long-running operation deleting everything in them).
var groups = arm.Tracked{
	Type: groupType, Actions: groupAction, View: viewGroupRow,
	Missing:       func(id resourceid.ID) error { return arm.ResourceGroupNotFound(id.ResourceGroup) },
	DeleteMissing: true, AsyncDelete: true,
}

// Register adds the provider's routes.
func Register(rt arm.Routes, kit *arm.Kit, dir Directory, grants Grants, owners Owners) *Provider {
	p := &Provider{kit: kit, dir: dir, grants: grants, owners: owners}
	rt.Handle("GET", "Microsoft.Resources/tenants[]", p.listTenants)
	rt.Handle("GET", "Microsoft.Resources/resources[]", p.listResources)
	rt.Handle("GET", "Microsoft.Resources/subscriptions[]", p.listSubscriptions)
	rt.Handle("GET", "Microsoft.Resources/subscriptions", p.getSubscription)
	kit.Serve(rt, groups)
	rt.Handle("HEAD", groupType, p.headGroup)
	rt.Handle("PUT", groupType, p.putGroup)
	rt.Handle("PATCH", groupType, p.putGroup)
	rt.Handle("PUT", "Microsoft.Subscription/aliases", p.putAlias)
	rt.Handle("GET", "Microsoft.Subscription/aliases", p.getAlias)
	return p
}

// Subscription is ARM's subscription shape.
type Subscription struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	TenantID       string `json:"tenantId"`
	DisplayName    string `json:"displayName"`
	State          string `json:"state"`
	Policies       any    `json:"subscriptionPolicies"`
	Authorization  string `json:"authorizationSource"`
}

func subscriptionView(s store.Subscription) Subscription {
	return Subscription{
		ID: "/subscriptions/" + s.ID, SubscriptionID: s.ID, TenantID: s.TenantID, DisplayName: s.DisplayName, State: s.State,
		Policies:      map[string]string{"locationPlacementId": "Public_2014-09-01", "quotaId": "drydock", "spendingLimit": "Off"},
		Authorization: "RoleBased",
	}
}

// visible reports whether the caller holds any assignment in or above the
// subscription (directly or through a group), as ARM lists subscriptions.
func (p *Provider) visible(c arm.Caller, sub string) bool {
	scope := "/subscriptions/" + sub
	ids := map[string]bool{strings.ToLower(c.ObjectID): true}
	for _, m := range p.dir.Groups(c.ObjectID) {
		if !p.dir.Now().Before(m.EffectiveAt) {
			ids[strings.ToLower(m.GroupID)] = true
		}
	}
	for id := range ids {
		for _, a := range p.grants.ForPrincipal(id) {
			if resourceid.Within(a.Scope, scope) || resourceid.Within(scope, a.Scope) {
				return true
			}
		}
	}
	return false
}

// Tenant is ARM's tenant shape (GET /tenants).
type Tenant struct {
	ID            string   `json:"id"`
	TenantID      string   `json:"tenantId"`
	Category      string   `json:"tenantCategory"`
	CountryCode   string   `json:"countryCode"`
	DisplayName   string   `json:"displayName"`
	Domains       []string `json:"domains"`
	DefaultDomain string   `json:"defaultDomain"`
	TenantType    string   `json:"tenantType"`
}

// listTenants answers the one tenant drydock serves; az lists tenants
// when a user signs in without --tenant.
func (p *Provider) listTenants(r *arm.Request) (int, any, error) {
	t := p.dir.TenantID()
	return http.StatusOK, arm.List([]Tenant{{
		ID: "/tenants/" + t, TenantID: t, Category: "Home", CountryCode: "US", DisplayName: "drydock",
		Domains: []string{p.dir.Domain()}, DefaultDomain: p.dir.Domain(), TenantType: "AAD",
	}}), nil
}

// genericResource is ARM's GenericResourceExpanded, the item of a
// resources list: the resource without its properties.
type genericResource struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Location  string            `json:"location,omitempty"`
	Tags      map[string]string `json:"tags"`
	SKU       *arm.SKU          `json:"sku,omitempty"`
	Identity  json.RawMessage   `json:"identity,omitempty"`
	ManagedBy string            `json:"managedBy,omitempty"`
}

// listResources serves GET <subscription>[/resourceGroups/<g>]/resources:
// every resource the caller may read there, filtered by $filter on
// resourceType, name, location and resourceGroup.
func (p *Provider) listResources(r *arm.Request) (int, any, error) {
	f, err := odata.ParseFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		return 0, nil, arm.BadRequest("InvalidFilterInQueryString", "Invalid $filter '%s': %v.", r.URL.Query().Get("$filter"), err)
	}
	out := []genericResource{}
	err = p.kit.Store.View(r.Context(), func(tx *store.Tx) error {
		rows, err := tx.ListResources(store.ResourceFilter{Subscription: r.ID.SubscriptionID, ResourceGroup: r.ID.ResourceGroup})
		for _, row := range rows {
			if strings.EqualFold(row.Type, groupType) || strings.Count(row.Type, "/") > 1 {
				continue // groups are not resources; child resources are listed by their parent
			}
			res, err := arm.FromRow(row)
			if err != nil {
				return err
			}
			fields := map[string]any{"resourceType": res.Type, "name": res.Name, "location": res.Location, "resourceGroup": row.ResourceGroup}
			if !f.Match(fields) || !p.kit.CanRead(r.Caller, res.Type, row.ID) {
				continue
			}
			out = append(out, genericResource{ID: res.ID, Name: res.Name, Type: res.Type, Location: res.Location, Tags: res.Tags, SKU: res.SKU, Identity: res.Identity, ManagedBy: res.ManagedBy})
		}
		return err
	})
	return http.StatusOK, arm.List(out), err
}

func (p *Provider) listSubscriptions(r *arm.Request) (int, any, error) {
	var out []Subscription
	err := p.kit.Store.View(r.Context(), func(tx *store.Tx) error {
		subs, err := tx.ListSubscriptions()
		for _, s := range subs {
			if p.visible(r.Caller, s.ID) {
				out = append(out, subscriptionView(s))
			}
		}
		return err
	})
	return http.StatusOK, arm.List(out), err
}

func (p *Provider) getSubscription(r *arm.Request) (int, any, error) {
	if !p.visible(r.Caller, r.ID.SubscriptionID) {
		return 0, nil, arm.AuthorizationFailed(r.Caller, "Microsoft.Resources/subscriptions/read", "/subscriptions/"+r.ID.SubscriptionID)
	}
	s, err := store.Read(r.Context(), p.kit.Store, func(tx *store.Tx) (store.Subscription, error) {
		return tx.GetSubscription(r.ID.SubscriptionID)
	})
	return http.StatusOK, subscriptionView(s), err
}

// CreateSubscription creates a subscription and makes owner its Owner.
func (p *Provider) CreateSubscription(ctx context.Context, id, displayName, owner string) (store.Subscription, error) {
	s := store.Subscription{ID: strings.ToLower(id), DisplayName: displayName, TenantID: p.dir.TenantID(), State: "Enabled"}
	var a access.Assignment
	err := p.kit.Store.Update(ctx, func(tx *store.Tx) (err error) {
		if err := tx.CreateSubscription(s); err != nil {
			return err
		}
		a, err = p.owners.Create(tx, access.NewAssignment{
			Name: uuid.NewString(), Scope: resourceid.Subscription(s.ID), RoleGUID: authz.OwnerGUID, PrincipalID: owner, CreatedBy: owner,
		})
		return err
	})
	if err == nil {
		p.owners.Commit(a)
	}
	return s, err
}

type alias struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		SubscriptionID    string `json:"subscriptionId"`
		ProvisioningState string `json:"provisioningState"`
		DisplayName       string `json:"displayName,omitempty"`
		Workload          string `json:"workload,omitempty"`
	} `json:"properties"`
}

// putAlias creates a subscription (Microsoft.Subscription/aliases). Only a
// Global Administrator of the directory may, standing in for billing
// account owners; the creator becomes Owner of the new subscription.
func (p *Provider) putAlias(r *arm.Request) (int, any, error) {
	caller, err := p.dir.Get(r.Context(), r.Caller.ObjectID)
	if err != nil || !caller.IsGlobalAdmin() {
		return 0, nil, arm.AuthorizationFailed(r.Caller, "Microsoft.Subscription/aliases/write", r.ID.String())
	}
	var body alias
	if err := arm.Decode(r, &body); err != nil {
		return 0, nil, err
	}
	if existing, ok, err := p.loadAlias(r); err != nil || ok {
		return http.StatusOK, existing, err
	}
	name := body.Properties.DisplayName
	if name == "" {
		name = r.ID.Name()
	}
	s, err := p.CreateSubscription(r.Context(), uuid.NewString(), name, r.Caller.ObjectID)
	if err != nil {
		return 0, nil, err
	}
	a := alias{ID: r.ID.String(), Name: r.ID.Name(), Type: "Microsoft.Subscription/aliases"}
	a.Properties.SubscriptionID, a.Properties.ProvisioningState = s.ID, "Succeeded"
	a.Properties.DisplayName, a.Properties.Workload = name, body.Properties.Workload
	res := arm.Resource{ID: a.ID, Name: a.Name, Type: a.Type}
	res.Properties, _ = json.Marshal(a.Properties)
	row, _ := res.Row(r.ID)
	err = p.kit.Store.Update(r.Context(), func(tx *store.Tx) error { return tx.PutResource(row) })
	return http.StatusCreated, a, err
}

func (p *Provider) loadAlias(r *arm.Request) (alias, bool, error) {
	var a alias
	row, err := store.Read(r.Context(), p.kit.Store, func(tx *store.Tx) (store.Resource, error) {
		return tx.GetResource(r.ID.String())
	})
	if errdefs.IsNotFound(err) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	res, err := arm.FromRow(row)
	if err != nil {
		return a, false, err
	}
	a.ID, a.Name, a.Type = res.ID, res.Name, res.Type
	err = json.Unmarshal(res.Properties, &a.Properties)
	return a, true, err
}

func (p *Provider) getAlias(r *arm.Request) (int, any, error) {
	a, ok, err := p.loadAlias(r)
	if err != nil {
		return 0, nil, err
	}
	if !ok || !p.visible(r.Caller, a.Properties.SubscriptionID) {
		return 0, nil, arm.Errorf(http.StatusNotFound, "ResourceNotFound", "The alias '%s' was not found.", r.ID.Name())
	}
	return http.StatusOK, a, nil
}

// ---- resource groups ----

var groupNameRE = regexp.MustCompile(`^[-\w._()]{1,90}$`)

type groupView struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	ManagedBy  *string           `json:"managedBy"`
	Tags       map[string]string `json:"tags"`
	Properties map[string]string `json:"properties"`
}

func view(res arm.Resource) groupView {
	g := groupView{ID: res.ID, Name: res.Name, Type: groupType, Location: res.Location, Tags: res.Tags, Properties: map[string]string{"provisioningState": "Succeeded"}}
	if res.ManagedBy != "" {
		g.ManagedBy = &res.ManagedBy
	}
	return g
}

// viewGroupRow is what a GET or list answers for a stored group.
func viewGroupRow(row store.Resource) (any, error) {
	res, err := arm.FromRow(row)
	return view(res), err
}

func (p *Provider) getGroupRow(ctx context.Context, id resourceid.ID) (arm.Resource, error) {
	row, err := p.kit.Row(ctx, id.String())
	if err != nil {
		return arm.Resource{}, arm.ResourceGroupNotFound(id.ResourceGroup)
	}
	return arm.FromRow(row)
}

func (p *Provider) headGroup(r *arm.Request) (int, any, error) {
	if err := p.kit.Authorize(r, groupAction+"/read"); err != nil {
		return 0, nil, err
	}
	if _, err := p.getGroupRow(r.Context(), r.ID); err != nil {
		return http.StatusNotFound, nil, nil
	}
	return http.StatusNoContent, nil, nil
}

func (p *Provider) putGroup(r *arm.Request) (int, any, error) {
	name := r.ID.ResourceGroup
	if !groupNameRE.MatchString(name) || strings.HasSuffix(name, ".") {
		return 0, nil, arm.BadRequest("InvalidResourceGroup",
			"The provided resource group name '%s' has these invalid characters or length. The name can only be a letter, digit, '-', '.', '(', ')' or '_', 1 to 90 characters, and cannot end with '.'.", name)
	}
	var body struct {
		Location  string            `json:"location"`
		Tags      map[string]string `json:"tags"`
		ManagedBy string            `json:"managedBy"`
	}
	if err := p.kit.Accept(r, groupAction+"/write", &body); err != nil {
		return 0, nil, err
	}
	existing, getErr := p.getGroupRow(r.Context(), r.ID)
	status := http.StatusCreated
	res := arm.Resource{ID: r.ID.String(), Name: name, Type: groupType}
	if getErr == nil {
		status, res = http.StatusOK, existing
		if body.Location != "" && arm.NormalizeLocation(body.Location) != existing.Location {
			return 0, nil, arm.BadRequest("InvalidResourceGroupLocation",
				"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", arm.NormalizeLocation(body.Location), existing.Location)
		}
	} else {
		if r.Method == http.MethodPatch {
			return 0, nil, getErr
		}
		loc, err := arm.CheckLocation(body.Location, "")
		if err != nil {
			return 0, nil, err
		}
		res.Location, res.ManagedBy = loc, body.ManagedBy
	}
	if body.Tags != nil {
		res.Tags = body.Tags
	}
	res.Touch(r.Caller)
	row, err := res.Row(r.ID)
	if err != nil {
		return 0, nil, err
	}
	if err := p.kit.Store.Update(r.Context(), func(tx *store.Tx) error { return tx.PutResource(row) }); err != nil {
		return 0, nil, err
	}
	return status, view(res), nil
}
