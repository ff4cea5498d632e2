package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
)

func (f *fakeACR) lastImport() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.imports) == 0 {
		return nil
	}
	return f.imports[len(f.imports)-1]
}

func TestACRImportFromExternalRegistry(t *testing.T) {
	h, f := newACRHarness(t)
	out, errOut, code := h.run("acr", "import", "-n", "myacr", "--source", "docker.io/library/hello-world:latest")
	if code != 0 || out != "" {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	want := map[string]any{
		"source":     map[string]any{"registryUri": "docker.io", "sourceImage": "library/hello-world:latest"},
		"targetTags": []any{"library/hello-world:latest"},
		"mode":       "NoForce",
	}
	if got := f.lastImport(); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v", got)
	}
	// Not a terminal: one line per change of progress.
	wantErr := "Importing image... copied 1 of 3 blobs (1.0 MiB), 33.3% complete\n" +
		"Importing image... copied 3 of 3 blobs (4.5 MiB), 100% complete\n"
	if errOut != wantErr {
		t.Errorf("progress %q", errOut)
	}
	if !f.saw("POST 127.0.0.1:" + f.port + " /subscriptions/" + fakeSub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr/importImage?api-version=2023-07-01") {
		t.Errorf("requests %v", f.requests())
	}

	// Credentials, several targets, --force; no progress with --only-show-errors.
	out, errOut, code = h.run("acr", "import", "-n", "myacr", "--source", "reg.example.com/team/app@sha256:abc", "-u", "bob", "-p", "pw",
		"-t", "app:v1", "--image", "app:stable", "--force", "--only-show-errors")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("import -u: %d %q %q", code, out, errOut)
	}
	want = map[string]any{
		"source": map[string]any{"registryUri": "reg.example.com", "sourceImage": "team/app@sha256:abc",
			"credentials": map[string]any{"username": "bob", "password": "pw"}},
		"targetTags": []any{"app:v1", "app:stable"},
		"mode":       "Force",
	}
	if got := f.lastImport(); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v", got)
	}

	h.fails(1, "ERROR: Authentication failed. Please provide password.", "acr", "import", "-n", "myacr", "--source", "a.io/b:c", "-u", "bob")
	h.fails(1, "ERROR: Source cannot be found. Please provide a valid image and source registry or a fully qualified source.", "acr", "import", "-n", "myacr", "--source", "hello:v1")
	h.fails(1, "ERROR: Login server of the registry is not valid because it is not a fully qualified domain name.", "acr", "import", "-n", "myacr", "--source", "localhost/hello:v1")
	h.fails(2, "ERROR: the following arguments are required: --source", "acr", "import", "-n", "myacr")
}

func TestACRImportFromRegistryInSubscription(t *testing.T) {
	h, f := newACRHarness(t)
	srcID := "/subscriptions/" + fakeSub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/srcacr"

	// Found by the login server in --source: resourceId.
	h.ok("acr", "import", "-n", "myacr", "--source", f.login("srcacr")+"/hello:v1", "--only-show-errors")
	want := map[string]any{"source": map[string]any{"resourceId": srcID, "sourceImage": "hello:v1"}, "targetTags": []any{"hello:v1"}, "mode": "NoForce"}
	if got := f.lastImport(); !reflect.DeepEqual(got, want) {
		t.Errorf("by login server: %v", got)
	}

	// --registry by name, with the redundant login server trimmed.
	_, errOut, code := h.run("acr", "import", "-n", "myacr", "-r", "srcacr", "--source", f.login("srcacr")+"/hello:v1", "-t", "copy:v1", "--only-show-errors")
	if code != 0 || errOut != "" {
		t.Fatalf("-r: %d %q", code, errOut)
	}
	want = map[string]any{"source": map[string]any{"resourceId": srcID, "sourceImage": "hello:v1"}, "targetTags": []any{"copy:v1"}, "mode": "NoForce"}
	if got := f.lastImport(); !reflect.DeepEqual(got, want) {
		t.Errorf("-r name: %v", got)
	}

	// --registry as a resource ID, source by digest: the target is the repository.
	other := "/subscriptions/x/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/other"
	h.ok("acr", "import", "-n", "myacr", "--registry", other, "--source", "hello@sha256:abc", "--repository", "mirror", "--only-show-errors")
	want = map[string]any{"source": map[string]any{"resourceId": other, "sourceImage": "hello@sha256:abc"}, "untaggedTargetRepositories": []any{"mirror"}, "mode": "NoForce"}
	if got := f.lastImport(); !reflect.DeepEqual(got, want) {
		t.Errorf("-r id: %v", got)
	}
	h.ok("acr", "import", "-n", "myacr", "--registry", other, "--source", "hello@sha256:abc", "--only-show-errors")
	if got := f.lastImport()["targetTags"]; !reflect.DeepEqual(got, []any{"hello"}) {
		t.Errorf("digest target = %v", got)
	}

	h.fails(1, "ERROR: The source container registry can not be found in the current subscription. Please provide a valid address and/or credentials.",
		"acr", "import", "-n", "myacr", "-r", "nosuch", "--source", "hello:v1")
}

func TestACRImportFailureAndNoWait(t *testing.T) {
	h, f := newACRHarness(t)
	h.fails(1, "ERROR: (ImportSourceNotFound) The source image was not found.", "acr", "import", "-n", "myacr", "--source", "docker.io/library/missing:1")

	out, errOut, code := h.run("acr", "import", "-n", "myacr", "--source", "docker.io/library/hello-world:latest", "--no-wait")
	if code != 0 || out != "" || errOut != "WARNING: Import has started. Due to no-wait option, failures will not be reflected.\n" {
		t.Errorf("--no-wait: %d %q %q", code, out, errOut)
	}
	f.mu.Lock()
	polls := f.polls
	f.mu.Unlock()
	if polls != 0 {
		t.Errorf("--no-wait polled %d times", polls)
	}
	h.fails(1, "ERROR: (ResourceNotFound) The Resource 'Microsoft.ContainerRegistry/registries/nosuch' under resource group 'rg' was not found.",
		"acr", "import", "-n", "nosuch", "-g", "rg", "--source", "docker.io/library/hello-world:latest")
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
