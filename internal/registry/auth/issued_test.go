package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssuedFor(t *testing.T) {
	created := time.Date(2025, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	reg := Registry{ID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr", Created: created}
	earlier := reg
	earlier.Created = created.Add(-time.Hour)
	at := func(t time.Time) *jwt.NumericDate { return jwt.NewNumericDate(t.Truncate(time.Second)) }
	cases := []struct {
		name   string
		claims tokenClaims
		ok     bool
	}{
		{"this registry", tokenClaims{Registry: reg.identity(), RegisteredClaims: jwt.RegisteredClaims{IssuedAt: at(created)}}, true},
		{"an earlier registry of the name", tokenClaims{Registry: earlier.identity(), RegisteredClaims: jwt.RegisteredClaims{IssuedAt: at(created.Add(time.Minute))}}, false},
		{"no identity, issued after creation", tokenClaims{RegisteredClaims: jwt.RegisteredClaims{IssuedAt: at(created.Add(time.Minute))}}, true},
		{"no identity, issued in the creation's second", tokenClaims{RegisteredClaims: jwt.RegisteredClaims{IssuedAt: at(created)}}, true},
		{"no identity, issued before creation", tokenClaims{RegisteredClaims: jwt.RegisteredClaims{IssuedAt: at(created.Add(-time.Second))}}, false},
		{"no identity, no issue time", tokenClaims{}, false},
		{"another identity", tokenClaims{Registry: "x", RegisteredClaims: jwt.RegisteredClaims{IssuedAt: at(created)}}, false},
	}
	for _, c := range cases {
		if err := issuedFor(reg, &c.claims); (err == nil) != c.ok {
			t.Errorf("%s: want ok=%v, got %v", c.name, c.ok, err)
		}
	}
	if reg.identity() == earlier.identity() {
		t.Error("two registries of one name share an identity")
	}
}
