// Package resourceid parses, formats and compares Azure Resource Manager
// resource IDs and scopes. ARM treats every segment case-insensitively; this
// package keeps the caller's casing for display and compares with Key.
package resourceid

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid resource ID")

// ID is a parsed scope or resource ID. The zero value is the root scope "/".
//
// For an extension resource attached below a provider resource, such as
// ".../registries/r/providers/Microsoft.Authorization/roleAssignments/x",
// Scope holds the resource it is attached to. An extension attached to a
// subscription or resource group keeps those in SubscriptionID and
// ResourceGroup with a nil Scope.
type ID struct {
	SubscriptionID string
	ResourceGroup  string
	// Provider is the resource provider namespace, e.g. "Microsoft.ContainerRegistry".
	Provider string
	// Types and Names alternate in the path: Types[i]/Names[i]. For a
	// collection path (ParseCollection) the last type has no name.
	Types []string
	Names []string
	// Scope is set for extension resources and provider operations below another scope.
	Scope *ID
}

// Parse parses a scope or a resource ID. It accepts "/", "/subscriptions/{s}",
// "/subscriptions/{s}/resourceGroups/{g}", any provider resource below them
// (nested types included), and extension resources below any of those.
func Parse(s string) (ID, error) {
	id, err := parse(s, false)
	if err != nil {
		return ID{}, err
	}
	return id, nil
}

// ParseCollection parses a path whose last segment is a resource type
// without a name, such as ".../providers/Microsoft.ContainerRegistry/registries".
func ParseCollection(s string) (ID, error) {
	return parse(s, true)
}

func invalid(s, why string) error {
	return fmt.Errorf("%w '%s': %s", ErrInvalid, s, why)
}

func parse(s string, collection bool) (ID, error) {
	if s == "" {
		return ID{}, invalid(s, "it is empty")
	}
	if !strings.HasPrefix(s, "/") {
		return ID{}, invalid(s, "it must start with '/'")
	}
	if s == "/" {
		return ID{}, nil
	}
	trimmed := strings.TrimSuffix(s, "/")
	segs := strings.Split(trimmed[1:], "/")
	for _, seg := range segs {
		if seg == "" {
			return ID{}, invalid(s, "it has an empty segment")
		}
		if seg == "." || seg == ".." {
			return ID{}, invalid(s, "it has a relative segment")
		}
		if !utf8.ValidString(seg) || strings.ContainsAny(seg, "?#\\") || strings.ContainsFunc(seg, isControl) {
			return ID{}, invalid(s, "it has a forbidden character")
		}
	}
	var id ID
	i := 0
	if strings.EqualFold(segs[0], "subscriptions") {
		if len(segs) < 2 {
			if collection {
				return id, nil
			}
			return ID{}, invalid(s, "the subscription ID is missing")
		}
		id.SubscriptionID = segs[1]
		i = 2
		if i < len(segs) && strings.EqualFold(segs[i], "resourceGroups") {
			if i+1 >= len(segs) {
				if collection {
					id.Types = []string{"resourceGroups"}
					return id, nil
				}
				return ID{}, invalid(s, "the resource group name is missing")
			}
			id.ResourceGroup = segs[i+1]
			i += 2
		}
	}
	for i < len(segs) {
		if !strings.EqualFold(segs[i], "providers") {
			return ID{}, invalid(s, fmt.Sprintf("expected 'providers' but found '%s'", segs[i]))
		}
		if i+1 >= len(segs) {
			return ID{}, invalid(s, "the provider namespace is missing")
		}
		if id.Provider != "" {
			// An extension resource: everything so far is its scope.
			scope := id
			id = ID{Scope: &scope, SubscriptionID: scope.SubscriptionID, ResourceGroup: scope.ResourceGroup}
		}
		id.Provider = segs[i+1]
		i += 2
		if i >= len(segs) {
			if collection {
				return id, nil
			}
			return ID{}, invalid(s, "the resource type is missing")
		}
		for i < len(segs) && !strings.EqualFold(segs[i], "providers") {
			id.Types = append(id.Types, segs[i])
			if i+1 >= len(segs) {
				if collection {
					return id, nil
				}
				return ID{}, invalid(s, fmt.Sprintf("the name of the '%s' resource is missing", segs[i]))
			}
			id.Names = append(id.Names, segs[i+1])
			i += 2
		}
	}
	if collection {
		return ID{}, invalid(s, "it names a resource, not a collection")
	}
	if id.SubscriptionID == "" && id.Provider == "" {
		return ID{}, invalid(s, "it must start with '/subscriptions/' or '/providers/'")
	}
	return id, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// String formats the ID with the casing it was parsed or built with.
func (id ID) String() string {
	var b strings.Builder
	if id.Scope != nil {
		if s := id.Scope.String(); s != "/" {
			b.WriteString(s)
		}
	} else {
		if id.SubscriptionID != "" {
			b.WriteString("/subscriptions/")
			b.WriteString(id.SubscriptionID)
		}
		if id.ResourceGroup != "" {
			b.WriteString("/resourceGroups/")
			b.WriteString(id.ResourceGroup)
		}
	}
	if id.Provider != "" {
		b.WriteString("/providers/")
		b.WriteString(id.Provider)
		for i, t := range id.Types {
			b.WriteString("/")
			b.WriteString(t)
			if i < len(id.Names) {
				b.WriteString("/")
				b.WriteString(id.Names[i])
			}
		}
	} else if id.Scope == nil && id.SubscriptionID != "" && id.ResourceGroup == "" && len(id.Types) == 1 {
		b.WriteString("/")
		b.WriteString(id.Types[0])
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// Key is the case-folded form of String, for maps and equality.
func (id ID) Key() string { return asciiLower(id.String()) }

// Equal reports whether two IDs name the same scope, ignoring case.
func (id ID) Equal(o ID) bool { return id.Key() == o.Key() }

// Type is the fully-qualified resource type, e.g.
// "Microsoft.ContainerRegistry/registries". Subscriptions and resource
// groups report "Microsoft.Resources/subscriptions" and
// "Microsoft.Resources/resourceGroups"; the root scope reports "".
func (id ID) Type() string {
	if id.Provider == "" {
		switch {
		case id.ResourceGroup != "":
			return "Microsoft.Resources/resourceGroups"
		case id.SubscriptionID != "":
			return "Microsoft.Resources/subscriptions"
		}
		return ""
	}
	return id.Provider + "/" + strings.Join(id.Types, "/")
}

// Name is the last name in the ID (the resource group's or the subscription's
// for those scopes).
func (id ID) Name() string {
	if len(id.Names) > 0 {
		return id.Names[len(id.Names)-1]
	}
	if id.Provider == "" {
		if id.ResourceGroup != "" {
			return id.ResourceGroup
		}
		return id.SubscriptionID
	}
	return ""
}

// IsResource reports whether the ID names a provider resource rather than the
// root, a subscription or a resource group.
func (id ID) IsResource() bool {
	return id.Provider != "" && len(id.Names) == len(id.Types) && len(id.Names) > 0
}

// Subscription returns "/subscriptions/{id}".
func Subscription(sub string) ID { return ID{SubscriptionID: sub} }

// ResourceGroupID returns "/subscriptions/{s}/resourceGroups/{g}".
func ResourceGroupID(sub, group string) ID { return ID{SubscriptionID: sub, ResourceGroup: group} }

// New builds a provider resource ID in a resource group. typesAndNames
// alternate: "registries", "myacr", ...
func New(sub, group, provider string, typesAndNames ...string) ID {
	id := ID{SubscriptionID: sub, ResourceGroup: group, Provider: provider}
	for i := 0; i+1 < len(typesAndNames); i += 2 {
		id.Types = append(id.Types, typesAndNames[i])
		id.Names = append(id.Names, typesAndNames[i+1])
	}
	return id
}

// Extension builds an extension resource ID below scope.
func Extension(scope ID, provider, typ, name string) ID {
	s := scope
	return ID{Scope: &s, SubscriptionID: s.SubscriptionID, ResourceGroup: s.ResourceGroup, Provider: provider, Types: []string{typ}, Names: []string{name}}
}

// Within reports whether target is scope itself or lies below it, comparing
// whole segments without regard to case. Both are strings in ARM form; "/" is
// the root and contains everything.
func Within(scope, target string) bool {
	s := strings.TrimSuffix(scope, "/")
	t := strings.TrimSuffix(target, "/")
	if s == "" {
		return true
	}
	if len(t) < len(s) || asciiLower(t[:len(s)]) != asciiLower(s) {
		return false
	}
	return len(t) == len(s) || t[len(s)] == '/'
}

// Normalize returns the canonical lower-case form of a scope string without a
// trailing slash ("/" for the root). It does not validate.
func Normalize(scope string) string {
	s := asciiLower(strings.TrimSuffix(scope, "/"))
	if s == "" {
		return "/"
	}
	return s
}

// asciiLower folds ASCII letters only, as ARM compares IDs; other bytes are
// compared exactly, so folding never changes a string's length.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
