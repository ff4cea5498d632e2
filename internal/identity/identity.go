// Package identity serves Microsoft.ManagedIdentity (user-assigned
// identities, each backed by a directory service principal) and the hosts
// identities are assigned to (Microsoft.Compute/virtualMachines): a host is
// registered with the directory and gets the credential with which it asks
// the managed-identity endpoint for tokens.
package identity

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	identityType = "Microsoft.ManagedIdentity/userAssignedIdentities"
	vmType       = "Microsoft.Compute/virtualMachines"
	// ActionAssign is what assigning an identity to a resource requires on the identity.
	ActionAssign = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
)

// Directory is what identities and hosts need of the directory: the
// service principals of managed identities and the hosts' credentials.
type Directory interface {
	TenantID() string
	CreateManagedIdentity(tx *store.Tx, resourceID, displayName string) (directory.Principal, error)
	RegisterHost(tx *store.Tx, hostID string, identities []string) (string, error)
	SetHostIdentities(tx *store.Tx, hostID string, identities []string) error
	UnregisterHost(tx *store.Tx, hostID string) error
	DeleteResourcePrincipal(tx *store.Tx, resourceID string) error
}

// Provider serves identities and hosts.
type Provider struct {
	kit *arm.Kit
	dir Directory
}

// Register adds the provider's routes and delete hooks: the kit serves
// the read, list and delete of both types.
func Register(rt arm.Routes, kit *arm.Kit, dir Directory) *Provider {
	p := &Provider{kit: kit, dir: dir}
	kit.Serve(rt, arm.Tracked{Type: identityType, OnDelete: p.onDeleteIdentity})
	rt.Handle("PUT", identityType, p.putIdentity)
	rt.Handle("PATCH", identityType, p.putIdentity)
	kit.Serve(rt, arm.Tracked{Type: vmType, OnDelete: p.onDeleteVM})
	rt.Handle("PUT", vmType, p.putVM)
	rt.Handle("POST", vmType+"/issueHostCredential", p.issueHostCredential)
	return p
}

// IdentityProperties are a user-assigned identity's properties.
type IdentityProperties struct {
	TenantID    string `json:"tenantId"`
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
}

var identityNameRE = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9_]{2,127}$`)

// CreateIdentity creates (or returns) a user-assigned identity inside tx,
// without authorization checks: for server-side callers such as clusters.
func (p *Provider) CreateIdentity(tx *store.Tx, id resourceid.ID, location string, c arm.Caller) (arm.Resource, error) {
	if row, err := tx.GetResource(id.String()); err == nil {
		return arm.FromRow(row)
	}
	if !identityNameRE.MatchString(id.Name()) {
		return arm.Resource{}, arm.BadRequest("InvalidResourceName",
			"The resource name '%s' is invalid. It must be 3 to 128 characters of letters, digits, '-' and '_', starting with a letter or digit.", id.Name())
	}
	sp, err := p.dir.CreateManagedIdentity(tx, id.String(), id.Name())
	if err != nil {
		return arm.Resource{}, err
	}
	res := arm.Resource{ID: id.String(), Name: id.Name(), Type: identityType, Location: location}
	res.Properties, _ = json.Marshal(IdentityProperties{TenantID: p.dir.TenantID(), PrincipalID: sp.ObjectID, ClientID: sp.AppID})
	res.Touch(c)
	row, err := res.Row(id)
	if err != nil {
		return res, err
	}
	return res, tx.PutResource(row)
}

func (p *Provider) putIdentity(r *arm.Request) (int, any, error) {
	var b struct {
		Location string            `json:"location"`
		Tags     map[string]string `json:"tags"`
	}
	if err := p.kit.Accept(r, identityType+"/write", &b); err != nil {
		return 0, nil, err
	}
	status := http.StatusCreated
	var res arm.Resource
	err := p.kit.Store.Update(r.Context(), func(tx *store.Tx) error {
		if _, err := tx.GetResource(r.ID.String()); err == nil {
			status = http.StatusOK
		}
		loc, err := arm.CheckLocation(b.Location, "")
		if err != nil && status == http.StatusCreated {
			return err
		}
		if res, err = p.CreateIdentity(tx, r.ID, loc, r.Caller); err != nil {
			return err
		}
		if b.Tags != nil {
			res.Tags = b.Tags
			res.Touch(r.Caller)
			row, err := res.Row(r.ID)
			if err != nil {
				return err
			}
			return tx.PutResource(row)
		}
		return nil
	})
	return status, res, err
}

// onDeleteIdentity removes the identity's service principal. Role
// assignments naming it stay, as in Azure, and show an unknown principal.
func (p *Provider) onDeleteIdentity(tx *store.Tx, r store.Resource) ([]string, error) {
	return nil, p.dir.DeleteResourcePrincipal(tx, r.ID)
}

// ---- hosts ----

// VMIdentity is the identity block of a host.
type VMIdentity struct {
	Type                   string                         `json:"type"`
	PrincipalID            string                         `json:"principalId,omitempty"`
	TenantID               string                         `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]*IdentityProperties `json:"userAssignedIdentities,omitempty"`
}

func (p *Provider) putVM(r *arm.Request) (int, any, error) {
	var b struct {
		Location string            `json:"location"`
		Tags     map[string]string `json:"tags"`
		Identity *VMIdentity       `json:"identity"`
	}
	if err := p.kit.Accept(r, vmType+"/write", &b); err != nil {
		return 0, nil, err
	}
	loc, err := arm.CheckLocation(b.Location, "")
	if err != nil {
		return 0, nil, err
	}
	ident := VMIdentity{Type: "None"}
	if b.Identity != nil {
		ident.Type = b.Identity.Type
	}
	types := strings.ToLower(strings.ReplaceAll(ident.Type, " ", ""))
	wantSystem := strings.Contains(types, "systemassigned")
	wantUser := strings.Contains(types, "userassigned")
	if types != "none" && !wantSystem && !wantUser {
		return 0, nil, arm.BadRequest("InvalidIdentityType", "The identity type '%s' is invalid; use SystemAssigned, UserAssigned, 'SystemAssigned, UserAssigned' or None.", ident.Type)
	}
	var linked []string
	if wantUser && b.Identity != nil {
		for id := range b.Identity.UserAssignedIdentities {
			linked = append(linked, id)
		}
		sort.Strings(linked)
		for _, id := range linked {
			if !p.kit.Auth.Decide(r.Caller.ObjectID, ActionAssign, false, id).Allowed {
				return 0, nil, arm.Errorf(http.StatusForbidden, "LinkedAuthorizationFailed",
					"The client '%s' with object id '%s' has permission to perform action '%s/write' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
					r.Caller.Name, r.Caller.ObjectID, vmType, r.ID.String(), ActionAssign, id)
			}
		}
	}
	status := http.StatusCreated
	var res arm.Resource
	err = p.kit.Store.Update(r.Context(), func(tx *store.Tx) error {
		var old VMIdentity
		if row, err := tx.GetResource(r.ID.String()); err == nil {
			status = http.StatusOK
			prev, _ := arm.FromRow(row)
			_ = json.Unmarshal(prev.Identity, &old)
		}
		var principals []string
		if wantSystem {
			ident.PrincipalID, ident.TenantID = old.PrincipalID, p.dir.TenantID()
			if ident.PrincipalID == "" {
				sp, err := p.dir.CreateManagedIdentity(tx, r.ID.String(), r.ID.Name())
				if err != nil {
					return err
				}
				ident.PrincipalID = sp.ObjectID
			}
			principals = append(principals, ident.PrincipalID)
		}
		if wantUser {
			ident.UserAssignedIdentities = map[string]*IdentityProperties{}
			for _, id := range linked {
				sp, err := directorydb.PrincipalByResourceID(tx, id)
				if err != nil {
					return arm.BadRequest("InvalidIdentity", "The user-assigned identity '%s' was not found.", id)
				}
				canon, _ := resourceid.Parse(id)
				ident.UserAssignedIdentities[canon.String()] = &IdentityProperties{PrincipalID: sp.ObjectID, ClientID: sp.AppID}
				principals = append(principals, sp.ObjectID)
			}
		}
		res = arm.Resource{ID: r.ID.String(), Name: r.ID.Name(), Type: vmType, Location: loc, Tags: b.Tags}
		res.Identity, _ = json.Marshal(ident)
		res.Properties, _ = json.Marshal(map[string]any{"provisioningState": "Succeeded", "hostIdentityEndpoint": r.BaseURL + "/metadata/identity/oauth2/token"})
		res.Touch(r.Caller)
		row, err := res.Row(r.ID)
		if err != nil {
			return err
		}
		if err := tx.PutResource(row); err != nil {
			return err
		}
		return p.dir.SetHostIdentities(tx, r.ID.String(), principals)
	})
	return status, res, err
}

func (p *Provider) onDeleteVM(tx *store.Tx, r store.Resource) ([]string, error) {
	if err := p.dir.DeleteResourcePrincipal(tx, r.ID); err != nil {
		return nil, err
	}
	return nil, p.dir.UnregisterHost(tx, r.ID)
}

// issueHostCredential (drydock's own action) returns a new host credential;
// the previous one stops working.
func (p *Provider) issueHostCredential(r *arm.Request) (int, any, error) {
	if err := p.kit.Authorize(r, vmType+"/issueHostCredential/action"); err != nil {
		return 0, nil, err
	}
	var cred string
	err := p.kit.Store.Update(r.Context(), func(tx *store.Tx) error {
		if _, err := tx.GetResource(r.ID.String()); err != nil {
			return arm.NotFound(vmType, r.ID.Name(), r.ID.ResourceGroup)
		}
		ids, err := directorydb.HostIdentities(tx, r.ID.String())
		if err != nil {
			return err
		}
		cred, err = p.dir.RegisterHost(tx, r.ID.String(), ids)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{
		"hostCredential":   cred,
		"identityEndpoint": r.BaseURL + "/metadata/identity/oauth2/token",
		"identityHeader":   directory.HostCredentialHeader,
	}, nil
}
