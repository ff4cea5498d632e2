package arm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/arm/armtest"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

// The test provider serves two tracked types of a namespace whose
// api-versions are declared (Microsoft.Compute): widgets, deleted at once,
// and gadgets, deleted as a long-running operation. Its own handlers
// record what the router handed them.
const (
	widgets = "Microsoft.Compute/widgets"
	gadgets = "Microsoft.Compute/gadgets"
	ver     = "2024-03-01"
)

// seen is what a probe handler was handed.
type seen struct {
	route, id, action string
	collection        bool
}

type testProvider struct {
	env     *armtest.Env
	seen    []seen
	deleted []string // rows the delete hooks saw
	release chan error
}

func newTestProvider(t *testing.T) *testProvider {
	env := armtest.New(t)
	p := &testProvider{env: env, release: make(chan error, 1)}
	rt, kit := env.Router, env.Kit
	hook := func(tx *store.Tx, r store.Resource) ([]string, error) {
		p.deleted = append(p.deleted, r.ID)
		return nil, nil
	}
	kit.Serve(rt, arm.Tracked{Type: widgets, OnDelete: hook})
	kit.Serve(rt, arm.Tracked{Type: gadgets, AsyncDelete: true, OnDelete: hook})
	kit.Serve(rt, arm.Tracked{Type: widgets + "/parts", OnDelete: hook})
	rt.Handle("PUT", widgets, p.probe("put"))
	rt.Handle("POST", widgets+"/restart", p.probe("restart"))
	rt.Handle("POST", "Microsoft.Compute/checkNameAvailability", p.probe("checkName"))
	rt.Handle("POST", widgets+"/explode", p.explode)
	rt.Handle("POST", widgets+"/run", p.run)
	return p
}

// owned is the test provider with a user who owns the subscription, its
// token and object ID, and a resource group rg.
func owned(t *testing.T) (p *testProvider, owner, token string, rg resourceid.ID) {
	p = newTestProvider(t)
	owner, token = p.env.User(t, "owner")
	p.env.Grant(t, owner, authz.OwnerGUID, "/subscriptions/"+p.env.Sub)
	return p, owner, token, p.env.Group(t, "rg")
}

func (p *testProvider) probe(route string) arm.Handler {
	return func(r *arm.Request) (int, any, error) {
		p.seen = append(p.seen, seen{route: route, id: r.ID.String(), action: r.Action, collection: r.Collection})
		return http.StatusOK, map[string]string{"route": route}, nil
	}
}

// explodes are the errors POST .../widgets/<name>/explode returns.
var explodes = map[string]error{
	"arm":      arm.BadRequest("InvalidWidget", "The widget is invalid."),
	"coded":    errdefs.New(errdefs.ErrConflict, "WidgetBusy", "The widget is busy."),
	"wrapped":  fmt.Errorf("while exploding: %w", arm.ResourceGroupNotFound("rg")),
	"missing":  fmt.Errorf("loading: %w", errdefs.ErrNotFound),
	"diskfull": fmt.Errorf("commit: %w", &os.PathError{Op: "write", Path: "drydock.db-wal", Err: syscall.ENOSPC}),
	"plain":    errors.New("boom"),
	"refused":  errdefs.ErrPermissionDenied,
}

func (p *testProvider) explode(r *arm.Request) (int, any, error) {
	return 0, nil, explodes[r.ID.Name()]
}

// run starts an operation that ends with what is sent on p.release.
func (p *testProvider) run(r *arm.Request) (int, any, error) {
	if _, err := p.env.Kit.Ops.Start(r, func(ctx context.Context) (any, error) {
		if err := <-p.release; err != nil {
			return nil, err
		}
		return map[string]string{"ran": "yes"}, nil
	}); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, nil, nil
}

func TestRouter(t *testing.T) {
	p, owner, token, rg := owned(t)
	env := p.env
	sub := "/subscriptions/" + env.Sub
	w := rg.String() + "/providers/Microsoft.Compute/widgets/w1"
	graph, err := env.Dir.IssueAccessToken(mustGet(t, env, owner), directory.AudienceGraph)
	if err != nil {
		t.Fatal(err)
	}
	q := "?api-version=" + ver

	tests := []struct {
		name, token, method, path string
		status                    int
		code                      string // the error's code, "" for success
		want                      *seen  // what the probe was handed
	}{
		// Authentication.
		{"no token", "", "GET", w + q, 401, "AuthenticationFailed", nil},
		{"not a bearer", "Basic eDp5", "GET", w + q, 401, "AuthenticationFailedInvalidHeader", nil},
		{"garbage token", "garbage", "GET", w + q, 401, "InvalidAuthenticationToken", nil},
		{"graph token", graph.AccessToken, "GET", w + q, 401, "InvalidAuthenticationTokenAudience", nil},
		// api-version.
		{"no api-version", token, "GET", w, 400, "MissingApiVersionParameter", nil},
		{"malformed api-version", token, "GET", w + "?api-version=2024", 400, "InvalidApiVersionParameter", nil},
		{"api-version of another namespace", token, "GET", w + "?api-version=2023-01-31", 400, "InvalidApiVersionParameter", nil},
		// Paths to route keys.
		{"put a resource", token, "PUT", w + q, 200, "", &seen{route: "put", id: w}},
		{"action", token, "POST", w + "/restart" + q, 200, "", &seen{route: "restart", id: w, action: "restart"}},
		{"action, case folded", token, "POST", strings.ToUpper(w[:1]) + w[1:] + "/RESTART" + q, 200, "", &seen{route: "restart", id: w, action: "RESTART"}},
		{"provider action", token, "POST", sub + "/providers/Microsoft.Compute/checkNameAvailability" + q, 200, "",
			&seen{route: "checkName", id: sub + "/providers/Microsoft.Compute", action: "checkNameAvailability", collection: true}},
		{"unknown type", token, "GET", rg.String() + "/providers/Microsoft.Compute/sprockets/s1" + q, 400, "InvalidResourceType", nil},
		{"method not served", token, "PATCH", w + q, 405, "MethodNotAllowed", nil},
		{"not a resource ID", token, "GET", sub + "/resourceGroups" + q + "&x=/", 400, "InvalidResourceType", nil},
		{"bad path", token, "GET", sub + "/resourceGroups/rg/providers" + q, 400, "InvalidResourceId", nil},
		// Parents.
		{"no such subscription", token, "GET", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/widgets/w1" + q,
			404, "SubscriptionNotFound", nil},
		{"no such group", token, "GET", sub + "/resourceGroups/nope/providers/Microsoft.Compute/widgets/w1" + q, 404, "ResourceGroupNotFound", nil},
		{"no such group, in a collection", token, "GET", sub + "/resourceGroups/nope/providers/Microsoft.Compute/widgets" + q, 404, "ResourceGroupNotFound", nil},
		// The error envelope.
		{"ARM error", token, "POST", rg.String() + "/providers/Microsoft.Compute/widgets/arm/explode" + q, 400, "InvalidWidget", nil},
		{"coded errdefs error", token, "POST", rg.String() + "/providers/Microsoft.Compute/widgets/coded/explode" + q, 409, "WidgetBusy", nil},
		{"wrapped ARM error", token, "POST", rg.String() + "/providers/Microsoft.Compute/widgets/wrapped/explode" + q, 404, "ResourceGroupNotFound", nil},
		{"bare kind", token, "POST", rg.String() + "/providers/Microsoft.Compute/widgets/missing/explode" + q, 404, "ResourceNotFound", nil},
		{"refusal kind", token, "POST", rg.String() + "/providers/Microsoft.Compute/widgets/refused/explode" + q, 403, "AuthorizationFailed", nil},
		{"full disk", token, "POST", rg.String() + "/providers/Microsoft.Compute/widgets/diskfull/explode" + q, 507, "InsufficientStorage", nil},
		{"unexpected error", token, "POST", rg.String() + "/providers/Microsoft.Compute/widgets/plain/explode" + q, 500, "InternalServerError", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.seen = nil
			res := env.Do(t, tt.token, tt.method, tt.path, nil)
			if res.Status != tt.status || res.ErrorCode() != tt.code {
				t.Fatalf("%s %s: %d %s, want %d %q", tt.method, tt.path, res.Status, res.Raw, tt.status, tt.code)
			}
			if tt.code != "" && res.Header.Get("x-ms-failure-cause") != "gateway" {
				t.Errorf("an error without x-ms-failure-cause: gateway: %v", res.Header)
			}
			if tt.want == nil {
				return
			}
			if len(p.seen) != 1 {
				t.Fatalf("the provider was called %d times", len(p.seen))
			}
			got := p.seen[0]
			got.id, tt.want.id = strings.ToLower(got.id), strings.ToLower(tt.want.id)
			if got != *tt.want {
				t.Errorf("handed %+v, want %+v", got, *tt.want)
			}
		})
	}
}

// The messages of the envelope are those of the error, without the
// context wrapped around it, or the whole text of an error of no kind.
func TestErrorEnvelopeMessages(t *testing.T) {
	p, _, token, rg := owned(t)
	for name, want := range map[string]string{
		"wrapped":  "Resource group 'rg' could not be found.",
		"plain":    "boom",
		"diskfull": "disk holding drydock's data directory is full",
	} {
		res := p.env.Do(t, token, "POST", rg.String()+"/providers/Microsoft.Compute/widgets/"+name+"/explode?api-version="+ver, nil)
		msg, _ := res.Body["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, want) {
			t.Errorf("%s: message %q, want %q", name, msg, want)
		}
	}
}

func mustGet(t *testing.T, env *armtest.Env, id string) directory.Principal {
	t.Helper()
	p, err := env.Dir.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The kit's read, list and delete of a tracked type: authorization, the
// read filter, 404 and 204 for absent resources, scope cleanup.
func TestKitTracked(t *testing.T) {
	p := newTestProvider(t)
	env := p.env
	sub := "/subscriptions/" + env.Sub
	owner, ownerTok := env.User(t, "owner")
	reader, readerTok := env.User(t, "reader")
	_, strangerTok := env.User(t, "stranger")
	env.Grant(t, owner, authz.OwnerGUID, sub)
	rg1, rg2 := env.Group(t, "rg1"), env.Group(t, "rg2")
	env.Grant(t, reader, authz.ReaderGUID, rg1.String())
	widget := func(rg resourceid.ID, name string) string {
		id := resourceid.New(env.Sub, rg.ResourceGroup, "Microsoft.Compute", "widgets", name)
		env.Put(t, arm.Resource{ID: id.String(), Name: name, Type: widgets, Location: "eastus"})
		return id.String()
	}
	w1, w2 := widget(rg1, "w1"), widget(rg2, "w2")
	part := resourceid.New(env.Sub, rg1.ResourceGroup, "Microsoft.Compute", "widgets", "w1", "parts", "p1").String()
	env.Put(t, arm.Resource{ID: part, Name: "p1", Type: widgets + "/parts"})
	env.Grant(t, reader, authz.ReaderGUID, w1) // below w1: goes with it
	q := "?api-version=" + ver

	names := func(res armtest.Response) string {
		var out []string
		for _, v := range res.Body["value"].([]any) {
			out = append(out, v.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	lists := []struct {
		name, token, path, want string
	}{
		{"owner, subscription", ownerTok, sub + "/providers/Microsoft.Compute/widgets", "w1,w2"},
		{"owner, group", ownerTok, rg2.String() + "/providers/Microsoft.Compute/widgets", "w2"},
		{"reader of rg1, subscription", readerTok, sub + "/providers/Microsoft.Compute/widgets", "w1"},
		{"stranger", strangerTok, sub + "/providers/Microsoft.Compute/widgets", ""},
	}
	for _, tt := range lists {
		res := env.Do(t, tt.token, "GET", tt.path+q, nil)
		if res.Status != 200 || names(res) != tt.want {
			t.Errorf("%s: %d %s, want %q", tt.name, res.Status, res.Raw, tt.want)
		}
	}

	steps := []struct {
		name, token, method, path string
		status                    int
		code                      string
	}{
		{"read", readerTok, "GET", w1, 200, ""},
		{"read elsewhere", readerTok, "GET", w2, 403, "AuthorizationFailed"},
		{"read missing", ownerTok, "GET", rg1.String() + "/providers/Microsoft.Compute/widgets/nope", 404, "ResourceNotFound"},
		{"delete, reader", readerTok, "DELETE", w1, 403, "AuthorizationFailed"},
		{"delete", ownerTok, "DELETE", w1, 200, ""},
		{"delete again", ownerTok, "DELETE", w1, 204, ""},
		{"read deleted", ownerTok, "GET", w1, 404, "ResourceNotFound"},
		{"read deleted child", ownerTok, "GET", part, 404, "ResourceNotFound"},
	}
	for _, tt := range steps {
		res := env.Do(t, tt.token, tt.method, tt.path+q, nil)
		if res.Status != tt.status || res.ErrorCode() != tt.code {
			t.Fatalf("%s: %d %s, want %d %q", tt.name, res.Status, res.Raw, tt.status, tt.code)
		}
	}
	if want := strings.ToLower(part + "," + w1); strings.ToLower(strings.Join(p.deleted, ",")) != want {
		t.Errorf("delete hooks saw %v, want the child, then the widget", p.deleted)
	}
	for _, a := range env.Engine.ForPrincipal(reader) {
		if resourceid.Within(w1, a.Scope) {
			t.Errorf("the assignment at %s outlived its scope", a.Scope)
		}
	}
	if len(env.Engine.ForPrincipal(reader)) != 1 {
		t.Errorf("the reader's assignment at rg1 went with w1: %v", env.Engine.ForPrincipal(reader))
	}
}

// A long-running operation: 202 with the polling headers, InProgress
// until it ends, then its outcome on both URLs; an asynchronous delete
// runs as one.
func TestOperationFlow(t *testing.T) {
	p, _, token, rg := owned(t)
	env := p.env
	w := rg.String() + "/providers/Microsoft.Compute/widgets/w1"
	q := "?api-version=" + ver
	poll := func(t *testing.T, res armtest.Response) (status, result armtest.Response) {
		t.Helper()
		as, loc := res.Header.Get("Azure-AsyncOperation"), res.Header.Get("Location")
		if !strings.HasPrefix(as, armtest.BaseURL) || !strings.HasPrefix(loc, armtest.BaseURL) || res.Header.Get("Retry-After") == "" {
			t.Fatalf("202 without polling headers: %v", res.Header)
		}
		return env.Do(t, token, "GET", strings.TrimPrefix(as, armtest.BaseURL), nil), env.Do(t, token, "GET", strings.TrimPrefix(loc, armtest.BaseURL), nil)
	}

	for _, tt := range []struct {
		name                 string
		outcome              error
		status               string
		resultStatus         int
		resultCode, errorMsg string
	}{
		{"succeeds", nil, "Succeeded", 200, "", ""},
		{"fails", arm.BadRequest("WidgetJammed", "The widget jammed."), "Failed", 400, "WidgetJammed", "The widget jammed."},
		{"fails unexpectedly", errors.New("boom"), "Failed", 500, "InternalServerError", "boom"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := env.Do(t, token, "POST", w+"/run"+q, nil)
			if res.Status != http.StatusAccepted {
				t.Fatalf("start: %d %s", res.Status, res.Raw)
			}
			st, result := poll(t, res)
			if st.Body["status"] != "InProgress" || result.Status != http.StatusAccepted {
				t.Fatalf("while running: %s, result %d", st.Raw, result.Status)
			}
			p.release <- tt.outcome
			env.Router.Ops.Wait()
			st, result = poll(t, res)
			if st.Body["status"] != tt.status || result.Status != tt.resultStatus || result.ErrorCode() != tt.resultCode {
				t.Fatalf("ended: %s; result %d %s", st.Raw, result.Status, result.Raw)
			}
			if tt.outcome == nil && result.Body["ran"] != "yes" {
				t.Errorf("result body %s", result.Raw)
			}
			if tt.outcome != nil {
				if msg := st.Body["error"].(map[string]any)["message"]; msg != tt.errorMsg {
					t.Errorf("status error message %q, want %q", msg, tt.errorMsg)
				}
			}
		})
	}

	t.Run("async delete", func(t *testing.T) {
		g := rg.String() + "/providers/Microsoft.Compute/gadgets/g1"
		env.Put(t, arm.Resource{ID: g, Name: "g1", Type: gadgets})
		res := env.Do(t, token, "DELETE", g+q, nil)
		if res.Status != http.StatusAccepted {
			t.Fatalf("delete: %d %s", res.Status, res.Raw)
		}
		env.Router.Ops.Wait()
		if st, _ := poll(t, res); st.Body["status"] != "Succeeded" {
			t.Fatalf("delete: %s", st.Raw)
		}
		if res := env.Do(t, token, "GET", g+q, nil); res.Status != http.StatusNotFound {
			t.Errorf("after the delete: %d", res.Status)
		}
	})

	t.Run("someone else's operation", func(t *testing.T) {
		res := env.Do(t, token, "POST", w+"/run"+q, nil)
		p.release <- nil
		env.Router.Ops.Wait()
		_, other := env.User(t, "other")
		st := env.Do(t, other, "GET", strings.TrimPrefix(res.Header.Get("Azure-AsyncOperation"), armtest.BaseURL), nil)
		if st.Status != http.StatusNotFound || st.ErrorCode() != "OperationNotFound" {
			t.Errorf("another caller polls: %d %s", st.Status, st.Raw)
		}
	})
}
