package cli

import (
	"context"
	"strings"
	"testing"
)

func TestACRCheckHealth(t *testing.T) {
	h := newRegistryHarness(t)
	login := h.srv.LoginServer("myacr")

	// The name does not resolve (the harness's resolver knows nothing).
	out, errOut, code := h.run("acr", "check-health", "-n", "myacr", "--yes")
	if code != 1 || out != "Docker daemon status: not applicable (drydock does not need one)\n" ||
		!strings.HasPrefix(errOut, "ERROR: CONNECTIVITY_DNS_ERROR: DNS lookup to registry '"+login+"' failed") ||
		!strings.HasSuffix(errOut, "Please refer to https://aka.ms/acr/health-check for more information.\n") {
		t.Errorf("dns failure: %d %q %q", code, out, errOut)
	}
	out, _, code = h.run("acr", "check-health", "-n", "myacr", "--ignore-errors")
	if code != 0 || !strings.Contains(out, "\nCONNECTIVITY_DNS_ERROR: DNS lookup to registry '"+login+"' failed") ||
		!strings.Contains(out, "\nContinuing through the registry listener address published by the server.\n"+
			"TLS connection to "+login+" verified with the trusted CA : OK\n") ||
		!strings.HasSuffix(out, "Fetch access token for registry '"+login+"' : OK\n\nPlease refer to https://aka.ms/acr/health-check for more information.\n") {
		t.Errorf("dns failure ignored: %d %q", code, out)
	}

	registryLookupHost = func(context.Context, string) ([]string, error) { return []string{"::1", "127.0.0.1"}, nil }
	out, errOut, code = h.run("acr", "check-health", "-n", "myacr", "-y")
	want := "Docker daemon status: not applicable (drydock does not need one)\n" +
		"DNS lookup to " + login + " at IP 127.0.0.1 : OK\n" +
		"TLS connection to " + login + " verified with the trusted CA : OK\n" +
		"Challenge endpoint https://" + login + "/v2/ : OK\n" +
		"Fetch refresh token for registry '" + login + "' : OK\n" +
		"Fetch access token for registry '" + login + "' : OK\n" +
		"\nPlease refer to https://aka.ms/acr/health-check for more information.\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("healthy: %d\n%s\nwant\n%s\nstderr %q", code, out, want, errOut)
	}

	h.setProfileTenant("00000000-0000-0000-0000-00000000beef")
	out, _, code = h.run("acr", "check-health", "-n", "myacr", "--ignore-errors")
	if code != 0 || !strings.Contains(out, "Challenge endpoint https://"+login+"/v2/ : OK\nCONNECTIVITY_REFRESH_TOKEN_ERROR: Access to registry '"+login+"' was denied. Response code: 401.") ||
		strings.Contains(out, "Fetch refresh token") {
		t.Errorf("denied: %d %q", code, out)
	}
	_, errOut, code = h.run("acr", "check-health", "-n", "myacr")
	if code != 1 || errOut != "ERROR: CONNECTIVITY_REFRESH_TOKEN_ERROR: Access to registry '"+login+"' was denied. Response code: 401. "+
		"Please try running 'az login' again to refresh permissions. Please refer to https://aka.ms/acr/health-check for more information.\n" {
		t.Errorf("denied, not ignored: %d %q", code, errOut)
	}
	h.setProfileTenant(h.srv.TenantID)

	out, _, code = h.run("acr", "check-health", "--ignore-errors")
	if code != 0 || out != "Docker daemon status: not applicable (drydock does not need one)\nRegistry name must be provided to check connectivity.\n\nPlease refer to https://aka.ms/acr/health-check for more information.\n" {
		t.Errorf("no name: %d %q", code, out)
	}
}
