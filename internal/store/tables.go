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
