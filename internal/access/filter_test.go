package access

import "testing"

func TestParseListFilter(t *testing.T) {
	cases := []struct {
		in   string
		want listFilter
		bad  bool
	}{
		{"", listFilter{}, false},
		{"atScope()", listFilter{atScope: true}, false},
		{"principalId eq 'AB-12'", listFilter{principalID: "ab-12"}, false},
		{"assignedTo('ab')", listFilter{assignedTo: "ab"}, false},
		{"atScope() and assignedTo('ab')", listFilter{atScope: true, assignedTo: "ab"}, false},
		{"principalId eq 'x y'", listFilter{}, true},
		{"roleName eq 'x'", listFilter{}, true},
		{"principalId eq 'ab' or 1 eq 1", listFilter{}, true},
	}
	for _, c := range cases {
		got, err := parseListFilter(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("%q: got %+v, %v", c.in, got, err)
		}
	}
}

func TestParseRoleFilter(t *testing.T) {
	f, err := parseRoleFilter("roleName eq 'AcrPull' and type eq 'BuiltInRole'")
	if err != nil || f.roleName != "AcrPull" || f.roleType != "BuiltInRole" {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := parseRoleFilter("roleName eq 'x' or 1"); err == nil {
		t.Fatal("accepted a bad filter")
	}
}

func FuzzParseListFilter(f *testing.F) {
	for _, s := range []string{"atScope()", "principalId eq 'ab'", "atScope() and assignedTo('x')", "roleName eq 'AcrPull'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseListFilter(s)
		parseRoleFilter(s)
	})
}
