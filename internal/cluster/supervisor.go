package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ControlPlaneConfig is the configuration file of `drydock
// cluster-controlplane` (the child process that runs one cluster's upstream
// Kubernetes control plane). It is a wire format between processes, so the
// server does not link Kubernetes.
type ControlPlaneConfig struct {
	Name              string `json:"name"`
	DataDir           string `json:"dataDir"`
	APIServerAddress  string `json:"apiServerAddress"`
	APIServerPort     int    `json:"apiServerPort"`
	FQDN              string `json:"fqdn"`
	ServiceCIDR       string `json:"serviceCIDR"`
	PodCIDR           string `json:"podCIDR"`
	DNSServiceIP      string `json:"dnsServiceIP"`
	KubernetesVersion string `json:"kubernetesVersion"`
}

// Supervisor runs control planes as child processes of this binary, one per
// running cluster, restarting them if they crash, and stops them on request
// (so a stopped cluster holds no memory).
type Supervisor struct {
	exe string
	log *slog.Logger

	mu    sync.Mutex
	procs map[string]*child
}

type child struct {
	cfg     ControlPlaneConfig
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	cmd     *exec.Cmd
	lastErr error
}

// NewSupervisor runs control planes with the given executable.
func NewSupervisor(exe string, log *slog.Logger) *Supervisor {
	return &Supervisor{exe: exe, log: log, procs: map[string]*child{}}
}

// Start launches the control plane for key (if not already running) and
// waits until its API server is ready or ctx ends.
func (s *Supervisor) Start(ctx context.Context, key string, cfg ControlPlaneConfig) error {
	s.mu.Lock()
	c, running := s.procs[key]
	if !running {
		runCtx, cancel := context.WithCancel(context.Background())
		c = &child{cfg: cfg, cancel: cancel, done: make(chan struct{})}
		s.procs[key] = c
		go s.keep(runCtx, key, c)
	}
	s.mu.Unlock()
	return s.waitReady(ctx, c)
}

// keep runs the child and restarts it after a crash, with back-off.
func (s *Supervisor) keep(ctx context.Context, key string, c *child) {
	defer close(c.done)
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := s.run(ctx, c)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		s.log.Warn("control plane exited; restarting", "cluster", key, "err", err, "after", backoff)
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 30*time.Second {
			backoff *= 2
		}
	}
}

func (s *Supervisor) run(ctx context.Context, c *child) error {
	if err := os.MkdirAll(c.cfg.DataDir, 0o700); err != nil {
		return err
	}
	cfgPath := filepath.Join(c.cfg.DataDir, "controlplane.json")
	b, _ := json.MarshalIndent(c.cfg, "", "  ")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(c.cfg.DataDir, "controlplane.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.exe, "cluster-controlplane", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return fmt.Errorf("control plane exited: %v (see %s)", err, logf.Name())
	case <-ctx.Done():
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return nil
	}
}

// waitReady polls the API server's /readyz with the cluster CA.
func (s *Supervisor) waitReady(ctx context.Context, c *child) error {
	deadline := time.Now().Add(3 * time.Minute)
	url := "https://" + c.cfg.APIServerAddress + ":" + strconv.Itoa(c.cfg.APIServerPort) + "/readyz"
	var last error
	for {
		select {
		case <-c.done:
			return errors.New("the control plane was stopped")
		default:
		}
		if pem, err := os.ReadFile(filepath.Join(c.cfg.DataDir, "pki", "ca.crt")); err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			resp, err := hc.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
				err = fmt.Errorf("readyz: %s", resp.Status)
			}
			last = err
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			if c.lastErr != nil {
				last = c.lastErr
			}
			c.mu.Unlock()
			return fmt.Errorf("the control plane of %s did not become ready: %v", c.cfg.Name, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops the control plane of key and waits for it to exit.
func (s *Supervisor) Stop(key string) {
	s.mu.Lock()
	c, ok := s.procs[key]
	delete(s.procs, key)
	s.mu.Unlock()
	if ok {
		c.cancel()
		<-c.done
	}
}

// Running reports whether key's control plane is supervised.
func (s *Supervisor) Running(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.procs[key]
	return ok
}

// PID returns the process ID of key's control plane, or 0.
func (s *Supervisor) PID(key string) int {
	s.mu.Lock()
	c, ok := s.procs[key]
	s.mu.Unlock()
	if !ok {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// StopAll stops every control plane (server shutdown).
func (s *Supervisor) StopAll() {
	s.mu.Lock()
	keys := make([]string, 0, len(s.procs))
	for k := range s.procs {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() { defer wg.Done(); s.Stop(k) }()
	}
	wg.Wait()
}
