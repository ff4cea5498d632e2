package resourceid

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range roundTrips {
		f.Add(s)
	}
	for _, s := range []string{
		"",
		"/",
		"//",
		"/subscriptions",
		"/subscriptions/s/",
		"/SUBSCRIPTIONS/s/resourcegroups/My-RG/",
		rg + "/providers/Microsoft.ContainerRegistry/registries",
		acr + "/replications",
		acr + "/providers/Microsoft.Authorization/roleAssignments",
		aks + "/agentPools/nodepool1/providers/Microsoft.Authorization/roleAssignments/" + guid,
		"/subscriptions/s/providers/Microsoft.Foo/providers/Microsoft.Bar/t/n",
		rg + "/providers/Microsoft.Web/sites/providers",
		"/subscriptions/s/resourceGroups/..",
		"/subscriptions/s?api-version=1",
		"/subscriptions/s/resourceGroups/grüße",
		"garbage",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", s, err)
			}
		} else {
			checkParsed(t, s, id)
		}

		c, err := ParseCollection(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseCollection(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		str := c.String()
		again, err := ParseCollection(str)
		if err != nil {
			t.Fatalf("ParseCollection(%q) gave %q, which does not parse: %v", s, str, err)
		}
		if !again.Equal(c) {
			t.Fatalf("ParseCollection(%q) = %q, reparsed as %q", s, str, again)
		}
	})
}

func checkParsed(t *testing.T, s string, id ID) {
	t.Helper()
	str := id.String()
	again, err := Parse(str)
	if err != nil {
		t.Fatalf("Parse(%q) gave %q, which does not parse: %v", s, str, err)
	}
	if !again.Equal(id) {
		t.Fatalf("Parse(%q) = %q, reparsed as %q", s, str, again)
	}
	if again.String() != str {
		t.Fatalf("String() is not stable: %q then %q", str, again.String())
	}
	if !Within(str, str) {
		t.Fatalf("Within(%q, itself) = false", str)
	}
	if !Within("/", str) {
		t.Fatalf("Within(/, %q) = false", str)
	}
	if !Within(s, str) || !Within(str, s) {
		t.Fatalf("input %q and its String %q are not Within each other", s, str)
	}
	if id.Key() != asciiLower(str) {
		t.Fatalf("Key() = %q for %q", id.Key(), str)
	}
	if id.Scope != nil && !Within(id.Scope.String(), str) {
		t.Fatalf("%q is not Within its own Scope %q", str, id.Scope)
	}
	if id.IsResource() && id.Name() == "" {
		t.Fatalf("resource %q has no Name", str)
	}
	// Key and Within fold the same case: ASCII only, as ARM (see
	// TestCaseFoldingIsASCII).
	if !Within(str, id.Key()) {
		t.Fatalf("Within(%q, its Key %q) = false", str, id.Key())
	}
}
