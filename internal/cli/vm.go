package cli

import (
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// drydock's virtual machines are hosts that carry managed identities and
// serve them through an IMDS endpoint; nothing runs on them.
const (
	vmProvider = "Microsoft.Compute"
	vmType     = "virtualMachines"
	vmTable    = "[].{Name:name, ResourceGroup:resourceGroup, Location:location}"
)

func newVMCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "vm", Short: "Manage virtual machines (drydock: identity hosts with an IMDS endpoint)."}
	cmd.AddCommand(
		newVMCreateCommand(a),
		newVMShowCommand(a),
		newVMDeleteCommand(a),
		newVMListCommand(a),
		newVMHostCredentialCommand(a),
	)
	return cmd
}

func vmRequest(method, path string, body any) client.Request {
	return client.Request{Method: method, Path: path, APIVersion: client.APIVersionCompute, Body: body}
}

func vmFlags(cmd *cobra.Command, name, group *string) {
	cmd.Flags().StringVarP(name, "name", "n", "", "The name of the Virtual Machine.")
	cmd.Flags().StringVarP(group, "resource-group", "g", "", "Name of resource group.")
}

// vmIdentity builds the identity block of a VM from --assign-identity
// values: "[system]", identity resource IDs, or identity names in group.
func vmIdentity(sub, group string, values []string) map[string]any {
	system := false
	user := map[string]any{}
	for _, v := range values {
		switch {
		case strings.EqualFold(v, systemIdentity):
			system = true
		case strings.HasPrefix(v, "/"):
			user[v] = map[string]any{}
		default:
			user[resourcePath(sub, group, identityProvider, identityType, v)] = map[string]any{}
		}
	}
	var types []string
	if system {
		types = append(types, "SystemAssigned")
	}
	if len(user) > 0 {
		types = append(types, "UserAssigned")
	}
	id := map[string]any{"type": strings.Join(types, ", ")}
	if len(user) > 0 {
		id["userAssignedIdentities"] = user
	}
	return id
}

// vmCreateSummary is what az vm create prints.
func vmCreateSummary(vm map[string]any, group string, withIdentity bool) map[string]any {
	power := str(vm, "properties", "powerState")
	if power == "" {
		power = "VM running"
	}
	out := map[string]any{
		"fqdns":            "",
		"id":               vm["id"],
		"location":         vm["location"],
		"macAddress":       "",
		"powerState":       power,
		"privateIpAddress": "",
		"publicIpAddress":  "",
		"resourceGroup":    group,
		"zones":            "",
	}
	if withIdentity {
		id, _ := vm["identity"].(map[string]any)
		users := map[string]any{}
		if ua, ok := id["userAssignedIdentities"].(map[string]any); ok {
			users = ua
		}
		out["identity"] = map[string]any{"systemAssignedIdentity": str(id, "principalId"), "userAssignedIdentities": users}
	}
	return out
}

func newVMCreateCommand(a *app) *cobra.Command {
	var name, group, location string
	var identities []string
	var ignored struct {
		image, size, adminUser, adminPassword, authType, publicIPSKU, publicIP, nsg, vnet, subnet string
		sshKeys                                                                                   bool
	}
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a virtual machine to host managed identities.",
		Example: "  az vm create -n myVM -g MyResourceGroup --image Ubuntu2204 --assign-identity myIdentity",
		RunE: a.withSub([]string{"name", "resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			var err error
			ctx := cmd.Context()
			if location == "" {
				if location, err = groupLocation(ctx, c, sub.ID, group); err != nil {
					return err
				}
			}
			body := map[string]any{"location": location}
			if len(identities) > 0 {
				body["identity"] = vmIdentity(sub.ID, group, identities)
			}
			var vm map[string]any
			if err := c.ARM(ctx, vmRequest(http.MethodPut, resourcePath(sub.ID, group, vmProvider, vmType, name), body), &vm); err != nil {
				return err
			}
			return a.print(vmCreateSummary(vm, group, len(identities) > 0), "")
		}),
	}
	vmFlags(cmd, &name, &group)
	f := cmd.Flags()
	f.StringVarP(&location, "location", "l", "", "Location. Defaults to the location of the resource group.")
	f.StringArrayVar(&identities, "assign-identity", nil, "Space-separated identities to assign: resource IDs or names of user-assigned identities in the resource group; '[system]' (or no value) for a system-assigned one.")
	// Accepted for compatibility with VM walkthroughs; drydock ignores them.
	for _, s := range []struct {
		p          *string
		name, desc string
	}{
		{&ignored.image, "image", "Ignored by drydock."},
		{&ignored.size, "size", "Ignored by drydock."},
		{&ignored.adminUser, "admin-username", "Ignored by drydock."},
		{&ignored.adminPassword, "admin-password", "Ignored by drydock."},
		{&ignored.authType, "authentication-type", "Ignored by drydock."},
		{&ignored.publicIPSKU, "public-ip-sku", "Ignored by drydock."},
		{&ignored.publicIP, "public-ip-address", "Ignored by drydock."},
		{&ignored.nsg, "nsg", "Ignored by drydock."},
		{&ignored.vnet, "vnet-name", "Ignored by drydock."},
		{&ignored.subnet, "subnet", "Ignored by drydock."},
	} {
		f.StringVar(s.p, s.name, "", s.desc)
	}
	f.BoolVar(&ignored.sshKeys, "generate-ssh-keys", false, "Ignored by drydock.")
	return cmd
}

func newVMShowCommand(a *app) *cobra.Command {
	var name, group string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Get the details of a virtual machine.",
		RunE: a.withSub([]string{"name", "resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			var vm map[string]any
			if err := c.ARM(cmd.Context(), vmRequest(http.MethodGet, resourcePath(sub.ID, group, vmProvider, vmType, name), nil), &vm); err != nil {
				return err
			}
			return a.print(flatten(vm), "")
		}),
	}
	vmFlags(cmd, &name, &group)
	return cmd
}

func newVMDeleteCommand(a *app) *cobra.Command {
	var name, group string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a virtual machine.",
		RunE: a.withSub([]string{"name", "resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			ok, err := a.confirm("Are you sure you want to perform this operation?", yes)
			if err != nil || !ok {
				return err
			}
			return c.ARM(cmd.Context(), vmRequest(http.MethodDelete, resourcePath(sub.ID, group, vmProvider, vmType, name), nil), nil)
		}),
	}
	vmFlags(cmd, &name, &group)
	yesFlag(cmd.Flags(), &yes)
	return cmd
}

func newVMListCommand(a *app) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List details of virtual machines.",
		RunE: a.withSub(nil, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			path := subscriptionPath(sub.ID)
			if group != "" {
				path = groupPath(sub.ID, group)
			}
			items, err := c.ARMList(cmd.Context(), path+"/providers/"+vmProvider+"/"+vmType, client.APIVersionCompute, nil)
			if err != nil {
				return err
			}
			return a.print(flattenAll(items), vmTable)
		}),
	}
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "Name of resource group.")
	return cmd
}

func newVMHostCredentialCommand(a *app) *cobra.Command {
	var name, group string
	cmd := &cobra.Command{
		Use:   "host-credential",
		Short: "Issue the credential with which a process acts as the VM when calling its IMDS endpoint (drydock only).",
		Long: "Issue the credential with which a process acts as the VM when calling its IMDS endpoint (drydock only).\n\n" +
			"The credential is shown once; issuing a new one replaces it.",
		RunE: a.withSub([]string{"name", "resource-group"}, func(cmd *cobra.Command, c *client.Client, sub client.Subscription) error {
			var res map[string]any
			if err := c.ARM(cmd.Context(), vmRequest(http.MethodPost, resourcePath(sub.ID, group, vmProvider, vmType, name)+"/issueHostCredential", nil), &res); err != nil {
				return err
			}
			return a.print(res, "")
		}),
	}
	vmFlags(cmd, &name, &group)
	return cmd
}
