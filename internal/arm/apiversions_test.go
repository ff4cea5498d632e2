package arm

import (
	"errors"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

func TestVersionsFor(t *testing.T) {
	cases := []struct {
		key, version string
		ok           bool
	}{
		{"microsoft.containerregistry/registries", "2023-07-01", true},
		{"microsoft.containerregistry/registries[]", "2019-06-01-preview", true},
		{"microsoft.containerregistry/registries/listcredentials", "2022-02-01-preview", true},
		{"microsoft.containerregistry/registries/listusages[]", "2021-09-01", true},
		{"microsoft.containerregistry/checknameavailability", "2023-07-01", true},
		{"microsoft.containerregistry/registries", "1999-01-01", false},
		{"microsoft.containerregistry/registries", "2999-12-31-preview", false},
		{"microsoft.containerregistry/registries", "2023-07-01-preview", false},
		{"microsoft.containerservice/managedclusters/agentpools[]", "2025-01-01", true},
		{"microsoft.authorization/roledefinitions[]", "2018-01-01-preview", true},
		{"microsoft.authorization/roledefinitions[]", "2020-04-01-preview", false}, // a role-assignment version
		{"microsoft.authorization/roleassignments[]", "2020-04-01-preview", true},
		{"microsoft.resources/tenants[]", "2019-11-01", true},
		// Operation URLs carry the version of the request that started them.
		{"microsoft.resources/operationstatuses", "2025-01-01", true},
		{"microsoft.resources/operationresults", "2023-07-01", true},
		{"microsoft.resources/operationstatuses", "1999-01-01", false},
	}
	for _, c := range cases {
		err := checkAPIVersion(c.key, c.version)
		if (err == nil) != c.ok {
			t.Errorf("%s at %s: accepted %v, want %v", c.key, c.version, err == nil, c.ok)
		}
		var ae *errdefs.Error
		if err != nil && (!errors.As(err, &ae) || errdefs.HTTPStatus(ae) != 400 || ae.Code != "InvalidApiVersionParameter") {
			t.Errorf("%s at %s: %v, want 400 InvalidApiVersionParameter", c.key, c.version, err)
		}
	}
	if _, ok := versionsFor("microsoft.network/virtualnetworks"); ok {
		t.Error("an undeclared namespace has versions")
	}
}

// The refusal names the versions as ARM does: newest first, a date's
// stable version before its preview, comma-separated.
func TestAPIVersionMessage(t *testing.T) {
	err := checkAPIVersion("microsoft.subscription/aliases", "1999-01-01")
	want := "The api-version '1999-01-01' is invalid. The supported versions are '2024-08-01-preview,2021-10-01,2020-09-01,2019-10-01-preview'."
	if err == nil || err.(*errdefs.Error).Message != want {
		t.Errorf("message %v, want %q", err, want)
	}
	vs := versionSet{"2023-07-01": true, "2023-07-01-preview": true, "2024-03-01": true}
	if got := vs.String(); got != "2024-03-01,2023-07-01,2023-07-01-preview" {
		t.Errorf("order %q", got)
	}
	if !strings.Contains(checkAPIVersion("microsoft.resources/subscriptions[]", "2000-01-01").Error(), "2022-12-01,2022-11-01-preview,2022-09-01") {
		t.Error("the subscriptions message lacks ARM's versions")
	}
}
