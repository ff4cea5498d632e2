package directory

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/store"
)

// groups creates groups by name.
func (td *testDir) groups(names ...string) map[string]Principal {
	td.t.Helper()
	out := map[string]Principal{}
	td.update(func(tx *store.Tx) error {
		for _, n := range names {
			g, err := td.CreateGroup(tx, n, "", td.user.ObjectID)
			if err != nil {
				return err
			}
			out[n] = g
		}
		return nil
	})
	return out
}

// effective maps a principal's groups (by name, of gs) to when each
// membership counts, as offsets from start.
func effective(td *testDir, principal string, gs map[string]Principal, start time.Time) map[string]time.Duration {
	names := map[string]string{}
	for n, g := range gs {
		names[strings.ToLower(g.ObjectID)] = n
	}
	out := map[string]time.Duration{}
	for _, m := range td.Groups(principal) {
		out[names[strings.ToLower(m.GroupID)]] = m.EffectiveAt.Sub(start)
	}
	return out
}

func TestGroupMembershipPropagation(t *testing.T) {
	const delay = 5 * time.Minute
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// edges are "member>group" additions, made a minute apart; the
		// member is "user" (td.user), "mi" (td.mi) or a group name.
		edges []string
		// signedIn principals were issued a token before the additions.
		signedIn []string
		// want is, per principal, each (transitive) group and the offset
		// from the first addition at which it counts.
		want map[string]map[string]time.Duration
	}{
		{"a principal never signed in counts at once", []string{"user>g1"}, nil,
			map[string]map[string]time.Duration{"user": {"g1": 0}}},
		{"a signed-in principal waits for propagation", []string{"user>g1"}, []string{"user"},
			map[string]map[string]time.Duration{"user": {"g1": delay}}},
		{"managed identities too", []string{"mi>g1", "user>g1"}, []string{"mi"},
			map[string]map[string]time.Duration{"mi": {"g1": delay}, "user": {"g1": time.Minute}}},
		{"nested groups: the latest link along the path", []string{"g1>g2", "user>g1"}, []string{"user"},
			map[string]map[string]time.Duration{"user": {"g1": time.Minute + delay, "g2": time.Minute + delay}, "g1": {"g2": 0}}},
		{"nested groups: a later outer link", []string{"user>g1", "g1>g2"}, []string{"user"},
			map[string]map[string]time.Duration{"user": {"g1": delay, "g2": delay}}},
		{"three levels", []string{"user>g1", "g1>g2", "g2>g3"}, nil,
			map[string]map[string]time.Duration{"user": {"g1": 0, "g2": time.Minute, "g3": 2 * time.Minute}}},
		// Via g1 g2 counts from 7m, via g3 from 5m.
		{"two paths: the earlier one counts", []string{"user>g3", "g1>g2", "user>g1", "g3>g2"}, []string{"user"},
			map[string]map[string]time.Duration{"user": {"g1": 2*time.Minute + delay, "g2": delay, "g3": delay}}},
		{"a cycle ends", []string{"g1>g2", "g2>g1", "user>g1"}, nil,
			map[string]map[string]time.Duration{"user": {"g1": 2 * time.Minute, "g2": 2 * time.Minute}, "g1": {"g2": 0, "g1": time.Minute}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := newTestDir(t, func(c *Config) { c.GroupPropagationDelay = delay })
			gs := td.groups("g1", "g2", "g3")
			id := func(name string) string {
				switch name {
				case "user":
					return td.user.ObjectID
				case "mi":
					return td.mi.ObjectID
				}
				return gs[name].ObjectID
			}
			for _, who := range tc.signedIn {
				p, _ := td.Get(ctx, id(who))
				if _, err := td.IssueAccessToken(p, AudienceARM); err != nil {
					t.Fatal(err)
				}
			}
			start := td.clock.Now()
			for i, e := range tc.edges {
				if i > 0 {
					td.clock.Advance(time.Minute)
				}
				member, group, _ := strings.Cut(e, ">")
				if _, err := td.AddMember(ctx, id(group), id(member)); err != nil {
					t.Fatalf("%s: %v", e, err)
				}
			}
			for who, want := range tc.want {
				if got := effective(td, id(who), gs, start); !mapsEqual(got, want) {
					t.Errorf("%s: groups %v, want %v", who, got, want)
				}
				for g := range want {
					if !td.IsMember(id(who), id(g)) {
						t.Errorf("%s is not a member of %s", who, g)
					}
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestGroupMembershipChanges(t *testing.T) {
	ctx := context.Background()
	td := newTestDir(t, nil)
	gs := td.groups("g1", "g2")
	var app Principal
	td.update(func(tx *store.Tx) (err error) {
		app, err = td.CreateApplication(tx, "app", td.user.ObjectID)
		return err
	})
	g1, g2 := gs["g1"].ObjectID, gs["g2"].ObjectID
	if _, err := td.AddMember(ctx, g1, td.user.ObjectID); err != nil {
		t.Fatal(err)
	}
	if _, err := td.AddMember(ctx, g2, g1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, group, member string
	}{
		{"twice", g1, td.user.ObjectID},
		{"into a user", td.user.ObjectID, td.sp.ObjectID},
		{"into a missing group", "00000000-0000-0000-0000-000000000001", td.user.ObjectID},
		{"a missing member", g1, "00000000-0000-0000-0000-000000000002"},
		{"an application (not a principal)", g1, app.ObjectID},
		{"a group into itself", g1, g1},
	} {
		if _, err := td.AddMember(ctx, tc.group, tc.member); err == nil {
			t.Errorf("adding %s was accepted", tc.name)
		}
	}
	members, err := td.Members(ctx, g1)
	if err != nil || len(members) != 1 || !strings.EqualFold(members[0].MemberID, td.user.ObjectID) || !members[0].AddedAt.Equal(td.clock.Now()) {
		t.Errorf("members of g1: %+v %v", members, err)
	}
	// Case does not matter in object IDs.
	if !td.IsMember(strings.ToUpper(td.user.ObjectID), strings.ToUpper(g2)) {
		t.Error("membership by upper-case IDs")
	}
	// Memberships persist: a directory opened again over the store sees them.
	again, err := New(ctx, td.st, td.key, Config{TenantID: testTenant, BaseURL: testBase})
	if err != nil || !again.IsMember(td.user.ObjectID, g2) {
		t.Errorf("reopened directory: member of g2 %v, %v", again != nil && again.IsMember(td.user.ObjectID, g2), err)
	}
	// Removing the inner link ends the transitive membership at once.
	if err := td.RemoveMember(ctx, g2, g1); err != nil {
		t.Fatal(err)
	}
	if td.IsMember(td.user.ObjectID, g2) || !td.IsMember(td.user.ObjectID, g1) {
		t.Errorf("after removing g1 from g2: %v", td.Groups(td.user.ObjectID))
	}
	if err := td.RemoveMember(ctx, g1, td.user.ObjectID); err != nil {
		t.Fatal(err)
	}
	if got := td.Groups(td.user.ObjectID); len(got) != 0 {
		t.Errorf("groups after removal: %v", got)
	}
	if err := td.RemoveMember(ctx, g1, td.user.ObjectID); err == nil {
		t.Error("removing a member twice succeeded")
	}
	if got := td.Groups("00000000-0000-0000-0000-000000000003"); got != nil {
		t.Errorf("groups of nobody: %v", got)
	}
	if got := td.Groups(g1); len(got) != 0 {
		t.Errorf("g1 is in %v", got)
	}
}
