package store

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// The replica domain's tables serve several drydock servers sharing one
// PostgreSQL database (they exist, unused, in an embedded database too):
//
//   - shared_secrets: the set's identity (token signing keys, the secrets
//     key, the CA), each sealed with the configured secret key;
//   - leases: a periodic job's name, the replica holding it and until when;
//   - replicas: each running replica's heartbeat, by which the others tell
//     a live one from a dead one (an operation it runs is not interrupted).
//
// On PostgreSQL the migration also installs statement triggers that send
// the name of a changed table on ChangeChannel, for the caches that other
// replicas keep of role assignments, principals, group memberships and
// registries (resources).
const replicaSchema = `
CREATE TABLE IF NOT EXISTS shared_secrets(
  name TEXT PRIMARY KEY,
  sealed TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases(
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replicas(
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  started_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL);
`

// ChangeChannel is the PostgreSQL notification channel on which every
// committed change to a watched table (WatchedTables) is announced, with
// the table's name as payload.
const ChangeChannel = "drydock_changes"

// WatchedTables are the tables whose changes are announced on
// ChangeChannel.
var WatchedTables = []string{"role_assignments", "principals", "group_members", "resources"}

// installChangeTriggers creates, on PostgreSQL, the trigger function and
// one statement-level trigger per watched table. NOTIFY is transactional:
// the announcement is delivered when, and only if, the change commits.
func installChangeTriggers(tx *Tx) error {
	if tx.d.name() != "postgres" {
		return nil
	}
	if _, err := tx.tx.Exec(`CREATE OR REPLACE FUNCTION drydock_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('` + ChangeChannel + `', TG_TABLE_NAME);
  RETURN NULL;
END $$`); err != nil {
		return err
	}
	for _, table := range WatchedTables {
		if _, err := tx.tx.Exec(`CREATE TRIGGER drydock_announce_` + table + ` AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ` + table +
			` FOR EACH STATEMENT EXECUTE FUNCTION drydock_announce_change()`); err != nil {
			return err
		}
	}
	return nil
}

// ---- shared secrets ----

// SharedSecret returns the sealed value stored under name, or
// errdefs.ErrNotFound.
func (t *Tx) SharedSecret(name string) (string, error) {
	var v string
	err := t.QueryRow(`SELECT sealed FROM shared_secrets WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errdefs.ErrNotFound
	}
	return v, err
}

// AddSharedSecret stores a sealed value under name; errdefs.ErrAlreadyExists
// when one is stored there already (the first replica's wins).
func (t *Tx) AddSharedSecret(name, sealed string) error {
	_, err := t.ExecUnique(`INSERT INTO shared_secrets(name, sealed, created_at) VALUES(?,?,?)`, name, sealed, now())
	return err
}

// ---- leases ----

// AcquireLease gives the lease name to holder until now+ttl when it is
// free, expired or already holder's (a renewal), and reports whether
// holder has it. Run it in its own Update: write transactions run one at
// a time, so two replicas never both get a lease.
func (t *Tx) AcquireLease(name, holder string, at time.Time, ttl time.Duration) (bool, error) {
	var cur, until string
	err := t.QueryRow(`SELECT holder, expires_at FROM leases WHERE name = ?`, name).Scan(&cur, &until)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	case cur != holder && until > FormatTime(at):
		return false, nil
	}
	_, err = t.Exec(`INSERT INTO leases(name, holder, expires_at) VALUES(?,?,?) ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
		name, holder, FormatTime(at.Add(ttl)))
	return err == nil, err
}

// ReleaseLease ends holder's lease name (nothing when another holds it).
func (t *Tx) ReleaseLease(name, holder string) error {
	_, err := t.Exec(`UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?`, FormatTime(time.Time{}), name, holder)
	return err
}

// LeaseHolder returns who holds the lease name and until when ("" when
// nobody ever did).
func (t *Tx) LeaseHolder(name string) (string, time.Time, error) {
	var holder, until string
	err := t.QueryRow(`SELECT holder, expires_at FROM leases WHERE name = ?`, name).Scan(&holder, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	return holder, ParseTime(until), err
}

// ---- replicas ----

// Heartbeat records that replica id (serving at address) is alive at at.
func (t *Tx) Heartbeat(id, address string, at time.Time) error {
	_, err := t.Exec(`INSERT INTO replicas(id, address, started_at, heartbeat_at) VALUES(?,?,?,?) ON CONFLICT(id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at`,
		id, address, FormatTime(at), FormatTime(at))
	return err
}

// ReplicaHeartbeat returns when replica id last reported alive, or
// errdefs.ErrNotFound.
func (t *Tx) ReplicaHeartbeat(id string) (time.Time, error) {
	var at string
	err := t.QueryRow(`SELECT heartbeat_at FROM replicas WHERE id = ?`, id).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, errdefs.ErrNotFound
	}
	return ParseTime(at), err
}

// ---- change notifications ----

// Shared reports whether other processes may share the database
// (PostgreSQL), so that its changes can come from elsewhere.
func (s *Store) Shared() bool { return s.d.name() == "postgres" }

// ListenChanges calls fn with the name of each watched table (see
// WatchedTables) whose change another process (or this one) committed,
// until ctx ends. It holds a connection of its own LISTENing on
// ChangeChannel; after connecting, and after every reconnection (when
// notifications may have been missed), it calls fn(""), meaning "anything
// may have changed". On SQLite, which one process owns, it returns at once.
func (s *Store) ListenChanges(ctx context.Context, fn func(table string)) error {
	if !s.Shared() {
		return nil
	}
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := s.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && s.onListenError != nil {
			s.onListenError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, fn func(string)) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return classify(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+ChangeChannel); err != nil {
		return classify(err)
	}
	fn("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return classify(err)
		}
		fn(strings.TrimSpace(n.Payload))
	}
}

// OnListenError sets what ListenChanges does with a lost connection before
// it reconnects (e.g. log it).
func (s *Store) OnListenError(f func(error)) { s.onListenError = f }

// PutSharedSecret stores a sealed value under name, replacing the one
// stored there (for values one writer owns, such as the files of a
// cluster's control plane, which only its lease holder writes).
func (t *Tx) PutSharedSecret(name, sealed string) error {
	_, err := t.Exec(`INSERT INTO shared_secrets(name, sealed, created_at) VALUES(?,?,?) ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed`, name, sealed, now())
	return err
}

// SharedSecretsUnder returns the sealed values whose names start with
// prefix, by name.
func (t *Tx) SharedSecretsUnder(prefix string) (map[string]string, error) {
	// substr rather than LIKE: names hold '_', which LIKE would match
	// as any character.
	type pair struct{ name, sealed string }
	pairs, err := QueryAll(t, func(r RowScanner) (p pair, err error) {
		err = r.Scan(&p.name, &p.sealed)
		return p, err
	}, `SELECT name, sealed FROM shared_secrets WHERE substr(name, 1, ?) = ?`, len([]rune(prefix)), prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		out[p.name] = p.sealed
	}
	return out, nil
}

// DeleteSharedSecretsUnder deletes the values whose names start with
// prefix.
func (t *Tx) DeleteSharedSecretsUnder(prefix string) error {
	_, err := t.Exec(`DELETE FROM shared_secrets WHERE substr(name, 1, ?) = ?`, len([]rune(prefix)), prefix)
	return err
}

// DeleteLease forgets the lease name (its job is gone for good).
func (t *Tx) DeleteLease(name string) error {
	_, err := t.Exec(`DELETE FROM leases WHERE name = ?`, name)
	return err
}

// schemaName is what DropSchema accepts: a lower-case PostgreSQL
// identifier that needs no quoting.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// DropSchema drops the PostgreSQL schema name and everything in it (a
// cluster's datastore), if it exists; on SQLite, which has no schemas, it
// does nothing. name must be a lower-case identifier (letters, digits,
// '_'); the public schema is refused.
func (t *Tx) DropSchema(name string) error {
	if !schemaName.MatchString(name) || name == "public" || strings.HasPrefix(name, "pg_") {
		return errdefs.New(errdefs.ErrInvalidArgument, "", "%q is not a schema drydock may drop", name)
	}
	if t.d.name() != "postgres" {
		return nil
	}
	_, err := t.tx.Exec(`DROP SCHEMA IF EXISTS ` + name + ` CASCADE`)
	return err
}
