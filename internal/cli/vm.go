package cli

import (
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

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
			user[identities.itemPath(sub, group, "", v)] = map[string]any{}
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
	var identities []string
	var ignored struct {
		image, size, adminUser, adminPassword, authType, publicIPSKU, publicIP, nsg, vnet, subnet string
		sshKeys                                                                                   bool
	}
	return createCmd(a, virtualMachines, creation{
		spec: spec{short: "Create a virtual machine to host managed identities.",
			example: "  az vm create -n myVM -g MyResourceGroup --image Ubuntu2204 --assign-identity myIdentity"},
		tagsHelp: "-",
		body: func(x *call, r *ref, b map[string]any) error {
			if len(identities) > 0 {
				b["identity"] = vmIdentity(x.sub.ID, r.group, identities)
			}
			return nil
		},
		print: func(r *ref, vm map[string]any) error {
			return a.print(vmCreateSummary(vm, r.group, len(identities) > 0), "")
		},
		flags: func(cmd *cobra.Command) {
			f := cmd.Flags()
			f.StringArrayVar(&identities, "assign-identity", nil, "Space-separated identities to assign: resource IDs or names of user-assigned identities in the resource group; '[system]' (or no value) for a system-assigned one.")
			// Accepted for compatibility with VM walkthroughs; drydock ignores them.
			for _, s := range []struct {
				p    *string
				name string
			}{
				{&ignored.image, "image"}, {&ignored.size, "size"}, {&ignored.adminUser, "admin-username"},
				{&ignored.adminPassword, "admin-password"}, {&ignored.authType, "authentication-type"},
				{&ignored.publicIPSKU, "public-ip-sku"}, {&ignored.publicIP, "public-ip-address"},
				{&ignored.nsg, "nsg"}, {&ignored.vnet, "vnet-name"}, {&ignored.subnet, "subnet"},
			} {
				f.StringVar(s.p, s.name, "", "Ignored by drydock.")
			}
			f.BoolVar(&ignored.sshKeys, "generate-ssh-keys", false, "Ignored by drydock.")
		},
	})
}

func newVMHostCredentialCommand(a *app) *cobra.Command {
	var r *ref
	cmd := a.command(spec{use: "host-credential",
		short: "Issue the credential with which a process acts as the VM when calling its IMDS endpoint (drydock only).",
		long: "Issue the credential with which a process acts as the VM when calling its IMDS endpoint (drydock only).\n\n" +
			"The credential is shown once; issuing a new one replaces it.",
		needs: inSubscription, required: virtualMachines.required}, func(x *call) error {
		return r.act(x, http.MethodPost, "/issueHostCredential", nil, false, func(res map[string]any) error { return a.print(res, "") })
	})
	r = virtualMachines.ref(cmd)
	return cmd
}
