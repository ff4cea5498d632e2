package resourceid

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	sub   = "00000000-0000-0000-0000-000000000001"
	guid  = "6f1c2f3e-8f9a-4b7c-9d1e-2a3b4c5d6e7f"
	rg    = "/subscriptions/" + sub + "/resourceGroups/rg1"
	acr   = rg + "/providers/Microsoft.ContainerRegistry/registries/myacr"
	aks   = rg + "/providers/Microsoft.ContainerService/managedClusters/aks1"
	mg    = "/providers/Microsoft.Management/managementGroups/mg1"
	owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
)

// anyType in parsed.typ skips the Type() check.
const anyType = "?"

type parsed struct {
	sub, group, provider string
	types, names         []string
	scope                string // String() of Scope, "" when nil
	typ, name            string // Type() and Name()
	str                  string // String()
	isResource           bool
}

func check(t *testing.T, in string, id ID, want parsed) {
	t.Helper()
	if id.SubscriptionID != want.sub || id.ResourceGroup != want.group || id.Provider != want.provider {
		t.Errorf("Parse(%q): sub=%q group=%q provider=%q; want %q %q %q", in, id.SubscriptionID, id.ResourceGroup, id.Provider, want.sub, want.group, want.provider)
	}
	if !slices.Equal(id.Types, want.types) || !slices.Equal(id.Names, want.names) {
		t.Errorf("Parse(%q): types=%q names=%q; want %q %q", in, id.Types, id.Names, want.types, want.names)
	}
	scope := ""
	if id.Scope != nil {
		scope = id.Scope.String()
	}
	if scope != want.scope {
		t.Errorf("Parse(%q): scope %q, want %q", in, scope, want.scope)
	}
	if got := id.Type(); want.typ != anyType && got != want.typ {
		t.Errorf("Parse(%q).Type() = %q, want %q", in, got, want.typ)
	}
	if got := id.Name(); got != want.name {
		t.Errorf("Parse(%q).Name() = %q, want %q", in, got, want.name)
	}
	if got := id.String(); got != want.str {
		t.Errorf("Parse(%q).String() = %q, want %q", in, got, want.str)
	}
	if got := id.IsResource(); got != want.isResource {
		t.Errorf("Parse(%q).IsResource() = %v, want %v", in, got, want.isResource)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want parsed
	}{
		{"/", parsed{str: "/"}},
		{"/subscriptions/" + sub, parsed{sub: sub, typ: "Microsoft.Resources/subscriptions", name: sub, str: "/subscriptions/" + sub}},
		{"/subscriptions/" + sub + "/", parsed{sub: sub, typ: "Microsoft.Resources/subscriptions", name: sub, str: "/subscriptions/" + sub}},
		{rg, parsed{sub: sub, group: "rg1", typ: "Microsoft.Resources/resourceGroups", name: "rg1", str: rg}},
		// Mixed casing of the fixed segments is accepted and printed in the
		// canonical form; the caller's names keep their casing.
		{"/SUBSCRIPTIONS/" + sub + "/resourcegroups/My-RG", parsed{sub: sub, group: "My-RG", typ: "Microsoft.Resources/resourceGroups", name: "My-RG", str: "/subscriptions/" + sub + "/resourceGroups/My-RG"}},
		{"/Subscriptions/S/ResourceGroups/G/PROVIDERS/microsoft.containerregistry/Registries/ACR", parsed{
			sub: "S", group: "G", provider: "microsoft.containerregistry", types: []string{"Registries"}, names: []string{"ACR"},
			typ: "microsoft.containerregistry/Registries", name: "ACR", isResource: true,
			str: "/subscriptions/S/resourceGroups/G/providers/microsoft.containerregistry/Registries/ACR"}},
		{acr, parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerRegistry", types: []string{"registries"}, names: []string{"myacr"},
			typ: "Microsoft.ContainerRegistry/registries", name: "myacr", str: acr, isResource: true}},
		{acr + "/", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerRegistry", types: []string{"registries"}, names: []string{"myacr"},
			typ: "Microsoft.ContainerRegistry/registries", name: "myacr", str: acr, isResource: true}},
		// Nested resources.
		{acr + "/replications/westus", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerRegistry", types: []string{"registries", "replications"}, names: []string{"myacr", "westus"},
			typ: "Microsoft.ContainerRegistry/registries/replications", name: "westus", str: acr + "/replications/westus", isResource: true}},
		{aks + "/agentPools/nodepool1", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerService", types: []string{"managedClusters", "agentPools"}, names: []string{"aks1", "nodepool1"},
			typ: "Microsoft.ContainerService/managedClusters/agentPools", name: "nodepool1", str: aks + "/agentPools/nodepool1", isResource: true}},
		{acr + "/scopeMaps/_repositories_pull/tokens/t", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerRegistry", types: []string{"registries", "scopeMaps", "tokens"}, names: []string{"myacr", "_repositories_pull", "t"},
			typ: "Microsoft.ContainerRegistry/registries/scopeMaps/tokens", name: "t", str: acr + "/scopeMaps/_repositories_pull/tokens/t", isResource: true}},
		// Extension resources: everything before the second "providers" is
		// the scope.
		{acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid, parsed{
			sub: sub, group: "rg1", provider: "Microsoft.Authorization", types: []string{"roleAssignments"}, names: []string{guid},
			scope: acr, typ: "Microsoft.Authorization/roleAssignments", name: guid, isResource: true,
			str: acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid}},
		{aks + "/agentPools/np/providers/Microsoft.Authorization/roleAssignments/" + guid, parsed{
			sub: sub, group: "rg1", provider: "Microsoft.Authorization", types: []string{"roleAssignments"}, names: []string{guid},
			scope: aks + "/agentPools/np", typ: "Microsoft.Authorization/roleAssignments", name: guid, isResource: true,
			str: aks + "/agentPools/np/providers/Microsoft.Authorization/roleAssignments/" + guid}},
		{mg + "/providers/Microsoft.Authorization/roleAssignments/" + guid, parsed{
			provider: "Microsoft.Authorization", types: []string{"roleAssignments"}, names: []string{guid},
			scope: mg, typ: "Microsoft.Authorization/roleAssignments", name: guid, isResource: true,
			str: mg + "/providers/Microsoft.Authorization/roleAssignments/" + guid}},
		// An extension of an extension.
		{acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid + "/providers/Microsoft.Insights/diagnosticSettings/d", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.Insights", types: []string{"diagnosticSettings"}, names: []string{"d"},
			scope: acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid, typ: "Microsoft.Insights/diagnosticSettings", name: "d", isResource: true,
			str: acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid + "/providers/Microsoft.Insights/diagnosticSettings/d"}},
		// A single provider below a subscription or resource group is that
		// scope's own resource (see TestKnownBugs for the Scope field).
		{rg + "/providers/Microsoft.Authorization/roleAssignments/" + guid, parsed{
			sub: sub, group: "rg1", provider: "Microsoft.Authorization", types: []string{"roleAssignments"}, names: []string{guid},
			typ: "Microsoft.Authorization/roleAssignments", name: guid, isResource: true,
			str: rg + "/providers/Microsoft.Authorization/roleAssignments/" + guid}},
		{"/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + owner, parsed{
			sub: sub, provider: "Microsoft.Authorization", types: []string{"roleDefinitions"}, names: []string{owner},
			typ: "Microsoft.Authorization/roleDefinitions", name: owner, isResource: true,
			str: "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + owner}},
		// Tenant-level resources have no subscription.
		{"/providers/Microsoft.Authorization/roleDefinitions/" + owner, parsed{
			provider: "Microsoft.Authorization", types: []string{"roleDefinitions"}, names: []string{owner},
			typ: "Microsoft.Authorization/roleDefinitions", name: owner, isResource: true,
			str: "/providers/Microsoft.Authorization/roleDefinitions/" + owner}},
		{mg, parsed{
			provider: "Microsoft.Management", types: []string{"managementGroups"}, names: []string{"mg1"},
			typ: "Microsoft.Management/managementGroups", name: "mg1", isResource: true, str: mg}},
		// Names that look like keywords or hold unusual characters.
		{rg + "/providers/Microsoft.Web/sites/providers", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.Web", types: []string{"sites"}, names: []string{"providers"},
			typ: "Microsoft.Web/sites", name: "providers", isResource: true, str: rg + "/providers/Microsoft.Web/sites/providers"}},
		{"/subscriptions/" + sub + "/resourceGroups/resourceGroups", parsed{sub: sub, group: "resourceGroups", typ: "Microsoft.Resources/resourceGroups", name: "resourceGroups", str: "/subscriptions/" + sub + "/resourceGroups/resourceGroups"}},
		{"/subscriptions/" + sub + "/resourceGroups/my rg (test)%20", parsed{sub: sub, group: "my rg (test)%20", typ: "Microsoft.Resources/resourceGroups", name: "my rg (test)%20", str: "/subscriptions/" + sub + "/resourceGroups/my rg (test)%20"}},
		{"/subscriptions/" + sub + "/resourceGroups/grüße", parsed{sub: sub, group: "grüße", typ: "Microsoft.Resources/resourceGroups", name: "grüße", str: "/subscriptions/" + sub + "/resourceGroups/grüße"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			check(t, tc.in, id, tc.want)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		"subscriptions/" + sub,
		" /subscriptions/" + sub,
		"//",
		"///",
		"/subscriptions//",
		"//subscriptions/" + sub,
		"/subscriptions",
		"/subscriptions/",
		"/subscriptions//resourceGroups/rg1",
		"/subscriptions/" + sub + "/resourceGroups",
		"/subscriptions/" + sub + "/resourceGroups/",
		"/subscriptions/" + sub + "/resourceGroups//providers/A/t/n",
		"/subscriptions/" + sub + "/..",
		"/subscriptions/" + sub + "/resourceGroups/..",
		"/subscriptions/" + sub + "/resourceGroups/.",
		"/subscriptions/../resourceGroups/rg1",
		rg + "/../rg2",
		rg + "/providers",
		rg + "/providers/Microsoft.ContainerRegistry",
		acr[:len(acr)-len("/myacr")],
		acr + "/replications",
		acr + "/providers",
		acr + "/providers/Microsoft.Authorization",
		acr + "/providers/Microsoft.Authorization/roleAssignments",
		"/providers",
		"/providers/Microsoft.Authorization",
		"/providers/Microsoft.Authorization/roleDefinitions",
		"/resourceGroups/rg1",
		"/subscriptions/" + sub + "/foo/bar",
		rg + "/foo/bar",
		rg + "/resourceGroups/rg2",
		"/foo",
		"garbage",
		"/subscriptions/" + sub + "?api-version=2023-01-01",
		"/subscriptions/" + sub + "#frag",
		`/subscriptions/` + sub + `\resourceGroups\rg1`,
		"/subscriptions/" + sub + "\n",
		"/subscriptions/a\x00b",
		"/subscriptions/a\x7fb",
		"/subscriptions/" + sub + "/resourceGroups/rg1//",
	} {
		t.Run(in, func(t *testing.T) {
			id, err := Parse(in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", in, id.String())
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", in, err)
			}
			if !strings.Contains(err.Error(), "'"+in+"'") {
				t.Errorf("Parse(%q) error %q does not quote the input", in, err)
			}
		})
	}
}

func TestParseErrorMessages(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "it is empty",
		"subscriptions/s":                  "it must start with '/'",
		"/subscriptions//resourceGroups/g": "empty segment",
		"/subscriptions/s/..":              "relative segment",
		"/subscriptions/s?x":               "forbidden character",
		"/subscriptions":                   "subscription ID is missing",
		"/subscriptions/s/resourceGroups":  "resource group name is missing",
		"/subscriptions/s/foo":             "expected 'providers' but found 'foo'",
		"/subscriptions/s/providers":       "provider namespace is missing",
		"/subscriptions/s/providers/P":     "resource type is missing",
		"/subscriptions/s/providers/P/t":   "the name of the 't' resource is missing",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error %v, want it to mention %q", in, err, want)
		}
	}
}

// roundTrips are valid IDs in canonical form: String gives them back exactly.
var roundTrips = []string{
	"/",
	"/subscriptions/" + sub,
	rg,
	acr,
	acr + "/replications/westus",
	aks + "/agentPools/nodepool1",
	acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid,
	rg + "/providers/Microsoft.Authorization/roleAssignments/" + guid,
	"/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/" + guid,
	"/providers/Microsoft.Authorization/roleDefinitions/" + owner,
	mg,
	mg + "/providers/Microsoft.Authorization/roleAssignments/" + guid,
	acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid + "/providers/Microsoft.Insights/diagnosticSettings/d",
}

func TestStringRoundTrip(t *testing.T) {
	for _, in := range roundTrips {
		id, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := id.String(); got != in {
			t.Errorf("Parse(%q).String() = %q", in, got)
		}
		again, err := Parse(id.String())
		if err != nil || !again.Equal(id) || again.String() != in {
			t.Errorf("Parse(Parse(%q).String()) = %q, %v", in, again.String(), err)
		}
	}
	// Non-canonical spellings come back canonical, and stay that way.
	for in, want := range map[string]string{
		"/subscriptions/S/":                                                 "/subscriptions/S",
		"/SUBSCRIPTIONS/S/RESOURCEGROUPS/G":                                 "/subscriptions/S/resourceGroups/G",
		"/subscriptions/S/resourcegroups/G/Providers/P/t/n/":                "/subscriptions/S/resourceGroups/G/providers/P/t/n",
		"/subscriptions/S/resourcegroups/G/PROVIDERS/P/t/n/PROVIDERS/Q/u/m": "/subscriptions/S/resourceGroups/G/providers/P/t/n/providers/Q/u/m",
	} {
		id, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := id.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
		again, _ := Parse(want)
		if again.String() != want {
			t.Errorf("Parse(%q).String() = %q", want, again.String())
		}
	}
}

func TestKeyAndEqual(t *testing.T) {
	mustParse := func(s string) ID {
		t.Helper()
		id, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		return id
	}
	a := mustParse("/subscriptions/ABC/resourceGroups/RG1/providers/Microsoft.ContainerRegistry/registries/MyAcr")
	b := mustParse("/SUBSCRIPTIONS/abc/resourcegroups/rg1/PROVIDERS/microsoft.containerregistry/REGISTRIES/myacr/")
	if !a.Equal(b) || !b.Equal(a) {
		t.Error("IDs differing only in case are not Equal")
	}
	if a.Key() != b.Key() {
		t.Errorf("Key %q != %q", a.Key(), b.Key())
	}
	if want := "/subscriptions/abc/resourcegroups/rg1/providers/microsoft.containerregistry/registries/myacr"; a.Key() != want {
		t.Errorf("Key() = %q, want %q", a.Key(), want)
	}
	if a.String() == b.String() {
		t.Error("String() lost the caller's casing")
	}
	for _, other := range []string{
		"/subscriptions/ABC/resourceGroups/RG1/providers/Microsoft.ContainerRegistry/registries/MyAcr2",
		"/subscriptions/ABC/resourceGroups/RG2/providers/Microsoft.ContainerRegistry/registries/MyAcr",
		"/subscriptions/ABC/resourceGroups/RG1",
		"/subscriptions/ABC/resourceGroups/RG1/providers/Microsoft.ContainerRegistry/registries/MyAcr/replications/x",
		"/subscriptions/ABC/resourceGroups/RG1/providers/Microsoft.ContainerRegistry/registries/MyAcr/providers/Microsoft.Authorization/roleAssignments/x",
	} {
		if a.Equal(mustParse(other)) {
			t.Errorf("%q Equal to %q", a, other)
		}
	}
	// IDs work as map keys through Key.
	m := map[string]int{a.Key(): 1}
	if m[b.Key()] != 1 {
		t.Error("map lookup by Key failed")
	}
	// The zero value is the root.
	if !(ID{}).Equal(mustParse("/")) || (ID{}).String() != "/" || (ID{}).Key() != "/" {
		t.Error("zero ID is not the root")
	}
}

func TestBuilders(t *testing.T) {
	for _, tc := range []struct {
		id   ID
		want string
	}{
		{Subscription(sub), "/subscriptions/" + sub},
		{ResourceGroupID(sub, "rg1"), rg},
		{New(sub, "rg1", "Microsoft.ContainerRegistry", "registries", "myacr"), acr},
		{New(sub, "rg1", "Microsoft.ContainerRegistry", "registries", "myacr", "replications", "westus"), acr + "/replications/westus"},
		{New(sub, "", "Microsoft.Authorization", "roleDefinitions", owner), "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + owner},
		{New("", "", "Microsoft.Authorization", "roleDefinitions", owner), "/providers/Microsoft.Authorization/roleDefinitions/" + owner},
		{Extension(New(sub, "rg1", "Microsoft.ContainerRegistry", "registries", "myacr"), "Microsoft.Authorization", "roleAssignments", guid), acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid},
		{Extension(Subscription(sub), "Microsoft.Authorization", "roleAssignments", guid), "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/" + guid},
		{Extension(ResourceGroupID(sub, "rg1"), "Microsoft.Authorization", "roleAssignments", guid), rg + "/providers/Microsoft.Authorization/roleAssignments/" + guid},
		{Extension(ID{}, "Microsoft.Authorization", "roleAssignments", guid), "/providers/Microsoft.Authorization/roleAssignments/" + guid},
	} {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
			continue
		}
		p, err := Parse(tc.want)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.want, err)
			continue
		}
		if !p.Equal(tc.id) || p.Type() != tc.id.Type() || p.Name() != tc.id.Name() || p.IsResource() != tc.id.IsResource() {
			t.Errorf("built %q and parsed %q disagree", tc.id, p)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		scope, target string
		want          bool
	}{
		{"/", "/", true},
		{"/", rg, true},
		{"/", "/providers/Microsoft.Authorization/roleDefinitions/" + owner, true},
		{"/subscriptions/" + sub, "/subscriptions/" + sub, true},
		{"/subscriptions/" + sub, rg, true},
		{"/subscriptions/" + sub, acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid, true},
		{rg, rg, true},
		{rg, acr, true},
		{acr, acr, true},
		{acr, acr + "/replications/westus", true},
		{acr, acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid, true},
		{mg, mg + "/providers/Microsoft.Authorization/roleAssignments/" + guid, true},
		// Case and trailing slashes do not matter.
		{strings.ToUpper(rg), acr, true},
		{rg, strings.ToLower(acr), true},
		{"/subscriptions/" + sub + "/resourcegroups/RG1", rg, true},
		{rg + "/", rg, true},
		{rg, rg + "/", true},
		{rg + "/", acr + "/", true},
		// Target above or beside the scope.
		{rg, "/subscriptions/" + sub, false},
		{rg, "/", false},
		{acr, rg, false},
		{"/subscriptions/" + sub, "/providers/Microsoft.Authorization/roleDefinitions/" + owner, false},
		{"/subscriptions/" + sub, "/subscriptions/00000000-0000-0000-0000-000000000002", false},
		// Prefix traps: a whole segment must match.
		{"/subscriptions/s/resourceGroups/a", "/subscriptions/s/resourceGroups/ab", false},
		{"/subscriptions/s/resourceGroups/a", "/subscriptions/s/resourceGroups/ab/providers/P/t/n", false},
		{"/subscriptions/s/resourceGroups/ab", "/subscriptions/s/resourceGroups/a", false},
		{"/subscriptions/s1", "/subscriptions/s10", false},
		{"/subscriptions/s1", "/subscriptions/s10/resourceGroups/rg", false},
		{acr, acr + "2", false},
		{acr, acr + "-west/replications/x", false},
		{"/subscriptions/s/resourceGroups/a", "/subscriptions/s/resourceGroups/a/providers/P/t/n", true},
	} {
		if got := Within(tc.scope, tc.target); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.scope, tc.target, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "/",
		"/":                                 "/",
		"/Subscriptions/ABC/":               "/subscriptions/abc",
		rg:                                  strings.ToLower(rg),
		"/SUBSCRIPTIONS/S/ResourceGroups/G": "/subscriptions/s/resourcegroups/g",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCollection(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want parsed
	}{
		{"/subscriptions/" + sub + "/resourceGroups", parsed{sub: sub, types: []string{"resourceGroups"},
			typ: "Microsoft.Resources/subscriptions", name: sub, str: "/subscriptions/" + sub + "/resourceGroups"}},
		{"/subscriptions/" + sub + "/resourcegroups/", parsed{sub: sub, types: []string{"resourceGroups"},
			typ: "Microsoft.Resources/subscriptions", name: sub, str: "/subscriptions/" + sub + "/resourceGroups"}},
		{rg + "/providers/Microsoft.ContainerRegistry/registries", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerRegistry", types: []string{"registries"},
			typ: "Microsoft.ContainerRegistry/registries", str: rg + "/providers/Microsoft.ContainerRegistry/registries"}},
		{acr + "/replications", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerRegistry", types: []string{"registries", "replications"}, names: []string{"myacr"},
			typ: "Microsoft.ContainerRegistry/registries/replications", name: "myacr", str: acr + "/replications"}},
		{aks + "/agentPools", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerService", types: []string{"managedClusters", "agentPools"}, names: []string{"aks1"},
			typ: "Microsoft.ContainerService/managedClusters/agentPools", name: "aks1", str: aks + "/agentPools"}},
		{rg + "/providers/Microsoft.ContainerRegistry", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.ContainerRegistry",
			typ: anyType, str: rg + "/providers/Microsoft.ContainerRegistry"}},
		{"/providers/Microsoft.Authorization/roleDefinitions", parsed{
			provider: "Microsoft.Authorization", types: []string{"roleDefinitions"},
			typ: "Microsoft.Authorization/roleDefinitions", str: "/providers/Microsoft.Authorization/roleDefinitions"}},
		{"/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments", parsed{
			sub: sub, provider: "Microsoft.Authorization", types: []string{"roleAssignments"},
			typ: "Microsoft.Authorization/roleAssignments", str: "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments"}},
		{acr + "/providers/Microsoft.Authorization/roleAssignments", parsed{
			sub: sub, group: "rg1", provider: "Microsoft.Authorization", types: []string{"roleAssignments"}, scope: acr,
			typ: "Microsoft.Authorization/roleAssignments", str: acr + "/providers/Microsoft.Authorization/roleAssignments"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			id, err := ParseCollection(tc.in)
			if err != nil {
				t.Fatalf("ParseCollection(%q): %v", tc.in, err)
			}
			check(t, tc.in, id, tc.want)
			again, err := ParseCollection(id.String())
			if err != nil || !again.Equal(id) {
				t.Errorf("ParseCollection(%q) = %q, %v", id.String(), again, err)
			}
		})
	}
	for _, in := range []string{
		"",
		"subscriptions/" + sub + "/resourceGroups",
		"//",
		"/subscriptions/" + sub,
		rg,
		acr,
		acr + "/replications/westus",
		acr + "/providers/Microsoft.Authorization/roleAssignments/" + guid,
		"/providers/Microsoft.Authorization/roleDefinitions/" + owner,
		rg + "/providers",
		acr + "/providers",
		"/subscriptions/" + sub + "/foo",
		"/subscriptions/" + sub + "/resourceGroups/..",
		"/subscriptions/" + sub + "/resourceGroups//providers/P/t",
	} {
		if id, err := ParseCollection(in); err == nil {
			t.Errorf("ParseCollection(%q) = %q, want an error", in, id)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseCollection(%q) error %v does not wrap ErrInvalid", in, err)
		}
	}
}

// TestCaseFoldingIsASCII checks that Equal and Within agree on case
// folding (ASCII only, as ARM) and that invalid UTF-8 is refused.
func TestCaseFoldingIsASCII(t *testing.T) {
	t.Run("Within and Equal disagree on Unicode case", func(t *testing.T) {
		kelvin, _ := Parse("/subscriptions/\u212a") // ToLower gives "k"
		k, _ := Parse("/subscriptions/k")
		if kelvin.Equal(k) != Within(kelvin.String(), k.String()) {
			t.Errorf("Equal=%v but Within=%v for %q and %q", kelvin.Equal(k), Within(kelvin.String(), k.String()), kelvin, k)
		}
		if !Within(kelvin.String(), kelvin.Key()) {
			t.Errorf("Within(%q, its own Key %q) = false", kelvin, kelvin.Key())
		}
		sigma, _ := Parse("/subscriptions/σ")
		final, _ := Parse("/subscriptions/ς") // EqualFold matches, ToLower does not
		if sigma.Equal(final) != Within(sigma.String(), final.String()) {
			t.Errorf("Equal=%v but Within=%v for %q and %q", sigma.Equal(final), Within(sigma.String(), final.String()), sigma, final)
		}
	})
	t.Run("invalid UTF-8 is accepted and distinct IDs compare Equal", func(t *testing.T) {
		a, errA := Parse("/subscriptions/\xff")
		b, errB := Parse("/subscriptions/\xfe")
		if errA == nil && errB == nil && a.Equal(b) {
			t.Errorf("%q Equal %q", a.String(), b.String())
		}
	})
}
