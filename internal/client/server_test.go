package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/server/servertest"
)

// realServer is drydock's real server, in-process, fronted so tests can
// read what the client sent (requests and token forms) and make a request
// answer as only a passing condition would (an operation still running).
type realServer struct {
	*servertest.Server

	mu     sync.Mutex
	log    []string     // "METHOD request-URI"
	forms  []url.Values // token requests' forms
	inject func(w http.ResponseWriter, r *http.Request) bool
}

// startServer starts a real server and a client of it that does not sleep
// between polls.
func startServer(t *testing.T) (*realServer, *Client) {
	t.Helper()
	rs := &realServer{}
	rs.Server = servertest.Start(t, servertest.WithInterceptor(rs.intercept))
	c, err := New(Config{Endpoint: rs.URL + "/", CAFile: rs.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	c.Sleep = func(ctx context.Context, d time.Duration) error { return nil }
	rs.mu.Lock()
	rs.log, rs.forms = nil, nil // servertest's own requests
	rs.mu.Unlock()
	return rs, c
}

func (rs *realServer) intercept(w http.ResponseWriter, r *http.Request) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.log = append(rs.log, r.Method+" "+r.URL.RequestURI())
	if strings.HasSuffix(r.URL.Path, "/token") && r.Method == http.MethodPost {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		form, _ := url.ParseQuery(string(b))
		rs.forms = append(rs.forms, form)
	}
	return rs.inject != nil && rs.inject(w, r)
}

// requests is what the client sent so far.
func (rs *realServer) requests() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.log...)
}

// tokenForms is the forms of the token requests so far.
func (rs *realServer) tokenForms() []url.Values {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]url.Values(nil), rs.forms...)
}

// setInject answers requests f takes (returning true) instead of the server.
func (rs *realServer) setInject(f func(w http.ResponseWriter, r *http.Request) bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.inject = f
}

// login signs the admin in with c.
func (rs *realServer) login(t *testing.T, c *Client) *Credentials {
	t.Helper()
	cr, err := c.LoginPassword(context.Background(), "", rs.Admin, rs.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

// startWithGroup starts a server, signs the admin in and creates the
// resource group rg, whose ID it returns.
func startWithGroup(t *testing.T) (*realServer, *Client, string) {
	t.Helper()
	rs, c := startServer(t)
	rs.login(t, c)
	id := "/subscriptions/" + rs.SubscriptionID + "/resourcegroups/rg"
	if err := c.ARM(context.Background(), Request{Method: "PUT", Path: id, APIVersion: APIVersionResources, Body: map[string]string{"location": "westus"}}, nil); err != nil {
		t.Fatal(err)
	}
	return rs, c, id
}
