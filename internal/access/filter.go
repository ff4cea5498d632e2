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

// clauseForm is one form of clause a $filter may hold: its pattern, and
// what a match sets from the pattern's group ("" when it has none).
type clauseForm struct {
	re  *regexp.Regexp
	set func(value string)
}

// parseClauses matches each 'and' clause of s against forms, the first
// that matches winning; a clause of no form fails, naming the supported
// ones.
func parseClauses(s, supported string, forms ...clauseForm) error {
next:
	for _, part := range clauses(s) {
		for _, f := range forms {
			if m := f.re.FindStringSubmatch(part); m != nil {
				v := ""
				if len(m) > 1 {
					v = m[1]
				}
				f.set(v)
				continue next
			}
		}
		return fmt.Errorf("the filter '%s' is not supported. Supported filters are %s", part, supported)
	}
	return nil
}

// parseListFilter parses a role assignment list filter.
func parseListFilter(s string) (listFilter, error) {
	var f listFilter
	err := parseClauses(s, `'atScope()', 'principalId eq '{value}'' and 'assignedTo('{value}')'`,
		clauseForm{atScopeRE, func(string) { f.atScope = true }},
		clauseForm{principalEqRE, func(v string) { f.principalID = strings.ToLower(v) }},
		clauseForm{assignedToRE, func(v string) { f.assignedTo = strings.ToLower(v) }})
	return f, err
}

// roleFilter is a parsed roleDefinitions $filter.
type roleFilter struct {
	roleName string
	roleType string
}

// parseRoleFilter parses a role definition list filter.
func parseRoleFilter(s string) (roleFilter, error) {
	var f roleFilter
	err := parseClauses(s, `'roleName eq '{value}'' and 'type eq 'BuiltInRole|CustomRole''`,
		clauseForm{roleNameRE, func(v string) { f.roleName = v }},
		clauseForm{roleTypeRE, func(v string) { f.roleType = v }})
	return f, err
}
