// Package e2e drives the real drydock binary end to end: TestMain builds
// ./cmd/drydock once, tests start servers as subprocesses (`drydock server`)
// and run CLI commands against them, each test user with its own
// DRYDOCK_CONFIG_DIR, the way a person or a CI script would.
//
// Tests that need no isolation share one server (sharedServer) and use names
// of their own; the others start their own (startServer). Every server is
// stopped with SIGTERM and must exit 0.
//
// Environment:
//
//	DRYDOCK_E2E_BIN=<path>     test this binary instead of building ./cmd/drydock
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the drydock binary TestMain builds.
var bin string

// readinessTimeout bounds how long a server may take to become ready; it is
// a safety net against hangs, not a performance assertion.
const readinessTimeout = 2 * time.Minute

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if prebuilt := os.Getenv("DRYDOCK_E2E_BIN"); prebuilt != "" {
		// A binary built elsewhere (e.g. by a release pipeline).
		abs, err := filepath.Abs(prebuilt)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		bin = abs
		return runTests(m)
	}
	dir, err := os.MkdirTemp("", "drydock-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "drydock")
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go tool not found:", err)
		return 1
	}
	// The flags of scripts/setup.sh's build, so the tests drive what it builds.
	build := exec.Command(gobin, "build", "-tags", "kustomize_disable_go_plugin_support", "-ldflags=-s -w", "-o", bin, "./cmd/drydock")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building drydock: %v\n%s", err, out)
		return 1
	}
	return runTests(m)
}

func runTests(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: shared server:", err)
			code = 1
		}
	}
	if shared.dir != "" {
		if code == 0 {
			os.RemoveAll(shared.dir)
		} else {
			fmt.Fprintln(os.Stderr, "e2e: the shared server's data and log are kept in", shared.dir)
		}
	}
	return code
}

// ---------------------------------------------------------------------------
// Servers

// serverState is <data-dir>/server.json.
type serverState struct {
	Endpoint string `json:"endpoint"`
	CAFile   string `json:"caFile"`
	TenantID string `json:"tenantId"`
	Admin    string `json:"adminUser"`
	PID      int    `json:"pid"`
}

// server is a `drydock server` subprocess.
type server struct {
	serverState
	dataDir       string
	home          string
	logFile       string
	adminPassword string
	http          *http.Client
	cmd           *exec.Cmd
	done          chan error

	stopOnce sync.Once
	stopErr  error
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// baseEnv is the test process's environment without anything that would
// make drydock look at the developer's own setup, with HOME set to home.
func baseEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DRYDOCK_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home)
	return append(env, extra...)
}

// isolationEnv keeps a server started under root to itself: the registries'
// listener on a port of its own (login servers then carry the port, e.g.
// myacr.azurecr.io:40123) and the machine's hosts file untouched.
func isolationEnv(root string) []string {
	return []string{
		"DRYDOCK_REGISTRY_LISTEN=127.0.0.1:0",
		"DRYDOCK_MANAGE_HOSTS_FILE=false",
		"DRYDOCK_HOSTS_FILE=" + filepath.Join(root, "hosts"),
	}
}

// launchServer starts `drydock server` in a fresh temporary directory and
// waits until it is ready. env adds variables (e.g.
// DRYDOCK_GROUP_PROPAGATION_DELAY=10m).
func launchServer(root string, env ...string) (*server, error) {
	var lastErr error
	// A port found free can be taken before the server binds it; try again
	// with another one then.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launchServerOnce(filepath.Join(root, fmt.Sprintf("server%d", attempt)), env)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func launchServerOnce(root string, env []string) (*server, error) {
	s := &server{dataDir: filepath.Join(root, "data"), home: filepath.Join(root, "home"), logFile: filepath.Join(root, "server.log")}
	for _, d := range []string{s.dataDir, s.home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if err := s.spawn(addr, append(isolationEnv(root), env...)); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(s.Endpoint, addr) {
		s.stop()
		return nil, fmt.Errorf("server.json endpoint %q does not match --listen %s", s.Endpoint, addr)
	}
	pw, err := os.ReadFile(filepath.Join(s.dataDir, "admin-password"))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.adminPassword = strings.TrimSpace(string(pw))
	return s, nil
}

// spawn runs `drydock server` on s's data dir, listening on addr, with
// env added to the environment and its output in s's log file, and waits
// until it is ready; if it does not get ready, it is killed and the error
// carries its log.
func (s *server) spawn(addr string, env []string) error {
	log, err := os.Create(s.logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	s.cmd = exec.Command(bin, "server", "--data-dir", s.dataDir, "--listen", addr)
	s.cmd.Env = baseEnv(s.home, env...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	if err := s.waitReady(); err != nil {
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("%w\nserver log:\n%s", err, s.log())
	}
	return nil
}

// waitReady waits for server.json and a 200 from /readyz.
func (s *server) waitReady() error {
	return s.waitReadyAt(func(st serverState) string { return st.Endpoint })
}

// waitReadyAt waits for server.json and a 200 from /readyz at the base
// URL at returns (given server.json), e.g. a replica's own listener.
func (s *server) waitReadyAt(at func(serverState) string) error {
	ctx, cancel := context.WithTimeout(context.Background(), readinessTimeout)
	defer cancel()
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("drydock server exited during start-up: %v", err)
		case <-ctx.Done():
			return errors.New("drydock server did not become ready")
		case <-time.After(50 * time.Millisecond):
		}
		st, err := readState(s.dataDir)
		if err != nil {
			continue
		}
		if s.http == nil {
			if s.http, err = httpClient(st.CAFile); err != nil {
				continue
			}
		}
		if status, _, err := s.get(ctx, at(st)+"/readyz", nil); err == nil && status == http.StatusOK {
			s.serverState = st
			return nil
		}
	}
}

func readState(dataDir string) (serverState, error) {
	var st serverState
	b, err := os.ReadFile(filepath.Join(dataDir, "server.json"))
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(b, &st)
	if err == nil && (st.Endpoint == "" || st.CAFile == "") {
		err = errors.New("server.json is incomplete")
	}
	return st, err
}

// httpClient trusts the drydock CA in caFile.
func httpClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

// get sends a GET with headers and returns the status and body.
func (s *server) get(ctx context.Context, url string, headers map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), err
}

func (s *server) log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// stop sends SIGTERM and checks that the server exits 0 (a graceful stop)
// and removes its server.json.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			s.stopErr = fmt.Errorf("SIGTERM: %w", err)
			return
		}
		if err := <-s.done; err != nil {
			s.stopErr = fmt.Errorf("drydock server did not exit cleanly after SIGTERM: %v\nserver log:\n%s", err, s.log())
			return
		}
		if _, err := os.Stat(filepath.Join(s.dataDir, "server.json")); !errors.Is(err, os.ErrNotExist) {
			s.stopErr = fmt.Errorf("server.json still present after a graceful stop (stat: %v)", err)
		}
	})
	return s.stopErr
}

// startServer starts a server of the test's own, stopped (and checked for a
// graceful exit) when the test ends.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	s, err := launchServer(t.TempDir(), env...)
	return stopAtEnd(t, s, err)
}

// stopAtEnd fails the test if a server could not be launched (err), and
// otherwise stops s, checking for a graceful exit, when the test ends.
func stopAtEnd(t *testing.T, s *server, err error) *server {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// shared is one server for the tests that do not need isolation; TestMain
// stops it.
var shared struct {
	once sync.Once
	srv  *server
	err  error
	dir  string
}

func sharedServer(t *testing.T) *server {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "drydock-e2e-shared-")
		if shared.err == nil {
			shared.srv, shared.err = launchServer(shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// sharedAdmin is how a test that needs no isolation begins: it marks the
// test parallel and returns the shared server and a CLI signed in as its
// admin.
func sharedAdmin(t *testing.T) (*server, *cli) {
	t.Helper()
	t.Parallel()
	s := sharedServer(t)
	return s, s.admin(t)
}

// ---------------------------------------------------------------------------
// The command line

// result is one CLI run.
type result struct {
	Prog           string // the command's name: drydock, or az
	Args           []string
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("%s %s\nexit code: %d\nstdout:\n%s\nstderr:\n%s", r.Prog, strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// cli runs drydock commands as one user: a configuration directory of its
// own, pointed at a server through DRYDOCK_ENDPOINT and DRYDOCK_CA_FILE.
type cli struct {
	t   *testing.T
	env []string
	// ConfigDir is the user's DRYDOCK_CONFIG_DIR.
	ConfigDir string
	// prog is the program run: the drydock binary unless set (the real az).
	prog string
}

// newCLI returns a user that has not logged in yet.
func (s *server) newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	cfg := filepath.Join(dir, "config")
	for _, d := range []string{home, cfg} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return &cli{t: t, ConfigDir: cfg, env: baseEnv(home,
		"DRYDOCK_CONFIG_DIR="+cfg,
		"DRYDOCK_ENDPOINT="+s.Endpoint,
		"DRYDOCK_CA_FILE="+s.CAFile,
	)}
}

// login returns a user logged in with a user name and password.
func (s *server) login(t *testing.T, user, password string) *cli {
	t.Helper()
	c := s.newCLI(t)
	c.ok("login", "-u", user, "-p", password, "-o", "none")
	return c
}

// admin returns a user logged in as the bootstrap admin.
func (s *server) admin(t *testing.T) *cli {
	t.Helper()
	return s.login(t, s.Admin, s.adminPassword)
}

// envCLI runs commands with exactly the given environment (for up/down).
func envCLI(t *testing.T, env []string) *cli { return &cli{t: t, env: env} }

// with returns the same user reporting to another test (a subtest).
func (c *cli) with(t *testing.T) *cli {
	d := *c
	d.t = t
	return &d
}

// program is the path of the program the user runs.
func (c *cli) program() string {
	if c.prog != "" {
		return c.prog
	}
	return bin
}

// run runs one command and never fails the test.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	cmd := exec.Command(c.program(), args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Prog: filepath.Base(c.program()), Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	default:
		c.t.Fatalf("running %s %s: %v", r.Prog, strings.Join(args, " "), err)
	}
	return r
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.Code != 0 {
		c.t.Fatalf("command failed:\n%s", r)
	}
	return r.Stdout
}

// tsv runs a command with -o tsv and returns its output without the final
// newline.
func (c *cli) tsv(args ...string) string {
	c.t.Helper()
	return strings.TrimSuffix(c.ok(append(args, "-o", "tsv")...), "\n")
}

// json runs a command that must succeed and decodes its JSON output.
func (c *cli) json(out any, args ...string) {
	c.t.Helper()
	stdout := c.ok(args...)
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		c.t.Fatalf("%s %s: output is not JSON: %v\n%s", filepath.Base(c.program()), strings.Join(args, " "), err, stdout)
	}
}

// obj runs a command whose output is a JSON object.
func (c *cli) obj(args ...string) map[string]any {
	c.t.Helper()
	var m map[string]any
	c.json(&m, args...)
	return m
}

// list runs a command whose output is a JSON array of objects.
func (c *cli) list(args ...string) []map[string]any {
	c.t.Helper()
	var l []map[string]any
	c.json(&l, args...)
	return l
}

// fails runs a command that must fail with exit code code, print nothing on
// stdout and exactly one "ERROR: " line on stderr matching the regular
// expression want. It returns the error line.
func (c *cli) fails(code int, want string, args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.Code != code {
		c.t.Fatalf("want exit code %d:\n%s", code, r)
	}
	if r.Stdout != "" {
		c.t.Errorf("want nothing on stdout:\n%s", r)
	}
	line, rest, _ := strings.Cut(r.Stderr, "\n")
	if !strings.HasPrefix(line, "ERROR: ") || rest != "" {
		c.t.Fatalf("want exactly one ERROR line on stderr:\n%s", r)
	}
	if !regexp.MustCompile(want).MatchString(line) {
		c.t.Errorf("error line does not match %q:\n%s", want, r)
	}
	return line
}

// ---------------------------------------------------------------------------
// JSON helpers

// get walks a decoded JSON document by object keys.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str is get for a string ("" when absent or not a string).
func str(v any, keys ...string) string {
	s, _ := get(v, keys...).(string)
	return s
}

// expectFields checks string fields of a JSON object.
func expectFields(t *testing.T, what string, m map[string]any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		got := get(m, strings.Split(path, ".")...)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: %s = %v, want %v", what, path, got, w)
		}
	}
}

// loginServerRE matches a registry's login server: <name>.azurecr.io, with
// the registry listener's port when it is not 443 (as on test servers).
func loginServerRE(name string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(name+".azurecr.io") + `(:\d+)?$`)
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }

// Azure's built-in role GUIDs.
const (
	acrPullGUID     = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	contributorGUID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	readerGUID      = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
