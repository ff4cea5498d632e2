package e2e

// Fault injection against the real binary: the server killed with SIGKILL
// in the middle of writes and restarted on its data directory, a full disk,
// a cluster's control plane and a node's containerd killed, and a second
// server on a data directory in use.
//
// TestFaults shares one server (and one cluster) between its scenarios,
// killing and restarting it for each; TestFaultsDiskFull needs its data
// directory on a filesystem of its own.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/uuid"
)

// api-versions of the raw ARM requests (those of drydock's CLI).
const (
	apiResources         = "2022-09-01"
	apiContainerRegistry = "2023-07-01"
	apiContainerService  = "2025-01-01"
	apiAuthorization     = "2022-04-01"
)

// faults is TestFaults' server, replaced by a new process on the same data
// directory and addresses after each kill.
type faults struct {
	s     *server
	env   []string
	az    *cli   // the admin; its sign-in outlives restarts
	token string // the admin's ARM access token; valid across restarts
	sub   string
	group string // every scenario's resource group
}

// kill9 kills the server with SIGKILL (no shutdown at all) and waits for
// it to be gone; a later stop does nothing.
func (s *server) kill9() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
}

// restart kills the server and starts a new one on its data directory.
func (f *faults) restart(t *testing.T) {
	t.Helper()
	f.s.kill9()
	s, err := relaunchServer(f.s, f.env)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
}

// arm sends an ARM request as the admin: path is relative to the server's
// endpoint, or an absolute URL (an Azure-AsyncOperation one). It returns
// the status, the headers and the decoded JSON body (nil when empty).
func (f *faults) arm(ctx context.Context, method, path string, body any) (int, http.Header, map[string]any, error) {
	url := path
	if !strings.HasPrefix(path, "https://") {
		url = f.s.Endpoint + path
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.s.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, nil, err
	}
	var doc map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &doc); err != nil {
			return resp.StatusCode, resp.Header, nil, fmt.Errorf("%s %s: %d, body is not JSON: %q", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header, doc, nil
}

// mustARM is arm that fails the test unless the status is one of want.
func (f *faults) mustARM(t *testing.T, method, path string, body any, want ...int) (http.Header, map[string]any) {
	t.Helper()
	status, h, doc, err := f.arm(t.Context(), method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if status == w {
			return h, doc
		}
	}
	t.Fatalf("%s %s: %d %v, want %v", method, path, status, doc, want)
	return nil, nil
}

// settledOperation polls an Azure-AsyncOperation URL until the operation
// is no longer InProgress (bounded: a safety net, not a timing assertion).
func (f *faults) settledOperation(t *testing.T, url string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(podsDeadline)
	for {
		_, op := f.mustARM(t, http.MethodGet, url, nil, http.StatusOK)
		if str(op, "status") != "InProgress" {
			return op
		}
		if time.Now().After(deadline) {
			t.Fatalf("the operation %s is still InProgress after %s: %v\nserver log (tail):\n%s", url, podsDeadline, op, tailLines(f.s.log(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expectInterrupted checks that an operation the kill interrupted reads
// Failed with OperationInterrupted on both of its URLs.
func (f *faults) expectInterrupted(t *testing.T, h http.Header) {
	t.Helper()
	op := f.settledOperation(t, h.Get("Azure-AsyncOperation"))
	if str(op, "status") != "Failed" || str(op, "error", "code") != "OperationInterrupted" || !strings.Contains(str(op, "error", "message"), "stopped while it was running") {
		t.Errorf("an operation the server was killed in: %v, want Failed with OperationInterrupted", op)
	}
	status, _, res, err := f.arm(t.Context(), http.MethodGet, h.Get("Location"), nil)
	if err != nil || status != http.StatusInternalServerError || str(res, "error", "code") != "OperationInterrupted" {
		t.Errorf("its Location: %d %v %v, want 500 OperationInterrupted", status, res, err)
	}
}

// acrAdmin enables a registry's admin user and returns its login server
// and the admin's credentials.
func acrAdmin(t *testing.T, az *cli, acr string) (string, authn.Authenticator) {
	t.Helper()
	az.ok("acr", "update", "-n", acr, "--admin-enabled", "true", "-o", "none")
	user := az.tsv("acr", "credential", "show", "-n", acr, "--query", "username")
	pass := az.tsv("acr", "credential", "show", "-n", acr, "--query", "passwords[0].value")
	return az.tsv("acr", "show", "-n", acr, "--query", "loginServer"), &authn.Basic{Username: user, Password: pass}
}

// blobImage is an OCI image of layers random blobs of size bytes each
// (stored as they are: cheap to make, and registries do not look inside).
func blobImage(t *testing.T, layers int, size int64) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i := 0; i < layers; i++ {
		b := make([]byte, size)
		rand.Read(b)
		var err error
		if img, err = mutate.AppendLayers(img, static.NewLayer(b, types.OCILayer)); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// pushedImage is one push of pushesWithKill: where, what, and the
// push's error (nil once acknowledged with its 201).
type pushedImage struct {
	tag    name.Tag
	img    v1.Image
	digest v1.Hash
	err    error
}

// pushesWithKill pushes n distinct images (two random layers of (i+1) x
// 128 KiB) to <login>/push<i>:v1 at once with opts, calls kill once
// killAfter of them have been acknowledged (or all have ended), and
// returns when every push has ended, with the number acknowledged at the
// kill.
func pushesWithKill(t *testing.T, login string, opts []remote.Option, n, killAfter int, kill func()) ([]*pushedImage, int32) {
	t.Helper()
	pushes := make([]*pushedImage, n)
	for i := range pushes {
		img := blobImage(t, 2, int64(i+1)*128<<10)
		pushes[i] = &pushedImage{tag: mustTag(t, fmt.Sprintf("%s/push%02d:v1", login, i)), img: img, digest: mustDigest(t, img)}
	}
	var wg sync.WaitGroup
	var acked atomic.Int32
	ackedCh := make(chan struct{}, n)
	for _, p := range pushes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.err = remote.Write(p.tag, p.img, opts...); p.err == nil {
				acked.Add(1)
				ackedCh <- struct{}{}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for seen := 0; seen < killAfter; {
		select {
		case <-ackedCh:
			seen++
		case <-finished:
			seen = killAfter
		case <-time.After(podsDeadline): // a safety net
			t.Fatalf("%d pushes acknowledged after %s", acked.Load(), podsDeadline)
		}
	}
	kill()
	atKill := acked.Load()
	<-finished
	return pushes, atKill
}

// verifyImage pulls ref and checks that it is the image of digest want and
// that its config and every layer are there with their digests and sizes.
func verifyImage(ref name.Reference, want v1.Hash, opts []remote.Option) error {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return err
	}
	if desc.Digest != want {
		return fmt.Errorf("%s has digest %s, want %s", ref, desc.Digest, want)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		l, err := remote.Layer(ref.Context().Digest(b.Digest.String()), opts...)
		if err != nil {
			return fmt.Errorf("%s: blob %s: %w", ref, b.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("%s: blob %s: %w", ref, b.Digest, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); err != nil || n != b.Size || got != b.Digest.String() {
			return fmt.Errorf("%s: blob %s reads as %d bytes of %s (%v), want %d bytes", ref, b.Digest, n, got, err, b.Size)
		}
	}
	return nil
}

// TestFaults kills the server (SIGKILL) during concurrent pushes,
// role-assignment writes, an `acr import` and an `aks create`, restarting
// it on its data directory after each: what was acknowledged is there and
// intact, nothing half-written shows, and the interrupted operations end
// Failed (their resources finished or failed, never stuck). Then it kills
// the cluster's control plane and its node's containerd: the supervisor
// brings them back and the running pod is adopted. First, a second server
// on the same data directory refuses to start.
func TestFaults(t *testing.T) {
	regAddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	// The registry listener keeps its port across restarts (login servers
	// carry it).
	f := &faults{env: append(isolationEnv(root), "DRYDOCK_REGISTRY_LISTEN="+regAddr), group: "faults"}
	if f.s, err = launchServer(root, f.env...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.s.stop(); err != nil {
			t.Error(err)
		}
	})
	f.az = f.s.admin(t)
	f.token = f.az.tsv("account", "get-access-token", "--query", "accessToken")
	f.sub = f.az.tsv("account", "show", "--query", "id")
	f.az.ok("group", "create", "-n", f.group, "-l", "eastus", "-o", "none")

	t.Run("second server on the data directory", func(t *testing.T) { faultSecondServer(t, f) })
	t.Run("kill during 20 concurrent pushes", func(t *testing.T) { faultPushes(t, f) })
	t.Run("kill during role-assignment writes", func(t *testing.T) { faultRoleAssignments(t, f) })
	t.Run("kill during acr import", func(t *testing.T) { faultImport(t, f) })
	t.Run("kill during aks create, then of its control plane and containerd", func(t *testing.T) { faultCluster(t, f) })
}

// faultSecondServer: a second `drydock server` on the data directory exits
// non-zero naming the first, which goes on serving and writing.
func faultSecondServer(t *testing.T, f *faults) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), readinessTimeout) // a safety net
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "server", "--data-dir", f.s.dataDir, "--listen", addr)
	cmd.Env = baseEnv(f.s.home, f.env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("a second server on %s: %v, want a non-zero exit\n%s", f.s.dataDir, err, out)
	}
	if want := fmt.Sprintf("is in use by another drydock server (pid %d", f.s.PID); !strings.Contains(string(out), want) {
		t.Errorf("the second server's output does not say %q:\n%s", want, out)
	}
	if st, err := readState(f.s.dataDir); err != nil || st.PID != f.s.PID || st.Endpoint != f.s.Endpoint {
		t.Errorf("server.json after the second server: %+v, %v; want the first's (pid %d)", st, err, f.s.PID)
	}
	if status, _, err := f.s.get(t.Context(), f.s.Endpoint+"/readyz", nil); err != nil || status != http.StatusOK {
		t.Fatalf("the first server after the second's attempt: /readyz %d %v", status, err)
	}
	f.az.ok("group", "create", "-n", "faults-second", "-l", "eastus", "-o", "none")
}

// faultPushes: 20 concurrent pushes of distinct images (128 KiB to 5 MiB),
// the server killed once 5 have been acknowledged.
func faultPushes(t *testing.T, f *faults) {
	f.az.ok("acr", "create", "-n", "faultsacr", "-g", f.group, "--sku", "Basic", "-o", "none")
	login, auth := acrAdmin(t, f.az, "faultsacr")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// No retries: a push cut by the kill fails, and is not finished by the
	// next server behind the test's back.
	opts := append(registryOpts(t, f.s, f.az, auth), remote.WithContext(ctx), remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Steps: 1}))
	const n = 20
	pushes, atKill := pushesWithKill(t, login, opts, n, 5, func() { f.s.kill9(); cancel() })
	t.Logf("killed the server with %d of %d pushes acknowledged", atKill, n)
	if atKill == n {
		t.Logf("every push finished before the kill: nothing was in flight this time")
	}
	f.restart(t)

	opts = registryOpts(t, f.s, f.az, auth)
	var redo []*pushedImage
	for _, p := range pushes {
		err := verifyImage(p.tag, p.digest, opts)
		switch {
		case p.err == nil && err != nil:
			t.Errorf("acknowledged push %s after the restart: %v", p.tag, err)
		case p.err != nil && err == nil:
			// Stored just before the kill, its 201 lost: complete, so fine.
		case p.err != nil:
			if st := transportStatus(err); st != http.StatusNotFound {
				t.Errorf("interrupted push %s (%v) after the restart: %v, want it intact or absent (404)", p.tag, p.err, err)
			}
			redo = append(redo, p)
		}
	}
	// What the crash left does not get in the way: the interrupted pushes
	// go through now.
	for _, p := range redo {
		if err := remote.Write(p.tag, p.img, opts...); err != nil {
			t.Errorf("pushing %s again after the restart: %v", p.tag, err)
		} else if err := verifyImage(p.tag, p.digest, opts); err != nil {
			t.Error(err)
		}
	}
}

// faultRoleAssignments: concurrent creates of 6 scopes × up to 25 roles
// for one identity, the server killed once 40 have been acknowledged.
func faultRoleAssignments(t *testing.T, f *faults) {
	principal := f.az.tsv("identity", "create", "-n", "faults-id", "-g", f.group, "--query", "principalId")
	var scopes []string
	for i := 0; i < 6; i++ {
		scope := fmt.Sprintf("/subscriptions/%s/resourceGroups/faults-ra-%d", f.sub, i)
		f.mustARM(t, http.MethodPut, scope+"?api-version="+apiResources, map[string]any{"location": "eastus"}, http.StatusCreated, http.StatusOK)
		scopes = append(scopes, scope)
	}
	_, defs := f.mustARM(t, http.MethodGet, "/subscriptions/"+f.sub+"/providers/Microsoft.Authorization/roleDefinitions?api-version="+apiAuthorization, nil, http.StatusOK)
	var roles []string
	for _, d := range defs["value"].([]any) {
		if len(roles) < 25 {
			roles = append(roles, str(d, "id"))
		}
	}
	type job struct {
		name, scope, role string
		status            int
	}
	var jobs []*job
	for _, scope := range scopes {
		for _, role := range roles {
			jobs = append(jobs, &job{name: uuid.NewString(), scope: scope, role: role})
		}
	}
	const workers, killAfter = 16, 40
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	queue := make(chan *job)
	var wg sync.WaitGroup
	var acked atomic.Int32
	killNow := make(chan struct{})
	var once sync.Once
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				body := map[string]any{"properties": map[string]any{"roleDefinitionId": j.role, "principalId": principal}}
				j.status, _, _, _ = f.arm(ctx, http.MethodPut, j.scope+"/providers/Microsoft.Authorization/roleAssignments/"+j.name+"?api-version="+apiAuthorization, body)
				if j.status == http.StatusCreated && acked.Add(1) == killAfter {
					once.Do(func() { close(killNow) })
				}
			}
		}()
	}
	go func() {
		defer close(queue)
		for _, j := range jobs {
			select {
			case queue <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-killNow:
	case <-finished:
		t.Fatalf("only %d of %d role assignments were acknowledged (the first's status: %d)", acked.Load(), len(jobs), jobs[0].status)
	case <-time.After(podsDeadline): // a safety net
		t.Fatalf("%d role assignments acknowledged after %s", acked.Load(), podsDeadline)
	}
	f.s.kill9()
	cancel()
	<-finished
	t.Logf("killed the server with %d of %d role assignments acknowledged", acked.Load(), len(jobs))
	f.restart(t)

	byName := map[string]*job{}
	for _, j := range jobs {
		byName[j.name] = j
		if j.status != http.StatusCreated {
			continue
		}
		_, a := f.mustARM(t, http.MethodGet, j.scope+"/providers/Microsoft.Authorization/roleAssignments/"+j.name+"?api-version="+apiAuthorization, nil, http.StatusOK)
		if !strings.EqualFold(str(a, "properties", "roleDefinitionId"), j.role) || str(a, "properties", "principalId") != principal ||
			!strings.EqualFold(str(a, "properties", "scope"), j.scope) {
			t.Errorf("acknowledged role assignment %s after the restart: %v, want %s at %s", j.name, a, j.role, j.scope)
		}
	}
	// The list (the authorization engine, reloaded from the store) shows
	// only whole assignments the test asked for, each once.
	listed := f.az.list("role", "assignment", "list", "--assignee", principal, "--all")
	seen := map[string]bool{}
	for _, a := range listed {
		j, ok := byName[str(a, "name")]
		if !ok {
			t.Errorf("role assignment list shows one the test did not create: %v", a)
			continue
		}
		if key := strings.ToLower(j.scope + " " + j.role); seen[key] {
			t.Errorf("role assignment list shows %s twice", key)
		} else {
			seen[key] = true
		}
		if !strings.EqualFold(str(a, "scope"), j.scope) {
			t.Errorf("role assignment %s: scope %s, want %s", j.name, str(a, "scope"), j.scope)
		}
	}
	if int32(len(listed)) < acked.Load() {
		t.Errorf("role assignment list shows %d assignments, %d were acknowledged", len(listed), acked.Load())
	}
	// Writes go on: the rest are created (or found, for those stored just
	// before the kill).
	for _, j := range jobs {
		if j.status != http.StatusCreated {
			body := map[string]any{"properties": map[string]any{"roleDefinitionId": j.role, "principalId": principal}}
			f.mustARM(t, http.MethodPut, j.scope+"/providers/Microsoft.Authorization/roleAssignments/"+j.name+"?api-version="+apiAuthorization, body, http.StatusCreated, http.StatusOK)
		}
	}
	if got := len(f.az.list("role", "assignment", "list", "--assignee", principal, "--all")); got != len(jobs) {
		t.Errorf("after the restart and the remaining creates: %d role assignments, want %d", got, len(jobs))
	}
}

// faultImport: `acr import` of a 48 MiB image from a docker-registry, the
// server killed while the copy's first upload holds data.
func faultImport(t *testing.T, f *faults) {
	src := startDistribution(t, "", "")
	img := blobImage(t, 2, 24<<20)
	want := mustDigest(t, img)
	if err := remote.Write(src.ref(t, "big/image:v1"), img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push the import source: %v", err)
	}
	acrPath := "/subscriptions/" + f.sub + "/resourceGroups/" + f.group + "/providers/Microsoft.ContainerRegistry/registries/faultsacr"
	h, _ := f.mustARM(t, http.MethodPost, acrPath+"/importImage?api-version="+apiContainerRegistry, map[string]any{
		"source": map[string]any{"registryUri": src.addr, "sourceImage": "big/image:v1"}, "targetTags": []string{"big:v1"}, "mode": "NoForce",
	}, http.StatusAccepted)
	// Mid-flight: an upload of the copy holds data.
	uploads := filepath.Join(f.s.dataDir, "registry", "uploads")
	deadline := time.Now().Add(podsDeadline) // a safety net
	for {
		files, _ := filepath.Glob(filepath.Join(uploads, "*", "data"))
		inFlight := false
		for _, p := range files {
			if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
				inFlight = true
			}
		}
		if inFlight {
			break
		}
		_, _, op, err := f.arm(t.Context(), http.MethodGet, h.Get("Azure-AsyncOperation"), nil)
		if err != nil || str(op, "status") != "InProgress" {
			t.Fatalf("the import ended before any upload held data (%v, %v): make its image bigger", op, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no upload of the import after %s", podsDeadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.restart(t)

	f.expectInterrupted(t, h)
	login, auth := acrAdmin(t, f.az, "faultsacr")
	opts := registryOpts(t, f.s, f.az, auth)
	tag := mustTag(t, login+"/big:v1")
	if _, err := remote.Head(tag, opts...); transportStatus(err) != http.StatusNotFound {
		t.Errorf("the interrupted import's target after the restart: %v, want 404 (nothing half-imported)", err)
	}
	f.az.ok("acr", "import", "-n", "faultsacr", "--source", src.addr+"/big/image:v1", "--image", "big:v1")
	if err := verifyImage(tag, want, opts); err != nil {
		t.Errorf("the import run again: %v", err)
	}
}

// faultCluster: `aks create` of a one-node cluster, the server killed while
// the control plane starts; the next server finishes the create. Then the
// control plane and the node's containerd are killed in turn: the
// supervisor restores them and the running pod is adopted, unchanged.
func faultCluster(t *testing.T, f *faults) {
	needContainerRuntime(t)
	const cluster = "faultsaks"
	path := "/subscriptions/" + f.sub + "/resourceGroups/" + f.group + "/providers/Microsoft.ContainerService/managedClusters/" + cluster + "?api-version=" + apiContainerService
	h, mc := f.mustARM(t, http.MethodPut, path, map[string]any{
		"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{"agentPoolProfiles": []any{map[string]any{"name": "nodepool1", "count": 1, "mode": "System"}}},
	}, http.StatusCreated)
	deleted := deleteClusterAtCleanup(t, f.az, f.group, cluster)
	if st := str(mc, "properties", "provisioningState"); st != "Creating" {
		t.Fatalf("aks create answered provisioningState %q, want Creating", st)
	}
	controlPlanes := func() []podsProcess {
		var cps []podsProcess
		for _, p := range podsProcesses(f.s.dataDir) {
			if strings.Contains(p.cmdline, " cluster-controlplane ") {
				cps = append(cps, p)
			}
		}
		return cps
	}
	deadline := time.Now().Add(podsDeadline) // a safety net
	for len(controlPlanes()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no control plane process after %s", podsDeadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.restart(t)

	f.expectInterrupted(t, h)
	// The cluster is finished by the new server: Creating until its
	// control plane and node are up, then Succeeded; never left Creating.
	deadline = time.Now().Add(podsDeadline)
	for {
		_, mc = f.mustARM(t, http.MethodGet, path, nil, http.StatusOK)
		if st := str(mc, "properties", "provisioningState"); st != "Creating" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster is still Creating %s after the restart\nserver log (tail):\n%s", podsDeadline, tailLines(f.s.log(), 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st, power := str(mc, "properties", "provisioningState"), str(mc, "properties", "powerState", "code"); st != "Succeeded" || power != "Running" {
		t.Fatalf("the interrupted cluster after the restart: provisioningState %s, powerState %s, want Succeeded and Running\nserver log (tail):\n%s", st, power, tailLines(f.s.log(), 40))
	}
	kubeconfig := filepath.Join(t.TempDir(), "config")
	f.az.ok("aks", "get-credentials", "-g", f.group, "-n", cluster, "--file", kubeconfig)
	if ns := f.az.ok("kubectl", "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name"); !strings.Contains(ns, "namespace/kube-system") {
		t.Fatalf("kubectl get namespaces on the finished cluster: %q", ns)
	}

	// A pod that needs no registry: the node's own sandbox image.
	f.az.ok("kubectl", "--kubeconfig", kubeconfig, "run", "sleeper", "--image=drydock.local/pause:3.10", "--image-pull-policy=Never", "--restart=Never")
	before := waitContainer(t, f.az, kubeconfig, "sleeper")
	k := &podsKubectl{t: t, az: f.az, kubeconfig: kubeconfig, s: f.s, clusterDir: podsClusterDir(t, f.s)}

	// The control plane, killed: the supervisor starts another.
	cps := controlPlanes()
	if len(cps) != 1 {
		t.Fatalf("want one control plane process, found %v", cps)
	}
	if err := syscall.Kill(cps[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	k.eventually("a new control plane serving the pod", podsDeadline, func() string {
		now := controlPlanes()
		if len(now) != 1 || now[0].pid == cps[0].pid {
			return fmt.Sprintf("control plane processes: %v", now)
		}
		if r := k.run("get", "pod", "sleeper", "-o", "name"); r.Code != 0 {
			return r.String()
		}
		return ""
	})
	if after := waitContainer(t, f.az, kubeconfig, "sleeper"); after != before {
		t.Errorf("the pod's container changed when the control plane was killed: %s, then %s", before, after)
	}

	// The node's containerd, killed: its agent exits, the supervisor starts
	// it again, it starts containerd again and adopts the running pod.
	var ctrds []podsProcess
	for _, p := range podsProcesses(k.clusterDir) {
		if filepath.Base(p.argv0) == "containerd" {
			ctrds = append(ctrds, p)
		}
	}
	if len(ctrds) != 1 {
		t.Fatalf("want the one node's containerd, found %v", ctrds)
	}
	adoptions := func() int {
		n := 0
		logs, _ := filepath.Glob(filepath.Join(k.clusterDir, "nodes", "*", "agent.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, `msg="adopted a running pod"`) && strings.Contains(line, "pod=default/sleeper") {
					n++
				}
			}
		}
		return n
	}
	adopted := adoptions()
	if err := syscall.Kill(ctrds[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	k.eventually("a new containerd, and the pod adopted", podsDeadline, func() string {
		for _, p := range podsProcesses(k.clusterDir) {
			if filepath.Base(p.argv0) == "containerd" && p.pid != ctrds[0].pid && adoptions() > adopted {
				return ""
			}
		}
		return fmt.Sprintf("no new containerd that adopted the pod yet (adoptions logged: %d)", adoptions())
	})
	if after := waitContainer(t, f.az, kubeconfig, "sleeper"); after != before {
		t.Errorf("the pod's container changed when containerd was killed: %s, then %s", before, after)
	}

	f.az.ok("aks", "delete", "-n", cluster, "-g", f.group, "--yes")
	*deleted = true
}

// TestFaultsDiskFull runs a server whose data directory is a 64 MiB tmpfs
// and fills it: a push fails at once with a 5xx that says the disk is full
// (not a hang, not a 201), a metadata write with ARM's 507
// InsufficientStorage, reads go on, and once space returns pushes and
// writes work again with the earlier data intact.
func TestFaultsDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		problem := "the full-disk test mounts a tmpfs: it needs root"
		if os.Getenv("DRYDOCK_E2E_REQUIRE_RUNTIME") == "1" {
			t.Fatal(problem)
		}
		t.Skip(problem + " (set DRYDOCK_E2E_REQUIRE_RUNTIME=1 to make this a failure)")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "server0")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v\n%s", data, err, out)
	}
	t.Cleanup(func() { // after the server stopped (cleanups run last first)
		if out, err := exec.Command("umount", data).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", data, err, out)
		}
	})
	env := isolationEnv(root)
	s, err := launchServerOnce(dir, env)
	s = stopAtEnd(t, s, err)
	az := s.admin(t)
	f := &faults{s: s, env: env, az: az, token: az.tsv("account", "get-access-token", "--query", "accessToken"), sub: az.tsv("account", "show", "--query", "id")}
	az.ok("group", "create", "-n", "kept", "-l", "eastus", "-o", "none")
	az.ok("acr", "create", "-n", "fullacr", "-g", "kept", "--sku", "Basic", "-o", "none")
	login, auth := acrAdmin(t, az, "fullacr")
	opts := registryOpts(t, s, az, auth)
	earlier, earlierTag := blobImage(t, 2, 256<<10), mustTag(t, login+"/earlier:v1")
	if err := remote.Write(earlierTag, earlier, opts...); err != nil {
		t.Fatal(err)
	}

	// Fill the disk: big writes, then small ones for what is left.
	filler := filepath.Join(data, "filler")
	fill, err := os.OpenFile(filler, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1 << 20, 4 << 10} {
		b := make([]byte, chunk)
		for {
			if _, err := fill.Write(b); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	fill.Close()

	// A push: a clear 5xx at once. (The deadline is a safety net against a
	// hang, not a timing assertion.)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	img, tag := blobImage(t, 2, 1<<20), mustTag(t, login+"/full:v1")
	err = remote.Write(tag, img, append(opts, remote.WithContext(ctx))...)
	if err == nil {
		t.Fatal("a push onto a full disk succeeded")
	}
	if st := transportStatus(err); st < 500 || !strings.Contains(err.Error(), "disk holding drydock's data directory is full") {
		t.Errorf("a push onto a full disk: %v (status %d), want a 5xx saying the disk is full", err, st)
	}

	// A metadata write: SQLite may still have room in its write-ahead log
	// for a few; write until it has none (bounded), then the error is ARM's
	// 507 InsufficientStorage saying why.
	tags := map[string]string{}
	for i := 0; i < 40; i++ {
		tags[fmt.Sprintf("tag%02d", i)] = strings.Repeat("x", 250)
	}
	var status int
	var doc map[string]any
	written := 0
	for ; written < 2000; written++ {
		if status, _, doc, err = f.arm(t.Context(), http.MethodPut, fmt.Sprintf("/subscriptions/%s/resourcegroups/full-%d?api-version=%s", f.sub, written, apiResources),
			map[string]any{"location": "eastus", "tags": tags}); err != nil {
			t.Fatal(err)
		}
		if status != http.StatusCreated {
			break
		}
	}
	t.Logf("%d resource groups written before the database was full", written)
	if status != http.StatusInsufficientStorage || str(doc, "error", "code") != "InsufficientStorage" ||
		!strings.Contains(str(doc, "error", "message"), "disk holding drydock's data directory is full") {
		t.Fatalf("a metadata write on a full disk: %d %v, want 507 InsufficientStorage saying the disk is full", status, doc)
	}
	az.fails(1, `InsufficientStorage.*disk holding drydock's data directory is full`, "group", "create", "-n", "full-cli", "-l", "eastus")

	// Reads go on.
	if got := az.tsv("group", "show", "-n", "kept", "--query", "name"); got != "kept" {
		t.Errorf("group show on a full disk: %q", got)
	}
	if err := verifyImage(earlierTag, mustDigest(t, earlier), opts); err != nil {
		t.Errorf("a pull on a full disk: %v", err)
	}

	// Space returns: writes and pushes work, and the earlier data is intact.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	az.ok("group", "create", "-n", "after-full", "-l", "eastus", "-o", "none")
	if err := remote.Write(tag, img, opts...); err != nil {
		t.Fatalf("a push once space returned: %v", err)
	}
	if err := verifyImage(tag, mustDigest(t, img), opts); err != nil {
		t.Error(err)
	}
	if err := verifyImage(earlierTag, mustDigest(t, earlier), opts); err != nil {
		t.Errorf("the earlier image once space returned: %v", err)
	}
	if got := az.tsv("group", "show", "-n", "kept", "--query", "name"); got != "kept" {
		t.Errorf("group show once space returned: %q", got)
	}
}
