package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/cli/output"
	"github.com/spf13/cobra"
)

func newRoleAssignmentExplainCommand(a *app) *cobra.Command {
	var in assigneeInput
	var action, scope, group string
	var dataAction triBool
	cmd := a.command(spec{use: "explain", short: "Explain whether a principal may perform an action at a scope, and which role assignments decide it (drydock only).", long: "Explain whether a principal may perform an action at a scope, and which role assignments decide it (drydock only).\n\n" +
		"Assignments listed as pending exist but do not count yet (for example a group membership that becomes effective later).", example: "  az role assignment explain --assignee myIdentity --action Microsoft.ContainerRegistry/registries/pull/read --scope {acrId}", needs: inSubscription, required: []string{"action"}, check: in.validate}, func(x *call) error {
		ctx, c := x.ctx, x.c
		sc, err := buildRoleScope(group, scope, x.sub.ID)
		if err != nil {
			return err
		}
		id := in.objectID
		if id == "" {
			if id, err = resolveAssigneeOrID(ctx, c, in.assignee); err != nil {
				return err
			}
		}
		body := map[string]any{"principalId": id, "action": action, "dataAction": dataAction.set && dataAction.val}
		var res map[string]any
		if err := c.ARM(ctx, authzRequest(http.MethodPost, scopePrefix(sc)+authzProvider+"/explainAccess", body), &res); err != nil {
			return err
		}
		if a.format == output.Table && a.query == "" {
			writeExplanation(a.stdout, res)
			return nil
		}
		return a.print(res, "")
	})
	in.flags(cmd, true)
	f := cmd.Flags()
	f.StringVar(&action, "action", "", "The operation to check, e.g. Microsoft.ContainerRegistry/registries/read.")
	addTriBool(f, &dataAction, "data-action", "Treat --action as a data action (e.g. Microsoft.ContainerRegistry/registries/pull/read).")
	scopeFlags(cmd, &scope, &group)
	return cmd
}

// writeExplanation prints an explainAccess result for people.
func writeExplanation(w io.Writer, res map[string]any) {
	verdict := "DENIED"
	if allowed, _ := res["allowed"].(bool); allowed {
		verdict = "ALLOWED"
	}
	who := str(res, "principalId")
	if n := str(res, "principalName"); n != "" {
		who = n + " (" + who + ")"
	}
	kind := "action"
	if d, _ := res["dataAction"].(bool); d {
		kind = "data action"
	}
	fmt.Fprintf(w, "%s: %s\n", verdict, who)
	fmt.Fprintf(w, "  %-8s %s (%s)\n", "Action:", str(res, "action"), kind)
	fmt.Fprintf(w, "  %-8s %s\n", "Scope:", str(res, "scope"))
	if r := str(res, "reason"); r != "" {
		fmt.Fprintf(w, "  %-8s %s\n", "Reason:", r)
	}
	writeGrants(w, "Granted by", res["granted"], false)
	writeGrants(w, "Pending (not effective yet)", res["pending"], true)
}

func writeGrants(w io.Writer, title string, v any, pending bool) {
	grants, _ := v.([]any)
	if len(grants) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	for _, g := range grants {
		m, ok := g.(map[string]any)
		if !ok {
			continue
		}
		role := str(m, "roleDefinitionName")
		if role == "" {
			role = str(m, "roleName")
		}
		var parts []string
		parts = append(parts, fmt.Sprintf("%s at %s", role, str(m, "scope")))
		if via := str(m, "viaGroup"); via != "" {
			parts = append(parts, "via group "+via)
		}
		if at := str(m, "effectiveAt"); at != "" {
			if pending {
				parts = append(parts, "effective from "+at)
			} else {
				parts = append(parts, "effective since "+at)
			}
		}
		fmt.Fprintf(w, "  - %s\n", strings.Join(parts, ", "))
		if id := str(m, "roleAssignmentId"); id != "" {
			fmt.Fprintf(w, "    %s\n", id)
		}
	}
}
