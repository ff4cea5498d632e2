package cli

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
)

// newImportHarness is newRegistryHarness with a source registry: srcacr
// (Standard, anonymous pull) in the group rg of the subscription when
// inSubscription, else in the subscription Shared the CLI does not use, so
// that only its login server reaches it. It holds hello:v1. It returns
// myacr's ID and srcacr's.
func newImportHarness(t *testing.T, inSubscription bool) (h *harness, myacr, srcacr string) {
	h = newRegistryHarness(t)
	where := []string{"-g", "rg"}
	if !inSubscription {
		h.ok("account", "create", "--name", "Shared")
		h.ok("group", "create", "-n", "shared", "-l", "eastus", "--subscription", "Shared")
		where = []string{"-g", "shared", "--subscription", "Shared"}
	}
	srcacr = obj(h.ok(append([]string{"acr", "create", "-n", "srcacr", "--sku", "Standard"}, where...)...))["id"].(string)
	h.ok(append([]string{"acr", "update", "-n", "srcacr", "--anonymous-pull-enabled"}, where[len(where)-2:]...)...)
	h.push("srcacr", "hello", "layer one", "v1")
	myacr = "/subscriptions/" + h.srv.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr"
	h.resetLog()
	return h, myacr, srcacr
}

// operations is the prefix of the server's operation polls.
func (h *harness) operations() string {
	return "GET /subscriptions/" + h.srv.SubscriptionID + "/providers/Microsoft.Resources/operationStatuses/"
}

func TestACRImportFromExternalRegistry(t *testing.T) {
	h, myacr, _ := newImportHarness(t, false)
	src := h.srv.LoginServer("srcacr")
	// A copy this small finishes before the first poll: the first polls
	// answer what a long copy reports, then the server's own status.
	for _, st := range []map[string]any{
		{"status": "InProgress"},
		{"status": "InProgress", "percentComplete": 33.33, "properties": map[string]any{"progress": "copied 1 of 3 blobs (1.0 MiB)"}},
		{"status": "InProgress", "percentComplete": 33.33, "properties": map[string]any{"progress": "copied 1 of 3 blobs (1.0 MiB)"}},
		{"status": "InProgress", "percentComplete": 100, "properties": map[string]any{"progress": "copied 3 of 3 blobs (4.5 MiB)"}},
	} {
		h.answerNext(1, h.operations(), http.StatusOK, st)
	}
	out, errOut, code := h.run("acr", "import", "-n", "myacr", "--source", src+"/hello:v1")
	if code != 0 || out != "" {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	want := map[string]any{
		"source":     map[string]any{"registryUri": src, "sourceImage": "hello:v1"},
		"targetTags": []any{"hello:v1"},
		"mode":       "NoForce",
	}
	if got := h.lastBody("POST " + myacr + "/importImage"); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v", got)
	}
	// Not a terminal: one line per change of progress.
	wantErr := "Importing image... copied 1 of 3 blobs (1.0 MiB), 33.3% complete\n" +
		"Importing image... copied 3 of 3 blobs (4.5 MiB), 100% complete\n"
	if errOut != wantErr {
		t.Errorf("progress %q", errOut)
	}
	if got := h.ok("acr", "repository", "show-tags", "-n", "myacr", "--repository", "hello"); !reflect.DeepEqual(got, []any{"v1"}) {
		t.Errorf("imported tags %v", got)
	}

	// Credentials, several targets, --force; no progress with
	// --only-show-errors. (.invalid names no host: the server's copy
	// fails after the CLI returned.)
	out, errOut, code = h.run("acr", "import", "-n", "myacr", "--source", "reg.example.invalid/team/app@sha256:abc", "-u", "bob", "-p", "pw",
		"-t", "app:v1", "--image", "app:stable", "--force", "--only-show-errors", "--no-wait")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("import -u: %d %q %q", code, out, errOut)
	}
	want = map[string]any{
		"source": map[string]any{"registryUri": "reg.example.invalid", "sourceImage": "team/app@sha256:abc",
			"credentials": map[string]any{"username": "bob", "password": "pw"}},
		"targetTags": []any{"app:v1", "app:stable"},
		"mode":       "Force",
	}
	if got := h.lastBody("POST " + myacr + "/importImage"); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v", got)
	}

	h.fails(1, "ERROR: Authentication failed. Please provide password.", "acr", "import", "-n", "myacr", "--source", "a.io/b:c", "-u", "bob")
	h.fails(1, "ERROR: Source cannot be found. Please provide a valid image and source registry or a fully qualified source.", "acr", "import", "-n", "myacr", "--source", "hello:v1")
	h.fails(1, "ERROR: Login server of the registry is not valid because it is not a fully qualified domain name.", "acr", "import", "-n", "myacr", "--source", "localhost/hello:v1")
	h.fails(2, "ERROR: the following arguments are required: --source", "acr", "import", "-n", "myacr")
}

func TestACRImportFromRegistryInSubscription(t *testing.T) {
	h, myacr, srcID := newImportHarness(t, true)
	src := h.srv.LoginServer("srcacr")

	// Found by the login server in --source: resourceId.
	h.ok("acr", "import", "-n", "myacr", "--source", src+"/hello:v1", "--only-show-errors")
	want := map[string]any{"source": map[string]any{"resourceId": srcID, "sourceImage": "hello:v1"}, "targetTags": []any{"hello:v1"}, "mode": "NoForce"}
	if got := h.lastBody("POST " + myacr + "/importImage"); !reflect.DeepEqual(got, want) {
		t.Errorf("by login server: %v", got)
	}

	// --registry by name, with the redundant login server trimmed.
	_, errOut, code := h.run("acr", "import", "-n", "myacr", "-r", "srcacr", "--source", src+"/hello:v1", "-t", "copy:v1", "--only-show-errors")
	if code != 0 || errOut != "" {
		t.Fatalf("-r: %d %q", code, errOut)
	}
	want = map[string]any{"source": map[string]any{"resourceId": srcID, "sourceImage": "hello:v1"}, "targetTags": []any{"copy:v1"}, "mode": "NoForce"}
	if got := h.lastBody("POST " + myacr + "/importImage"); !reflect.DeepEqual(got, want) {
		t.Errorf("-r name: %v", got)
	}
	if got := h.ok("acr", "repository", "list", "-n", "myacr"); !reflect.DeepEqual(got, []any{"copy", "hello"}) {
		t.Errorf("imported repositories %v", got)
	}

	// --registry as a resource ID, source by digest: the target is the
	// repository. (No such registry: the server's copy fails after the
	// CLI returned.)
	other := "/subscriptions/x/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/other"
	h.ok("acr", "import", "-n", "myacr", "--registry", other, "--source", "hello@sha256:abc", "--repository", "mirror", "--only-show-errors", "--no-wait")
	want = map[string]any{"source": map[string]any{"resourceId": other, "sourceImage": "hello@sha256:abc"}, "untaggedTargetRepositories": []any{"mirror"}, "mode": "NoForce"}
	if got := h.lastBody("POST " + myacr + "/importImage"); !reflect.DeepEqual(got, want) {
		t.Errorf("-r id: %v", got)
	}
	h.ok("acr", "import", "-n", "myacr", "--registry", other, "--source", "hello@sha256:abc", "--only-show-errors", "--no-wait")
	if got := h.lastBody("POST " + myacr + "/importImage")["targetTags"]; !reflect.DeepEqual(got, []any{"hello"}) {
		t.Errorf("digest target = %v", got)
	}

	h.fails(1, "ERROR: The source container registry can not be found in the current subscription. Please provide a valid address and/or credentials.",
		"acr", "import", "-n", "myacr", "-r", "nosuch", "--source", "hello:v1")
}

func TestACRImportFailureAndNoWait(t *testing.T) {
	h, _, _ := newImportHarness(t, false)
	src := h.srv.LoginServer("srcacr")
	h.fails(1, "ERROR: (ImageNotFound) The source image '"+src+"/missing:1' was not found.", "acr", "import", "-n", "myacr", "--source", src+"/missing:1")

	h.resetLog()
	out, errOut, code := h.run("acr", "import", "-n", "myacr", "--source", src+"/hello:v1", "--no-wait")
	if code != 0 || out != "" || errOut != "WARNING: Import has started. Due to no-wait option, failures will not be reflected.\n" {
		t.Errorf("--no-wait: %d %q %q", code, out, errOut)
	}
	if polls := h.count(h.operations()); polls != 0 {
		t.Errorf("--no-wait polled %d times", polls)
	}
	h.fails(1, "ERROR: (ResourceNotFound) The Resource 'Microsoft.ContainerRegistry/registries/nosuch' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		"acr", "import", "-n", "nosuch", "-g", "rg", "--source", src+"/hello:v1")
}

func TestProgressText(t *testing.T) {
	pct, zero := 12.345, 0.0
	for _, c := range []struct {
		st   client.OperationStatus
		want string
	}{
		{client.OperationStatus{}, ""},
		{client.OperationStatus{PercentComplete: &zero}, ""},
		{client.OperationStatus{PercentComplete: &zero, Progress: "resolving x"}, "resolving x"},
		{client.OperationStatus{PercentComplete: &pct}, "12.3% complete"},
		{client.OperationStatus{Progress: "copied 1 of 2 blobs"}, "copied 1 of 2 blobs"},
		{client.OperationStatus{Progress: "copied 1 of 2 blobs", PercentComplete: &pct}, "copied 1 of 2 blobs, 12.3% complete"},
	} {
		if got := progressText(c.st); got != c.want {
			t.Errorf("progressText(%+v) = %q, want %q", c.st, got, c.want)
		}
	}
	var b strings.Builder
	p := &progressPrinter{w: &b, tty: true, label: "Importing image..."}
	p.update(client.OperationStatus{Progress: "x"})
	p.update(client.OperationStatus{Progress: "x"})
	p.done()
	if got := b.String(); got != "\r\033[K| Importing image... x\r\033[K/ Importing image... x\r\033[K" {
		t.Errorf("tty progress %q", got)
	}
}
