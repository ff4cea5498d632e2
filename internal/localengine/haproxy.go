package localengine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ErrNoHAProxy is returned by HAProxyPath when haproxy is not installed.
var ErrNoHAProxy = errors.New("haproxy not found: install it with 'apt-get install haproxy'")

// HAProxyPath finds haproxy: Debian installs it in /usr/sbin, outside an
// unprivileged user's PATH.
func HAProxyPath() (string, error) {
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", nil
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	return "", ErrNoHAProxy
}

// Frontend is one TCP frontend of haproxy (TLS passes through it),
// balancing connections round robin over its servers.
type Frontend struct {
	Name    string   // the frontend's and its backend's name
	Bind    string   // host:port it listens on
	Servers []string // host:port of each server
}

// HAProxy is how StartHAProxy runs haproxy.
type HAProxy struct {
	// Bin is haproxy's path (HAProxyPath).
	Bin string
	// Dir is a directory of the caller's where haproxy.cfg and haproxy.log
	// are written.
	Dir string
	// Check is the health check of every server, in haproxy's words after
	// "check" (e.g. "inter 200ms fall 1 rise 1"; empty: haproxy's defaults).
	Check string
	// MaxConn is haproxy's global connection limit (0: 2000).
	MaxConn int
	// Frontends are its listeners.
	Frontends []Frontend
}

// Start writes h's configuration and runs haproxy in the foreground until
// stop is called; it returns once every frontend accepts connections. A
// server that refuses a connection has it sent to another (redispatch),
// so a dead server costs clients no failed connection once its health
// check failed.
func (h HAProxy) Start(ctx context.Context) (stop func(), err error) {
	maxConn := h.MaxConn
	if maxConn == 0 {
		maxConn = 2000
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  maxconn %d\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10m\n  timeout server 10m\n  retries 3\n  option redispatch\n", maxConn)
	for _, fe := range h.Frontends {
		fmt.Fprintf(&b, "frontend %s\n  bind %s\n  default_backend %s\nbackend %s\n  balance roundrobin\n", fe.Name, fe.Bind, fe.Name, fe.Name)
		for i, s := range fe.Servers {
			fmt.Fprintf(&b, "  server s%d %s check %s\n", i, s, h.Check)
		}
	}
	cfg, logPath := h.Dir+"/haproxy.cfg", h.Dir+"/haproxy.log"
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(h.Bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting haproxy: %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	for _, fe := range h.Frontends {
		for {
			c, err := net.DialTimeout("tcp", fe.Bind, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if ctx.Err() != nil {
				stop()
				out, _ := os.ReadFile(logPath)
				return nil, fmt.Errorf("haproxy does not listen on %s: %w\n%s", fe.Bind, err, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return stop, nil
}
