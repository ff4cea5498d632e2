// Package authz owns Azure RBAC: built-in role definitions, action matching,
// and the one decision "may principal P perform action A on scope S, and why".
//
// The package is an in-memory engine. Persistence belongs to the caller, who
// feeds role assignments in with Engine.Load, Engine.Add and Engine.Remove and
// asks Engine.Decide for authorization decisions.
//
// Semantics follow Azure RBAC:
//
//   - Action patterns use ARM wildcard matching: '*' matches any run of
//     characters, '/' included, and comparison ignores case (ActionMatches).
//   - A role allows an action when one of its permission blocks lists a
//     matching pattern in Actions (or DataActions for data actions) and no
//     matching pattern in NotActions (or NotDataActions). Control-plane and
//     data-plane permissions never mix.
//   - An assignment at scope S applies to S and everything below it
//     (resourceid.Within), never sideways and never upward.
//   - An assignment applies to its principal directly, or to members of the
//     group it is assigned to. Group memberships carry the time at which they
//     start to count, which models Entra group propagation delay; grants
//     through memberships that have not started yet are reported as pending.
//   - There are no deny assignments.
package authz

import "strings"

// Permission is one permission block of a role definition, in the shape ARM
// uses on the wire.
type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// RoleDefinition is a built-in or custom Azure role.
type RoleDefinition struct {
	GUID             string // e.g. "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	Name             string // roleName, e.g. "AcrPull"
	Description      string
	RoleType         string // "BuiltInRole" or "CustomRole"
	Permissions      []Permission
	AssignableScopes []string // ["/"] for built-in roles
}

// RoleDefinitionsPath is the provider path below which role definitions live.
const RoleDefinitionsPath = "/providers/Microsoft.Authorization/roleDefinitions/"

// ID returns the tenant-level resource ID of the role definition,
// "/providers/Microsoft.Authorization/roleDefinitions/<guid>".
func (r RoleDefinition) ID() string { return RoleDefinitionsPath + r.GUID }

// Allows reports whether the role permits action. When data is true the action
// is matched against DataActions and NotDataActions only, otherwise against
// Actions and NotActions only. The action is allowed when any one permission
// block has a matching (data) action and no matching not-(data) action.
func (r RoleDefinition) Allows(action string, data bool) bool {
	if action == "" {
		return false
	}
	for i := range r.Permissions {
		p := &r.Permissions[i]
		allow, deny := p.Actions, p.NotActions
		if data {
			allow, deny = p.DataActions, p.NotDataActions
		}
		if anyMatches(allow, action) && !anyMatches(deny, action) {
			return true
		}
	}
	return false
}

func anyMatches(patterns []string, action string) bool {
	for _, p := range patterns {
		if ActionMatches(p, action) {
			return true
		}
	}
	return false
}

// ActionMatches reports whether an ARM action pattern matches action. A '*'
// in the pattern matches any run of characters, including none and including
// '/': "*/read" matches "Microsoft.X/y/read" and "Microsoft.Authorization/*"
// matches "Microsoft.Authorization/roleAssignments/write". Letters compare
// without regard to ASCII case. Every other character matches only itself.
func ActionMatches(pattern, action string) bool {
	if pattern == "*" {
		return true
	}
	// A whole-segment "*" may also stand for no segment at all, as in
	// Azure: Managed Identity Operator's ".../userAssignedIdentities/*/assign/action"
	// grants ".../userAssignedIdentities/assign/action".
	if i := strings.Index(pattern, "/*/"); i >= 0 && globMatch(pattern[:i]+pattern[i+2:], action) {
		return true
	}
	return globMatch(pattern, action)
}

func globMatch(pattern, action string) bool {
	// Iterative glob matching with single-star backtracking: on a mismatch
	// the most recent '*' absorbs one more character. This is linear for
	// the usual patterns and never allocates.
	p, a := 0, 0
	star, resume := -1, 0
	for a < len(action) {
		if p < len(pattern) {
			c := pattern[p]
			if c == '*' {
				star = p
				p++
				resume = a
				continue
			}
			if foldEq(c, action[a]) {
				p++
				a++
				continue
			}
		}
		if star < 0 {
			return false
		}
		p = star + 1
		resume++
		a = resume
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func foldEq(x, y byte) bool {
	if x == y {
		return true
	}
	if 'A' <= x && x <= 'Z' {
		x += 'a' - 'A'
	}
	if 'A' <= y && y <= 'Z' {
		y += 'a' - 'A'
	}
	return x == y
}

// roleGUID extracts the lower-cased GUID from a bare GUID or from any ID of
// the form "…/providers/Microsoft.Authorization/roleDefinitions/<guid>". It
// returns "" when idOrGUID is neither.
func roleGUID(idOrGUID string) string {
	s := strings.TrimSpace(idOrGUID)
	s = strings.TrimSuffix(s, "/")
	if s == "" {
		return ""
	}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return strings.ToLower(s)
	}
	head, guid := s[:i], s[i+1:]
	const tail = "/providers/Microsoft.Authorization/roleDefinitions"
	if guid == "" || len(head) < len(tail) || !strings.EqualFold(head[len(head)-len(tail):], tail) {
		return ""
	}
	return strings.ToLower(guid)
}
