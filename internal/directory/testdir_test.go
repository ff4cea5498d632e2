package directory

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// testDir is a directory over the real store in a temporary directory,
// with a clock the test moves, its endpoints on a mux, and a user, a
// service principal with a client secret, and a managed identity.
type testDir struct {
	*Directory
	t     *testing.T
	st    *store.Store
	key   *tokens.Signer
	mux   *http.ServeMux
	clock *testClock

	user, sp, mi Principal
	secret       string
}

const (
	testTenant   = "5e0f3e5c-7d3a-4bb1-9a54-4d7e4f6a0c11"
	testBase     = "https://127.0.0.1:8443"
	testPassword = "correct-horse-battery"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestDir(t *testing.T, mutate func(*Config)) *testDir {
	t.Helper()
	st := storetest.Open(t)
	signer, err := tokens.LoadOrCreate(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	td := &testDir{t: t, st: st, key: signer, mux: http.NewServeMux(), clock: &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	cfg := Config{TenantID: testTenant, BaseURL: testBase, Domain: "contoso.test", GroupPropagationDelay: 5 * time.Minute, Now: td.clock.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	if td.Directory, err = New(context.Background(), st, signer, cfg); err != nil {
		t.Fatal(err)
	}
	td.Routes(td.mux)
	td.update(func(tx *store.Tx) (err error) {
		if td.user, err = td.CreateUser(context.Background(), tx, "alice@contoso.test", "Alice", testPassword, nil); err != nil {
			return err
		}
		app, err := td.CreateApplication(tx, "ci", td.user.ObjectID)
		if err != nil {
			return err
		}
		if td.sp, err = td.CreateServicePrincipal(tx, app.AppID, td.user.ObjectID); err != nil {
			return err
		}
		if td.secret, _, err = td.AddPassword(tx, app.ObjectID, "ci", time.Time{}); err != nil {
			return err
		}
		td.mi, err = td.CreateManagedIdentity(tx, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1", "id1")
		return err
	})
	return td
}

// update runs f in a store transaction, failing the test on error.
func (td *testDir) update(f func(tx *store.Tx) error) {
	td.t.Helper()
	if err := td.st.Update(context.Background(), f); err != nil {
		td.t.Fatal(err)
	}
}

// post sends a form to path on the directory's endpoints and decodes the
// JSON answer.
func (td *testDir) post(path string, form url.Values, basic ...string) (int, map[string]any) {
	td.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		r.SetBasicAuth(basic[0], basic[1])
	}
	return td.serve(r)
}

func (td *testDir) get(path string) (int, map[string]any) {
	td.t.Helper()
	return td.serve(httptest.NewRequest(http.MethodGet, path, nil))
}

func (td *testDir) serve(r *http.Request) (int, map[string]any) {
	td.t.Helper()
	w := httptest.NewRecorder()
	td.mux.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		td.t.Fatalf("%s %s: %d, not JSON: %q", r.Method, r.URL, w.Code, w.Body)
	}
	return w.Code, out
}

// claimsOf reads a token's claims and header without verifying it.
func claimsOf(t *testing.T, token string) (*tokens.Claims, map[string]any) {
	t.Helper()
	c := &tokens.Claims{}
	if err := tokens.Unverified(token, c); err != nil {
		t.Fatalf("token %q: %v", token, err)
	}
	var header map[string]any
	seg, _, _ := strings.Cut(token, ".")
	if err := json.NewDecoder(base64URL(seg)).Decode(&header); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return c, header
}

func base64URL(s string) *strings.Reader {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return strings.NewReader(string(b))
}
