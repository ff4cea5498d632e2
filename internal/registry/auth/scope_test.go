package auth

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	cases := []struct {
		in   string
		want Access
		bad  bool
	}{
		{"repository:hello-world:pull", Access{"repository", "hello-world", []string{"pull"}}, false},
		{"repository:team/app:push,pull", Access{"repository", "team/app", []string{"pull", "push"}}, false},
		{"repository:a:pull,pull", Access{"repository", "a", []string{"pull"}}, false},
		{"registry:catalog:*", Access{"registry", "catalog", []string{"*"}}, false},
		{"artifact-repository:charts/x:pull", Access{"artifact-repository", "charts/x", []string{"pull"}}, false},
		{"repository:Upper:pull", Access{}, true},
		{"repository:../etc:pull", Access{}, true},
		{"repository:a//b:pull", Access{}, true},
		{"repository:" + strings.Repeat("a", 257) + ":pull", Access{}, true},
		{"registry:None:*", Access{"registry", "None", []string{"*"}}, false}, // az acr check-health asks for it; it grants nothing
		{"registry:a/b:*", Access{}, true},
		{"repository:a:", Access{}, true},
		{"repository:a:pu sh", Access{}, true},
		{"nope", Access{}, true},
		{"blob:a:pull", Access{}, true},
	}
	for _, c := range cases {
		got, err := ParseScope(c.in)
		if (err != nil) != c.bad || (!c.bad && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("ParseScope(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func TestParseScopesMerges(t *testing.T) {
	got, err := ParseScopes([]string{"repository:a:pull repository:b:pull", "repository:a:push"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Access{{"repository", "a", []string{"pull", "push"}}, {"repository", "b", []string{"pull"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repository:a/b:pull,push", "registry:catalog:*", "artifact-repository:x:pull", "repository:a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseScope(s)
		if err != nil {
			return
		}
		if !strings.Contains(a.Name, "..") && a.Type == "repository" && !ValidRepository(a.Name) {
			t.Fatalf("accepted invalid repository %q", a.Name)
		}
		again, err := ParseScope(a.String())
		if err != nil || !reflect.DeepEqual(again, a) {
			t.Fatalf("round trip of %q: %+v %v", s, again, err)
		}
	})
}
