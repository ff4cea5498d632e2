// Package auth is the registry's token service, as ACR runs it: the 401
// challenge, POST /oauth2/exchange (directory token → ACR refresh token),
// /oauth2/token (refresh token, password or Basic credentials → an access
// token whose grants are the requested actions intersected with what RBAC
// allows), verification of those tokens on every /v2 request, and an audit
// record of every decision.
package auth

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Access is one granted or requested resource: the "access" claim entry
// and the parsed form of a "scope" parameter.
type Access struct {
	Type    string   `json:"type"`    // "repository", "registry", "artifact-repository"
	Name    string   `json:"name"`    // repository name, or "catalog"
	Actions []string `json:"actions"` // "pull", "push", "delete", "*", "metadata_read", ...
}

// String formats the access as a scope parameter.
func (a Access) String() string { return a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",") }

var (
	// RepositoryNameRE is the OCI distribution repository name grammar.
	RepositoryNameRE   = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	actionRE           = regexp.MustCompile(`^(\*|[a-z_]{1,32})$`)
	registryResourceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// MaxRepositoryName is the longest repository name accepted.
const MaxRepositoryName = 256

// ValidRepository reports whether name is a valid repository name.
func ValidRepository(name string) bool {
	return len(name) > 0 && len(name) <= MaxRepositoryName && RepositoryNameRE.MatchString(name)
}

// exists reports whether the access names a resource a registry has: a
// repository, or the registry's catalog. The others are granted nothing,
// without refusing the token request (ACR's behaviour).
func (a Access) exists() bool { return a.Type != "registry" || a.Name == "catalog" }

// ParseScope parses one scope: "repository:<name>:<actions>",
// "registry:catalog:*" or "artifact-repository:<name>:<actions>".
func ParseScope(s string) (Access, error) {
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first <= 0 || last == first {
		return Access{}, fmt.Errorf("invalid scope %q: want type:name:actions", s)
	}
	a := Access{Type: s[:first], Name: s[first+1 : last]}
	switch a.Type {
	case "repository", "artifact-repository":
		if !ValidRepository(a.Name) {
			return Access{}, fmt.Errorf("invalid scope %q: invalid repository name", s)
		}
	case "registry":
		// Only "catalog" exists. Another name is asked for, but granted
		// nothing, as ACR does: az acr check-health asks for
		// "registry:None:*" and expects a token.
		if !registryResourceRE.MatchString(a.Name) {
			return Access{}, fmt.Errorf("invalid scope %q: invalid registry resource name", s)
		}
	default:
		return Access{}, fmt.Errorf("invalid scope %q: unknown resource type %q", s, a.Type)
	}
	seen := map[string]bool{}
	for _, act := range strings.Split(s[last+1:], ",") {
		if !actionRE.MatchString(act) {
			return Access{}, fmt.Errorf("invalid scope %q: invalid action %q", s, act)
		}
		if !seen[act] {
			seen[act] = true
			a.Actions = append(a.Actions, act)
		}
	}
	sort.Strings(a.Actions)
	return a, nil
}

// ParseScopes parses scope parameters, each of which may hold several
// space-separated scopes, merging actions on the same resource.
func ParseScopes(params []string) ([]Access, error) {
	var out []Access
	index := map[string]int{}
	for _, p := range params {
		for _, s := range strings.Fields(p) {
			a, err := ParseScope(s)
			if err != nil {
				return nil, err
			}
			k := a.Type + ":" + a.Name
			if i, ok := index[k]; ok {
				out[i].Actions = union(out[i].Actions, a.Actions)
				continue
			}
			index[k] = len(out)
			out = append(out, a)
		}
	}
	return out, nil
}

func union(a, b []string) []string {
	set := map[string]bool{}
	for _, x := range append(append([]string{}, a...), b...) {
		set[x] = true
	}
	out := make([]string, 0, len(set))
	for x := range set {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// Allows reports whether the grants include action on the resource; "*"
// grants every action.
func Allows(grants []Access, typ, name, action string) bool {
	for _, g := range grants {
		if g.Type != typ && !(typ == "repository" && g.Type == "artifact-repository") {
			continue
		}
		if g.Name != name {
			continue
		}
		for _, a := range g.Actions {
			if a == action || a == "*" {
				return true
			}
		}
	}
	return false
}
