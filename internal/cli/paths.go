package cli

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
)

func esc(s string) string { return url.PathEscape(s) }

func subscriptionPath(sub string) string { return "/subscriptions/" + esc(sub) }

func groupPath(sub, group string) string {
	return subscriptionPath(sub) + "/resourceGroups/" + esc(group)
}

// resourcePath is the ID of a top-level resource in a resource group.
func resourcePath(sub, group, provider, typ, name string) string {
	return groupPath(sub, group) + "/providers/" + provider + "/" + typ + "/" + esc(name)
}

// groupLocation returns a resource group's location, which az uses as the
// default location of resources created in it.
func groupLocation(ctx context.Context, c *client.Client, sub, group string) (string, error) {
	rg, err := resourceGroups.fetch(ctx, c, sub, "", "", group, groupPath(sub, group))
	if err != nil {
		return "", err
	}
	return str(rg, "location"), nil
}

func resourceNotFound(name, typ string, sub client.Subscription) error {
	return &client.APIError{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: "The resource with name '" + name + "' and type '" + typ + "' could not be found in subscription '" + subDisplay(sub) + "'."}
}

func subDisplay(s client.Subscription) string {
	if s.Name != "" && !strings.EqualFold(s.Name, s.ID) {
		return s.Name + " (" + s.ID + ")"
	}
	return s.ID
}
