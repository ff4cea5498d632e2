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
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
)

// The development account every Azurite accepts (published in Azurite's
// documentation; not a secret).
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// EnvURL, when set in a test process, names a running Azurite's account
// URL to use instead of starting one (crash tests hand it to their child).
const EnvURL = "DRYDOCK_AZURITE_URL"

// Server is a running azurite-blob.
type Server struct {
	// AccountURL is the blob endpoint of devstoreaccount1, e.g.
	// http://127.0.0.1:41234/devstoreaccount1.
	AccountURL string
}

var listening = regexp.MustCompile(`successfully listens on (http://\S+)`)

// ErrNotInstalled is returned by Run when azurite-blob is not on PATH.
var ErrNotInstalled = errors.New("azurite-blob not found: install Azurite (npm install -g azurite) to test the Azure Blob storage driver")

// Run starts azurite-blob, keeping what it needs in dir, and returns it
// with the function that stops it. With EnvURL set it starts nothing.
func Run(dir string) (*Server, func(), error) {
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{AccountURL: u}, func() {}, nil
	}
	bin, err := exec.LookPath("azurite-blob")
	if err != nil {
		return nil, nil, ErrNotInstalled
	}
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", "0",
		"--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose", "--location", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting azurite-blob: %w", err)
	}
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}
	// Read its output until it says where it listens (or exits).
	var seen strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		seen.WriteString(line + "\n")
		if m := listening.FindStringSubmatch(line); m != nil {
			go io.Copy(io.Discard, out)
			return &Server{AccountURL: m[1] + "/" + Account}, stop, nil
		}
	}
	stop()
	return nil, nil, fmt.Errorf("azurite-blob exited before listening:\n%s", seen.String())
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
func NewContainerName() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("t%s", hex.EncodeToString(b[:]))
}
