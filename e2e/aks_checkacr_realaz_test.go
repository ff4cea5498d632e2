package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRealAzCheckACR runs the real az's `aks check-acr` against a drydock
// cluster. az 2.45 runs `kubectl run --rm -it` of
// mcr.microsoft.com/aks/canipull:v0.1.0 on a node, with hostNetwork and
// the node's /etc/kubernetes mounted, and prints what the pod prints.
// drydock's nodes never pull that image: the node agent imports one built
// from the drydock executable (`drydock canipull`), on the first pod that
// needs it on a node. On every node the checks read that node's own
// azure.json, get the kubelet identity's token with that node's host
// credential, exchange it, and pull a manifest; once the registry is
// detached they fail and say how to attach it.
//
// kubectl run exits 0 whatever the pod's exit code (its --restart is
// Always, so it does not wait for one; the pod's own restartPolicy is
// az's Never), so az exits 0 on a failed check, as it does against AKS:
// the failure is in what it prints.
func TestRealAzCheckACR(t *testing.T) {
	s, dd, az := realAzWithClusters(t)
	az.ok("login", "-u", s.Admin, "-p", s.adminPassword, "-o", "none")
	const rg, cluster = "checkacr-rg", "checkacr"
	acr := fmt.Sprintf("canipull%08x", rand.Uint32())
	az.ok("group", "create", "--name", rg, "--location", "eastus", "-o", "none")
	az.ok("acr", "create", "--name", acr, "--resource-group", rg, "--sku", "basic", "-o", "none")
	login := az.tsv("acr", "show", "-n", acr, "--query", "loginServer")
	pushImage(t, s, dd, acr, "app:v1")
	az.ok("aks", "create", "--name", cluster, "--resource-group", rg, "--generate-ssh-keys", "--attach-acr", acr, "--node-count", "2", "-o", "none")
	deleteClusterAtCleanup(t, dd, rg, cluster)

	az.ok("aks", "get-credentials", "--resource-group", rg, "--name", cluster, "-o", "none")
	binDir, _, _ := strings.Cut(az.getenv("PATH"), string(os.PathListSeparator))
	kubectl := &cli{t: t, env: az.env, prog: filepath.Join(binDir, "kubectl")}
	nodes := strings.Fields(kubectl.ok("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(nodes) != 2 {
		t.Fatalf("nodes: %v", nodes)
	}

	checkACR := func(node string) (string, time.Duration) {
		t.Helper()
		began := time.Now()
		r := az.run("aks", "check-acr", "--resource-group", rg, "--name", cluster, "--acr", login, "--node-name", node)
		took := time.Since(began)
		if r.Code != 0 || strings.Contains(r.Stderr, "Failed to check the ACR") {
			t.Fatalf("az aks check-acr on %s:\n%s", node, r)
		}
		return strings.ReplaceAll(r.Stdout, "\r\n", "\n"), took
	}
	line := func(msg string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] ` + regexp.QuoteMeta(msg) + `$`)
	}
	expect := func(what, out string, present []string, absent ...string) {
		t.Helper()
		for _, msg := range present {
			if !line(msg).MatchString(out) {
				t.Errorf("%s: no line %q in:\n%s", what, msg, out)
			}
		}
		for _, s := range absent {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q in:\n%s", what, s, out)
			}
		}
	}
	canPull := []string{
		"Checking host name resolution (" + login + "): SUCCEEDED", // the node's /etc/hosts in a hostNetwork pod
		"Loading azure.json file from /etc/kubernetes/azure.json",
		"Checking TLS connection to " + login + " (certificate verified with /etc/kubernetes/ca.crt): SUCCEEDED",
		"Validating managed identity existance: SUCCEEDED",
		"Validating image pull permission: SUCCEEDED",
		"Validating pull token for repository app: SUCCEEDED",
		"Validating image pull (" + login + "/app: no tag 'latest'; read its tags list, 1 tags): SUCCEEDED",
	}
	for i, node := range nodes {
		out, took := checkACR(node)
		t.Logf("timing: az aks check-acr on %s (the node imports the canipull image): %s", node, took.Round(time.Millisecond))
		expect(fmt.Sprintf("check-acr on node %d", i), out, canPull, "FAILED")
		if !strings.Contains(out, "\nYour cluster can pull images from "+login+"!\n") {
			t.Errorf("check-acr on node %d does not conclude that the cluster can pull:\n%s", i, out)
		}
	}
	out, took := checkACR(nodes[0])
	t.Logf("timing: az aks check-acr on %s again (the image is there): %s", nodes[0], took.Round(time.Millisecond))
	expect("check-acr again", out, canPull, "FAILED")

	// Each node imported the image once, from this drydock's executable;
	// no canipull pod is left.
	for _, node := range nodes {
		log, _ := os.ReadFile(filepath.Join(podsClusterDir(t, s), "nodes", node, "agent.log"))
		if n := strings.Count(string(log), `msg="imported the canipull image"`); n != 1 {
			t.Errorf("node %s imported the canipull image %d times, want once", node, n)
		}
	}
	// kubectl run --rm deletes the pod and returns; the node agent ends its
	// containers after that, so a pod may still be listed as Terminating
	// for a moment (bounded: 30 s).
	pods := kubectl.ok("get", "pods", "-o", "name")
	for attempt := 0; attempt < 60 && strings.TrimSpace(pods) != ""; attempt++ {
		time.Sleep(500 * time.Millisecond)
		pods = kubectl.ok("get", "pods", "-o", "name")
	}
	if strings.TrimSpace(pods) != "" {
		t.Errorf("pods left after check-acr: %s", pods)
	}

	// Detached, the pull token is refused, and the check names the fix.
	az.ok("aks", "update", "--name", cluster, "--resource-group", rg, "--detach-acr", acr, "-o", "none")
	out, _ = checkACR(nodes[1])
	expect("check-acr after --detach-acr", out, []string{
		"Validating managed identity existance: SUCCEEDED",
		"Validating pull token for repository check-acr-probe: FAILED",
		"Run 'az aks update -n " + cluster + " -g " + rg + " --attach-acr " + acr + "'",
	}, "Your cluster can pull")
}
