package acrtoken

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		scheme       string
		params       map[string]string
		err          string
	}{
		{"acr", `Bearer realm="https://r.io/oauth2/token",service="r.io",scope="repository:a:pull,push",error="insufficient_scope"`, "bearer",
			map[string]string{"realm": "https://r.io/oauth2/token", "service": "r.io", "scope": "repository:a:pull,push", "error": "insufficient_scope"}, ""},
		{"unquoted with spaces", `bearer realm=https://a:5443/oauth2/token, service = a:5443`, "bearer",
			map[string]string{"realm": "https://a:5443/oauth2/token", "service": "a:5443"}, ""},
		{"basic", `Basic realm=x`, "basic", map[string]string{"realm": "x"}, ""},
		{"names fold case", `BEARER Realm="x",SERVICE="y"`, "bearer", map[string]string{"realm": "x", "service": "y"}, ""},
		{"escaped quote", `Bearer realm="a\"b\\c",service=x`, "bearer", map[string]string{"realm": `a"b\c`, "service": "x"}, ""},
		{"trailing comma", `Bearer realm="x",`, "bearer", map[string]string{"realm": "x"}, ""},
		{"unterminated", `Bearer realm="https://x`, "bearer", map[string]string{"realm": "https://x"},
			`unable to understand the contents of Www-Authenticate header realm="https://x`},
		{"no parameters", `Bearer`, "bearer", map[string]string{}, "unable to understand the contents of Www-Authenticate header "},
		{"empty", ``, "", map[string]string{}, "unable to understand"},
		{"empty value", `Bearer realm=,service=x`, "bearer", map[string]string{}, "unable to understand"},
		{"no equals", `Bearer realm`, "bearer", map[string]string{}, "unable to understand"},
		{"junk after quote", `Bearer realm="x"y,service=z`, "bearer", map[string]string{"realm": "x"}, "unable to understand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ParseChallenge(tc.header)
			if (tc.err == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), tc.err)) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
			if ch == nil || ch.Scheme != tc.scheme || !maps.Equal(ch.Params, tc.params) {
				t.Errorf("challenge = %+v, want %s %v", ch, tc.scheme, tc.params)
			}
		})
	}
}

func TestChallengeOrigin(t *testing.T) {
	for _, tc := range []struct{ realm, origin, err string }{
		{"https://myacr.azurecr.io/oauth2/token", "https://myacr.azurecr.io", ""},
		{"https://a:5443/oauth2/token?x=y", "https://a:5443", ""},
		{"/oauth2/token", "", "Www-Authenticate: invalid realm /oauth2/token"},
		{"//host/oauth2/token", "", "Www-Authenticate: invalid realm //host/oauth2/token"},
		{"", "", "Www-Authenticate: invalid realm "},
	} {
		ch := &Challenge{Scheme: "bearer", Params: map[string]string{"realm": tc.realm}}
		o, err := ch.Origin()
		if o != tc.origin || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("Origin(%q) = %q, %v; want %q, %q", tc.realm, o, err, tc.origin, tc.err)
		}
	}
}

// FuzzParseChallenge checks that any header parses without panicking, that
// a header accepted has parameters with lower-case names, and that those
// parameters written back quoted parse to the same.
func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://myacr.azurecr.io/oauth2/token",service="myacr.azurecr.io"`)
	f.Fuzz(func(t *testing.T, h string) {
		ch, err := ParseChallenge(h)
		if ch == nil || ch.Params == nil {
			t.Fatalf("%q: no challenge", h)
		}
		if err != nil {
			return
		}
		if len(ch.Params) == 0 {
			t.Fatalf("%q: accepted without parameters", h)
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(ch.Params)) {
			if k == "" || strings.ToLower(k) != k {
				t.Fatalf("%q: parameter name %q", h, k)
			}
			v := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(ch.Params[k])
			parts = append(parts, k+`="`+v+`"`)
		}
		again, err := ParseChallenge("Bearer " + strings.Join(parts, ","))
		if err != nil || !maps.Equal(again.Params, ch.Params) {
			t.Fatalf("%q: written back as %q parses to %v, %v; want %v", h, strings.Join(parts, ","), again.Params, err, ch.Params)
		}
	})
}
