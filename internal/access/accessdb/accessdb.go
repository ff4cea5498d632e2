// Package accessdb is access's tables in the metadata database (the role
// assignments), their migrations (Migrations) and every statement that
// reads or writes them, as functions over a transaction of the store
// (internal/store). Package access keeps the assignments' in-memory
// index; another domain that removes assignments (a deleted resource's)
// goes through access, which keeps that index true.
package accessdb

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
)

// Migrations returns the access domain's schema migrations, in order. A
// later migration is appended with the next version number.
func Migrations() []store.Migration {
	return []store.Migration{
		{Domain: "access", Version: 1, Name: "role assignments", SQL: accessSchema},
	}
}

// Version 1 is the table as drydock created it before schema versions
// existed (CREATE ... IF NOT EXISTS, so that applying it to a database of
// that time changes nothing). Do not edit it: a change is a new migration.
const accessSchema = `
CREATE TABLE IF NOT EXISTS role_assignments(
  name_key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  scope_key TEXT NOT NULL,
  role_guid TEXT NOT NULL,
  principal_id TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS role_assignments_unique ON role_assignments(scope_key, role_guid, principal_id);
`

// ---- role assignments ----

// RoleAssignment is a stored assignment; Body is its ARM JSON.
type RoleAssignment struct {
	Name        string
	Scope       string
	RoleGUID    string
	PrincipalID string
	Body        json.RawMessage
}

// CreateRoleAssignment inserts an assignment. errdefs.ErrAlreadyExists when the name
// exists or when the same principal already holds the role at the scope.
func CreateRoleAssignment(t *store.Tx, a RoleAssignment) error {
	return t.InsertUnique(`INSERT INTO role_assignments(name_key, body, scope_key, role_guid, principal_id) VALUES(?,?,?,?,?)`,
		strings.ToLower(a.Name), string(a.Body), normScope(a.Scope), strings.ToLower(a.RoleGUID), strings.ToLower(a.PrincipalID))
}

// DeleteRoleAssignment removes an assignment by name.
func DeleteRoleAssignment(t *store.Tx, name string) error {
	return t.ExecFound(`DELETE FROM role_assignments WHERE name_key = ?`, strings.ToLower(name))
}

// DeleteRoleAssignmentsBelow removes every assignment at or below scope and
// returns their names (used when a resource or resource group is deleted).
func DeleteRoleAssignmentsBelow(t *store.Tx, scope string) ([]string, error) {
	s := normScope(scope)
	rows, err := t.Query(`SELECT name_key FROM role_assignments WHERE scope_key = ? OR substr(scope_key, 1, ?) = ?`, s, len(s)+1, s+"/")
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := t.Exec(`DELETE FROM role_assignments WHERE name_key = ?`, n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// EachRoleAssignment calls fn with every assignment's name and body, in no
// particular order, reading one row at a time: loading 100,000 at start
// holds one in memory at a time rather than all. body is valid only until
// fn returns. An error from fn ends the walk and is returned.
func EachRoleAssignment(t *store.Tx, fn func(name string, body []byte) error) error {
	rows, err := t.Query(`SELECT name_key, body FROM role_assignments`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var name string
	var body sql.RawBytes // one buffer, reused for every row
	for rows.Next() {
		if err := rows.Scan(&name, &body); err != nil {
			return err
		}
		if err := fn(name, body); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ListRoleAssignments returns every assignment.
func ListRoleAssignments(t *store.Tx) ([]RoleAssignment, error) {
	return store.QueryAll(t, scanRoleAssignment, `SELECT name_key, body, scope_key, role_guid, principal_id FROM role_assignments ORDER BY scope_key, name_key`)
}

func scanRoleAssignment(sc store.RowScanner) (RoleAssignment, error) {
	var a RoleAssignment
	var body string
	err := sc.Scan(&a.Name, &body, &a.Scope, &a.RoleGUID, &a.PrincipalID)
	a.Body = json.RawMessage(body)
	return a, err
}

func normScope(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "/"))
	if s == "" {
		return "/"
	}
	return s
}

// GetRoleAssignment returns one assignment by name.
func GetRoleAssignment(t *store.Tx, name string) (RoleAssignment, error) {
	var a RoleAssignment
	var body string
	err := t.QueryRow(`SELECT name_key, body, scope_key, role_guid, principal_id FROM role_assignments WHERE name_key = ?`, strings.ToLower(name)).
		Scan(&a.Name, &body, &a.Scope, &a.RoleGUID, &a.PrincipalID)
	if errors.Is(err, sql.ErrNoRows) {
		return a, errdefs.ErrNotFound
	}
	a.Body = json.RawMessage(body)
	return a, err
}
