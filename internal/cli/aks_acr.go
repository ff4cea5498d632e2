package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/resourceid"
)

// managedIdentityOperatorGUID is the built-in role a cluster's control-plane
// identity needs on a bring-your-own kubelet identity.
const managedIdentityOperatorGUID = "f1a07417-d97a-45cb-824c-7a7467783830"

// aksRegistry is the registry --attach-acr or --detach-acr names.
type aksRegistry struct {
	id  string // resource ID: the scope of the AcrPull assignment
	sub string // the registry's subscription, which may not be the current one
}

// resolveAKSRegistry resolves --attach-acr/--detach-acr as az's
// ensure_aks_acr does: a resource ID is read in the subscription it names
// (which is how a registry of another subscription is attached); a name is
// looked up among the registries of the current subscription only.
func resolveAKSRegistry(ctx context.Context, c *client.Client, sub client.Subscription, nameOrID string) (aksRegistry, error) {
	typ := registries.typeName()
	if strings.HasPrefix(nameOrID, "/") {
		id, err := resourceid.Parse(nameOrID)
		if err != nil || !id.IsResource() || id.Scope != nil || id.ResourceGroup == "" || !strings.EqualFold(id.Type(), typ) {
			return aksRegistry{}, &cliError{fmt.Sprintf("'%s' is not the resource ID of a container registry (%s).", nameOrID, typ)}
		}
		reg, err := registries.fetchID(ctx, c, nameOrID)
		if err != nil {
			return aksRegistry{}, err
		}
		r := aksRegistry{id: str(reg, "id"), sub: id.SubscriptionID}
		if r.id == "" {
			r.id = nameOrID
		}
		return r, nil
	}
	items, err := registries.list(ctx, c, sub.ID, "", "")
	if err != nil {
		return aksRegistry{}, err
	}
	var found []map[string]any
	for _, it := range items {
		if strings.EqualFold(str(it, "name"), nameOrID) {
			found = append(found, it)
		}
	}
	reg, err := single(found,
		&cliError{fmt.Sprintf("The resource with name '%s' and type '%s' could not be found in subscription '%s'.", nameOrID, typ, subDisplay(sub))},
		func() error {
			return &cliError{fmt.Sprintf("More than one resources with type '%s' are found with name '%s'.", typ, nameOrID)}
		})
	if err != nil {
		return aksRegistry{}, err
	}
	return aksRegistry{id: str(reg, "id"), sub: sub.ID}, nil
}

// attachACR grants the kubelet identity AcrPull on the registry, with the
// caller's token, in the registry's subscription. An existing assignment
// counts as success.
func (a *app) attachACR(ctx context.Context, c *client.Client, reg aksRegistry, kubeletObjectID string) error {
	roleID, err := resolveRoleID(ctx, c, "acrpull", reg.id, reg.sub)
	if err != nil {
		return err
	}
	return withRegistryRoleHint(a.assignRole(ctx, c, reg.id, roleID, kubeletObjectID), "attach")
}

// detachACR deletes the AcrPull assignments of the kubelet identity made
// exactly at the registry's scope (never inherited ones, never other roles
// or principals). Finding none is success, as in az.
func (a *app) detachACR(ctx context.Context, c *client.Client, reg aksRegistry, kubeletObjectID string) error {
	items, err := assignmentSearch{sub: reg.sub, scope: reg.id, assigneeID: kubeletObjectID, role: "acrpull"}.run(ctx, c)
	if err != nil {
		return err
	}
	for _, ra := range items {
		if err := deleteRoleAssignment(ctx, c, str(ra, "id")); err != nil {
			return withRegistryRoleHint(err, "detach")
		}
	}
	return nil
}

// withRegistryRoleHint adds to an AuthorizationFailed error (whose message
// names the missing action and the scope) which roles would do. az instead
// prints "Are you an Owner on this subscription?", which misleads: only a
// role on the registry is needed.
func withRegistryRoleHint(err error, verb string) error {
	if err == nil || !client.HasCode(err, "AuthorizationFailed") {
		return err
	}
	return fmt.Errorf("%w You need Owner, User Access Administrator or Role Based Access Control Administrator on the registry to %s it.", err, verb)
}

// assignRole creates a role assignment for a managed identity (principal
// type ServicePrincipal), retrying while the directory does not know the
// principal yet. An existing identical assignment counts as success.
func (a *app) assignRole(ctx context.Context, c *client.Client, scope, roleID, principalID string) error {
	for attempt := 1; ; attempt++ {
		_, err := createRoleAssignment(ctx, c, scope, roleID, principalID, principalServicePrincipal, "")
		if err == nil || isAssignmentExists(err) {
			return nil
		}
		if !client.HasCode(err, "PrincipalNotFound") || attempt >= roleAssignmentRetries {
			return err
		}
		if a.verbose {
			fmt.Fprintf(a.stderr, "INFO: Waiting for AAD role to propagate (%d/%d)\n", attempt, roleAssignmentRetries)
		}
		if err := a.sleep(ctx); err != nil {
			return err
		}
	}
}

func isAssignmentExists(err error) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && (strings.EqualFold(ae.Code, "RoleAssignmentExists") || ae.Message == "The role assignment already exists.")
}

// ensureManagedIdentityOperator gives the control-plane identity Managed
// Identity Operator on the kubelet identity unless an assignment at exactly
// that scope already does, as az does for --assign-kubelet-identity.
func (a *app) ensureManagedIdentityOperator(ctx context.Context, c *client.Client, principalID, kubeletIdentity string) error {
	id, err := resourceid.Parse(kubeletIdentity)
	if err != nil {
		return err
	}
	existing, err := assignmentSearch{sub: id.SubscriptionID, scope: kubeletIdentity, assigneeID: principalID, role: managedIdentityOperatorGUID}.run(ctx, c)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	roleID := subscriptionPath(id.SubscriptionID) + roleDefinitionsSuffix + "/" + managedIdentityOperatorGUID
	if err := a.assignRole(ctx, c, kubeletIdentity, roleID, principalID); err != nil {
		return fmt.Errorf("Could not grant Managed Identity Operator permission to cluster identity at scope %s: %w", kubeletIdentity, err)
	}
	return nil
}
