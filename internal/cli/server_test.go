package cli

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/server/servertest"
)

// harness runs CLI command lines against drydock's real server, running
// in-process, with a private configuration directory. The server is
// fronted (servertest.WithInterceptor) so tests can read the requests the
// CLI sent and make the next few of a kind fail as the server would under
// a condition a test cannot otherwise cause (a principal not replicated
// yet).
type harness struct {
	t   *testing.T
	srv *servertest.Server
	dir string

	mu       sync.Mutex
	requests []string // "METHOD path"
	faults   []*fault
}

// fault answers the next n requests whose "METHOD path" starts with prefix
// with an ARM error.
type fault struct {
	prefix        string
	n             int
	status        int
	code, message string
}

func newHarness(t *testing.T, opts ...servertest.Option) *harness {
	h := &harness{t: t, dir: t.TempDir()}
	h.srv = servertest.Start(t, append(opts, servertest.WithInterceptor(h.intercept))...)
	t.Setenv(client.EnvConfigDir, h.dir)
	t.Setenv(client.EnvEndpoint, "")
	t.Setenv(client.EnvCAFile, "")
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	old := defaultRetryDelay
	defaultRetryDelay = 0
	t.Cleanup(func() { defaultRetryDelay = old })
	return h
}

func (h *harness) intercept(w http.ResponseWriter, r *http.Request) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	line := r.Method + " " + r.URL.Path
	h.requests = append(h.requests, line)
	for _, f := range h.faults {
		if f.n > 0 && strings.HasPrefix(strings.ToLower(line), strings.ToLower(f.prefix)) {
			f.n--
			httpjson.Write(w, f.status, map[string]any{"error": map[string]any{"code": f.code, "message": f.message}})
			return true
		}
	}
	return false
}

// failNext makes the next n requests starting with prefix ("METHOD
// /path…") answer an ARM error.
func (h *harness) failNext(n int, prefix string, status int, code, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, &fault{prefix: prefix, n: n, status: status, code: code, message: message})
}

// log is the requests the CLI sent so far.
func (h *harness) log() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.requests...)
}

// login signs the server's admin in.
func (h *harness) login() {
	h.t.Helper()
	h.ok(h.srv.LoginArgs()...)
}

// adminID is the admin's object ID.
func (h *harness) adminID() string {
	h.t.Helper()
	id, _ := obj(h.ok("ad", "signed-in-user", "show"))["id"].(string)
	return id
}

// newUser creates a user in the directory and returns its object ID.
func (h *harness) newUser(upn, name string) string {
	h.t.Helper()
	id, _ := obj(h.ok("ad", "user", "create", "--display-name", name, "--user-principal-name", upn, "--password", "Str0ng-P@ssword"))["id"].(string)
	return id
}

// withoutOwner drops the admin's Owner assignment on the subscription (made
// by the server's bootstrap) from a role assignment list.
func withoutOwner(ras []any) []any {
	return slices.DeleteFunc(ras, func(ra any) bool { return obj(ra)["roleDefinitionName"] == "Owner" })
}

// refreshToken is the refresh token the CLI saved.
func refreshToken(t *testing.T, h *harness) string {
	t.Helper()
	creds, err := (&client.Store{Dir: h.dir}).LoadCredentials()
	if err != nil || creds.RefreshToken == "" {
		t.Fatalf("no refresh token saved: %v", err)
	}
	return creds.RefreshToken
}
