package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/google/uuid"
)

// graphAPI is the part of the client that directory lookups use.
type graphAPI interface {
	GetByIDs(ctx context.Context, ids []string) ([]*client.Principal, error)
	Find(ctx context.Context, path, filter string) ([]*client.Principal, error)
}

// Principal types of role assignments.
const (
	principalUser             = "User"
	principalGroup            = "Group"
	principalServicePrincipal = "ServicePrincipal"
)

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// assigneeKind classifies an --assignee value, which decides where it is
// looked up.
type assigneeKind int

const (
	assigneeName assigneeKind = iota // a display name or service principal name
	assigneeUPN                      // contains '@'
	assigneeGUID                     // an object id or an appId
)

func classifyAssignee(s string) assigneeKind {
	switch {
	case isGUID(s):
		return assigneeGUID
	case strings.Contains(s, "@"):
		return assigneeUPN
	}
	return assigneeName
}

// principalTypeOf maps a directory object's @odata.type to a role
// assignment principal type ("" when unknown).
func principalTypeOf(odataType string) string {
	switch strings.ToLower(strings.TrimPrefix(odataType, "#")) {
	case "microsoft.graph.user":
		return principalUser
	case "microsoft.graph.group":
		return principalGroup
	case "microsoft.graph.serviceprincipal":
		return principalServicePrincipal
	}
	return ""
}

// principal is a resolved assignee.
type principal struct {
	ID, Type string
}

// errAssigneeNotFound is az's error for an assignee it cannot find.
func errAssigneeNotFound(assignee string) error {
	return fmt.Errorf("Cannot find user or service principal in graph database for '%[1]s'. "+
		"If the assignee is an appId, make sure the corresponding service principal is created with 'az ad sp create --id %[1]s'.", assignee)
}

// lookup lists directory objects matching a filter, treating a rejected
// filter as no match (so optional lookups degrade gracefully).
func lookup(ctx context.Context, g graphAPI, path, filter string, tolerant bool) ([]*client.Principal, error) {
	items, err := g.Find(ctx, path, filter)
	var ae *client.APIError
	if err != nil && tolerant && errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		return nil, nil
	}
	return items, err
}

// resolveAssignee finds the directory object an --assignee names, the way
// az does: a UPN among users; a GUID as an object id (getByIds) or else an
// appId; any other value as a service principal name, then a service
// principal's display name, then a group's display name.
func resolveAssignee(ctx context.Context, g graphAPI, assignee string) (principal, error) {
	kind := classifyAssignee(assignee)
	one := func(items []*client.Principal, typ string) (principal, bool, error) {
		switch len(items) {
		case 0:
			return principal{}, false, nil
		case 1:
			t := principalTypeOf(items[0].ODataType)
			if t == "" {
				t = typ
			}
			return principal{ID: items[0].ID, Type: t}, true, nil
		}
		return principal{}, false, fmt.Errorf("Found multiple directory objects for '%s'. Please use --assignee-object-id with --assignee-principal-type.", assignee)
	}
	type step struct {
		path, filter, typ string
		tolerant          bool
	}
	var steps []step
	quoted := client.ODataString(assignee)
	switch kind {
	case assigneeUPN:
		steps = append(steps, step{"/users", "userPrincipalName eq " + quoted, principalUser, false})
	case assigneeGUID:
		objs, err := g.GetByIDs(ctx, []string{assignee})
		if err != nil {
			return principal{}, err
		}
		var principals []*client.Principal
		for _, o := range objs {
			if principalTypeOf(o.ODataType) != "" {
				principals = append(principals, o)
			}
		}
		if p, ok, err := one(principals, ""); ok || err != nil {
			return p, err
		}
		steps = append(steps, step{"/servicePrincipals", "appId eq " + quoted, principalServicePrincipal, false})
	}
	if kind != assigneeGUID {
		steps = append(steps,
			step{"/servicePrincipals", "servicePrincipalNames/any(c:c eq " + quoted + ")", principalServicePrincipal, true},
			step{"/servicePrincipals", "displayName eq " + quoted, principalServicePrincipal, false},
			step{"/groups", "displayName eq " + quoted, principalGroup, false},
		)
	}
	for _, s := range steps {
		items, err := lookup(ctx, g, s.path, s.filter, s.tolerant)
		if err != nil {
			return principal{}, err
		}
		if p, ok, err := one(items, s.typ); ok || err != nil {
			return p, err
		}
	}
	return principal{}, errAssigneeNotFound(assignee)
}

// resolveAssigneeOrID is resolveAssignee that, like az for list and delete,
// takes an unknown GUID as an object id.
func resolveAssigneeOrID(ctx context.Context, g graphAPI, assignee string) (string, error) {
	p, err := resolveAssignee(ctx, g, assignee)
	if err != nil {
		if isGUID(assignee) {
			return assignee, nil
		}
		return "", err
	}
	return p.ID, nil
}

// principalTypeByID looks an object id's principal type up, "" when the
// directory does not know it.
func principalTypeByID(ctx context.Context, g graphAPI, id string) string {
	objs, err := g.GetByIDs(ctx, []string{id})
	if err != nil || len(objs) == 0 {
		return ""
	}
	return principalTypeOf(objs[0].ODataType)
}

// resolveGroup turns a group's display name or object id into its id, with
// az's errors.
func resolveGroup(ctx context.Context, g graphAPI, identifier string) (string, error) {
	if isGUID(identifier) {
		return identifier, nil
	}
	items, err := lookup(ctx, g, "/groups", "displayName eq "+client.ODataString(identifier), false)
	if err != nil {
		return "", err
	}
	group, err := single(items, fmt.Errorf("Group %s is not found in Graph", identifier), func() error {
		return fmt.Errorf("More than 1 group objects has the display name of %s", identifier)
	})
	if err != nil {
		return "", err
	}
	return group.ID, nil
}

// single is the one item a lookup found; none is the error when there is
// none, several makes the error when there are more.
func single[T any](items []T, none error, several func() error) (T, error) {
	var zero T
	switch len(items) {
	case 0:
		return zero, none
	case 1:
		return items[0], nil
	}
	return zero, several()
}

// resolveServicePrincipal turns an appId, service principal name or object
// id into the service principal's object id, with az's error.
func resolveServicePrincipal(ctx context.Context, g graphAPI, identifier string) (string, error) {
	filter := "servicePrincipalNames/any(c:c eq " + client.ODataString(identifier) + ")"
	if isGUID(identifier) {
		filter = "appId eq " + client.ODataString(identifier)
	}
	items, err := lookup(ctx, g, "/servicePrincipals", filter, true)
	if err != nil {
		return "", err
	}
	if len(items) > 0 {
		return items[0].ID, nil
	}
	if isGUID(identifier) {
		return identifier, nil
	}
	return "", fmt.Errorf("Service principal '%s' doesn't exist", identifier)
}

// displayableName is how az role assignment list names a principal.
func displayableName(obj *client.Principal) string {
	switch {
	case obj.UserPrincipalName != "":
		return obj.UserPrincipalName
	case len(obj.ServicePrincipalNames) > 0 && obj.ServicePrincipalNames[0] != "":
		return obj.ServicePrincipalNames[0]
	case obj.AppID != "":
		return obj.AppID
	}
	return obj.DisplayName
}
