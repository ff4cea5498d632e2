// Package azuritetest runs Azurite's blob service (the npm package azurite,
// its azurite-blob command) for tests and benchmarks of the azureblob
// driver: on a loopback port the kernel picks, keeping its data in a
// directory the caller gives (a temporary one),
// with the well-known development account devstoreaccount1.
//
// Start skips the test when azurite-blob is not installed, unless
// DRYDOCK_E2E_REQUIRE_REGISTRY=1 (scripts/test.sh sets it, and installs
// Azurite), where it fails instead.
package azuritetest

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/drydock-dev/drydock/internal/localengine"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
)

// The development account every Azurite accepts (localengine's).
const (
	Account = localengine.AzuriteAccount
	Key     = localengine.AzuriteKey
)

// EnvURL, when set in a test process, names a running Azurite's account
// URL to use instead of starting one (crash tests hand it to their child).
const EnvURL = localengine.EnvAzuriteURL

// ErrNotInstalled is returned by Run when azurite-blob is not on PATH.
var ErrNotInstalled = localengine.ErrNoAzurite

// Server is a running azurite-blob (localengine.Azurite), with the
// helpers tests use.
type Server struct{ *localengine.Azurite }

// Run starts azurite-blob, keeping what it needs in dir, and returns it
// with the function that stops it (localengine.RunAzurite).
func Run(dir string) (*Server, func(), error) {
	s, stop, err := localengine.RunAzurite(dir)
	if err != nil {
		return nil, nil, err
	}
	return &Server{s}, stop, nil
}

// Start runs azurite-blob until the test (or benchmark) ends. It skips the
// test if Azurite is not installed, or fails it under
// DRYDOCK_E2E_REQUIRE_REGISTRY=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, stop, err := Run(tb.TempDir())
	if err != nil {
		Unavailable(tb, err)
	}
	tb.Cleanup(stop)
	return s
}

// Unavailable ends tb for a Run error: a skip when Azurite is not
// installed (a failure under DRYDOCK_E2E_REQUIRE_REGISTRY=1), else a
// failure.
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("DRYDOCK_E2E_REQUIRE_REGISTRY") != "1" {
		tb.Skip(err)
	}
	tb.Fatal(err)
}

// NewDriver returns a driver over a fresh, uniquely named container.
func (s *Server) NewDriver(tb testing.TB, o azureblob.Options) *azureblob.Driver {
	tb.Helper()
	if o.Container == "" {
		o.Container = NewContainerName()
	}
	return s.Open(tb, o)
}

// Open returns a driver with s's account over the container named in o.
func (s *Server) Open(tb testing.TB, o azureblob.Options) *azureblob.Driver {
	tb.Helper()
	o.AccountURL, o.AccountName, o.AccountKey = s.AccountURL, Account, Key
	d, err := azureblob.New(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// NewContainerName returns a random valid container name.
func NewContainerName() string { return localengine.NewContainerName() }
