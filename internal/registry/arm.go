// Package registry owns container registries: the
// Microsoft.ContainerRegistry ARM provider (registries, name availability,
// admin credentials) and, behind each registry's login server, its data
// plane.
package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/store"
)

const (
	registryType = "Microsoft.ContainerRegistry/registries"
	namespace    = "Microsoft.ContainerRegistry"
)

// Config holds registry settings.
type Config struct {
	// LoginServerSuffix is appended to a registry's name to form its login
	// server ("azurecr.io" gives myacr.azurecr.io).
	LoginServerSuffix string
	// LoginServerPort is appended as ":<port>" when the registry listener
	// is not on 443.
	LoginServerPort string
	DefaultLocation string
	// Throttling applies ACR's per-SKU request limits to every registry
	// whose ThrottlingTag does not say otherwise (server setting
	// registryThrottling; off by default).
	Throttling bool
	// Now is the throttle's clock (time.Now when nil).
	Now func() time.Time
}

// Secrets is the directory's part in a registry's admin passwords
// (*directory.Directory): they are rows of the directory's secrets, owned
// by the registry, and written through it.
type Secrets interface {
	SetResourceSecret(tx *store.Tx, s directorydb.Secret) error
	DeleteResourceSecrets(tx *store.Tx, resourceID string) error
}

// Provider serves Microsoft.ContainerRegistry.
type Provider struct {
	kit       *arm.Kit
	secrets   Secrets
	tracked   arm.Tracked // registries, as the kit serves them
	box       *secretbox.Box
	cfg       Config
	dataPlane *DataPlane // nil until the data plane is assembled
}

// Register adds the provider's routes and delete hook: the kit serves a
// registry's read, list and delete. The registries' admin passwords are
// written through secrets (the directory's).
func Register(rt arm.Routes, kit *arm.Kit, secrets Secrets, box *secretbox.Box, cfg Config) *Provider {
	p := &Provider{kit: kit, secrets: secrets, box: box, cfg: cfg}
	p.tracked = arm.Tracked{Type: registryType, View: p.view, OnDelete: p.onDelete}
	kit.Serve(rt, p.tracked)
	kit.Scopes.AfterDelete(p.registriesChanged)
	rt.Handle("PUT", registryType, p.put)
	rt.Handle("PATCH", registryType, p.patch)
	rt.Handle("POST", namespace+"/checkNameAvailability", p.checkName)
	rt.Handle("POST", registryType+"/listCredentials", p.listCredentials)
	rt.Handle("POST", registryType+"/regenerateCredential", p.regenerateCredential)
	rt.Handle("POST", registryType+"/importImage", p.importImage)
	rt.Handle("GET", registryType+"/listUsages[]", p.listUsages)
	return p
}

// onDelete removes a deleted registry's content, throttle and admin
// passwords.
func (p *Provider) onDelete(tx *store.Tx, r store.Resource) ([]string, error) {
	if p.dataPlane != nil {
		if err := p.dataPlane.dist.DeleteRegistry(context.Background(), tx, strings.ToLower(r.ID)); err != nil {
			return nil, err
		}
		p.dataPlane.throttle.Forget(strings.ToLower(r.ID))
	}
	return nil, p.secrets.DeleteResourceSecrets(tx, r.ID)
}

// Properties of a registry, as ARM returns them.
type Properties struct {
	LoginServer              string         `json:"loginServer"`
	CreationDate             time.Time      `json:"creationDate"`
	ProvisioningState        string         `json:"provisioningState"`
	AdminUserEnabled         bool           `json:"adminUserEnabled"`
	AnonymousPullEnabled     bool           `json:"anonymousPullEnabled"`
	NetworkRuleSet           any            `json:"networkRuleSet"`
	Policies                 map[string]any `json:"policies"`
	Encryption               map[string]any `json:"encryption"`
	DataEndpointEnabled      bool           `json:"dataEndpointEnabled"`
	DataEndpointHostNames    []string       `json:"dataEndpointHostNames"`
	PrivateEndpoints         []any          `json:"privateEndpointConnections"`
	PublicNetworkAccess      string         `json:"publicNetworkAccess"`
	NetworkRuleBypassOptions string         `json:"networkRuleBypassOptions"`
	ZoneRedundancy           string         `json:"zoneRedundancy"`
	Status                   any            `json:"status"`
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9]{5,50}$`)

// ValidateName checks a registry name as ACR does.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return arm.BadRequest("InvalidResourceName",
			"Registry name '%s' is invalid: registry names may contain only alpha numeric characters and must be between 5 and 50 characters.", name)
	}
	return nil
}

var tiers = map[string]string{"basic": "Basic", "standard": "Standard", "premium": "Premium"}

func normalizeSKU(s string) (string, error) {
	if t, ok := tiers[strings.ToLower(s)]; ok {
		return t, nil
	}
	return "", arm.BadRequest("InvalidSku", "The SKU '%s' is not valid. Allowed values are Basic, Standard and Premium.", s)
}

// LoginServer is the registry's login server host name.
func (p *Provider) LoginServer(name string) string {
	ls := strings.ToLower(name) + "." + p.cfg.LoginServerSuffix
	if p.cfg.LoginServerPort != "" && p.cfg.LoginServerPort != "443" {
		ls += ":" + p.cfg.LoginServerPort
	}
	return ls
}

// registriesChanged keeps name resolution in step with the registries.
func (p *Provider) registriesChanged(ctx context.Context) {
	if p.dataPlane == nil {
		return
	}
	p.dataPlane.forget()
	if err := p.dataPlane.SyncHosts(ctx); err != nil {
		p.dataPlane.log.Warn("updating the hosts file", "err", err)
	}
}

type body struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SKU        *arm.SKU          `json:"sku"`
	Properties struct {
		AdminUserEnabled     *bool `json:"adminUserEnabled"`
		AnonymousPullEnabled *bool `json:"anonymousPullEnabled"`
	} `json:"properties"`
}

func (p *Provider) load(ctx context.Context, id string) (arm.Resource, Properties, error) {
	row, err := p.row(ctx, id)
	if err != nil {
		return arm.Resource{}, Properties{}, err
	}
	return p.decode(row)
}

// row reads a stored registry; a missing one is ARM's ResourceNotFound.
func (p *Provider) row(ctx context.Context, id string) (store.Resource, error) {
	rid, err := resourceid.Parse(id)
	if err != nil {
		return store.Resource{}, err
	}
	return p.kit.Load(ctx, p.tracked, rid)
}

// view is what a GET or list answers for a stored registry.
func (p *Provider) view(row store.Resource) (any, error) {
	res, _, err := p.decode(row)
	return res, err
}

// decode reads a stored registry. The login server is derived from the
// name and the current listener rather than trusted from the row, so it
// stays right when the registry listener's port changes.
func (p *Provider) decode(row store.Resource) (arm.Resource, Properties, error) {
	res, err := arm.FromRow(row)
	if err != nil {
		return res, Properties{}, err
	}
	var props Properties
	if err := json.Unmarshal(res.Properties, &props); err != nil {
		return res, props, err
	}
	if ls := p.LoginServer(res.Name); ls != props.LoginServer {
		props.LoginServer = ls
		res.Properties, err = json.Marshal(props)
	}
	return res, props, err
}

func (p *Provider) put(r *arm.Request) (int, any, error) {
	if err := ValidateName(r.ID.Name()); err != nil {
		return 0, nil, err
	}
	var b body
	if err := p.kit.Accept(r, registryType+"/write", &b); err != nil {
		return 0, nil, err
	}
	res, props, err := p.load(r.Context(), r.ID.String())
	status := http.StatusOK
	if err != nil {
		status = http.StatusCreated
		loc, err := arm.CheckLocation(b.Location, "")
		if err != nil {
			return 0, nil, err
		}
		if b.SKU == nil || b.SKU.Name == "" {
			return 0, nil, arm.BadRequest("InvalidSku", "The sku property is required: set sku.name to Basic, Standard or Premium.")
		}
		res = arm.Resource{ID: r.ID.String(), Name: r.ID.Name(), Type: registryType, Location: loc}
		props = Properties{
			LoginServer: p.LoginServer(r.ID.Name()), CreationDate: time.Now().UTC(), ProvisioningState: "Succeeded",
			NetworkRuleSet: map[string]any{"defaultAction": "Allow", "ipRules": []any{}},
			Policies: map[string]any{
				"quarantinePolicy":                 map[string]string{"status": "disabled"},
				"trustPolicy":                      map[string]string{"type": "Notary", "status": "disabled"},
				"retentionPolicy":                  map[string]any{"days": 7, "status": "disabled"},
				"exportPolicy":                     map[string]string{"status": "enabled"},
				"azureADAuthenticationAsArmPolicy": map[string]string{"status": "enabled"},
			},
			Encryption: map[string]any{"status": "disabled"}, DataEndpointHostNames: []string{}, PrivateEndpoints: []any{},
			PublicNetworkAccess: "Enabled", NetworkRuleBypassOptions: "AzureServices", ZoneRedundancy: "Disabled",
		}
	}
	return p.write(r, status, res, props, b)
}

func (p *Provider) patch(r *arm.Request) (int, any, error) {
	var b body
	if err := p.kit.Accept(r, registryType+"/write", &b); err != nil {
		return 0, nil, err
	}
	res, props, err := p.load(r.Context(), r.ID.String())
	if err != nil {
		return 0, nil, err
	}
	return p.write(r, http.StatusOK, res, props, b)
}

// write applies a PUT/PATCH body and stores the registry; a name taken by
// another registry anywhere is AlreadyInUse.
func (p *Provider) write(r *arm.Request, status int, res arm.Resource, props Properties, b body) (int, any, error) {
	if b.SKU != nil && b.SKU.Name != "" {
		tier, err := normalizeSKU(b.SKU.Name)
		if err != nil {
			return 0, nil, err
		}
		res.SKU = &arm.SKU{Name: tier, Tier: tier}
	}
	if b.Tags != nil {
		if err := checkThrottlingTag(b.Tags); err != nil {
			return 0, nil, err
		}
		res.Tags = b.Tags
	}
	if v := b.Properties.AdminUserEnabled; v != nil {
		props.AdminUserEnabled = *v
	}
	if v := b.Properties.AnonymousPullEnabled; v != nil {
		props.AnonymousPullEnabled = *v
	}
	if props.AnonymousPullEnabled && res.SKU.Name == "Basic" {
		return 0, nil, arm.BadRequest("AnonymousPullNotSupported",
			"Anonymous pull is available only on the Standard and Premium service tiers, and registry '%s' is Basic. Upgrade it first with 'az acr update --name %s --sku Standard'.", res.Name, res.Name)
	}
	res.Touch(r.Caller)
	var err error
	if res.Properties, err = json.Marshal(props); err != nil {
		return 0, nil, err
	}
	row, err := res.Row(r.ID)
	if err != nil {
		return 0, nil, err
	}
	err = p.kit.Store.Update(r.Context(), func(tx *store.Tx) error {
		if err := tx.PutResource(row); err != nil {
			return err
		}
		if props.AdminUserEnabled {
			return p.ensureAdminPasswords(tx, res.ID)
		}
		return nil
	})
	if errdefs.IsAlreadyExists(err) {
		return 0, nil, arm.Errorf(http.StatusConflict, "AlreadyInUse",
			"The registry DNS name %s is already in use. You can check if the name is already claimed using following API: https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability", strings.ToLower(res.Name)+"."+p.cfg.LoginServerSuffix)
	}
	if err != nil {
		return 0, nil, err
	}
	p.registriesChanged(r.Context())
	return status, res, nil
}

var passwordNames = []string{"password", "password2"}

func adminKey(registryID, name string) string { return strings.ToLower(registryID) + "#" + name }

func (p *Provider) ensureAdminPasswords(tx *store.Tx, registryID string) error {
	have, err := directorydb.Secrets(tx, registryID)
	if err != nil {
		return err
	}
	if len(have) >= len(passwordNames) {
		return nil
	}
	for _, n := range passwordNames {
		if err := p.setAdminPassword(tx, registryID, n); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) setAdminPassword(tx *store.Tx, registryID, name string) error {
	secret := newAdminPassword()
	now := time.Now().UTC()
	return p.secrets.SetResourceSecret(tx, directorydb.Secret{
		KeyID: adminKey(registryID, name), OwnerID: registryID, Hash: directory.HashSecret(secret), Hint: secret[:3],
		DisplayName: name, StartAt: now, EndAt: now.AddDate(100, 0, 0), Sealed: p.box.Seal(secret, adminKey(registryID, name)),
	})
}

func (p *Provider) checkName(r *arm.Request) (int, any, error) {
	var b struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := arm.Decode(r, &b); err != nil {
		return 0, nil, err
	}
	if !strings.EqualFold(b.Type, registryType) {
		return 0, nil, arm.BadRequest("InvalidResourceType", "The resource type '%s' is not supported; use '%s'.", b.Type, registryType)
	}
	if err := ValidateName(b.Name); err != nil {
		return http.StatusOK, map[string]any{"nameAvailable": false, "reason": "Invalid",
			"message": "The specified resource name is invalid: registry names may contain only alpha numeric characters and must be between 5 and 50 characters."}, nil
	}
	var taken bool
	err := p.kit.Store.View(r.Context(), func(tx *store.Tx) error {
		rows, err := tx.ListResources(store.ResourceFilter{Type: registryType, Name: b.Name})
		taken = len(rows) > 0
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	if taken {
		return http.StatusOK, map[string]any{"nameAvailable": false, "reason": "AlreadyExists", "message": fmt.Sprintf("The registry %s is already in use.", b.Name)}, nil
	}
	return http.StatusOK, map[string]any{"nameAvailable": true}, nil
}

// AdminCredentials returns the admin user name and passwords in order.
func (p *Provider) AdminCredentials(ctx context.Context, registryID string) (string, []string, error) {
	res, props, err := p.load(ctx, registryID)
	if err != nil {
		return "", nil, err
	}
	if !props.AdminUserEnabled {
		return "", nil, arm.BadRequest("AdminUserDisabled",
			"Admin user is disabled for registry '%s'. Enable it with 'az acr update --name %s --admin-enabled true'.", res.Name, res.Name)
	}
	secrets, err := store.Read(ctx, p.kit.Store, func(tx *store.Tx) ([]directorydb.Secret, error) {
		return directorydb.Secrets(tx, registryID)
	})
	if err != nil {
		return "", nil, err
	}
	var out []string
	for _, s := range secrets {
		pw, err := p.box.Open(s.Sealed, s.KeyID)
		if err != nil {
			return "", nil, err
		}
		out = append(out, pw)
	}
	return res.Name, out, nil
}

func (p *Provider) listCredentials(r *arm.Request) (int, any, error) {
	if err := p.kit.Authorize(r, registryType+"/listCredentials/action"); err != nil {
		return 0, nil, err
	}
	user, pws, err := p.AdminCredentials(r.Context(), r.ID.String())
	if err != nil {
		return 0, nil, err
	}
	var list []map[string]string
	for i, pw := range pws {
		list = append(list, map[string]string{"name": passwordNames[i], "value": pw})
	}
	return http.StatusOK, map[string]any{"username": user, "passwords": list}, nil
}

func (p *Provider) regenerateCredential(r *arm.Request) (int, any, error) {
	var b struct {
		Name string `json:"name"`
	}
	if err := p.kit.Accept(r, registryType+"/regenerateCredential/action", &b); err != nil {
		return 0, nil, err
	}
	name := strings.ToLower(b.Name)
	if name != "password" && name != "password2" {
		return 0, nil, arm.BadRequest("InvalidParameter", "The password name '%s' is invalid; use 'password' or 'password2'.", b.Name)
	}
	if _, _, err := p.AdminCredentials(r.Context(), r.ID.String()); err != nil {
		return 0, nil, err
	}
	if err := p.kit.Store.Update(r.Context(), func(tx *store.Tx) error { return p.setAdminPassword(tx, r.ID.String(), name) }); err != nil {
		return 0, nil, err
	}
	return p.listCredentials(r)
}

func (p *Provider) importImage(r *arm.Request) (int, any, error) {
	var req ImportRequest
	if err := p.kit.Accept(r, registryType+"/importImage/action", &req); err != nil {
		return 0, nil, err
	}
	if _, err := req.parseTargets(); err != nil {
		return 0, nil, err
	}
	if p.dataPlane == nil {
		return 0, nil, arm.Errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "The registry data plane is not running.")
	}
	reg, err := p.dataPlane.registryByID(r.Context(), r.ID.String())
	if err != nil {
		return 0, nil, err
	}
	caller := r.Caller
	if _, err := p.kit.Ops.Start(r, func(ctx context.Context) (any, error) {
		return nil, p.dataPlane.Import(ctx, reg, caller, req)
	}); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, nil, nil
}

func (p *Provider) listUsages(r *arm.Request) (int, any, error) {
	id := r.ID
	id.Types, id.Names = id.Types[:1], id.Names[:1]
	if err := p.kit.Auth.Authorize(r.Context(), r.Caller, registryType+"/listUsages/read", id.String()); err != nil {
		return 0, nil, err
	}
	if _, _, err := p.load(r.Context(), id.String()); err != nil {
		return 0, nil, err
	}
	var size int64
	var repos int
	if p.dataPlane != nil {
		u, err := p.dataPlane.dist.Usage(r.Context(), strings.ToLower(id.String()))
		if err != nil {
			return 0, nil, err
		}
		size, repos = u.Size, u.Repositories
	}
	usage := func(name string, limit, current int64, unit string) map[string]any {
		return map[string]any{"name": name, "limit": limit, "currentValue": current, "unit": unit}
	}
	return http.StatusOK, map[string]any{"value": []any{
		usage("Size", 10<<40, size, "Bytes"),
		usage("Repositories", 1<<31-1, int64(repos), "Count"),
		usage("Webhooks", 2, 0, "Count"),
		usage("ScopeMaps", 100, 0, "Count"),
		usage("Tokens", 100, 0, "Count"),
	}}, nil
}
