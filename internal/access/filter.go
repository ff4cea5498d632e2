package access

import (
	"fmt"
	"regexp"
	"strings"
)

// listFilter is a parsed roleAssignments $filter: any of atScope(),
// principalId eq '<id>', assignedTo('<id>'), joined by "and".
type listFilter struct {
	atScope     bool
	principalID string
	assignedTo  string
}

var (
	principalEqRE = regexp.MustCompile(`(?i)^principalId\s+eq\s+'([0-9a-fA-F-]{1,64})'$`)
	assignedToRE  = regexp.MustCompile(`(?i)^assignedTo\('([0-9a-fA-F-]{1,64})'\)$`)
	atScopeRE     = regexp.MustCompile(`(?i)^atScope\(\)$`)
	roleNameRE    = regexp.MustCompile(`(?i)^roleName\s+eq\s+'([^']{1,256})'$`)
	roleTypeRE    = regexp.MustCompile(`(?i)^type\s+eq\s+'(BuiltInRole|CustomRole)'$`)
	andRE         = regexp.MustCompile(`(?i)\s+and\s+`)
)

// clauses splits a $filter into its trimmed 'and' clauses; none for an
// empty one.
func clauses(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	parts := andRE.Split(s, -1)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// parseListFilter parses a role assignment list filter.
func parseListFilter(s string) (listFilter, error) {
	var f listFilter
	for _, part := range clauses(s) {
		switch {
		case atScopeRE.MatchString(part):
			f.atScope = true
		case principalEqRE.MatchString(part):
			f.principalID = strings.ToLower(principalEqRE.FindStringSubmatch(part)[1])
		case assignedToRE.MatchString(part):
			f.assignedTo = strings.ToLower(assignedToRE.FindStringSubmatch(part)[1])
		default:
			return f, fmt.Errorf("the filter '%s' is not supported. Supported filters are 'atScope()', 'principalId eq '{value}'' and 'assignedTo('{value}')'", part)
		}
	}
	return f, nil
}

// roleFilter is a parsed roleDefinitions $filter.
type roleFilter struct {
	roleName string
	roleType string
}

func parseRoleFilter(s string) (roleFilter, error) {
	var f roleFilter
	for _, part := range clauses(s) {
		switch {
		case roleNameRE.MatchString(part):
			f.roleName = roleNameRE.FindStringSubmatch(part)[1]
		case roleTypeRE.MatchString(part):
			f.roleType = roleTypeRE.FindStringSubmatch(part)[1]
		default:
			return f, fmt.Errorf("the filter '%s' is not supported. Supported filters are 'roleName eq '{value}'' and 'type eq 'BuiltInRole|CustomRole''", part)
		}
	}
	return f, nil
}
