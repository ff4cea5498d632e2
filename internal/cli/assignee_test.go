package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
)

func TestClassifyAssignee(t *testing.T) {
	tests := []struct {
		in   string
		want assigneeKind
	}{
		{"alice@contoso.com", assigneeUPN},
		{"6f3a1a0e-41b5-4c5e-9f2a-6a9e6b5f2c11", assigneeGUID},
		{"6F3A1A0E-41B5-4C5E-9F2A-6A9E6B5F2C11", assigneeGUID},
		{"6f3a1a0e41b54c5e9f2a6a9e6b5f2c11", assigneeName},
		{"http://my-app", assigneeName},
		{"devs", assigneeName},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x", assigneeName},
	}
	for _, tt := range tests {
		if got := classifyAssignee(tt.in); got != tt.want {
			t.Errorf("classifyAssignee(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPrincipalTypeOf(t *testing.T) {
	tests := map[string]string{
		"#microsoft.graph.user":             principalUser,
		"#microsoft.graph.group":            principalGroup,
		"#microsoft.graph.servicePrincipal": principalServicePrincipal,
		"#microsoft.graph.application":      "",
		"":                                  "",
	}
	for in, want := range tests {
		if got := principalTypeOf(in); got != want {
			t.Errorf("principalTypeOf(%q) = %q", in, got)
		}
	}
}

func TestDisplayableName(t *testing.T) {
	tests := []struct {
		obj  map[string]any
		want string
	}{
		{map[string]any{"userPrincipalName": "a@b", "displayName": "A"}, "a@b"},
		{map[string]any{"servicePrincipalNames": []any{"app-id", "uri"}, "displayName": "S", "appId": "x"}, "app-id"},
		{map[string]any{"appId": "x", "displayName": "S"}, "x"},
		{map[string]any{"displayName": "devs"}, "devs"},
	}
	for _, tt := range tests {
		if got := displayableName(principalOf(t, tt.obj)); got != tt.want {
			t.Errorf("displayableName(%v) = %q", tt.obj, got)
		}
	}
}

// fakeGraph answers lookups from a table keyed by "path?filter" (lists) and
// serves getByIds from objects.
type fakeGraph struct {
	lists   map[string][]map[string]any
	objects []map[string]any
	calls   []string
	reject  map[string]bool // filters answered with 400
}

func (g *fakeGraph) GetByIDs(ctx context.Context, ids []string) ([]*client.Principal, error) {
	g.calls = append(g.calls, "POST /directoryObjects/getByIds")
	var found []*client.Principal
	for _, o := range g.objects {
		for _, id := range ids {
			if o["id"] == id {
				found = append(found, principalOf(nil, o))
			}
		}
	}
	return found, nil
}

func (g *fakeGraph) Find(ctx context.Context, path, filter string) ([]*client.Principal, error) {
	g.calls = append(g.calls, "GET "+path+"?"+filter)
	if g.reject[filter] {
		return nil, &client.APIError{Status: 400, Code: "BadRequest", Message: "unsupported filter"}
	}
	var out []*client.Principal
	for _, o := range g.lists[path+"?"+filter] {
		out = append(out, principalOf(nil, o))
	}
	return out, nil
}

// principalOf decodes a directory object given as a map.
func principalOf(t *testing.T, m map[string]any) *client.Principal {
	b, _ := json.Marshal(m)
	var p client.Principal
	if err := json.Unmarshal(b, &p); err != nil && t != nil {
		t.Fatal(err)
	}
	return &p
}

func TestResolveAssignee(t *testing.T) {
	user := map[string]any{"@odata.type": "#microsoft.graph.user", "id": "11111111-1111-1111-1111-111111111111", "userPrincipalName": "alice@contoso.com"}
	sp := map[string]any{"@odata.type": "#microsoft.graph.servicePrincipal", "id": "22222222-2222-2222-2222-222222222222", "appId": "33333333-3333-3333-3333-333333333333"}
	group := map[string]any{"@odata.type": "#microsoft.graph.group", "id": "44444444-4444-4444-4444-444444444444", "displayName": "devs"}
	app := map[string]any{"@odata.type": "#microsoft.graph.application", "id": "55555555-5555-5555-5555-555555555555"}
	mi := map[string]any{"@odata.type": "#microsoft.graph.servicePrincipal", "id": "66666666-6666-6666-6666-666666666666", "displayName": "my-identity"}
	newGraph := func() *fakeGraph {
		return &fakeGraph{
			objects: []map[string]any{user, sp, group, app},
			lists: map[string][]map[string]any{
				"/users?userPrincipalName eq 'alice@contoso.com'":                      {user},
				"/servicePrincipals?appId eq '33333333-3333-3333-3333-333333333333'":   {sp},
				"/servicePrincipals?servicePrincipalNames/any(c:c eq 'http://my-app')": {sp},
				"/servicePrincipals?displayName eq 'my-identity'":                      {mi},
				"/groups?displayName eq 'devs'":                                        {group},
				"/groups?displayName eq 'twins'":                                       {group, group},
			},
			reject: map[string]bool{"servicePrincipalNames/any(c:c eq 'my-identity')": true},
		}
	}
	tests := []struct {
		assignee string
		want     principal
		wantErr  string
	}{
		{"alice@contoso.com", principal{user["id"].(string), principalUser}, ""},
		{"11111111-1111-1111-1111-111111111111", principal{user["id"].(string), principalUser}, ""},
		{"44444444-4444-4444-4444-444444444444", principal{group["id"].(string), principalGroup}, ""},
		{"33333333-3333-3333-3333-333333333333", principal{sp["id"].(string), principalServicePrincipal}, ""},
		{"http://my-app", principal{sp["id"].(string), principalServicePrincipal}, ""},
		{"my-identity", principal{mi["id"].(string), principalServicePrincipal}, ""},
		{"devs", principal{group["id"].(string), principalGroup}, ""},
		{"twins", principal{}, "Found multiple directory objects for 'twins'"},
		{"55555555-5555-5555-5555-555555555555", principal{}, "Cannot find user or service principal in graph database for '55555555-5555-5555-5555-555555555555'."},
		{"bob@contoso.com", principal{}, "Cannot find user or service principal in graph database for 'bob@contoso.com'. If the assignee is an appId, make sure the corresponding service principal is created with 'az ad sp create --id bob@contoso.com'."},
	}
	for _, tt := range tests {
		got, err := resolveAssignee(context.Background(), newGraph(), tt.assignee)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("resolveAssignee(%q) error = %v, want %q", tt.assignee, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolveAssignee(%q) = %+v, %v; want %+v", tt.assignee, got, err, tt.want)
		}
	}
	// A UPN is looked up among users only first.
	g := newGraph()
	_, _ = resolveAssignee(context.Background(), g, "alice@contoso.com")
	if len(g.calls) != 1 {
		t.Errorf("UPN lookup made calls %v", g.calls)
	}
	// Unknown GUIDs fall back to object ids for list and delete.
	if id, err := resolveAssigneeOrID(context.Background(), newGraph(), "77777777-7777-7777-7777-777777777777"); err != nil || id != "77777777-7777-7777-7777-777777777777" {
		t.Errorf("resolveAssigneeOrID = %q, %v", id, err)
	}
}

func TestResolveGroupAndServicePrincipal(t *testing.T) {
	g := &fakeGraph{lists: map[string][]map[string]any{
		"/groups?displayName eq 'devs'":                                      {{"id": "g1"}},
		"/groups?displayName eq 'twins'":                                     {{"id": "g2"}, {"id": "g3"}},
		"/servicePrincipals?appId eq '33333333-3333-3333-3333-333333333333'": {{"id": "sp1"}},
		"/servicePrincipals?servicePrincipalNames/any(c:c eq 'http://app')":  {{"id": "sp2"}},
	}}
	ctx := context.Background()
	groupTests := []struct{ in, want, err string }{
		{"devs", "g1", ""},
		{"44444444-4444-4444-4444-444444444444", "44444444-4444-4444-4444-444444444444", ""},
		{"nope", "", "Group nope is not found in Graph"},
		{"twins", "", "More than 1 group objects has the display name of twins"},
	}
	for _, tt := range groupTests {
		got, err := resolveGroup(ctx, g, tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("resolveGroup(%q) = %q, %v", tt.in, got, err)
		}
	}
	spTests := []struct{ in, want, err string }{
		{"33333333-3333-3333-3333-333333333333", "sp1", ""},
		{"http://app", "sp2", ""},
		{"88888888-8888-8888-8888-888888888888", "88888888-8888-8888-8888-888888888888", ""},
		{"http://nope", "", "Service principal 'http://nope' doesn't exist"},
	}
	for _, tt := range spTests {
		got, err := resolveServicePrincipal(ctx, g, tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("resolveServicePrincipal(%q) = %q, %v", tt.in, got, err)
		}
	}
}
