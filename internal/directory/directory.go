// Package directory is drydock's Entra ID: the tenant's users, applications,
// service principals, managed identities and groups; password and secret
// checks; the OAuth2 token endpoint, OIDC discovery and JWKS; the
// Microsoft-Graph-shaped management API; and the managed-identity (IMDS)
// endpoint that hands tokens only to registered hosts.
package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory/directorydb"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// Principal kinds as stored.
const (
	KindUser             = "User"
	KindServicePrincipal = "ServicePrincipal"
	KindManagedIdentity  = "ManagedIdentity"
	KindGroup            = "Group"
	KindApplication      = "Application"
)

// GlobalAdministrator is the directory role that may manage users.
const GlobalAdministrator = "Global Administrator"

// Config holds the directory's settings.
type Config struct {
	TenantID string
	// BaseURL is the public https URL of the server, without trailing slash;
	// the issuer is BaseURL/<tenant>/v2.0.
	BaseURL string
	// Domain is the tenant's default domain, used for UPNs (admin@<domain>).
	Domain string
	// AccessTokenLifetime of issued access tokens (default 1h).
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime of issued refresh tokens (default 24h).
	RefreshTokenLifetime time.Duration
	// GroupPropagationDelay is how long after being added a group
	// membership starts to count for authorization (Entra's latency).
	GroupPropagationDelay time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Directory is the tenant's identity service.
type Directory struct {
	st     *store.Store
	signer *tokens.Signer
	cfg    Config

	mu       sync.RWMutex
	memberOf map[string][]directorydb.Member // member object ID (lower) → direct groups
	tokened  map[string]bool                 // principals known to have been issued a token
}

// New opens the directory over the store and loads the membership index.
func New(ctx context.Context, st *store.Store, signer *tokens.Signer, cfg Config) (*Directory, error) {
	if cfg.AccessTokenLifetime == 0 {
		cfg.AccessTokenLifetime = time.Hour
	}
	if cfg.RefreshTokenLifetime == 0 {
		cfg.RefreshTokenLifetime = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Domain == "" {
		cfg.Domain = "drydock.local"
	}
	d := &Directory{st: st, signer: signer, cfg: cfg, tokened: map[string]bool{}}
	if err := d.reloadMemberships(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// TenantID is the tenant this directory serves.
func (d *Directory) TenantID() string { return d.cfg.TenantID }

// Domain is the tenant's default domain.
func (d *Directory) Domain() string { return d.cfg.Domain }

// Issuer is the "iss" of every token the directory issues.
func (d *Directory) Issuer() string { return d.cfg.BaseURL + "/" + d.cfg.TenantID + "/v2.0" }

// Signer returns the token signer (shared with the registry's token service).
func (d *Directory) Signer() *tokens.Signer { return d.signer }

// Now is the directory's clock.
func (d *Directory) Now() time.Time { return d.cfg.Now() }

// GroupPropagationDelay is the configured membership latency.
func (d *Directory) GroupPropagationDelay() time.Duration { return d.cfg.GroupPropagationDelay }

// Principal is a directory object.
type Principal struct {
	ObjectID    string    `json:"id"`
	Kind        string    `json:"kind"`
	AppID       string    `json:"appId,omitempty"`
	UPN         string    `json:"userPrincipalName,omitempty"`
	DisplayName string    `json:"displayName"`
	ResourceID  string    `json:"resourceId,omitempty"`
	Roles       []string  `json:"directoryRoles,omitempty"`
	OwnerID     string    `json:"ownerId,omitempty"`
	CreatedAt   time.Time `json:"createdDateTime"`
}

// PrincipalType is the RBAC principalType of the object: User, Group or
// ServicePrincipal (managed identities are service principals).
func (p Principal) PrincipalType() string {
	switch p.Kind {
	case KindUser:
		return "User"
	case KindGroup:
		return "Group"
	}
	return "ServicePrincipal"
}

// Name is how the principal is shown in messages: UPN, else display name.
func (p Principal) Name() string {
	if p.Kind == KindUser && p.UPN != "" {
		return p.UPN
	}
	if p.AppID != "" {
		return p.AppID
	}
	return p.DisplayName
}

// IsGlobalAdmin reports whether the principal holds the Global Administrator role.
func (p Principal) IsGlobalAdmin() bool {
	for _, r := range p.Roles {
		if strings.EqualFold(r, GlobalAdministrator) {
			return true
		}
	}
	return false
}

type principalBody struct {
	Roles   []string `json:"directoryRoles,omitempty"`
	OwnerID string   `json:"ownerId,omitempty"`
}

func fromStore(sp directorydb.Principal) Principal {
	var b principalBody
	_ = json.Unmarshal(nonEmpty(sp.Body), &b)
	return Principal{
		ObjectID: sp.ObjectID, Kind: sp.Kind, AppID: sp.AppID, UPN: sp.UPN, DisplayName: sp.DisplayName,
		ResourceID: sp.ResourceID, Roles: b.Roles, OwnerID: b.OwnerID, CreatedAt: sp.CreatedAt,
	}
}

func toStore(p Principal, passwordHash string) directorydb.Principal {
	body, _ := json.Marshal(principalBody{Roles: p.Roles, OwnerID: p.OwnerID})
	return directorydb.Principal{
		ObjectID: p.ObjectID, Kind: p.Kind, AppID: p.AppID, UPN: p.UPN, DisplayName: p.DisplayName,
		ResourceID: p.ResourceID, PasswordHash: passwordHash, Body: body, CreatedAt: p.CreatedAt,
	}
}

// CreateUser adds a user with a password (stored as a bcrypt hash).
func (d *Directory) CreateUser(ctx context.Context, tx *store.Tx, upn, displayName, password string, roles []string) (Principal, error) {
	upn = strings.TrimSpace(upn)
	if !strings.Contains(upn, "@") || strings.HasPrefix(upn, "@") || strings.HasSuffix(upn, "@") || strings.ContainsAny(upn, " /\\") {
		return Principal{}, invalid("userPrincipalName '%s' must look like alias@domain", upn)
	}
	if len(password) < 8 {
		return Principal{}, invalid("the password must have at least 8 characters")
	}
	if displayName == "" {
		displayName = upn[:strings.Index(upn, "@")]
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return Principal{}, err
	}
	p := Principal{ObjectID: uuid.NewString(), Kind: KindUser, UPN: upn, DisplayName: displayName, Roles: roles, CreatedAt: d.Now().UTC()}
	if err := directorydb.CreatePrincipal(tx, toStore(p, string(hash))); err != nil {
		if errdefs.IsAlreadyExists(err) {
			return Principal{}, exists("another object with the same value for property userPrincipalName already exists")
		}
		return Principal{}, err
	}
	return p, nil
}

// CreateApplication registers an application (the object that owns the
// client secrets of a service principal).
func (d *Directory) CreateApplication(tx *store.Tx, displayName, ownerID string) (Principal, error) {
	if strings.TrimSpace(displayName) == "" {
		return Principal{}, invalid("displayName is required")
	}
	p := Principal{ObjectID: uuid.NewString(), Kind: KindApplication, AppID: uuid.NewString(), DisplayName: displayName, OwnerID: ownerID, CreatedAt: d.Now().UTC()}
	return p, directorydb.CreatePrincipal(tx, toStore(p, ""))
}

// CreateServicePrincipal creates the service principal of an application.
func (d *Directory) CreateServicePrincipal(tx *store.Tx, appID, ownerID string) (Principal, error) {
	app, err := directorydb.ApplicationByAppID(tx, appID)
	if err != nil {
		return Principal{}, notFound("no application with appId '%s'", appID)
	}
	if _, err := directorydb.PrincipalByAppID(tx, appID); err == nil {
		return Principal{}, exists("a service principal for appId '%s' already exists", appID)
	}
	p := Principal{ObjectID: uuid.NewString(), Kind: KindServicePrincipal, AppID: app.AppID, DisplayName: app.DisplayName, OwnerID: ownerID, CreatedAt: d.Now().UTC()}
	return p, directorydb.CreatePrincipal(tx, toStore(p, ""))
}

// CreateManagedIdentity creates the service principal of a managed
// identity; its clientId is AppID and its principalId is ObjectID.
func (d *Directory) CreateManagedIdentity(tx *store.Tx, resourceID, displayName string) (Principal, error) {
	p := Principal{ObjectID: uuid.NewString(), Kind: KindManagedIdentity, AppID: uuid.NewString(), DisplayName: displayName, ResourceID: resourceID, CreatedAt: d.Now().UTC()}
	return p, directorydb.CreatePrincipal(tx, toStore(p, ""))
}

// CreateGroup creates a security group.
func (d *Directory) CreateGroup(tx *store.Tx, displayName, mailNickname, ownerID string) (Principal, error) {
	if strings.TrimSpace(displayName) == "" {
		return Principal{}, invalid("displayName is required")
	}
	if mailNickname == "" {
		mailNickname = displayName
	}
	p := Principal{ObjectID: uuid.NewString(), Kind: KindGroup, UPN: mailNickname, DisplayName: displayName, OwnerID: ownerID, CreatedAt: d.Now().UTC()}
	if err := directorydb.CreatePrincipal(tx, toStore(p, "")); err != nil {
		if errdefs.IsAlreadyExists(err) {
			return Principal{}, exists("another object with the same value for property mailNickname already exists")
		}
		return Principal{}, err
	}
	return p, nil
}

// Get returns any directory object by object ID.
func (d *Directory) Get(ctx context.Context, objectID string) (Principal, error) {
	var p Principal
	err := d.st.View(ctx, func(tx *store.Tx) error {
		sp, err := directorydb.GetPrincipal(tx, objectID)
		p = fromStore(sp)
		return err
	})
	return p, err
}

// GetTx is Get inside a transaction.
func GetTx(tx *store.Tx, objectID string) (Principal, error) {
	sp, err := directorydb.GetPrincipal(tx, objectID)
	return fromStore(sp), err
}

// Lookup finds a principal by object ID, UPN or appId (in that order).
func (d *Directory) Lookup(ctx context.Context, key string) (Principal, error) {
	var p Principal
	err := d.st.View(ctx, func(tx *store.Tx) error {
		if sp, err := directorydb.GetPrincipal(tx, key); err == nil && sp.Kind != KindApplication {
			p = fromStore(sp)
			return nil
		}
		if sp, err := directorydb.PrincipalByUPN(tx, key); err == nil {
			p = fromStore(sp)
			return nil
		}
		sp, err := directorydb.PrincipalByAppID(tx, key)
		p = fromStore(sp)
		return err
	})
	return p, err
}

// List returns the directory objects of the given kinds.
func (d *Directory) List(ctx context.Context, kinds ...string) ([]Principal, error) {
	var out []Principal
	err := d.st.View(ctx, func(tx *store.Tx) error {
		ps, err := directorydb.ListPrincipals(tx, kinds...)
		for _, sp := range ps {
			out = append(out, fromStore(sp))
		}
		return err
	})
	return out, err
}

// Delete removes a directory object; deleting an application deletes its
// service principal and secrets too.
func (d *Directory) Delete(ctx context.Context, objectID string) error {
	err := d.st.Update(ctx, func(tx *store.Tx) error {
		sp, err := directorydb.GetPrincipal(tx, objectID)
		if err != nil {
			return err
		}
		if sp.Kind == KindApplication {
			if spn, err := directorydb.PrincipalByAppID(tx, sp.AppID); err == nil {
				if err := directorydb.DeletePrincipal(tx, spn.ObjectID); err != nil {
					return err
				}
			}
		}
		return directorydb.DeletePrincipal(tx, objectID)
	})
	if err == nil {
		err = d.reloadMemberships(ctx)
	}
	return err
}

// DeleteResourcePrincipal removes, in the caller's transaction, the
// service principal of an ARM resource (a managed identity, a virtual
// machine's or a cluster's system-assigned identity) with its secrets and
// memberships, when it has one. Other domains delete principals only
// through it, so that the membership index follows once the transaction
// commits.
func (d *Directory) DeleteResourcePrincipal(tx *store.Tx, resourceID string) error {
	sp, err := directorydb.PrincipalByResourceID(tx, resourceID)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := directorydb.DeletePrincipal(tx, sp.ObjectID); err != nil {
		return err
	}
	tx.AfterCommit(func() { d.forgetMemberships(sp.ObjectID) })
	return nil
}

// SetResourceSecret stores, in the caller's transaction, a secret that an
// ARM resource owns rather than a principal (a registry's admin
// passwords), replacing the one with the same key ID. Other domains write
// secrets only through it and DeleteResourceSecrets.
func (d *Directory) SetResourceSecret(tx *store.Tx, s directorydb.Secret) error {
	return directorydb.AddSecret(tx, s)
}

// DeleteResourceSecrets removes, in the caller's transaction, every secret
// an ARM resource owns (when the resource is deleted).
func (d *Directory) DeleteResourceSecrets(tx *store.Tx, resourceID string) error {
	return directorydb.DeleteSecrets(tx, resourceID, "")
}

// forgetMemberships drops a deleted principal's edges, as a member and as
// a group, from the membership index.
func (d *Directory) forgetMemberships(objectID string) {
	id := strings.ToLower(objectID)
	d.mu.Lock()
	defer d.mu.Unlock()
	idx := make(map[string][]directorydb.Member, len(d.memberOf))
	for member, ms := range d.memberOf {
		if member == id {
			continue
		}
		var kept []directorydb.Member
		for _, m := range ms {
			if !strings.EqualFold(m.GroupID, id) {
				kept = append(kept, m)
			}
		}
		if len(kept) > 0 {
			idx[member] = kept
		}
	}
	d.memberOf = idx
}

// ---- credentials ----

// AuthenticateUser checks a user's password by UPN.
func (d *Directory) AuthenticateUser(ctx context.Context, upn, password string) (Principal, error) {
	sp, err := store.Read(ctx, d.st, func(tx *store.Tx) (directorydb.Principal, error) {
		return directorydb.PrincipalByUPN(tx, upn)
	})
	if err != nil || sp.Kind != KindUser || sp.PasswordHash == "" {
		// Spend the same time as a real check so user names cannot be probed.
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return Principal{}, errInvalidCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(sp.PasswordHash), []byte(password)) != nil {
		return Principal{}, errInvalidCredentials
	}
	return fromStore(sp), nil
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("drydock-timing-equaliser"), bcrypt.DefaultCost)

// AddPassword creates a client secret for an application and returns its
// text once; only its SHA-256 is stored.
func (d *Directory) AddPassword(tx *store.Tx, appObjectID, displayName string, end time.Time) (secret string, s directorydb.Secret, err error) {
	app, err := directorydb.GetPrincipal(tx, appObjectID)
	if err != nil || app.Kind != KindApplication {
		return "", s, notFound("application '%s'", appObjectID)
	}
	secret = NewSecret(40)
	now := d.Now().UTC()
	if end.IsZero() {
		end = now.AddDate(1, 0, 0)
	}
	s = directorydb.Secret{KeyID: uuid.NewString(), OwnerID: app.ObjectID, Hash: HashSecret(secret), Hint: secret[:3], DisplayName: displayName, StartAt: now, EndAt: end}
	return secret, s, directorydb.AddSecret(tx, s)
}

// AuthenticateClient checks a service principal's appId and secret.
func (d *Directory) AuthenticateClient(ctx context.Context, appID, secret string) (Principal, error) {
	var sp directorydb.Principal
	var ok bool
	err := d.st.View(ctx, func(tx *store.Tx) error {
		app, err := directorydb.ApplicationByAppID(tx, appID)
		if err != nil {
			return err
		}
		secrets, err := directorydb.Secrets(tx, app.ObjectID)
		if err != nil {
			return err
		}
		now := d.Now()
		for _, s := range secrets {
			if now.Before(s.EndAt) && SecretMatches(s.Hash, secret) {
				ok = true
			}
		}
		sp, err = directorydb.PrincipalByAppID(tx, appID)
		return err
	})
	if err != nil || !ok {
		return Principal{}, errInvalidCredentials
	}
	return fromStore(sp), nil
}

// HashSecret hashes a high-entropy generated secret. Generated secrets
// carry at least 192 bits, so one SHA-256 is enough and keeps per-request
// checks cheap; user-chosen passwords use bcrypt instead.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SecretMatches compares a secret with a HashSecret hash in constant time.
func SecretMatches(hash, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(HashSecret(secret))) == 1
}

// NewSecret returns a random secret of n characters, as the directory
// hands out client secrets: URL-safe, without '-', so that a secret
// never reads as a flag on a command line (az login -p <secret>).
func NewSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	s = strings.NewReplacer("-", "~", "_", ".").Replace(s)
	return s[:n]
}

// ---- groups ----

// AddMember adds a principal to a group. The membership counts for
// authorization from now + GroupPropagationDelay, as Entra's cached group
// claims do — unless the principal has never been issued a token: its first
// token already carries the membership, so it counts at once. That is why
// AKS recommends pre-creating a kubelet identity and adding it to the group
// before the cluster ever uses it.
func (d *Directory) AddMember(ctx context.Context, groupID, memberID string) (directorydb.Member, error) {
	now := d.Now().UTC()
	m := directorydb.Member{GroupID: strings.ToLower(groupID), MemberID: strings.ToLower(memberID), AddedAt: now, EffectiveAt: now.Add(d.cfg.GroupPropagationDelay)}
	if !d.hadToken(ctx, memberID) {
		m.EffectiveAt = now
	}
	err := d.st.Update(ctx, func(tx *store.Tx) error {
		g, err := directorydb.GetPrincipal(tx, groupID)
		if err != nil || g.Kind != KindGroup {
			return notFound("group '%s'", groupID)
		}
		mem, err := directorydb.GetPrincipal(tx, memberID)
		if err != nil || mem.Kind == KindApplication {
			return notFound("directory object '%s'", memberID)
		}
		if strings.EqualFold(groupID, memberID) {
			return invalid("a group cannot be a member of itself")
		}
		if err := directorydb.AddMember(tx, m); err != nil {
			if errdefs.IsAlreadyExists(err) {
				return exists("One or more added object references already exist for the following modified properties: 'members'.")
			}
			return err
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	return m, d.reloadMemberships(ctx)
}

// RemoveMember removes a principal from a group, effective immediately.
func (d *Directory) RemoveMember(ctx context.Context, groupID, memberID string) error {
	err := d.st.Update(ctx, func(tx *store.Tx) error { return directorydb.RemoveMember(tx, groupID, memberID) })
	if err != nil {
		return err
	}
	return d.reloadMemberships(ctx)
}

// Members lists a group's direct members.
func (d *Directory) Members(ctx context.Context, groupID string) ([]directorydb.Member, error) {
	out, err := store.Read(ctx, d.st, func(tx *store.Tx) ([]directorydb.Member, error) {
		return directorydb.GroupMembers(tx, groupID)
	})
	return out, err
}

// Reload rereads the directory's caches (the membership index) from the
// store: when another replica of the set changed principals or group
// memberships (see internal/replica).
func (d *Directory) Reload(ctx context.Context) error { return d.reloadMemberships(ctx) }

func (d *Directory) reloadMemberships(ctx context.Context) error {
	all, err := store.Read(ctx, d.st, directorydb.AllMemberships)
	if err != nil {
		return err
	}
	idx := make(map[string][]directorydb.Member, len(all))
	for _, m := range all {
		k := strings.ToLower(m.MemberID)
		idx[k] = append(idx[k], m)
	}
	d.mu.Lock()
	d.memberOf = idx
	d.mu.Unlock()
	return nil
}

// Groups returns every group the principal belongs to, directly or through
// nested groups, with the time each membership becomes effective (the
// latest along the path).
func (d *Directory) Groups(principalID string) []authz.Membership {
	d.mu.RLock()
	defer d.mu.RUnlock()
	key := strings.ToLower(principalID)
	if len(d.memberOf[key]) == 0 {
		return nil // a member of no group: nothing to walk
	}
	type item struct {
		id string
		at time.Time
	}
	best := map[string]time.Time{}
	queue := []item{{key, time.Time{}}}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, m := range d.memberOf[cur.id] {
			at := m.EffectiveAt
			if cur.at.After(at) {
				at = cur.at
			}
			if prev, seen := best[m.GroupID]; seen && !at.Before(prev) {
				continue
			}
			best[m.GroupID] = at
			queue = append(queue, item{m.GroupID, at})
		}
	}
	if len(best) == 0 {
		return nil
	}
	out := make([]authz.Membership, 0, len(best))
	for g, at := range best {
		out = append(out, authz.Membership{GroupID: g, EffectiveAt: at})
	}
	return out
}

// IsMember reports whether principal is a (transitive) member of group,
// regardless of propagation.
func (d *Directory) IsMember(principalID, groupID string) bool {
	for _, m := range d.Groups(principalID) {
		if strings.EqualFold(m.GroupID, groupID) {
			return true
		}
	}
	return false
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// noteToken records, once per principal, that it has been issued a token.
func (d *Directory) noteToken(p Principal) {
	key := strings.ToLower(p.ObjectID)
	d.mu.RLock()
	seen := d.tokened[key]
	d.mu.RUnlock()
	if seen {
		return
	}
	err := d.st.Update(context.Background(), func(tx *store.Tx) error {
		if v, err := tx.Meta("firsttoken/" + key); err != nil || v != "" {
			return err
		}
		return tx.SetMeta("firsttoken/"+key, d.Now().UTC().Format(time.RFC3339))
	})
	if err == nil {
		d.mu.Lock()
		d.tokened[key] = true
		d.mu.Unlock()
	}
}

// hadToken reports whether the principal was ever issued a token.
func (d *Directory) hadToken(ctx context.Context, objectID string) bool {
	key := strings.ToLower(objectID)
	d.mu.RLock()
	seen := d.tokened[key]
	d.mu.RUnlock()
	if seen {
		return true
	}
	v, _ := store.Read(ctx, d.st, func(tx *store.Tx) (string, error) { return tx.Meta("firsttoken/" + key) })
	return v != ""
}
