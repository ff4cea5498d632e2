package odata

import "testing"

func TestParseFilter(t *testing.T) {
	obj := map[string]any{"displayName": "acr-pullers", "appId": "ABC", "servicePrincipalNames": []string{"abc", "/subscriptions/x"}}
	cases := []struct {
		filter string
		match  bool
		bad    bool
	}{
		{"", true, false},
		{"displayName eq 'acr-pullers'", true, false},
		{"displayName eq 'ACR-PULLERS'", true, false},
		{"displayName eq 'other'", false, false},
		{"startswith(displayName,'acr')", true, false},
		{"startswith(displayName, 'x')", false, false},
		{"appId eq 'abc' and displayName eq 'acr-pullers'", true, false},
		{"servicePrincipalNames/any(c:c eq '/subscriptions/x')", true, false},
		{"displayName eq 'it''s'", false, false},
		{"displayName ne 'x'", false, true},
		{"displayName eq x", false, true},
		{"displayName eq 'unterminated", false, true},
		{"eq 'x'", false, true},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.filter)
		if (err != nil) != c.bad {
			t.Errorf("%q: err %v, want bad=%v", c.filter, err, c.bad)
			continue
		}
		if err == nil && f.Match(obj) != c.match {
			t.Errorf("%q: match %v, want %v", c.filter, !c.match, c.match)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"displayName eq 'x'", "startswith(displayName,'a')", "a/any(c:c eq 'b') and x eq 'y'", "x eq 'it''s'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err == nil {
			flt.Match(map[string]any{"displayName": "x", "a": []string{"b"}})
		}
	})
}
