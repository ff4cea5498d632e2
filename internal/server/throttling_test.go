package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/registry/auth"
)

// A write that needs no setup: an anonymous manifest delete (401). It
// counts against WriteOps all the same: drydock throttles before it
// authenticates.
const throttleWritePath = "/v2/team/app/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000"

type regReply struct {
	status int
	header http.Header
	body   map[string]any
}

func regSend(t *testing.T, rt http.RoundTripper, method, login, path string) regReply {
	t.Helper()
	code, h, body := registrySend(t, rt, login, regRequest{method: method, path: path})
	return regReply{code, h, body}
}

// ociError is the first error of an {"errors":[…]} body.
func ociError(body map[string]any) (code, message string) {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return "", ""
	}
	e, _ := errs[0].(map[string]any)
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	return code, message
}

// exhaust sends the request until the registry answers 429 and returns
// that answer. A Basic registry admits its minute's budget (100 writes or
// token requests) in a burst, so the 429 comes after at least that many.
func exhaust(t *testing.T, rt http.RoundTripper, method, login, path string, budget int) regReply {
	t.Helper()
	for i := 0; i < 10*budget; i++ {
		r := regSend(t, rt, method, login, path)
		if r.status != http.StatusTooManyRequests {
			continue
		}
		if i < budget {
			t.Fatalf("%s %s: 429 after %d requests, before the budget of %d was spent", method, path, i, budget)
		}
		return r
	}
	t.Fatalf("%s %s on %s: never throttled in %d requests", method, path, login, 10*budget)
	return regReply{}
}

// neverThrottled sends n requests and fails on any 429.
func neverThrottled(t *testing.T, rt http.RoundTripper, method, login, path string, n int) {
	t.Helper()
	for i := range n {
		if r := regSend(t, rt, method, login, path); r.status == http.StatusTooManyRequests {
			t.Fatalf("%s %s on %s: 429 at request %d: %v", method, path, login, i, r.body)
		}
	}
}

// tooMany checks a throttled answer: 429 TOOMANYREQUESTS, a message naming
// the limit ("100 WriteOps per minute"), Retry-After in whole seconds.
func tooMany(t *testing.T, limit string, r regReply) {
	t.Helper()
	code, m := ociError(r.body)
	if r.status != http.StatusTooManyRequests || code != "TOOMANYREQUESTS" || !strings.Contains(m, limit+" per minute") {
		t.Fatalf("over %s: %d %v", limit, r.status, r.body)
	}
	s, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || s < 1 || s > 60 {
		t.Errorf("over %s: Retry-After %q, want whole seconds in 1..60", limit, r.header.Get("Retry-After"))
	}
}

func basicRegistry(t *testing.T, e *env, name string, tags map[string]string) string {
	extra := map[string]any{"sku": map[string]any{"name": "Basic"}}
	if tags != nil {
		extra["tags"] = tags
	}
	return e.createRegistry(t, "rg", name, extra)
}

func TestRegistryThrottlingServerWide(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.RegistryThrottling = true })
	limited := basicRegistry(t, e, "limitedacr", nil)
	other := basicRegistry(t, e, "otheracr", nil)
	exempt := basicRegistry(t, e, "exemptacr", map[string]string{"Drydock-Throttling": "off"})
	rt := e.registryTransport(t)

	// Basic: 100 WriteOps per minute, then 429 TOOMANYREQUESTS in the OCI
	// envelope with Retry-After.
	r := exhaust(t, rt, "DELETE", limited, throttleWritePath, 100)
	tooMany(t, "100 WriteOps", r)
	if v := r.header.Get("Docker-Distribution-API-Version"); v != "registry/2.0" {
		t.Errorf("Docker-Distribution-API-Version %q", v)
	}
	if r := regSend(t, rt, "PUT", limited, "/v2/team/app/manifests/v1"); r.status != http.StatusTooManyRequests {
		t.Errorf("manifest PUT after WriteOps ran out: %d, want 429", r.status)
	}

	// Reads and token requests of the same registry, and another
	// registry's writes, have their own budgets.
	if r := regSend(t, rt, "GET", limited, "/v2/"); r.status != http.StatusUnauthorized {
		t.Errorf("read after WriteOps ran out: %d %v, want 401", r.status, r.body)
	}
	if r := regSend(t, rt, "GET", limited, "/acr/v1/_catalog"); r.status != http.StatusUnauthorized {
		t.Errorf("/acr/v1 read after WriteOps ran out: %d %v, want 401", r.status, r.body)
	}
	tokenPath := "/oauth2/token?service=" + url.QueryEscape(limited) + "&scope=repository:team/app:pull"
	if r := regSend(t, rt, "GET", limited, tokenPath); r.status != http.StatusUnauthorized {
		t.Errorf("token request after WriteOps ran out: %d %v, want 401", r.status, r.body)
	}
	if r := regSend(t, rt, "DELETE", other, throttleWritePath); r.status != http.StatusUnauthorized {
		t.Errorf("another registry's write: %d %v, want 401", r.status, r.body)
	}
	// A registry tagged off is not throttled though the server throttles.
	neverThrottled(t, rt, "DELETE", exempt, throttleWritePath, 150)

	// Token requests: 100 per minute on Basic, then the token endpoint's
	// own 429 (one of the 100 was spent above).
	r = exhaust(t, rt, "GET", limited, tokenPath, 99)
	tooMany(t, "100 token requests", r)
	if r := regSend(t, rt, "POST", limited, "/oauth2/exchange"); r.status != http.StatusTooManyRequests {
		t.Errorf("exchange after token requests ran out: %d, want 429", r.status)
	}
	if r := regSend(t, rt, "GET", limited, "/v2/"); r.status != http.StatusUnauthorized {
		t.Errorf("read after token requests ran out: %d, want 401", r.status)
	}
}

func TestRegistryThrottlingPerRegistryTag(t *testing.T) {
	e := newEnv(t, nil) // the server setting is off by default
	acr := e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/"
	plain := basicRegistry(t, e, "plainacr", nil)
	rt := e.registryTransport(t)
	neverThrottled(t, rt, "DELETE", plain, throttleWritePath, 150)

	// The tag turns it on for this registry, at once.
	e.mustDo(t, e.arm, "PATCH", acr+"plainacr?api-version=2023-07-01", map[string]any{"tags": map[string]string{"drydock-throttling": "on"}}, 200)
	tooMany(t, "100 WriteOps", exhaust(t, rt, "DELETE", plain, throttleWritePath, 100))

	// Removing the tag turns it off again.
	e.mustDo(t, e.arm, "PATCH", acr+"plainacr?api-version=2023-07-01", map[string]any{"tags": map[string]string{}}, 200)
	neverThrottled(t, rt, "DELETE", plain, throttleWritePath, 20)

	// A value that is neither on nor off is refused, not ignored.
	code, out := e.do(t, e.arm, "PATCH", acr+"plainacr?api-version=2023-07-01", map[string]any{"tags": map[string]string{"drydock-throttling": "yes please"}})
	if code != http.StatusBadRequest || errCode(out) != "InvalidTagValue" {
		t.Fatalf("bad tag value: %d %v", code, out)
	}
}

func TestRegistryThrottlingSparesImport(t *testing.T) {
	e := newEnv(t, nil)
	src := e.createRegistry(t, "rg", "importsrc", nil)
	dst := basicRegistry(t, e, "importdst", map[string]string{"drydock-throttling": "on"})
	rt := e.registryTransport(t)
	code, refresh := e.exchange(t, rt, src, e.arm)
	if code != 200 {
		t.Fatalf("exchange: %d", code)
	}
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(src + "/team/app:v1")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: auth.NullGUID, Password: refresh}), remote.WithTransport(rt)); err != nil {
		t.Fatalf("push: %v", err)
	}
	exhaust(t, rt, "DELETE", dst, throttleWritePath, 100)

	// acr import copies through dst's own listener, but on ACR an import is a
	// resource-manager operation, not data-plane traffic: it succeeds with
	// dst's WriteOps spent, and is refused nothing.
	body, _ := json.Marshal(map[string]any{"source": map[string]any{"resourceId": e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/importsrc",
		"sourceImage": "team/app:v1"}, "targetTags": []string{"team/app:v1"}})
	req, _ := http.NewRequest("POST", e.Endpoint+e.rg("rg")+"/providers/Microsoft.ContainerRegistry/registries/importdst/importImage?api-version=2023-07-01", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.arm)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	status := resp.Header.Get("Azure-AsyncOperation")
	if resp.StatusCode != http.StatusAccepted || status == "" {
		t.Fatalf("importImage: %d", resp.StatusCode)
	}
	for {
		_, op := e.do(t, e.arm, "GET", strings.TrimPrefix(status, e.Endpoint), nil)
		if op["status"] == "InProgress" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if op["status"] != "Succeeded" {
			t.Fatalf("import: %v", op)
		}
		break
	}
	if r := regSend(t, rt, "DELETE", dst, throttleWritePath); r.status != http.StatusTooManyRequests {
		t.Errorf("a client's write after the import: %d, want 429", r.status)
	}
	resp, err = e.client.Get(e.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := `drydock_registry_throttled_requests_total{class="WriteOps",registry="` + dst + `"} 2`; !strings.Contains(string(metrics), m) {
		t.Errorf("metrics lack %s (the two refusals above, none for the import)", m)
	}
}
