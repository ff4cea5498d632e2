package localengine

import (
	"bufio"
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
)

// The development account every Azurite accepts (published in Azurite's
// documentation; not a secret).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// EnvAzuriteURL, when set, names a running Azurite's account
// URL to use instead of starting one (crash tests hand it to their child).
const EnvAzuriteURL = "DRYDOCK_AZURITE_URL"

// Azurite is a running azurite-blob.
type Azurite struct {
	// AccountURL is the blob endpoint of devstoreaccount1, e.g.
	// http://127.0.0.1:41234/devstoreaccount1.
	AccountURL string
}

var listening = regexp.MustCompile(`successfully listens on (http://\S+)`)

// ErrNoAzurite is returned by RunAzurite when azurite-blob is not on PATH.
var ErrNoAzurite = errors.New("azurite-blob not found: install Azurite (npm install -g azurite) to test the Azure Blob storage driver")

// RunAzurite starts azurite-blob, keeping what it needs in dir, and returns it
// with the function that stops it. With EnvAzuriteURL set it starts nothing.
func RunAzurite(dir string) (*Azurite, func(), error) {
	if u := os.Getenv(EnvAzuriteURL); u != "" {
		return &Azurite{AccountURL: u}, func() {}, nil
	}
	bin, err := exec.LookPath("azurite-blob")
	if err != nil {
		return nil, nil, ErrNoAzurite
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
			return &Azurite{AccountURL: m[1] + "/" + AzuriteAccount}, stop, nil
		}
	}
	stop()
	return nil, nil, fmt.Errorf("azurite-blob exited before listening:\n%s", seen.String())
}

// NewContainerName returns a random valid Blob Storage container name.
func NewContainerName() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("t%s", hex.EncodeToString(b[:]))
}
