package client

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/drydock-dev/drydock/internal/errdefs"
)

// TestSDK drives the real server with the Azure SDK for Go on the client's
// SDK options: requests carry the client's token and the pinned
// api-version, answers come back raw (keys the SDK's model lacks kept), and
// errors as the client's own.
func TestSDK(t *testing.T) {
	rs, c, _ := startWithGroup(t)
	ctx := context.Background()
	s := c.SDK(rs.SubscriptionID, APIVersionManagedIdentity)
	ids, err := armmsi.NewUserAssignedIdentitiesClient(s.Sub, s.Cred, s.Options)
	if err != nil {
		t.Fatal(err)
	}
	before := len(rs.requests())
	mi, err := c.Raw(ctx, func(ctx context.Context) error {
		_, err := ids.CreateOrUpdate(ctx, "rg", "my-identity", armmsi.Identity{Location: to.Ptr("westus")}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.requests()[before:]; len(got) == 0 || !strings.Contains(got[len(got)-1], "/userAssignedIdentities/my-identity?api-version="+APIVersionManagedIdentity) {
		t.Errorf("requests %q", got)
	}
	if str, _ := mi["name"].(string); str != "my-identity" {
		t.Errorf("raw answer %v", mi)
	}
	items, err := RawPages(ctx, c, ids.NewListByResourceGroupPager("rg", nil))
	if err != nil || len(items) != 1 || items[0]["id"] != mi["id"] {
		t.Errorf("RawPages: %v %v", items, err)
	}

	tests := []struct {
		name string
		call func(ctx context.Context) error
		kind error
		line string
	}{
		{"missing identity", func(ctx context.Context) error { _, err := ids.Get(ctx, "rg", "nope", nil); return err },
			errdefs.ErrNotFound, "(ResourceNotFound) "},
		{"missing group", func(ctx context.Context) error {
			groups, err := armresources.NewResourceGroupsClient(s.Sub, s.Cred, c.SDK(s.Sub, APIVersionResources).Options)
			if err == nil {
				_, err = groups.Get(ctx, "nope", nil)
			}
			return err
		}, errdefs.ErrNotFound, "(ResourceGroupNotFound) "},
	}
	for _, tt := range tests {
		_, err := c.Raw(ctx, tt.call)
		var ae *APIError
		if !errors.As(err, &ae) || !errors.Is(err, tt.kind) || !strings.HasPrefix(err.Error(), tt.line) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	// A new SDK client of a logged-out client (an SDK client keeps the
	// token it got).
	c.SetCredentials(nil)
	ids, _ = armmsi.NewUserAssignedIdentitiesClient(s.Sub, s.Cred, s.Options)
	if _, err := c.Raw(ctx, func(ctx context.Context) error { _, err := ids.Get(ctx, "rg", "my-identity", nil); return err }); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("logged out: %v", err)
	}
}
