package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

const healthCheckFAQ = "Please refer to https://aka.ms/acr/health-check for more information."

// ANSI colors of check-health's lines on a terminal, as az's colorama.
const (
	colorGreen  = "\033[32m"
	colorRed    = "\033[31m"
	colorYellow = "\033[33m"
	colorReset  = "\033[0m"
)

func newACRCheckHealthCommand(a *app) *cobra.Command {
	var r registryRef
	var ignoreErrors, yes bool
	cmd := a.command(spec{use: "check-health", short: "Gets health information on the environment and optionally a target registry.", long: "Gets health information on the environment and optionally a target registry: name resolution of the " +
		"registry's login server, a TLS connection verified with drydock's CA, the challenge endpoint, and the " +
		"refresh and access tokens of the logged-in account.", example: "  az acr check-health -n myregistry -y\n" +
		"  az acr check-health -n myregistry --ignore-errors", needs: noClient}, func(x *call) error {
		h := &healthCheck{a: a, w: a.stdout, ignore: ignoreErrors, color: isTerminal(a.stdout)}
		fmt.Fprintln(h.w, "Docker daemon status: not applicable (drydock does not need one)")
		if r.name == "" {
			h.warning("Registry name must be provided to check connectivity.")
		} else if err := h.connectivity(x.ctx, r); err != nil {
			return err
		}
		fmt.Fprintln(h.w, "\n"+healthCheckFAQ)
		return nil
	})
	r.flags(cmd)
	cmd.Flags().BoolVar(&ignoreErrors, "ignore-errors", false, "Provide all health checks, even if errors are found.")
	yesFlag(cmd.Flags(), &yes)
	return cmd
}

// healthCheck prints check-health's results.
type healthCheck struct {
	a      *app
	w      io.Writer
	ignore bool
	color  bool
}

func (h *healthCheck) paint(color, s string) string {
	if !h.color {
		return s
	}
	return color + s + colorReset
}

func (h *healthCheck) pass(msg string) {
	fmt.Fprintf(h.w, "%s : %s\n", msg, h.paint(colorGreen, "OK"))
}

func (h *healthCheck) warning(msg string) {
	fmt.Fprintln(h.w, h.paint(colorYellow, msg))
}

// fail reports a failed check: printed when errors are ignored, else
// returned as the command's error. Either way the checks stop.
func (h *healthCheck) fail(title, msg string) error {
	line := title + ": " + msg
	if h.ignore {
		fmt.Fprintln(h.w, h.paint(colorRed, line))
		return errStopChecks
	}
	return errors.New(line + " " + healthCheckFAQ)
}

var errStopChecks = errors.New("checks stopped")

// connectivity runs the registry checks, as az's _check_health_connectivity.
func (h *healthCheck) connectivity(ctx context.Context, r registryRef) error {
	err := h.registryChecks(ctx, r)
	if errors.Is(err, errStopChecks) {
		return nil
	}
	return err
}

func (h *healthCheck) registryChecks(ctx context.Context, r registryRef) error {
	a := h.a
	c, sub, err := a.clientAndSub()
	if err != nil {
		return err
	}
	t, err := a.findRegistry(ctx, c, sub, r)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return h.fail("LOGIN_SERVER_ERROR", fmt.Sprintf("An error occurred while retrieving the login server for registry '%s'. "+
			"Please check if the spelling is correct, if the CLI environment is on correct cloud and if you have the right permissions on it. (%v)", r.name, err))
	}
	login := t.loginServer
	reg := a.registryClient(c, sub, t, "", "")

	// DNS
	ips, err := registryLookupHost(ctx, reg.Host())
	if err == nil && len(ips) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		ferr := h.fail(client.TitleDNS, fmt.Sprintf("DNS lookup to registry '%s' failed (%v). Please check if the spelling is correct, "+
			"if the CLI environment is on correct cloud and your network connectivity. drydock adds its login servers to the hosts file when it may write it.", login, err))
		if !errors.Is(ferr, errStopChecks) {
			return ferr
		}
		// --ignore-errors: go on through the registry listener's address,
		// which the CLI (unlike docker) falls back to.
		h.warning("Continuing through the registry listener address published by the server.")
	} else {
		h.pass(fmt.Sprintf("DNS lookup to %s at IP %s", login, preferIPv4(ips)))
	}

	// TLS, verified with the CA the CLI trusts.
	if _, err := reg.Handshake(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return h.fail(client.TitleSSL, fmt.Sprintf("Unable to establish a secure connection to the registry '%s'. Are you using a proxy server? (%v)", login, err))
	}
	h.pass(fmt.Sprintf("TLS connection to %s verified with the trusted CA", login))

	// Challenge, refresh token, access token.
	if _, err := reg.Challenge(ctx); err != nil {
		return h.registryFailure(err, client.TitleChallenge)
	}
	h.pass("Challenge endpoint " + reg.ChallengeURL())
	if _, err := reg.RefreshToken(ctx); err != nil {
		return h.registryFailure(err, client.TitleRefreshToken)
	}
	h.pass(fmt.Sprintf("Fetch refresh token for registry '%s'", login))
	if _, err := reg.AccessToken(ctx, client.ScopeCatalog); err != nil {
		return h.registryFailure(err, client.TitleAccessToken)
	}
	h.pass(fmt.Sprintf("Fetch access token for registry '%s'", login))
	return nil
}

// registryFailure reports a registry client error under its own title, or
// def for errors without one.
func (h *healthCheck) registryFailure(err error, def string) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var re *client.RegistryError
	if errors.As(err, &re) && re.Title != "" {
		return h.fail(re.Title, re.Message)
	}
	return h.fail(def, strings.TrimSpace(err.Error()))
}

// preferIPv4 picks the address gethostbyname would show.
func preferIPv4(ips []string) string {
	for _, ip := range ips {
		if p := net.ParseIP(ip); p != nil && p.To4() != nil {
			return ip
		}
	}
	return ips[0]
}
