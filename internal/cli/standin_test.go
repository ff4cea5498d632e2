package cli

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// What the stand-ins that remain (fakeACR for the registry data plane,
// fakeAKS for managed clusters) share: their tenant, subscription and user,
// and how they answer.

const (
	fakeTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	fakeSub      = "11111111-2222-3333-4444-555555555555"
	fakeUserID   = "aaaaaaaa-0000-0000-0000-000000000001"
	acrPullGUID  = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	readerGUID   = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	fakeUser     = "alice@contoso.com"
	fakePassword = "P@ssw0rd"
)

func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(`{"alg":"none"}`)) + "." + e.EncodeToString(b) + ".x"
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// segs splits a path, dropping the leading slash.
func segs(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }
