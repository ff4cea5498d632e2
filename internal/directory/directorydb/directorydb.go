// Package directorydb is the directory's tables in the metadata database
// (principals, their secrets, group memberships and the managed-identity
// hosts), their migrations (Migrations) and every statement that reads or
// writes them, as functions over a transaction of the store
// (internal/store). Package directory keeps the caches over these rows
// (the membership index); another domain that writes them goes through
// directory.
package directorydb

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
)

// Migrations returns the directory domain's schema migrations, in order.
// A later migration is appended with the next version number.
func Migrations() []store.Migration {
	return []store.Migration{
		{Domain: "directory", Version: 1, Name: "principals, secrets, group memberships and managed-identity hosts", SQL: directorySchema},
		{Domain: "directory", Version: 2, Name: "one time encoding", Up: func(tx *store.Tx) error {
			return tx.RewriteTimes([]store.TimeColumns{
				{Table: "principals", Key: "object_id", Cols: []string{"created_at"}},
				{Table: "secrets", Key: "key_id", Cols: []string{"start_at", "end_at"}},
				{Table: "group_members", Key: "group_id || ' ' || member_id", Cols: []string{"added_at", "effective_at"}},
			})
		}},
	}
}

// Version 1 is the tables as drydock created them before schema versions
// existed (CREATE ... IF NOT EXISTS, so that applying it to a database of
// that time changes nothing). Do not edit it: a change is a new migration.
const directorySchema = `
CREATE TABLE IF NOT EXISTS principals(
  object_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  app_id TEXT NOT NULL DEFAULT '',
  upn TEXT NOT NULL DEFAULT '',
  display_name TEXT NOT NULL,
  resource_id TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS principals_upn ON principals(lower(upn)) WHERE upn != '';
CREATE INDEX IF NOT EXISTS principals_app ON principals(lower(app_id)) WHERE app_id != '';
CREATE INDEX IF NOT EXISTS principals_resource ON principals(lower(resource_id)) WHERE resource_id != '';
CREATE TABLE IF NOT EXISTS secrets(
  key_id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  hash TEXT NOT NULL,
  hint TEXT NOT NULL,
  display_name TEXT NOT NULL,
  start_at TEXT NOT NULL,
  end_at TEXT NOT NULL,
  sealed TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS secrets_owner ON secrets(owner_id);
CREATE TABLE IF NOT EXISTS group_members(
  group_id TEXT NOT NULL,
  member_id TEXT NOT NULL,
  added_at TEXT NOT NULL,
  effective_at TEXT NOT NULL,
  PRIMARY KEY(group_id, member_id));
CREATE INDEX IF NOT EXISTS group_members_member ON group_members(member_id);
CREATE TABLE IF NOT EXISTS hosts(
  host_id TEXT PRIMARY KEY,
  identities TEXT NOT NULL);
`

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
func CreatePrincipal(t *store.Tx, p Principal) error {
	if len(p.Body) == 0 {
		p.Body = json.RawMessage("{}")
	}
	ts := store.Now()
	if !p.CreatedAt.IsZero() {
		ts = store.FormatTime(p.CreatedAt)
	}
	return t.InsertUnique(`INSERT INTO principals(object_id, kind, app_id, upn, display_name, resource_id, password_hash, body, created_at) VALUES(?,?,?,?,?,?,?,?,?)`,
		strings.ToLower(p.ObjectID), p.Kind, p.AppID, p.UPN, p.DisplayName, p.ResourceID, p.PasswordHash, string(p.Body), ts)
}

// UpdatePrincipalPassword replaces a user's password hash.
func UpdatePrincipalPassword(t *store.Tx, objectID, hash string) error {
	_, err := t.Exec(`UPDATE principals SET password_hash = ? WHERE object_id = ?`, hash, strings.ToLower(objectID))
	return err
}

// RenamePrincipal changes a principal's display name.
func RenamePrincipal(t *store.Tx, objectID, displayName string) error {
	return t.ExecFound(`UPDATE principals SET display_name = ? WHERE object_id = ?`, displayName, strings.ToLower(objectID))
}

const principalCols = `object_id, kind, app_id, upn, display_name, resource_id, password_hash, body, created_at`

func scanPrincipal(sc store.RowScanner) (Principal, error) {
	var p Principal
	var body, created string
	err := sc.Scan(&p.ObjectID, &p.Kind, &p.AppID, &p.UPN, &p.DisplayName, &p.ResourceID, &p.PasswordHash, &body, &created)
	p.Body = json.RawMessage(body)
	p.CreatedAt = store.ParseTime(created)
	return p, err
}

func onePrincipal(t *store.Tx, where string, arg any) (Principal, error) {
	p, err := scanPrincipal(t.QueryRow(`SELECT `+principalCols+` FROM principals WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errdefs.ErrNotFound
	}
	return p, err
}

// GetPrincipal returns a principal by object ID.
func GetPrincipal(t *store.Tx, objectID string) (Principal, error) {
	return onePrincipal(t, `object_id = ?`, strings.ToLower(objectID))
}

// PrincipalByUPN returns a user (or group, by mail nickname) by UPN, case-insensitive.
func PrincipalByUPN(t *store.Tx, upn string) (Principal, error) {
	return onePrincipal(t, `lower(upn) = lower(?) AND upn != ''`, upn)
}

// PrincipalByAppID returns the service principal or managed identity with
// the given appId/clientId (applications are excluded).
func PrincipalByAppID(t *store.Tx, appID string) (Principal, error) {
	return onePrincipal(t, `lower(app_id) = lower(?) AND app_id != '' AND kind != 'Application'`, appID)
}

// ApplicationByAppID returns the application object with the given appId.
func ApplicationByAppID(t *store.Tx, appID string) (Principal, error) {
	return onePrincipal(t, `lower(app_id) = lower(?) AND kind = 'Application'`, appID)
}

// PrincipalByResourceID returns the managed identity with the given ARM resource ID.
func PrincipalByResourceID(t *store.Tx, id string) (Principal, error) {
	return onePrincipal(t, `lower(resource_id) = lower(?) AND resource_id != ''`, id)
}

// ListPrincipals returns principals of the given kinds (all when none), ordered by display name.
func ListPrincipals(t *store.Tx, kinds ...string) ([]Principal, error) {
	q := `SELECT ` + principalCols + ` FROM principals`
	var args []any
	if len(kinds) > 0 {
		q += ` WHERE kind IN (?` + strings.Repeat(",?", len(kinds)-1) + `)`
		for _, k := range kinds {
			args = append(args, k)
		}
	}
	q += ` ORDER BY lower(display_name), object_id`
	return store.QueryAll(t, scanPrincipal, q, args...)
}

// DeletePrincipal removes a principal with its secrets and memberships.
func DeletePrincipal(t *store.Tx, objectID string) error {
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
func AddSecret(t *store.Tx, s Secret) error {
	return t.InsertUnique(`INSERT INTO secrets(key_id, owner_id, hash, hint, display_name, start_at, end_at, sealed) VALUES(?,?,?,?,?,?,?,?)
		ON CONFLICT(key_id) DO UPDATE SET hash = excluded.hash, hint = excluded.hint, start_at = excluded.start_at, end_at = excluded.end_at, sealed = excluded.sealed`,
		strings.ToLower(s.KeyID), strings.ToLower(s.OwnerID), s.Hash, s.Hint, s.DisplayName, store.FormatTime(s.StartAt), store.FormatTime(s.EndAt), s.Sealed)
}

// Secrets returns the secrets of an owner.
func Secrets(t *store.Tx, ownerID string) ([]Secret, error) {
	return store.QueryAll(t, scanSecret, `SELECT key_id, owner_id, hash, hint, display_name, start_at, end_at, sealed FROM secrets WHERE owner_id = ? ORDER BY key_id`, strings.ToLower(ownerID))
}

func scanSecret(sc store.RowScanner) (Secret, error) {
	var s Secret
	var st, en string
	err := sc.Scan(&s.KeyID, &s.OwnerID, &s.Hash, &s.Hint, &s.DisplayName, &st, &en, &s.Sealed)
	s.StartAt, s.EndAt = store.ParseTime(st), store.ParseTime(en)
	return s, err
}

// DeleteSecrets removes every secret of an owner (or just keyID when given).
func DeleteSecrets(t *store.Tx, ownerID, keyID string) error {
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
func AddMember(t *store.Tx, m Member) error {
	return t.InsertUnique(`INSERT INTO group_members(group_id, member_id, added_at, effective_at) VALUES(?,?,?,?)`,
		strings.ToLower(m.GroupID), strings.ToLower(m.MemberID), store.FormatTime(m.AddedAt), store.FormatTime(m.EffectiveAt))
}

// RemoveMember removes a membership; errdefs.ErrNotFound if absent.
func RemoveMember(t *store.Tx, groupID, memberID string) error {
	return t.ExecFound(`DELETE FROM group_members WHERE group_id = ? AND member_id = ?`, strings.ToLower(groupID), strings.ToLower(memberID))
}

func members(t *store.Tx, where string, args ...any) ([]Member, error) {
	return store.QueryAll(t, scanMember, `SELECT group_id, member_id, added_at, effective_at FROM group_members WHERE `+where+` ORDER BY added_at`, args...)
}

func scanMember(sc store.RowScanner) (Member, error) {
	var m Member
	var a, e string
	err := sc.Scan(&m.GroupID, &m.MemberID, &a, &e)
	m.AddedAt, m.EffectiveAt = store.ParseTime(a), store.ParseTime(e)
	return m, err
}

// GroupMembers lists the direct members of a group.
func GroupMembers(t *store.Tx, groupID string) ([]Member, error) {
	return members(t, `group_id = ?`, strings.ToLower(groupID))
}

// MemberOf lists the groups a principal is a direct member of.
func MemberOf(t *store.Tx, memberID string) ([]Member, error) {
	return members(t, `member_id = ?`, strings.ToLower(memberID))
}

// AllMemberships returns every membership edge (to build the in-memory index).
func AllMemberships(t *store.Tx) ([]Member, error) { return members(t, `1 = 1`) }

// ---- hosts (machines that may ask the managed-identity endpoint for tokens) ----

// PutHost records which managed identities (principal object IDs) are
// assigned to a host.
func PutHost(t *store.Tx, hostID string, identities []string) error {
	b, _ := json.Marshal(identities)
	_, err := t.Exec(`INSERT INTO hosts(host_id, identities) VALUES(?, ?) ON CONFLICT(host_id) DO UPDATE SET identities = excluded.identities`,
		strings.ToLower(hostID), string(b))
	return err
}

// HostIdentities returns the identities assigned to a host; errdefs.ErrNotFound if
// the host is not registered.
func HostIdentities(t *store.Tx, hostID string) ([]string, error) {
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
func DeleteHost(t *store.Tx, hostID string) error {
	if _, err := t.Exec(`DELETE FROM hosts WHERE host_id = ?`, strings.ToLower(hostID)); err != nil {
		return err
	}
	return DeleteSecrets(t, hostID, "")
}

// SecretByKeyID returns one secret by its key ID.
func SecretByKeyID(t *store.Tx, keyID string) (Secret, error) {
	var s Secret
	var st, en string
	err := t.QueryRow(`SELECT key_id, owner_id, hash, hint, display_name, start_at, end_at FROM secrets WHERE key_id = ?`, strings.ToLower(keyID)).
		Scan(&s.KeyID, &s.OwnerID, &s.Hash, &s.Hint, &s.DisplayName, &st, &en)
	if errors.Is(err, sql.ErrNoRows) {
		return s, errdefs.ErrNotFound
	}
	s.StartAt, s.EndAt = store.ParseTime(st), store.ParseTime(en)
	return s, err
}
