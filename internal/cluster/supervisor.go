package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/cpconfig"
)

// nodeStartError is a node agent that did not register its node.
type nodeStartError struct{ err error }

func (e *nodeStartError) Error() string { return e.err.Error() }
func (e *nodeStartError) Unwrap() error { return e.err }

// Supervisor runs each running cluster as child processes of this binary:
// its control plane (`drydock cluster-controlplane`) and one node agent per
// node (`drydock cluster-node`). It restarts them if they crash and stops
// them on request, so a stopped cluster holds no memory.
type Supervisor struct {
	exe string
	log *slog.Logger

	mu     sync.Mutex
	procs  map[string]*child // by cluster key, and nodeKey for node agents
	halted map[string]bool   // clusters stopped since their last Start
}

// child is one supervised process.
type child struct {
	what    string   // for messages: "control plane", "node agent"
	args    []string // after the executable
	logPath string
	prepare func() error // before each start
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	cmd     *exec.Cmd
	lastErr error
}

// NewSupervisor runs children with the given executable.
func NewSupervisor(exe string, log *slog.Logger) *Supervisor {
	return &Supervisor{exe: exe, log: log, procs: map[string]*child{}, halted: map[string]bool{}}
}

// nodeKey is the key of a node agent: "#" appears in no resource ID.
func nodeKey(key, node string) string { return key + nodeSep + node }

const nodeSep = "#node:"

// Start launches the control plane for key (if not already running), waits
// until its API server is ready, then starts the node agents of nodes and
// waits until each registered its Node.
func (s *Supervisor) Start(ctx context.Context, key string, cfg cpconfig.Config, nodes []agentconfig.Node) error {
	s.mu.Lock()
	delete(s.halted, key)
	s.mu.Unlock()
	c := s.spawn(key, &child{
		what:    "control plane",
		args:    []string{"cluster-controlplane", "--config", cpconfig.Path(cfg.DataDir)},
		logPath: filepath.Join(cfg.DataDir, "controlplane.out"),
		prepare: func() error {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return err
			}
			return atomicfile.Write(cpconfig.Path(cfg.DataDir), cfg.Encode(), 0o600)
		},
	})
	if err := s.waitControlPlane(ctx, c, cfg); err != nil {
		return err
	}
	return s.SetNodes(ctx, key, nodes)
}

// spawn registers and starts c under key, unless key already runs. It
// returns nil when key belongs to a cluster stopped meanwhile.
func (s *Supervisor) spawn(key string, c *child) *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	if running, ok := s.procs[key]; ok {
		return running
	}
	if cluster, _, _ := strings.Cut(key, nodeSep); s.halted[cluster] {
		return nil
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	s.procs[key] = c
	go s.keep(runCtx, key, c)
	return c
}

// SetNodes makes key's node agents exactly nodes: it starts the missing
// ones (waiting until they are ready) and removes the others, with their
// pods.
func (s *Supervisor) SetNodes(ctx context.Context, key string, nodes []agentconfig.Node) error {
	want := map[string]bool{}
	var started []*child
	var dirs []string
	for _, n := range nodes {
		want[nodeKey(key, n.Name)] = true
		n := n
		cfgPath := agentconfig.Path(n.Dir)
		c := s.spawn(nodeKey(key, n.Name), &child{
			what:    "node agent " + n.Name,
			args:    []string{"cluster-node", "--config", cfgPath},
			logPath: filepath.Join(n.Dir, "agent.log"),
			prepare: func() error {
				if err := os.MkdirAll(n.Dir, 0o700); err != nil {
					return err
				}
				os.Remove(filepath.Join(n.Dir, agentconfig.ReadyFile))
				b, _ := json.MarshalIndent(n, "", "  ")
				return atomicfile.Write(cfgPath, b, 0o600)
			},
		})
		if c == nil {
			return fmt.Errorf("the cluster was stopped while its nodes started")
		}
		started = append(started, c)
		dirs = append(dirs, n.Dir)
	}
	s.mu.Lock()
	var remove []string
	for k := range s.procs {
		if strings.HasPrefix(k, key+nodeSep) && !want[k] {
			remove = append(remove, k)
		}
	}
	s.mu.Unlock()
	for _, k := range remove {
		s.removeNode(k)
	}
	for i, c := range started {
		if err := s.waitFile(ctx, c, filepath.Join(dirs[i], agentconfig.ReadyFile)); err != nil {
			return &nodeStartError{err}
		}
	}
	return nil
}

// removeNode stops a node agent and tears its node down: pods, runtime,
// network, Node object.
func (s *Supervisor) removeNode(k string) {
	s.mu.Lock()
	c, ok := s.procs[k]
	delete(s.procs, k)
	s.mu.Unlock()
	if !ok {
		return
	}
	c.cancel()
	<-c.done
	s.Teardown(c.args[len(c.args)-1])
}

// Teardown runs `drydock cluster-node --teardown` for the node whose
// configuration file is cfgPath, and waits for it.
func (s *Supervisor) Teardown(cfgPath string) {
	if _, err := os.Stat(cfgPath); err != nil {
		return
	}
	cmd := exec.Command(s.exe, "cluster-node", "--teardown", "--config", cfgPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.log.Warn("tearing a node down", "config", cfgPath, "err", err, "output", strings.TrimSpace(string(out)))
	}
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
		s.log.Warn(c.what+" exited; restarting", "key", key, "err", err, "after", backoff)
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
	if err := c.prepare(); err != nil {
		return err
	}
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.exe, c.args...)
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
		return fmt.Errorf("%s exited: %v (see %s)", c.what, err, logf.Name())
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

// failure is why a child is not up, for messages.
func (c *child) failure(last error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastErr != nil {
		return c.lastErr
	}
	return last
}

// waitControlPlane polls the API server's /readyz with the cluster CA.
func (s *Supervisor) waitControlPlane(ctx context.Context, c *child, cfg cpconfig.Config) error {
	base := "https://" + cfg.APIServerAddress + ":" + strconv.Itoa(cfg.APIServerPort)
	return s.poll(ctx, c, 3*time.Minute, func() error {
		pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "pki", "ca.crt"))
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := hc.Get(base + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		// Ready for workloads: the controller-manager runs its controllers
		// (its service-account controller made the default service
		// account, without which pods are refused).
		cert, err := tls.LoadX509KeyPair(filepath.Join(cfg.DataDir, "pki", "masterclient.crt"), filepath.Join(cfg.DataDir, "pki", "masterclient.key"))
		if err != nil {
			return err
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}
		resp, err = hc.Get(base + "/api/v1/namespaces/default/serviceaccounts/default")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the default service account: %s", resp.Status)
		}
		return nil
	}, fmt.Sprintf("the control plane of %s did not become ready", cfg.Name))
}

// waitFile waits until a node agent wrote its ready file.
func (s *Supervisor) waitFile(ctx context.Context, c *child, path string) error {
	return s.poll(ctx, c, 3*time.Minute, func() error {
		_, err := os.Stat(path)
		return err
	}, c.what+" did not register its node")
}

// poll runs check until it succeeds, c stops, ctx ends or the deadline
// passes.
func (s *Supervisor) poll(ctx context.Context, c *child, limit time.Duration, check func() error, what string) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		select {
		case <-c.done:
			return fmt.Errorf("%s: it was stopped", what)
		default:
		}
		last = check()
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %v", what, c.failure(last))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops key's node agents and then its control plane, and waits for
// them to exit. The nodes' containers keep running (as when a kubelet
// restarts); the next Start adopts them, and Teardown removes them.
func (s *Supervisor) Stop(key string) {
	s.mu.Lock()
	s.halted[key] = true
	s.mu.Unlock()
	s.stopEach(func(k string) bool { return strings.HasPrefix(k, key+nodeSep) }, s.stopKey)
	s.stopKey(key)
}

// stopEach runs stop, concurrently, on each supervised key that match
// selects (chosen under the lock), and waits for them all.
func (s *Supervisor) stopEach(match func(key string) bool, stop func(key string)) {
	s.mu.Lock()
	var keys []string
	for k := range s.procs {
		if match(k) {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() { defer wg.Done(); stop(k) }()
	}
	wg.Wait()
}

func (s *Supervisor) stopKey(key string) {
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

// StopAll stops every cluster's processes, leaving containers running
// (server shutdown).
func (s *Supervisor) StopAll() {
	s.stopEach(func(k string) bool { return !strings.Contains(k, nodeSep) }, s.Stop)
}
