package authz

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/resourceid"
)

const (
	sub      = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
	otherSub = "/subscriptions/00000000-0000-0000-0000-0000000000bb"
	rgA      = sub + "/resourceGroups/a"
	rgAB     = sub + "/resourceGroups/ab"
	regA     = rgA + "/providers/Microsoft.ContainerRegistry/registries/acr1"
	regA2    = rgA + "/providers/Microsoft.ContainerRegistry/registries/acr2"
	regAB    = rgAB + "/providers/Microsoft.ContainerRegistry/registries/acr1"
	alice    = "11111111-1111-1111-1111-111111111111"
	bob      = "22222222-2222-2222-2222-222222222222"
	group1   = "99999999-0000-0000-0000-000000000001"
	group2   = "99999999-0000-0000-0000-000000000002"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func assign(name, scope, role, principal string) Assignment {
	r, ok := RoleByName(role)
	if !ok {
		panic("no role " + role)
	}
	return Assignment{Name: name, Scope: scope, RoleDefinitionID: r.GUID, PrincipalID: principal, PrincipalType: "User", CreatedOn: t0}
}

func newTestEngine(as ...Assignment) *Engine {
	e := NewEngine(BuiltInRoles())
	e.Load(as)
	return e
}

func TestDecideInheritance(t *testing.T) {
	tests := []struct {
		name   string
		at     string // assignment scope
		role   string
		scope  string // request scope
		action string
		want   bool
	}{
		{"root covers everything", "/", "AcrPull", regA, ActionRegistryPull, true},
		{"subscription covers RG", sub, "Reader", rgA, ActionRegistryRead, true},
		{"subscription covers resource", sub, "AcrPull", regA, ActionRegistryPull, true},
		{"subscription covers itself", sub, "Reader", sub, "Microsoft.Resources/subscriptions/read", true},
		{"RG covers resource", rgA, "AcrPush", regA, ActionRegistryPush, true},
		{"RG covers child resource", rgA, "AcrPull", regA + "/replications/westus", ActionRegistryPull, true},
		{"resource covers itself", regA, "AcrPull", regA, ActionRegistryPull, true},
		{"resource does not cover RG", regA, "AcrPull", rgA, ActionRegistryPull, false},
		{"RG does not cover subscription", rgA, "Reader", sub, ActionRegistryRead, false},
		{"resource does not cover sibling", regA, "AcrPull", regA2, ActionRegistryPull, false},
		{"RG a does not cover RG ab", rgA, "AcrPull", regAB, ActionRegistryPull, false},
		{"RG a does not cover RG ab itself", rgA, "Reader", rgAB, ActionRegistryRead, false},
		{"registry acr1 does not cover acr10", regA, "AcrPull", regA + "0", ActionRegistryPull, false},
		{"other subscription", otherSub, "Owner", regA, ActionRegistryWrite, false},
		{"scope case-insensitive (assignment upper)", strings.ToUpper(rgA), "AcrPull", regA, ActionRegistryPull, true},
		{"scope case-insensitive (request upper)", rgA, "AcrPull", strings.ToUpper(regA), ActionRegistryPull, true},
		{"trailing slash", rgA + "/", "AcrPull", regA + "/", ActionRegistryPull, true},
		{"assignment scope without leading slash", strings.TrimPrefix(rgA, "/"), "AcrPull", regA, ActionRegistryPull, true},
		{"action case-insensitive", rgA, "AcrPull", regA, strings.ToUpper(ActionRegistryPull), true},
		{"role does not allow", rgA, "AcrPull", regA, ActionRegistryPush, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(assign("a1", tc.at, tc.role, alice))
			d := e.Decide(Request{PrincipalID: alice, Action: tc.action, Scope: tc.scope, Now: t0})
			if d.Allowed != tc.want {
				t.Fatalf("Allowed = %v, want %v (%s)", d.Allowed, tc.want, d.Reason)
			}
			if tc.want && (len(d.Granted) != 1 || d.Granted[0].Assignment.Name != "a1" || d.Granted[0].ViaGroup != "" || !d.Granted[0].EffectiveAt.IsZero()) {
				t.Fatalf("Granted = %+v", d.Granted)
			}
			if !tc.want && len(d.Granted) != 0 {
				t.Fatalf("Granted = %+v", d.Granted)
			}
		})
	}
}

func TestDecideRoleSemantics(t *testing.T) {
	tests := []roleActionCase{
		{"Contributor", ActionRoleAssignmentsWrite, false, false},
		{"Contributor", ActionRoleAssignmentsDelete, false, false},
		{"Contributor", ActionRegistryWrite, false, true},
		{"Owner", ActionRoleAssignmentsWrite, false, true},
		{"Owner", ActionRoleAssignmentsDelete, false, true},
		{"User Access Administrator", ActionRoleAssignmentsWrite, false, true},
		{"Role Based Access Control Administrator", ActionRoleAssignmentsWrite, false, true},
		{"Role Based Access Control Administrator", ActionRoleAssignmentsDelete, false, true},
		{"AcrPull", ActionRegistryPull, false, true},
		{"AcrPull", ActionRegistryPush, false, false},
		{"AcrPull", ActionRegistryWrite, false, false},
		{"Reader", ActionRegistryPull, false, true},
		{"Reader", ActionRegistryPush, false, false},
		{"Container Registry Repository Reader", DataActionRepositoryContentRead, true, true},
		{"Container Registry Repository Reader", DataActionRepositoryContentRead, false, false},
		{"Container Registry Repository Writer", DataActionRepositoryContentWrite, true, true},
		{"Container Registry Repository Writer", DataActionRepositoryContentWrite, false, false},
		{"Container Registry Repository Contributor", DataActionRepositoryContentDelete, true, true},
		{"Container Registry Repository Contributor", DataActionRepositoryContentDelete, false, false},
		{"Container Registry Repository Catalog Lister", DataActionCatalogRead, true, true},
		{"Owner", DataActionRepositoryContentRead, true, false},
	}
	for _, tc := range tests {
		e := newTestEngine(assign("a1", rgA, tc.role, alice))
		d := e.Decide(Request{PrincipalID: alice, Action: tc.action, DataAction: tc.data, Scope: regA, Now: t0})
		if d.Allowed != tc.want {
			t.Errorf("%s %s data=%v: Allowed = %v, want %v (%s)", tc.role, tc.action, tc.data, d.Allowed, tc.want, d.Reason)
		}
	}
}

func TestDecidePrincipalCaseInsensitive(t *testing.T) {
	e := newTestEngine(assign("a1", rgA, "AcrPull", strings.ToUpper(alice)))
	for _, p := range []string{alice, strings.ToUpper(alice)} {
		if d := e.Decide(Request{PrincipalID: p, Action: ActionRegistryPull, Scope: regA, Now: t0}); !d.Allowed {
			t.Errorf("principal %s: %s", p, d.Reason)
		}
	}
	if d := e.Decide(Request{PrincipalID: bob, Action: ActionRegistryPull, Scope: regA, Now: t0}); d.Allowed {
		t.Errorf("bob allowed: %s", d.Reason)
	}
	if d := e.Decide(Request{PrincipalID: "", Action: ActionRegistryPull, Scope: regA, Now: t0}); d.Allowed {
		t.Errorf("empty principal allowed: %s", d.Reason)
	}
}

func TestDecideGroups(t *testing.T) {
	later := t0.Add(10 * time.Minute)
	e := newTestEngine(
		assign("g1-pull", rgA, "AcrPull", group1),
		assign("g2-push", regA, "AcrPush", strings.ToUpper(group2)),
		assign("bob-pull", regA, "AcrPull", bob),
	)

	t.Run("effective membership grants", func(t *testing.T) {
		d := e.Decide(Request{PrincipalID: alice, Groups: []Membership{{GroupID: group1, EffectiveAt: t0.Add(-time.Minute)}}, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if !d.Allowed || len(d.Granted) != 1 || len(d.Pending) != 0 {
			t.Fatalf("%+v", d)
		}
		g := d.Granted[0]
		if g.ViaGroup != group1 || !g.EffectiveAt.Equal(t0.Add(-time.Minute)) || g.Assignment.Name != "g1-pull" || g.Role.Name != "AcrPull" {
			t.Fatalf("grant %+v", g)
		}
		want := "allowed by role 'AcrPull' assigned to group " + group1 + " (of which " + alice + " is a member) at scope '" + rgA + "' (assignment g1-pull)"
		if d.Reason != want {
			t.Fatalf("Reason\n got %q\nwant %q", d.Reason, want)
		}
	})

	t.Run("membership effective exactly now", func(t *testing.T) {
		d := e.Decide(Request{PrincipalID: alice, Groups: []Membership{{GroupID: group1, EffectiveAt: t0}}, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if !d.Allowed {
			t.Fatal(d.Reason)
		}
	})

	t.Run("zero EffectiveAt counts at once", func(t *testing.T) {
		d := e.Decide(Request{PrincipalID: alice, Groups: []Membership{{GroupID: group1}}, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if !d.Allowed || !d.Granted[0].EffectiveAt.IsZero() {
			t.Fatalf("%+v", d)
		}
	})

	t.Run("pending membership", func(t *testing.T) {
		d := e.Decide(Request{PrincipalID: alice, Groups: []Membership{{GroupID: group1, EffectiveAt: later}}, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if d.Allowed || len(d.Granted) != 0 || len(d.Pending) != 1 {
			t.Fatalf("%+v", d)
		}
		p := d.Pending[0]
		if p.ViaGroup != group1 || !p.EffectiveAt.Equal(later) {
			t.Fatalf("pending %+v", p)
		}
		want := "no role assignment of " + alice + " at or above scope '" + regA + "' grants '" + ActionRegistryPull +
			"' yet: role 'AcrPull' assigned to group " + group1 + " (of which " + alice + " is a member) at scope '" + rgA +
			"' (assignment g1-pull) becomes effective at 2026-03-01T12:10:00Z (group membership propagation)"
		if d.Reason != want {
			t.Fatalf("Reason\n got %q\nwant %q", d.Reason, want)
		}
		// Once the time has come, the grant counts.
		d = e.Decide(Request{PrincipalID: alice, Groups: []Membership{{GroupID: group1, EffectiveAt: later}}, Action: ActionRegistryPull, Scope: regA, Now: later})
		if !d.Allowed {
			t.Fatal(d.Reason)
		}
	})

	t.Run("pending does not hide direct grant", func(t *testing.T) {
		d := e.Decide(Request{PrincipalID: bob, Groups: []Membership{{GroupID: group1, EffectiveAt: later}}, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if !d.Allowed || len(d.Granted) != 1 || d.Granted[0].ViaGroup != "" || len(d.Pending) != 1 {
			t.Fatalf("%+v", d)
		}
	})

	t.Run("direct first, then groups in order, all grants listed", func(t *testing.T) {
		groups := []Membership{{GroupID: group2, EffectiveAt: t0}, {GroupID: group1, EffectiveAt: t0}}
		d := e.Decide(Request{PrincipalID: bob, Groups: groups, Action: ActionRegistryPull, Scope: regA, Now: t0})
		var names []string
		for _, g := range d.Granted {
			names = append(names, g.Assignment.Name)
		}
		if got := strings.Join(names, ","); got != "bob-pull,g2-push,g1-pull" {
			t.Fatalf("grants %s", got)
		}
		if !strings.HasSuffix(d.Reason, " and 2 other grants") || !strings.HasPrefix(d.Reason, "allowed by role 'AcrPull' assigned to "+bob+" at scope '"+regA+"' (assignment bob-pull)") {
			t.Fatalf("Reason %q", d.Reason)
		}
	})

	t.Run("group id case-insensitive and duplicates use earliest", func(t *testing.T) {
		groups := []Membership{{GroupID: strings.ToUpper(group1), EffectiveAt: later}, {GroupID: group1, EffectiveAt: t0}}
		d := e.Decide(Request{PrincipalID: alice, Groups: groups, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if !d.Allowed || len(d.Granted) != 1 || len(d.Pending) != 0 || !d.Granted[0].EffectiveAt.Equal(t0) {
			t.Fatalf("%+v", d)
		}
	})

	t.Run("pending sorted earliest first", func(t *testing.T) {
		groups := []Membership{{GroupID: group2, EffectiveAt: later.Add(time.Hour)}, {GroupID: group1, EffectiveAt: later}}
		d := e.Decide(Request{PrincipalID: alice, Groups: groups, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if d.Allowed || len(d.Pending) != 2 || d.Pending[0].ViaGroup != group1 || d.Pending[1].ViaGroup != group2 {
			t.Fatalf("%+v", d)
		}
		if !strings.Contains(d.Reason, "becomes effective at 2026-03-01T12:10:00Z") || !strings.HasSuffix(d.Reason, "; 1 more grant is pending") {
			t.Fatalf("Reason %q", d.Reason)
		}
	})

	t.Run("group grant still needs scope and action", func(t *testing.T) {
		groups := []Membership{{GroupID: group1, EffectiveAt: t0}}
		if d := e.Decide(Request{PrincipalID: alice, Groups: groups, Action: ActionRegistryPush, Scope: regA, Now: t0}); d.Allowed || len(d.Pending) != 0 {
			t.Fatalf("%+v", d)
		}
		if d := e.Decide(Request{PrincipalID: alice, Groups: groups, Action: ActionRegistryPull, Scope: regAB, Now: t0}); d.Allowed || len(d.Pending) != 0 {
			t.Fatalf("%+v", d)
		}
	})

	t.Run("unrelated group", func(t *testing.T) {
		d := e.Decide(Request{PrincipalID: alice, Groups: []Membership{{GroupID: "nope"}, {GroupID: ""}}, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if d.Allowed || len(d.Pending) != 0 {
			t.Fatalf("%+v", d)
		}
	})

	t.Run("many groups", func(t *testing.T) {
		var groups []Membership
		for i := range 100 {
			groups = append(groups, Membership{GroupID: fmt.Sprintf("g-%03d", i), EffectiveAt: t0})
		}
		groups = append(groups, Membership{GroupID: strings.ToUpper(group1), EffectiveAt: later}, Membership{GroupID: group1, EffectiveAt: t0}, Membership{GroupID: group1, EffectiveAt: later})
		d := e.Decide(Request{PrincipalID: alice, Groups: groups, Action: ActionRegistryPull, Scope: regA, Now: t0})
		if !d.Allowed || len(d.Granted) != 1 || len(d.Pending) != 0 || d.Granted[0].ViaGroup != strings.ToUpper(group1) {
			t.Fatalf("%+v", d)
		}
	})
}

func TestDecideReasons(t *testing.T) {
	e := newTestEngine(assign("a1", rgA, "AcrPull", alice))
	d := e.Decide(Request{PrincipalID: alice, Action: ActionRegistryPull, Scope: regA, Now: t0})
	want := "allowed by role 'AcrPull' assigned to " + alice + " at scope '" + rgA + "' (assignment a1)"
	if d.Reason != want {
		t.Errorf("Reason\n got %q\nwant %q", d.Reason, want)
	}
	d = e.Decide(Request{PrincipalID: alice, Action: ActionRegistryPush, Scope: regA, Now: t0})
	want = "no role assignment of " + alice + " at or above scope '" + regA + "' grants '" + ActionRegistryPush + "'"
	if d.Reason != want {
		t.Errorf("Reason\n got %q\nwant %q", d.Reason, want)
	}
	d = e.Decide(Request{PrincipalID: alice, Action: DataActionRepositoryContentRead, DataAction: true, Scope: regA, Now: t0})
	want = "no role assignment of " + alice + " at or above scope '" + regA + "' grants data action '" + DataActionRepositoryContentRead + "'"
	if d.Reason != want {
		t.Errorf("Reason\n got %q\nwant %q", d.Reason, want)
	}
	d = e.Decide(Request{PrincipalID: alice, Scope: regA, Now: t0})
	if d.Allowed || d.Reason == "" {
		t.Errorf("empty action: %+v", d)
	}
}

func TestDecideUnknownRole(t *testing.T) {
	e := newTestEngine(Assignment{Name: "x", Scope: "/", RoleDefinitionID: "00000000-0000-0000-0000-00000000dead", PrincipalID: alice})
	if d := e.Decide(Request{PrincipalID: alice, Action: ActionRegistryPull, Scope: regA, Now: t0}); d.Allowed {
		t.Fatal("unknown role granted access")
	}
}

func TestDecideFullRoleDefinitionID(t *testing.T) {
	a := assign("a1", rgA, "AcrPull", alice)
	a.RoleDefinitionID = sub + "/providers/Microsoft.Authorization/roleDefinitions/" + strings.ToUpper(AcrPullGUID)
	e := newTestEngine(a)
	if d := e.Decide(Request{PrincipalID: alice, Action: ActionRegistryPull, Scope: regA, Now: t0}); !d.Allowed {
		t.Fatal(d.Reason)
	}
}

func TestDecideZeroNowUsesClock(t *testing.T) {
	e := newTestEngine(assign("a1", rgA, "AcrPull", group1))
	past := []Membership{{GroupID: group1, EffectiveAt: time.Now().Add(-time.Hour)}}
	future := []Membership{{GroupID: group1, EffectiveAt: time.Now().Add(time.Hour)}}
	if d := e.Decide(Request{PrincipalID: alice, Groups: past, Action: ActionRegistryPull, Scope: regA}); !d.Allowed {
		t.Fatal(d.Reason)
	}
	if d := e.Decide(Request{PrincipalID: alice, Groups: future, Action: ActionRegistryPull, Scope: regA}); d.Allowed || len(d.Pending) != 1 {
		t.Fatalf("%+v", d)
	}
}

func TestEngineCRUD(t *testing.T) {
	e := NewEngine(BuiltInRoles())
	e.Add(assign("B-name", rgA, "AcrPull", alice))
	e.Add(assign("a-name", rgA, "AcrPush", alice))
	e.Add(assign("c-name", sub, "Reader", bob))
	if e.Len() != 3 {
		t.Fatalf("Len = %d", e.Len())
	}

	if a, ok := e.Get("b-NAME"); !ok || a.Name != "B-name" {
		t.Fatalf("Get = %+v, %v", a, ok)
	}
	if _, ok := e.Get("zzz"); ok {
		t.Fatal("Get of missing name succeeded")
	}

	var names []string
	for _, a := range e.List(nil) {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "c-name,a-name,B-name" {
		t.Fatalf("List order %s", got)
	}
	onlyAlice := e.List(func(a Assignment) bool { return a.PrincipalID == alice })
	if len(onlyAlice) != 2 {
		t.Fatalf("filtered List = %+v", onlyAlice)
	}
	if got := e.ForPrincipal(strings.ToUpper(alice)); len(got) != 2 || got[0].Name != "a-name" {
		t.Fatalf("ForPrincipal = %+v", got)
	}

	// Push works, then Remove (case-insensitive) takes it away.
	req := Request{PrincipalID: alice, Action: ActionRegistryPush, Scope: regA, Now: t0}
	if d := e.Decide(req); !d.Allowed {
		t.Fatal(d.Reason)
	}
	if !e.Remove("A-NAME") {
		t.Fatal("Remove returned false")
	}
	if e.Remove("a-name") {
		t.Fatal("second Remove returned true")
	}
	if d := e.Decide(req); d.Allowed {
		t.Fatalf("still allowed after Remove: %s", d.Reason)
	}
	if d := e.Decide(Request{PrincipalID: alice, Action: ActionRegistryPull, Scope: regA, Now: t0}); !d.Allowed {
		t.Fatalf("unrelated assignment lost: %s", d.Reason)
	}

	// Add with an existing name replaces (and moves principals).
	e.Add(assign("b-name", regA, "Owner", bob))
	if e.Len() != 2 {
		t.Fatalf("Len = %d after replace", e.Len())
	}
	if d := e.Decide(Request{PrincipalID: alice, Action: ActionRegistryPull, Scope: regA, Now: t0}); d.Allowed {
		t.Fatalf("replaced assignment still grants alice: %s", d.Reason)
	}
	if d := e.Decide(Request{PrincipalID: bob, Action: ActionRegistryWrite, Scope: regA, Now: t0}); !d.Allowed {
		t.Fatal(d.Reason)
	}
	if got := e.ForPrincipal(alice); len(got) != 0 {
		t.Fatalf("alice still indexed: %+v", got)
	}

	// Load replaces everything.
	e.Load([]Assignment{assign("only", "/", "Reader", alice), assign("ONLY", "/", "Owner", alice)})
	if e.Len() != 1 {
		t.Fatalf("Len after Load = %d", e.Len())
	}
	if a, _ := e.Get("only"); a.Name != "ONLY" {
		t.Fatalf("Load: last duplicate should win, got %+v", a)
	}
	if d := e.Decide(Request{PrincipalID: bob, Action: ActionRegistryWrite, Scope: regA, Now: t0}); d.Allowed {
		t.Fatal("Load did not drop old assignments")
	}
}

func TestEngineRoles(t *testing.T) {
	e := NewEngine(BuiltInRoles())
	if r, ok := e.Role(strings.ToUpper(AcrPullGUID)); !ok || r.Name != "AcrPull" {
		t.Fatalf("Role = %+v, %v", r, ok)
	}
	if r, ok := e.Role("/providers/Microsoft.Authorization/roleDefinitions/" + ReaderGUID); !ok || r.Name != "Reader" {
		t.Fatalf("Role = %+v, %v", r, ok)
	}
	if _, ok := e.Role("nope"); ok {
		t.Fatal("unknown role found")
	}
	if got := len(e.Roles()); got != len(BuiltInRoles()) {
		t.Fatalf("Roles() has %d", got)
	}

	// Custom role, then its removal.
	custom := RoleDefinition{GUID: "12345678-aaaa-bbbb-cccc-1234567890ab", Name: "Puller", RoleType: "CustomRole",
		Permissions: []Permission{{Actions: []string{"Microsoft.ContainerRegistry/*/pull/read"}}}, AssignableScopes: []string{sub}}
	e.Add(Assignment{Name: "c1", Scope: rgA, RoleDefinitionID: custom.GUID, PrincipalID: alice})
	req := Request{PrincipalID: alice, Action: ActionRegistryPull, Scope: regA, Now: t0}
	if e.Decide(req).Allowed {
		t.Fatal("allowed before the role exists")
	}
	e.PutRole(custom)
	if d := e.Decide(req); !d.Allowed || d.Granted[0].Role.Name != "Puller" {
		t.Fatalf("%+v", d)
	}
	if !e.RemoveRole(strings.ToUpper(custom.GUID)) || e.RemoveRole(custom.GUID) {
		t.Fatal("RemoveRole results wrong")
	}
	if e.Decide(req).Allowed {
		t.Fatal("allowed after the role was removed")
	}

	// The engine keeps its own copy of roles.
	roles := BuiltInRoles()
	e2 := NewEngine(roles)
	for i := range roles {
		roles[i].Permissions = nil
	}
	e2.Add(assign("x", "/", "AcrPull", alice))
	if !e2.Decide(req).Allowed {
		t.Fatal("engine shares role slices with the caller")
	}
}

func TestEngineConcurrent(t *testing.T) {
	e := NewEngine(BuiltInRoles())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				name := fmt.Sprintf("w%d-%d", w, i)
				e.Add(assign(name, rgA, "AcrPull", alice))
				e.Decide(Request{PrincipalID: alice, Action: ActionRegistryPull, Scope: regA, Now: t0})
				e.List(nil)
				if i%2 == 0 {
					e.Remove(name)
				}
			}
		}()
	}
	wg.Wait()
	if e.Len() != 4*250 {
		t.Fatalf("Len = %d", e.Len())
	}
}

// TestScopePrefilterAgreesWithWithin checks the hash pre-filter of Decide
// against resourceid.Within on awkward scopes.
func TestScopePrefilterAgreesWithWithin(t *testing.T) {
	deep := rgA + "/providers/Microsoft.X/t"
	for i := range 30 {
		deep += fmt.Sprintf("/n%d/t", i)
	}
	deep += "/last"
	scopes := []string{
		"/", sub, strings.ToUpper(sub), rgA, rgAB, regA, regA2, regAB, regA + "/", regA + "0",
		rgA + "/providers/Microsoft.X/t/Ünïcode", rgA + "/providers/Microsoft.X/t/ünïcode/sub/x",
		rgA + "/providers/Microsoft.X/t/ÜNÏCODE", deep, deep + "/child/c",
		strings.TrimPrefix(regA, "/"), sub + "//resourceGroups/a",
	}
	for _, at := range scopes {
		e := newTestEngine(assign("a", at, "Owner", alice))
		en := newEntry(Assignment{Scope: at})
		for _, target := range scopes {
			d := e.Decide(Request{PrincipalID: alice, Action: ActionRegistryWrite, Scope: target, Now: t0})
			tg := target
			if !strings.HasPrefix(tg, "/") {
				tg = "/" + tg
			}
			if want := resourceid.Within(en.scope, tg); d.Allowed != want {
				t.Errorf("assignment at %q, request at %q: Allowed = %v, Within = %v", at, target, d.Allowed, want)
			}
		}
	}
}
