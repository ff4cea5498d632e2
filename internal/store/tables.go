package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// ---- meta ----

// Meta returns the value stored under key, or "" when absent.
func (t *Tx) Meta(key string) (string, error) {
	var v string
	err := t.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta stores value under key.
func (t *Tx) SetMeta(key, value string) error {
	_, err := t.Exec(`INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// ---- subscriptions ----

// Subscription is a row of the subscriptions table.
type Subscription struct {
	ID          string
	DisplayName string
	TenantID    string
	State       string
	CreatedAt   time.Time
}

// CreateSubscription inserts a subscription; errdefs.ErrAlreadyExists if the ID exists.
func (t *Tx) CreateSubscription(s Subscription) error {
	return t.InsertUnique(`INSERT INTO subscriptions(id, display_name, tenant_id, state, created_at) VALUES(?,?,?,?,?)`,
		strings.ToLower(s.ID), s.DisplayName, s.TenantID, s.State, now())
}

// GetSubscription returns a subscription by ID (case-insensitive).
func (t *Tx) GetSubscription(id string) (Subscription, error) {
	s, err := scanSubscription(t.QueryRow(`SELECT `+subscriptionCols+` FROM subscriptions WHERE id = ?`, strings.ToLower(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return s, errdefs.ErrNotFound
	}
	return s, err
}

const subscriptionCols = `id, display_name, tenant_id, state, created_at`

func scanSubscription(sc RowScanner) (Subscription, error) {
	var s Subscription
	var created string
	err := sc.Scan(&s.ID, &s.DisplayName, &s.TenantID, &s.State, &created)
	s.CreatedAt = ParseTime(created)
	return s, err
}

// ListSubscriptions returns all subscriptions ordered by creation.
func (t *Tx) ListSubscriptions() ([]Subscription, error) {
	return QueryAll(t, scanSubscription, `SELECT `+subscriptionCols+` FROM subscriptions ORDER BY created_at, id`)
}

// ---- resources ----

// Resource is a stored ARM resource: its ID as first written, its
// lower-cased type, and its JSON body (the ARM representation).
type Resource struct {
	ID            string
	Type          string // lower-case, e.g. "microsoft.containerregistry/registries"
	Subscription  string // lower-case
	ResourceGroup string // lower-case; for a resource group, its own name
	Name          string
	Body          json.RawMessage
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// PutResource inserts or replaces a resource, keyed by its case-folded ID.
// A registry whose name is taken anywhere returns errdefs.ErrAlreadyExists.
func (t *Tx) PutResource(r Resource) error {
	key := strings.ToLower(r.ID)
	ts := now()
	return t.InsertUnique(`INSERT INTO resources(key, id, type, subscription, resource_group, name_key, body, created_at, updated_at)
		VALUES(?,?,?,?,?,?,?,?,?)
		ON CONFLICT(key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
		key, r.ID, strings.ToLower(r.Type), strings.ToLower(r.Subscription), strings.ToLower(r.ResourceGroup), strings.ToLower(r.Name), string(r.Body), ts, ts)
}

const resourceCols = `id, type, subscription, resource_group, name_key, body, created_at, updated_at`

func scanResource(sc RowScanner) (Resource, error) {
	var r Resource
	var body, created, updated string
	if err := sc.Scan(&r.ID, &r.Type, &r.Subscription, &r.ResourceGroup, &r.Name, &body, &created, &updated); err != nil {
		return r, err
	}
	// Name as written is the last segment of the ID.
	if i := strings.LastIndex(r.ID, "/"); i >= 0 {
		r.Name = r.ID[i+1:]
	}
	r.Body = json.RawMessage(body)
	r.CreatedAt, r.UpdatedAt = ParseTime(created), ParseTime(updated)
	return r, nil
}

// GetResource returns the resource with the given ID (case-insensitive).
func (t *Tx) GetResource(id string) (Resource, error) {
	r, err := scanResource(t.QueryRow(`SELECT `+resourceCols+` FROM resources WHERE key = ?`, strings.ToLower(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return r, errdefs.ErrNotFound
	}
	return r, err
}

// DeleteResource removes one resource; errdefs.ErrNotFound if absent.
func (t *Tx) DeleteResource(id string) error {
	return t.ExecFound(`DELETE FROM resources WHERE key = ?`, strings.ToLower(id))
}

// ResourceFilter selects resources; empty fields match anything.
type ResourceFilter struct {
	Type          string
	Subscription  string
	ResourceGroup string
	Name          string
}

// ListResources returns resources matching f, ordered by ID.
func (t *Tx) ListResources(f ResourceFilter) ([]Resource, error) {
	q := `SELECT ` + resourceCols + ` FROM resources WHERE 1=1`
	var args []any
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, strings.ToLower(f.Type))
	}
	if f.Subscription != "" {
		q += ` AND subscription = ?`
		args = append(args, strings.ToLower(f.Subscription))
	}
	if f.ResourceGroup != "" {
		q += ` AND resource_group = ?`
		args = append(args, strings.ToLower(f.ResourceGroup))
	}
	if f.Name != "" {
		q += ` AND name_key = ?`
		args = append(args, strings.ToLower(f.Name))
	}
	q += ` ORDER BY key`
	return QueryAll(t, scanResource, q, args...)
}

// ---- principals ----

// Principal is a directory object that can sign in or be assigned roles:
// a user, a service principal (application or managed identity), or a group.
type Principal struct {
	ObjectID     string
	Kind         string // "User", "ServicePrincipal", "ManagedIdentity", "Group", "Application"
	AppID        string // appId / clientId for service principals and managed identities
	UPN          string // userPrincipalName for users, mailNickname for groups
	DisplayName  string
	ResourceID   string // managed identity's ARM resource ID
	PasswordHash string // users only
	Body         json.RawMessage
	CreatedAt    time.Time
}

// CreatePrincipal inserts a principal; errdefs.ErrAlreadyExists if its object ID or UPN exists.
func (t *Tx) CreatePrincipal(p Principal) error {
	if len(p.Body) == 0 {
		p.Body = json.RawMessage("{}")
	}
	ts := now()
	if !p.CreatedAt.IsZero() {
		ts = FormatTime(p.CreatedAt)
	}
	return t.InsertUnique(`INSERT INTO principals(object_id, kind, app_id, upn, display_name, resource_id, password_hash, body, created_at) VALUES(?,?,?,?,?,?,?,?,?)`,
		strings.ToLower(p.ObjectID), p.Kind, p.AppID, p.UPN, p.DisplayName, p.ResourceID, p.PasswordHash, string(p.Body), ts)
}

// UpdatePrincipalPassword replaces a user's password hash.
func (t *Tx) UpdatePrincipalPassword(objectID, hash string) error {
	_, err := t.Exec(`UPDATE principals SET password_hash = ? WHERE object_id = ?`, hash, strings.ToLower(objectID))
	return err
}

// RenamePrincipal changes a principal's display name.
func (t *Tx) RenamePrincipal(objectID, displayName string) error {
	return t.ExecFound(`UPDATE principals SET display_name = ? WHERE object_id = ?`, displayName, strings.ToLower(objectID))
}

const principalCols = `object_id, kind, app_id, upn, display_name, resource_id, password_hash, body, created_at`

func scanPrincipal(sc RowScanner) (Principal, error) {
	var p Principal
	var body, created string
	err := sc.Scan(&p.ObjectID, &p.Kind, &p.AppID, &p.UPN, &p.DisplayName, &p.ResourceID, &p.PasswordHash, &body, &created)
	p.Body = json.RawMessage(body)
	p.CreatedAt = ParseTime(created)
	return p, err
}

func (t *Tx) onePrincipal(where string, arg any) (Principal, error) {
	p, err := scanPrincipal(t.QueryRow(`SELECT `+principalCols+` FROM principals WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errdefs.ErrNotFound
	}
	return p, err
}

// GetPrincipal returns a principal by object ID.
func (t *Tx) GetPrincipal(objectID string) (Principal, error) {
	return t.onePrincipal(`object_id = ?`, strings.ToLower(objectID))
}

// PrincipalByUPN returns a user (or group, by mail nickname) by UPN, case-insensitive.
func (t *Tx) PrincipalByUPN(upn string) (Principal, error) {
	return t.onePrincipal(`lower(upn) = lower(?) AND upn != ''`, upn)
}

// PrincipalByAppID returns the service principal or managed identity with
// the given appId/clientId (applications are excluded).
func (t *Tx) PrincipalByAppID(appID string) (Principal, error) {
	return t.onePrincipal(`lower(app_id) = lower(?) AND app_id != '' AND kind != 'Application'`, appID)
}

// ApplicationByAppID returns the application object with the given appId.
func (t *Tx) ApplicationByAppID(appID string) (Principal, error) {
	return t.onePrincipal(`lower(app_id) = lower(?) AND kind = 'Application'`, appID)
}

// PrincipalByResourceID returns the managed identity with the given ARM resource ID.
func (t *Tx) PrincipalByResourceID(id string) (Principal, error) {
	return t.onePrincipal(`lower(resource_id) = lower(?) AND resource_id != ''`, id)
}

// ListPrincipals returns principals of the given kinds (all when none), ordered by display name.
func (t *Tx) ListPrincipals(kinds ...string) ([]Principal, error) {
	q := `SELECT ` + principalCols + ` FROM principals`
	var args []any
	if len(kinds) > 0 {
		q += ` WHERE kind IN (?` + strings.Repeat(",?", len(kinds)-1) + `)`
		for _, k := range kinds {
			args = append(args, k)
		}
	}
	q += ` ORDER BY lower(display_name), object_id`
	return QueryAll(t, scanPrincipal, q, args...)
}

// DeletePrincipal removes a principal with its secrets and memberships.
func (t *Tx) DeletePrincipal(objectID string) error {
	id := strings.ToLower(objectID)
	if err := t.ExecFound(`DELETE FROM principals WHERE object_id = ?`, id); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM secrets WHERE owner_id = ?`,
		`DELETE FROM group_members WHERE group_id = ? OR member_id = ?`,
	} {
		args := []any{id}
		if strings.Count(q, "?") == 2 {
			args = append(args, id)
		}
		if _, err := t.Exec(q, args...); err != nil {
			return err
		}
	}
	return nil
}

// ---- secrets (application passwords, host credentials, admin passwords) ----

// Secret is a hashed credential owned by a directory or ARM object.
type Secret struct {
	KeyID       string
	OwnerID     string // lower-cased owner: application object ID, host resource ID, ...
	Hash        string
	Hint        string // first characters of the secret, as Entra shows
	DisplayName string
	StartAt     time.Time
	EndAt       time.Time
	// Sealed is the secret encrypted with the data dir's key, for the few
	// secrets that must be shown again (registry admin passwords).
	Sealed string
}

// AddSecret stores a hashed secret, replacing one with the same key ID.
func (t *Tx) AddSecret(s Secret) error {
	return t.InsertUnique(`INSERT INTO secrets(key_id, owner_id, hash, hint, display_name, start_at, end_at, sealed) VALUES(?,?,?,?,?,?,?,?)
		ON CONFLICT(key_id) DO UPDATE SET hash = excluded.hash, hint = excluded.hint, start_at = excluded.start_at, end_at = excluded.end_at, sealed = excluded.sealed`,
		strings.ToLower(s.KeyID), strings.ToLower(s.OwnerID), s.Hash, s.Hint, s.DisplayName, FormatTime(s.StartAt), FormatTime(s.EndAt), s.Sealed)
}

// Secrets returns the secrets of an owner.
func (t *Tx) Secrets(ownerID string) ([]Secret, error) {
	return QueryAll(t, scanSecret, `SELECT key_id, owner_id, hash, hint, display_name, start_at, end_at, sealed FROM secrets WHERE owner_id = ? ORDER BY key_id`, strings.ToLower(ownerID))
}

func scanSecret(sc RowScanner) (Secret, error) {
	var s Secret
	var st, en string
	err := sc.Scan(&s.KeyID, &s.OwnerID, &s.Hash, &s.Hint, &s.DisplayName, &st, &en, &s.Sealed)
	s.StartAt, s.EndAt = ParseTime(st), ParseTime(en)
	return s, err
}

// DeleteSecrets removes every secret of an owner (or just keyID when given).
func (t *Tx) DeleteSecrets(ownerID, keyID string) error {
	if keyID != "" {
		_, err := t.Exec(`DELETE FROM secrets WHERE owner_id = ? AND key_id = ?`, strings.ToLower(ownerID), strings.ToLower(keyID))
		return err
	}
	_, err := t.Exec(`DELETE FROM secrets WHERE owner_id = ?`, strings.ToLower(ownerID))
	return err
}

// ---- group membership ----

// Member is one membership edge.
type Member struct {
	GroupID     string
	MemberID    string
	AddedAt     time.Time
	EffectiveAt time.Time
}

// AddMember adds member to group; errdefs.ErrAlreadyExists if already a member.
func (t *Tx) AddMember(m Member) error {
	return t.InsertUnique(`INSERT INTO group_members(group_id, member_id, added_at, effective_at) VALUES(?,?,?,?)`,
		strings.ToLower(m.GroupID), strings.ToLower(m.MemberID), FormatTime(m.AddedAt), FormatTime(m.EffectiveAt))
}

// RemoveMember removes a membership; errdefs.ErrNotFound if absent.
func (t *Tx) RemoveMember(groupID, memberID string) error {
	return t.ExecFound(`DELETE FROM group_members WHERE group_id = ? AND member_id = ?`, strings.ToLower(groupID), strings.ToLower(memberID))
}

func (t *Tx) members(where string, args ...any) ([]Member, error) {
	return QueryAll(t, scanMember, `SELECT group_id, member_id, added_at, effective_at FROM group_members WHERE `+where+` ORDER BY added_at`, args...)
}

func scanMember(sc RowScanner) (Member, error) {
	var m Member
	var a, e string
	err := sc.Scan(&m.GroupID, &m.MemberID, &a, &e)
	m.AddedAt, m.EffectiveAt = ParseTime(a), ParseTime(e)
	return m, err
}

// GroupMembers lists the direct members of a group.
func (t *Tx) GroupMembers(groupID string) ([]Member, error) {
	return t.members(`group_id = ?`, strings.ToLower(groupID))
}

// MemberOf lists the groups a principal is a direct member of.
func (t *Tx) MemberOf(memberID string) ([]Member, error) {
	return t.members(`member_id = ?`, strings.ToLower(memberID))
}

// AllMemberships returns every membership edge (to build the in-memory index).
func (t *Tx) AllMemberships() ([]Member, error) { return t.members(`1 = 1`) }

// ---- long-running operations ----

// PutOperation stores an operation's status document.
func (t *Tx) PutOperation(id string, body json.RawMessage) error {
	_, err := t.Exec(`INSERT INTO operations(id, body, updated_at) VALUES(?,?,?) ON CONFLICT(id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
		strings.ToLower(id), string(body), now())
	return err
}

// GetOperation returns an operation's status document.
func (t *Tx) GetOperation(id string) (json.RawMessage, error) {
	var body string
	err := t.QueryRow(`SELECT body FROM operations WHERE id = ?`, strings.ToLower(id)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errdefs.ErrNotFound
	}
	return json.RawMessage(body), err
}

// ---- hosts (machines that may ask the managed-identity endpoint for tokens) ----

// PutHost records which managed identities (principal object IDs) are
// assigned to a host.
func (t *Tx) PutHost(hostID string, identities []string) error {
	b, _ := json.Marshal(identities)
	_, err := t.Exec(`INSERT INTO hosts(host_id, identities) VALUES(?, ?) ON CONFLICT(host_id) DO UPDATE SET identities = excluded.identities`,
		strings.ToLower(hostID), string(b))
	return err
}

// HostIdentities returns the identities assigned to a host; errdefs.ErrNotFound if
// the host is not registered.
func (t *Tx) HostIdentities(hostID string) ([]string, error) {
	var s string
	err := t.QueryRow(`SELECT identities FROM hosts WHERE host_id = ?`, strings.ToLower(hostID)).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errdefs.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	err = json.Unmarshal([]byte(s), &ids)
	return ids, err
}

// DeleteHost unregisters a host and its credentials.
func (t *Tx) DeleteHost(hostID string) error {
	if _, err := t.Exec(`DELETE FROM hosts WHERE host_id = ?`, strings.ToLower(hostID)); err != nil {
		return err
	}
	return t.DeleteSecrets(hostID, "")
}

// SecretByKeyID returns one secret by its key ID.
func (t *Tx) SecretByKeyID(keyID string) (Secret, error) {
	var s Secret
	var st, en string
	err := t.QueryRow(`SELECT key_id, owner_id, hash, hint, display_name, start_at, end_at FROM secrets WHERE key_id = ?`, strings.ToLower(keyID)).
		Scan(&s.KeyID, &s.OwnerID, &s.Hash, &s.Hint, &s.DisplayName, &st, &en)
	if errors.Is(err, sql.ErrNoRows) {
		return s, errdefs.ErrNotFound
	}
	s.StartAt, s.EndAt = ParseTime(st), ParseTime(en)
	return s, err
}
