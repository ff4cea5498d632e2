package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// checkACRFailed is check-acr's failure: the check ran and found that the
// cluster cannot pull. Its exit status is that of the check (canipull's:
// 52 DNS, 10 identity, 60 pull permission, ...); a caller that honours
// ExitCode can exit with it, az itself exits 1.
type checkACRFailed struct {
	code int
}

func (e *checkACRFailed) Error() string {
	return fmt.Sprintf("Failed to check the ACR: the check exited with status %d.", e.code)
}

// ExitCode is the check's exit status.
func (e *checkACRFailed) ExitCode() int { return e.code }

func newAKSCheckACRCommand(a *app) *cobra.Command {
	var r *ref
	var acr, nodeName, repository string
	cmd := a.command(spec{use: "check-acr", short: "Validate an ACR is accessible from an AKS cluster.", long: "Validate an ACR is accessible from an AKS cluster.\n\n" +
		"drydock runs the check as aks-canipull does, on a node of the cluster with the kubelet's identity: " +
		"name resolution, the identity's token, and the registry's token exchange; with --repository it also asks for a pull token of that repository.", example: "  az aks check-acr -g MyResourceGroup -n MyManagedCluster --acr myacr.azurecr.io", needs: inSubscription, required: []string{"name", "resource-group", "acr"}}, func(x *call) error {
		c, sub := x.c, x.sub
		ctx := x.ctx
		loginServer, err := a.checkACRLoginServer(ctx, c, acr)
		if err != nil {
			return err
		}
		if ls, found := registryInSubscription(ctx, c, sub, loginServer); found {
			loginServer = ls
		} else {
			a.warn("The registry '%s' is not in subscription '%s'. If it is in another subscription, attach it by resource ID: "+
				"az aks update -n %s -g %s --attach-acr /subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>",
				loginServer, subDisplay(sub), r.name, r.group)
		}
		body := map[string]any{"acr": loginServer}
		if nodeName != "" {
			body["nodeName"] = nodeName
		}
		if repository != "" {
			body["repository"] = repository
		}
		var res struct {
			Output    string `json:"output"`
			Succeeded bool   `json:"succeeded"`
			ExitCode  int    `json:"exitCode"`
		}
		if err := c.ARM(ctx, managedClusters.request(http.MethodPost, r.path(sub.ID)+"/checkAcr", body), &res); err != nil {
			return err
		}
		if res.Output == "" {
			return &cliError{"Failed to check the ACR."}
		}
		out := res.Output
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		if _, err := fmt.Fprint(a.stdout, out); err != nil {
			return err
		}
		if res.Succeeded && res.ExitCode == 0 {
			return nil
		}
		code := res.ExitCode
		if code == 0 {
			code = exitError
		}
		return &checkACRFailed{code: code}
	})
	r = managedClusters.ref(cmd)
	f := cmd.Flags()
	f.StringVar(&acr, "acr", "", "The FQDN of the ACR (its login server), e.g. myacr.azurecr.io.")
	f.StringVar(&nodeName, "node-name", "", "The name of a specific node to perform acr pull test checks. If not specified, it will be checked on a random node.")
	f.StringVar(&repository, "repository", "", "Also check that the kubelet identity may pull from this repository (drydock only).")
	return cmd
}

// checkACRLoginServer completes an --acr without a domain with the cloud's
// registry suffix, warning as az does.
func (a *app) checkACRLoginServer(ctx context.Context, c *client.Client, acr string) (string, error) {
	if strings.Contains(acr, ".") {
		return acr, nil
	}
	md, err := c.Metadata(ctx)
	if err != nil {
		return "", err
	}
	suffix := "." + strings.TrimPrefix(str(md, "suffixes", "acrLoginServer"), ".")
	if suffix == "." {
		return "", &cliError{fmt.Sprintf("'%s' is not a login server and the cloud names no registry suffix; pass --acr <name>.<suffix>.", acr)}
	}
	a.warn("The login server endpoint suffix '%s' is automatically appended.", suffix)
	return acr + suffix, nil
}

// registryInSubscription finds the registry of the subscription with the
// login server (compared without its port) and returns its login server as
// ARM reports it. It reports found when the registries cannot be listed, so
// that a failed lookup never changes what is checked.
func registryInSubscription(ctx context.Context, c *client.Client, sub client.Subscription, loginServer string) (string, bool) {
	items, err := registries.list(ctx, c, sub.ID, "", "")
	if err != nil {
		return loginServer, true
	}
	host := hostOnly(loginServer)
	for _, it := range items {
		ls := str(it, "properties", "loginServer")
		if ls != "" && strings.EqualFold(hostOnly(ls), host) {
			return ls, true
		}
	}
	return loginServer, false
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
