package cli

import (
	"bufio"
	"context"
	"fmt"
	"golang.org/x/term"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/cli/output"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/pki"
)

// app is the state one command line runs with: its streams, the global
// arguments, and the API client built on first use.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	started        time.Time

	// Global arguments.
	output         string
	query          string
	subscription   string
	onlyShowErrors bool
	debug          bool
	verbose        bool

	format output.Format

	// retryDelay is the pause between retries of eventually consistent
	// operations (tests set it to zero).
	retryDelay time.Duration

	store   *client.Store
	profile *client.Profile
	api     *client.Client
}

// defaultRetryDelay is the pause between retries of eventually consistent
// operations.
var defaultRetryDelay = 2 * time.Second

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, started: time.Now(), format: output.JSON, retryDelay: defaultRetryDelay}
}

// loadStore opens the configuration directory and reads the profile.
func (a *app) loadStore() (*client.Store, *client.Profile, error) {
	if a.store == nil {
		s, err := client.DefaultStore()
		if err != nil {
			return nil, nil, err
		}
		p, err := s.LoadProfile()
		if err != nil {
			return nil, nil, err
		}
		a.store, a.profile = s, p
	}
	return a.store, a.profile, nil
}

// serverConfig picks the endpoint and CA file: explicit values first, then
// the environment, then the profile; the CA file finally falls back to that of
// a server running with the default data directory.
func serverConfig(endpoint, caFile string, p *client.Profile) (string, string) {
	if endpoint == "" {
		endpoint = os.Getenv(client.EnvEndpoint)
	}
	if endpoint == "" && p != nil {
		endpoint = p.Endpoint
	}
	if caFile == "" {
		caFile = os.Getenv(client.EnvCAFile)
	}
	if caFile == "" && p != nil {
		caFile = p.CAFile
	}
	if caFile == "" {
		// A server started on this machine with default settings.
		local := filepath.Join(config.DefaultDataDir(), "pki", pki.CACertFile)
		if _, err := os.Stat(local); err == nil {
			caFile = local
		}
	}
	return endpoint, caFile
}

// newClient builds an unauthenticated client.
func (a *app) newClient(endpoint, caFile string) (*client.Client, error) {
	cfg := client.Config{Endpoint: endpoint, CAFile: caFile}
	if a.debug {
		cfg.Debug = a.stderr
	}
	return client.New(cfg)
}

// client returns the API client of the logged-in account.
func (a *app) client() (*client.Client, error) {
	if a.api != nil {
		return a.api, nil
	}
	store, prof, err := a.loadStore()
	if err != nil {
		return nil, err
	}
	creds, err := store.LoadCredentials()
	if err != nil {
		return nil, err
	}
	if creds == nil {
		return nil, client.ErrNotLoggedIn
	}
	c, err := a.newClient(serverConfig("", "", prof))
	if err != nil {
		return nil, err
	}
	c.SetCredentials(creds)
	c.OnCredentialsChange = store.SaveCredentials
	a.api = c
	return c, nil
}

// sub returns the subscription the command runs against (--subscription or
// the default).
func (a *app) sub() (client.Subscription, error) {
	_, prof, err := a.loadStore()
	if err != nil {
		return client.Subscription{}, err
	}
	if len(prof.Subscriptions) == 0 && a.subscription == "" {
		if creds, _ := a.store.LoadCredentials(); creds == nil {
			return client.Subscription{}, client.ErrNotLoggedIn
		}
	}
	return prof.Resolve(a.subscription)
}

// clientAndSub is the usual start of a command that calls ARM.
func (a *app) clientAndSub() (*client.Client, client.Subscription, error) {
	c, err := a.client()
	if err != nil {
		return nil, client.Subscription{}, err
	}
	s, err := a.sub()
	if err != nil {
		return nil, client.Subscription{}, err
	}
	return c, s, nil
}

// print renders a command's result. tableQuery, when not empty, is the
// JMESPath expression az's table transformer amounts to; it is used for
// -o table when the user gave no --query.
func (a *app) print(v any, tableQuery string) error {
	doc, err := toGeneric(v)
	if err != nil {
		return err
	}
	addResourceGroups(doc)
	q := a.query
	if q == "" && a.format == output.Table {
		q = tableQuery
	}
	return output.Render(a.stdout, doc, a.format, q)
}

// warn prints an az-style warning unless --only-show-errors.
func (a *app) warn(format string, args ...any) {
	if a.onlyShowErrors {
		return
	}
	fmt.Fprintf(a.stderr, "WARNING: "+format+"\n", args...)
}

// confirm asks a yes/no question on the terminal unless yes is set.
func (a *app) confirm(question string, yes bool) (bool, error) {
	if yes {
		return true, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || f == nil {
		return false, fmt.Errorf("Unable to prompt for confirmation as no tty available. Use --yes.")
	}
	if !term.IsTerminal(int(f.Fd())) {
		return false, fmt.Errorf("Unable to prompt for confirmation as no tty available. Use --yes.")
	}
	fmt.Fprintf(a.stderr, "%s (y/n): ", question)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// sleep pauses between retries, returning early when ctx ends.
func (a *app) sleep(ctx context.Context) error { return client.SleepContext(ctx, a.retryDelay) }
