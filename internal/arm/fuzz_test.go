package arm

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
)

// FuzzParseRequest feeds the front door's path parser arbitrary methods
// and (decoded) paths, as clients send them: it either refuses with an
// ARM 400 or names a lower-case route key and a resource ID that parses
// back to itself, and never panics.
func FuzzParseRequest(f *testing.F) {
	sub := "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	for _, s := range []struct{ method, path string }{
		{"GET", sub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr"},
		{"GET", sub + "/providers/Microsoft.ContainerRegistry/registries"},
		{"POST", sub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr/listCredentials"},
		{"PUT", sub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr/providers/Microsoft.Authorization/roleAssignments/0b1f6471-1bf0-4dda-aec3-cb9272f09590"},
		{"GET", "/providers/Microsoft.Authorization/roleDefinitions"},
		{"GET", sub + "/resourceGroups/rg/resources"},
		{"GET", "/tenants"},
		{"POST", "/"},
		{"GET", sub + "/resourceGroups/../../etc/passwd"},
		{"DELETE", sub + "/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/agentPools/np1"},
	} {
		f.Add(s.method, s.path)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		req := &Request{Request: &http.Request{Method: method, URL: &url.URL{Path: path}}}
		key, err := (&Router{}).parse(req)
		if err != nil {
			var ae *errdefs.Error
			if !errors.As(err, &ae) || errdefs.HTTPStatus(ae) != http.StatusBadRequest || ae.Code == "" {
				t.Fatalf("refused with %v, not an ARM 400", err)
			}
			return
		}
		if key != strings.ToLower(key) {
			t.Fatalf("route key %q is not lower-case", key)
		}
		if req.ID.Provider == "" && req.ID.SubscriptionID == "" && len(req.ID.Types) == 0 {
			return // the root (tenants, providers)
		}
		again, err := resourceid.Parse(req.ID.String())
		if err == nil && !strings.EqualFold(again.String(), req.ID.String()) {
			t.Fatalf("%q parses as %q, which parses as %q", path, req.ID.String(), again.String())
		}
	})
}
