package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/uuid"
)

// The hostile-input suite, part 2: oversized and deeply nested bodies,
// slow clients and path traversal. Each case must end in a 4xx in the
// surface's error envelope, and the server must still serve afterwards.

// answer is a response read whole: its status, headers and JSON body.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// rawRequest sends req through rt as it is: no redirects followed.
func rawRequest(t *testing.T, rt http.RoundTripper, req *http.Request) answer {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return readAnswer(t, resp)
}

// hostileCase is one request and the refusals it may get, each
// "<status> <code>" in the envelope (see errorOf): what refuses a path
// parameter depends on where its decoded form puts slashes.
type hostileCase struct {
	name     string
	req      func() *http.Request
	envelope string
	want     []string
}

// checkCases sends every case through rt, then asserts healthy still passes.
func checkCases(t *testing.T, rt http.RoundTripper, cases []hostileCase, healthy func(t *testing.T)) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := rawRequest(t, rt, c.req())
			code, _ := errorOf(c.envelope, a.body)
			got := strings.TrimSpace(fmt.Sprintf("%d %s", a.status, code))
			if !slices.Contains(c.want, got) {
				t.Errorf("want one of %q in a %q envelope, got %d %s", c.want, c.envelope, a.status, truncateForLog(a.raw))
			}
			healthy(t)
		})
	}
}

func truncateForLog(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// request builds a request with a bearer token (if any) and a body.
func request(method, target, token, contentType string, body string) *http.Request {
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// basicRequest is request with the null-GUID user and a registry token.
func basicRequest(method, target, token, contentType, body string) *http.Request {
	req := request(method, target, "", contentType, body)
	req.SetBasicAuth("00000000-0000-0000-0000-000000000000", token)
	return req
}

// healthyAPI checks the API listener still answers, signed in and not.
func (e *env) healthyAPI(t *testing.T) {
	t.Helper()
	if a := rawRequest(t, e.client.Transport, request("GET", e.Endpoint+"/healthz", "", "", "")); a.status != 200 {
		t.Fatalf("healthz afterwards: %d %s", a.status, a.raw)
	}
	e.mustDo(t, e.arm, "GET", "/subscriptions?api-version=2022-12-01", nil, 200)
}

// healthyRegistry checks the registry listener still serves login.
func healthyRegistry(rt http.RoundTripper, login, refresh string) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		if a := rawRequest(t, rt, basicRequest("GET", "https://"+login+"/v2/", refresh, "", "")); a.status != 200 {
			t.Fatalf("/v2/ afterwards: %d %s", a.status, a.raw)
		}
	}
}

// nested is n nested JSON arrays.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// nestedObjects is n nested JSON objects.
func nestedObjects(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

// bigJSON is a JSON object of more than n bytes.
func bigJSON(n int) string {
	return `{"location":"eastus","tags":{"x":"` + strings.Repeat("a", n) + `"}}`
}

const (
	mib      = 1 << 20
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"
)

func TestHostileBodies(t *testing.T) {
	e := newEnv(t, nil)
	login := e.createRegistry(t, "rg", "hostileacr", nil)
	rt := e.registryTransport(t)
	refresh, _ := e.registryTokens(t, rt, login)
	api := e.client.Transport
	rg := e.Endpoint + e.rg("big") + "?api-version=2022-09-01"
	tokenURL := e.Endpoint + "/" + e.TenantID + "/oauth2/v2.0/token"
	bigForm := "grant_type=password&username=x&password=" + strings.Repeat("a", 2*mib)
	reg := "https://" + login

	checkCases(t, api, []hostileCase{
		{"arm body over 4 MiB", func() *http.Request { return request("PUT", rg, e.arm, jsonType, bigJSON(4*mib)) }, "arm", []string{"413 RequestContentTooLarge"}},
		{"arm 100k nested arrays", func() *http.Request { return request("PUT", rg, e.arm, jsonType, nested(100_000)) }, "arm", []string{"400 InvalidRequestContent"}},
		{"arm 100k nested objects", func() *http.Request { return request("PUT", rg, e.arm, jsonType, nestedObjects(100_000)) }, "arm", []string{"400 InvalidRequestContent"}},
		{"graph body over 4 MiB", func() *http.Request {
			return request("POST", e.Endpoint+"/v1.0/groups", e.graph, jsonType, bigJSON(4*mib))
		}, "graph", []string{"413 RequestEntityTooLarge"}},
		{"graph 100k nested arrays", func() *http.Request {
			return request("POST", e.Endpoint+"/v1.0/groups", e.graph, jsonType, nested(100_000))
		}, "graph", []string{"400 BadRequest"}},
		{"token endpoint form over 1 MiB", func() *http.Request { return request("POST", tokenURL, "", formType, bigForm) }, "aad", []string{"413 invalid_request"}},
		{"URL over the header limit", func() *http.Request {
			return request("GET", e.Endpoint+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+strings.Repeat("a", 2*mib), "", "", "")
		}, "", []string{"431"}},
	}, e.healthyAPI)

	checkCases(t, rt, []hostileCase{
		{"exchange form over 1 MiB", func() *http.Request { return request("POST", reg+"/oauth2/exchange", "", formType, bigForm) }, "oci", []string{"413 BAD_REQUEST"}},
		{"token form over 1 MiB", func() *http.Request { return request("POST", reg+"/oauth2/token", "", formType, bigForm) }, "oci", []string{"413 BAD_REQUEST"}},
		{"manifest over 4 MiB", func() *http.Request {
			return basicRequest("PUT", reg+"/v2/app/manifests/v1", refresh, "application/vnd.oci.image.manifest.v1+json", bigJSON(4*mib))
		}, "oci", []string{"413 MANIFEST_INVALID"}},
		{"manifest of 100k nested arrays", func() *http.Request {
			return basicRequest("PUT", reg+"/v2/app/manifests/v1", refresh, "application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"annotations":{"a":`+nested(100_000)+`}}`)
		}, "oci", []string{"400 MANIFEST_INVALID"}},
	}, healthyRegistry(rt, login, refresh))
}

// slowConn opens a TLS connection speaking HTTP/1.1 to addr for host.
func slowConn(t *testing.T, addr, host string, roots *tls.Config) *tls.Conn {
	t.Helper()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots.RootCAs, ServerName: host, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dripHeaders sends a request's headers a byte at a time, every interval,
// and reports whether the server cut the connection before they were
// complete. The headers are long enough to take 20 times the timeout.
func dripHeaders(t *testing.T, c *tls.Conn, host string, interval time.Duration) bool {
	t.Helper()
	cut := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // returns when the server closes
		close(cut)
	}()
	if _, err := io.WriteString(c, "GET /v2/ HTTP/1.1\r\nHost: "+host+"\r\n"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		select {
		case <-cut:
			return true
		case <-time.After(interval):
		}
		if _, err := c.Write([]byte{"X-Slow: a"[i%9]}); err != nil {
			return true
		}
	}
	return false
}

// stallBody sends headers announcing a body of 64 bytes and the first 8,
// then waits for the server's answer.
func stallBody(t *testing.T, c *tls.Conn, method, path, host string, header http.Header) (*http.Response, error) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 64\r\n", method, path, host)
	header.Write(&b)
	b.WriteString("\r\n12345678")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(giveUp)) // a server without a body timeout fails the test, not hangs it
	return http.ReadResponse(bufio.NewReader(c), nil)
}

// A stalled body over HTTP/2: a pipe that gives 8 bytes and then nothing.
func stallBodyH2(t *testing.T, e *env, method, target, token string) answer {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go pw.Write([]byte("12345678"))
	ctx, cancel := context.WithTimeout(context.Background(), giveUp)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, target, pr)
	req.ContentLength = 64
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", jsonType)
	base := e.client.Transport.(*http.Transport)
	rt := &http.Transport{TLSClientConfig: base.TLSClientConfig.Clone(), ForceAttemptHTTP2: true}
	defer rt.CloseIdleConnections()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("h2 stalled body: %v", err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("want HTTP/2, got %s", resp.Proto)
	}
	return readAnswer(t, resp)
}

const (
	slowTimeout = time.Second
	// giveUp is how long a slow-client case waits for the server to act
	// before it fails.
	giveUp = 30 * slowTimeout
)

// The slow-client cases run in parallel: each mostly waits for one of the
// server's timeouts, shortened here.
func TestHostileSlowClients(t *testing.T) {
	ts := startTuned(t, nil, func(s *Server) {
		s.apiTimeouts = httpTimeouts{header: slowTimeout, bodyIdle: slowTimeout, idle: time.Minute}
		s.registryTimeouts = s.apiTimeouts
	})
	e := envOf(t, ts)
	login := e.createRegistry(t, "rg", "slowacr", nil)
	rt := e.registryTransport(t)
	refresh, _ := e.registryTokens(t, rt, login)
	tlsConf := e.client.Transport.(*http.Transport).TLSClientConfig
	apiAddr := strings.TrimPrefix(e.Endpoint, "https://")
	regAddr := registryAddress(t, e)
	healthy := func(t *testing.T) {
		e.healthyAPI(t)
		healthyRegistry(rt, login, refresh)(t)
	}

	t.Run("headers slower than the header timeout, API", func(t *testing.T) {
		t.Parallel() // each waits for a timeout
		if !dripHeaders(t, slowConn(t, apiAddr, "127.0.0.1", tlsConf), "127.0.0.1", slowTimeout/10) {
			t.Error("the server waited for headers sent slower than its header timeout")
		}
		healthy(t)
	})
	t.Run("headers slower than the header timeout, registry", func(t *testing.T) {
		t.Parallel() // each waits for a timeout
		if !dripHeaders(t, slowConn(t, regAddr, login, tlsConf), login, slowTimeout/10) {
			t.Error("the server waited for headers sent slower than its header timeout")
		}
		healthy(t)
	})
	t.Run("TLS handshake never finished", func(t *testing.T) {
		t.Parallel() // each waits for a timeout
		c, err := net.Dial("tcp", apiAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0x16, 0x03, 0x01}) // the first bytes of a ClientHello, and no more
		c.SetReadDeadline(time.Now().Add(giveUp))
		if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the server waited for a TLS handshake longer than its header timeout")
		}
		healthy(t)
	})

	stalled := []struct {
		name         string
		addr, host   string
		method, path string
		header       http.Header
		envelope     string
		want         []string
	}{
		{"ARM body", apiAddr, "127.0.0.1", "PUT", e.rg("slow") + "?api-version=2022-09-01",
			http.Header{"Authorization": {"Bearer " + e.arm}, "Content-Type": {jsonType}}, "arm", []string{"408 RequestTimeout"}},
		{"Graph body", apiAddr, "127.0.0.1", "POST", "/v1.0/groups",
			http.Header{"Authorization": {"Bearer " + e.graph}, "Content-Type": {jsonType}}, "graph", []string{"408 RequestTimeout"}},
		{"token endpoint form", apiAddr, "127.0.0.1", "POST", "/" + e.TenantID + "/oauth2/v2.0/token",
			http.Header{"Content-Type": {formType}}, "aad", []string{"408 invalid_request"}},
		{"registry token form", regAddr, login, "POST", "/oauth2/token",
			http.Header{"Content-Type": {formType}}, "oci", []string{"408 BAD_REQUEST"}},
		{"registry manifest", regAddr, login, "PUT", "/v2/app/manifests/v1",
			http.Header{"Authorization": {"Basic " + basicAuth(refresh)}, "Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}, "oci", []string{"400 MANIFEST_INVALID"}},
		{"registry blob upload", regAddr, login, "PATCH", "", // path: a new upload
			http.Header{"Authorization": {"Basic " + basicAuth(refresh)}, "Content-Type": {"application/octet-stream"}}, "oci", []string{"400 BLOB_UPLOAD_INVALID"}},
	}
	for _, c := range stalled {
		t.Run("stalled "+c.name, func(t *testing.T) {
			t.Parallel() // each waits for a timeout
			path := c.path
			if path == "" {
				a := rawRequest(t, rt, basicRequest("POST", "https://"+login+"/v2/app/blobs/uploads/", refresh, "", ""))
				if a.status != 202 {
					t.Fatalf("start upload: %d %s", a.status, a.raw)
				}
				path = a.header.Get("Location")
			}
			resp, err := stallBody(t, slowConn(t, c.addr, c.host, tlsConf), c.method, path, c.host, c.header)
			if err != nil {
				t.Fatalf("no answer to a stalled body: %v", err)
			}
			a := readAnswer(t, resp)
			if code, _ := errorOf(c.envelope, a.body); !slices.Contains(c.want, fmt.Sprintf("%d %s", a.status, code)) {
				t.Errorf("want one of %q in a %q envelope, got %d %s", c.want, c.envelope, a.status, a.raw)
			}
			healthy(t)
		})
	}
	t.Run("stalled ARM body over HTTP/2", func(t *testing.T) {
		t.Parallel() // each waits for a timeout
		a := stallBodyH2(t, e, "PUT", e.Endpoint+e.rg("slow")+"?api-version=2022-09-01", e.arm)
		if code, _ := errorOf("arm", a.body); a.status != 408 || code != "RequestTimeout" {
			t.Errorf("want 408 RequestTimeout, got %d %s", a.status, a.raw)
		}
		healthy(t)
	})
}

func basicAuth(token string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("00000000-0000-0000-0000-000000000000", token)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// registryAddress is the registry listener's address.
func registryAddress(t *testing.T, e *env) string {
	code, meta := e.do(t, "", "GET", "/metadata/endpoints?api-version=2020-06-01", nil)
	if code != 200 {
		t.Fatalf("metadata: %d", code)
	}
	return meta["drydock"].(map[string]any)["registryAddress"].(string)
}

// traversals are what an attacker puts in a path parameter.
var traversals = []struct{ name, segment string }{
	{"encoded ../../etc/passwd", "..%2f..%2fetc%2fpasswd"},
	{"encoded backslashes", "..%5c..%5cetc%5cpasswd"},
	{"encoded dot-dot", "%2e%2e"},
	{"encoded NUL", "a%00b"},
	{"double-encoded", "..%252f..%252fetc%252fpasswd"},
}

func TestHostilePaths(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	login := e.createRegistry(t, "rg", "pathacr", nil)
	rt := e.registryTransport(t)
	refresh, _ := e.registryTokens(t, rt, login)
	// The repository "app" exists, so that its tags and manifests are looked up.
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(login + "/app:v1")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "00000000-0000-0000-0000-000000000000", Password: refresh}), remote.WithTransport(rt)); err != nil {
		t.Fatalf("push: %v", err)
	}
	api := e.client.Transport
	reg := "https://" + login
	u := e.Endpoint
	sub := "/subscriptions/" + e.sub
	acr := e.rg("rg") + "/providers/Microsoft.ContainerRegistry/registries/"
	rgBody := `{"location":"eastus"}`

	var apiCases, regCases []hostileCase
	for _, tr := range traversals {
		x := tr.segment
		add := func(cases *[]hostileCase, what, envelope string, req func() *http.Request, want ...string) {
			*cases = append(*cases, hostileCase{what + ", " + tr.name, req, envelope, want})
		}
		// The resource manager: every segment of a resource ID. A segment
		// that decodes to a relative one, or holds a backslash or a control
		// character, is not an ID; what is left (the double-encoded form)
		// is a name that does not exist or is not valid.
		add(&apiCases, "subscription", "arm", func() *http.Request {
			return request("GET", u+"/subscriptions/"+x+"/resourceGroups/rg?api-version=2022-09-01", e.arm, "", "")
		}, "400 InvalidResourceId", "404 SubscriptionNotFound")
		add(&apiCases, "resource group", "arm", func() *http.Request {
			return request("PUT", u+sub+"/resourceGroups/"+x+"?api-version=2022-09-01", e.arm, jsonType, rgBody)
		}, "400 InvalidResourceId", "400 InvalidResourceGroup")
		add(&apiCases, "registry", "arm", func() *http.Request {
			return request("GET", u+acr+x+"?api-version=2023-07-01", e.arm, "", "")
		}, "400 InvalidResourceId", "404 ResourceNotFound")
		add(&apiCases, "provider namespace", "arm", func() *http.Request {
			return request("GET", u+e.rg("rg")+"/providers/"+x+"/registries/pathacr?api-version=2023-07-01", e.arm, "", "")
		}, "400 InvalidResourceId", "400 InvalidResourceType")
		add(&apiCases, "identity", "arm", func() *http.Request {
			return request("PUT", u+e.rg("rg")+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+x+"?api-version=2023-01-31", e.arm, jsonType, rgBody)
		}, "400 InvalidResourceId", "400 InvalidResourceName")
		add(&apiCases, "role assignment", "arm", func() *http.Request {
			return request("PUT", u+e.rg("rg")+"/providers/Microsoft.Authorization/roleAssignments/"+x+"?api-version=2022-04-01", e.arm, jsonType,
				`{"properties":{"roleDefinitionId":"`+acrPullID+`","principalId":"`+uuid.NewString()+`"}}`)
		}, "400 InvalidResourceId", "400 InvalidRoleAssignmentId")
		// Graph and the directory: an object ID or tenant that does not exist.
		add(&apiCases, "graph user", "graph", func() *http.Request {
			return request("GET", u+"/v1.0/users/"+x, e.graph, "", "")
		}, "404 Request_ResourceNotFound")
		add(&apiCases, "graph group member", "graph", func() *http.Request {
			return request("DELETE", u+"/graph/v1.0/groups/"+x+"/members/"+x+"/$ref", e.graph, "", "")
		}, "404 Request_ResourceNotFound")
		add(&apiCases, "tenant of the token endpoint", "aad", func() *http.Request {
			return request("POST", u+"/"+x+"/oauth2/v2.0/token", "", formType, "grant_type=password&username=a&password=b&scope="+url.QueryEscape(armScope))
		}, "400 invalid_request")
		add(&apiCases, "tenant of the discovery document", "aad", func() *http.Request {
			return request("GET", u+"/"+x+"/v2.0/.well-known/openid-configuration", "", "", "")
		}, "400 invalid_tenant")
		// The registries. Routes are read from the decoded path, so an
		// encoded slash in a reference adds path segments and the path is
		// no route of the API (404 NOT_FOUND); otherwise the parameter's
		// own grammar refuses it, or it names nothing.
		add(&regCases, "repository", "oci", func() *http.Request {
			return basicRequest("GET", reg+"/v2/"+x+"/manifests/latest", refresh, "", "")
		}, "400 NAME_INVALID")
		add(&regCases, "nested repository", "oci", func() *http.Request {
			return basicRequest("GET", reg+"/v2/app/"+x+"/tags/list", refresh, "", "")
		}, "400 NAME_INVALID")
		add(&regCases, "tag", "oci", func() *http.Request {
			return basicRequest("PUT", reg+"/v2/app/manifests/"+x, refresh, "application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2}`)
		}, "400 TAG_INVALID", "404 NOT_FOUND")
		add(&regCases, "digest", "oci", func() *http.Request {
			return basicRequest("GET", reg+"/v2/app/blobs/sha256:"+x, refresh, "", "")
		}, "400 DIGEST_INVALID", "404 NOT_FOUND")
		add(&regCases, "upload ID", "oci", func() *http.Request {
			return basicRequest("PATCH", reg+"/v2/app/blobs/uploads/"+x, refresh, "application/octet-stream", "data")
		}, "404 BLOB_UPLOAD_UNKNOWN", "404 NOT_FOUND")
		add(&regCases, "digest parameter", "oci", func() *http.Request {
			return basicRequest("POST", reg+"/v2/app/blobs/uploads/?digest=sha256:"+x, refresh, "application/octet-stream", "data")
		}, "400 DIGEST_INVALID")
		// A mount that cannot be made starts an ordinary upload, as the
		// distribution spec says and distribution does.
		add(&regCases, "mount source", "oci", func() *http.Request {
			return basicRequest("POST", reg+"/v2/app/blobs/uploads/?mount=sha256:"+strings.Repeat("0", 64)+"&from="+x, refresh, "", "")
		}, "202")
		add(&regCases, "acr v1 repository", "oci", func() *http.Request {
			return basicRequest("GET", reg+"/acr/v1/"+x+"/_tags", refresh, "", "")
		}, "400 NAME_INVALID")
		add(&regCases, "acr v1 tag", "oci", func() *http.Request {
			return basicRequest("DELETE", reg+"/acr/v1/app/_tags/"+x, refresh, "", "")
		}, "404 TAG_UNKNOWN")
		add(&regCases, "acr v1 digest", "oci", func() *http.Request {
			return basicRequest("GET", reg+"/acr/v1/app/_manifests/sha256:"+x, refresh, "", "")
		}, "404 MANIFEST_UNKNOWN")
	}
	// A $filter the fuzzer found to crash the OData parser (a case
	// folding that changed its length): Graph's and ARM's lists refuse it.
	crasher := url.QueryEscape("\xea/AnY()")
	apiCases = append(apiCases,
		hostileCase{"graph $filter", func() *http.Request { return request("GET", u+"/v1.0/users?$filter="+crasher, e.graph, "", "") }, "graph", []string{"400 BadRequest"}},
		hostileCase{"arm $filter", func() *http.Request {
			return request("GET", u+e.rg("rg")+"/resources?api-version=2021-04-01&$filter="+crasher, e.arm, "", "")
		}, "arm", []string{"400 InvalidFilterInQueryString"}},
	)
	checkCases(t, api, apiCases, e.healthyAPI)
	checkCases(t, rt, regCases, healthyRegistry(rt, login, refresh))

	// Nothing was written outside the data dir, nor named passwd in it.
	parent, _ := os.ReadDir(filepath.Dir(e.dataDir))
	if len(parent) != 1 {
		t.Errorf("the data dir's parent holds %d entries, want 1 (the data dir)", len(parent))
	}
	filepath.Walk(e.dataDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(info.Name(), "passwd") {
			t.Errorf("a path parameter became a file: %s", p)
		}
		return nil
	})
}
