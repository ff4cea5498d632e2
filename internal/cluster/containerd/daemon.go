package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drydock-dev/drydock/internal/atomicfile"
)

// startTimeout bounds how long Start waits for containerd's socket.
const startTimeout = 30 * time.Second

// Daemon is a running containerd, a child of this process.
type Daemon struct {
	layout  layout
	version string
	ctr     string
	cmd     *exec.Cmd
	log     *slog.Logger
	logFrom int64 // containerd.log's size before this daemon started

	done     chan struct{}
	importMu sync.Mutex // serializes ImportCanipullImage
	mu       sync.Mutex
	stopping bool
	err      error
}

// Start writes config.toml and the CNI conflist, starts `containerd
// --config <Dir>/config.toml` as a child process that dies with this one,
// waits until its socket answers and imports the pause image unless
// containerd has it already. Containers a previous containerd for the same
// directory left running are adopted by the new one.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Daemon, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if err := Requirements(); err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	containerdBin, _ := lookPath("containerd")
	ctrBin, _ := lookPath("ctr")
	l := layout{cfg.Dir}
	log = log.With("dir", cfg.Dir)

	if err := os.MkdirAll(cfg.Dir, 0o711); err != nil {
		return nil, err
	}
	// A containerd for this directory that outlived its parent would own
	// the socket; stop it (but not its containers' shims).
	stopDaemons(cfg.Dir, 10*time.Second)

	if err := writeFiles(cfg); err != nil {
		return nil, err
	}
	if sd := l.socketDir(); sd != "" {
		if err := os.MkdirAll(sd, 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.Remove(l.socket()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	logf, err := os.OpenFile(l.logFile(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	logFrom, _ := logf.Seek(0, io.SeekEnd)

	cmd := exec.Command(containerdBin, "--config", l.config())
	cmd.Dir = cfg.Dir
	cmd.Env = childEnv(l.caBundle())
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := startChild(cmd); err != nil {
		return nil, fmt.Errorf("containerd: starting %s: %w", containerdBin, err)
	}
	d := &Daemon{
		layout:  l,
		version: daemonVersion(ctx, containerdBin),
		ctr:     ctrBin,
		cmd:     cmd,
		log:     log,
		logFrom: logFrom,
		done:    make(chan struct{}),
	}
	go d.wait()
	if err := atomicfile.Write(l.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		d.kill()
		return nil, err
	}
	log.Info("containerd started", "pid", cmd.Process.Pid, "socket", l.socket())

	if err := d.waitReady(ctx); err != nil {
		d.kill()
		return nil, err
	}
	if err := d.ensurePauseImage(ctx); err != nil {
		d.kill()
		return nil, err
	}
	return d, nil
}

// writeFiles writes containerd's config, the CNI conflist and the CA bundle.
func writeFiles(cfg Config) error {
	l := layout{cfg.Dir}
	ca, err := caBundle(cfg.CAFile)
	if err != nil {
		return err
	}
	list, err := conflist(cfg)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{l.config(), configTOML(cfg, cniPluginDir("bridge"))},
		{l.conflist(), list},
		{l.caBundle(), ca},
	} {
		if err := atomicfile.Write(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	return nil
}

// gcPercent is containerd's GOGC (it is a Go program) unless the
// environment sets one: a node's containerd keeps a few MiB live and
// allocates little between pulls, so it collects garbage at 1.3× its live
// heap rather than at Go's default 2×.
const gcPercent = "30"

// childEnv is containerd's environment: this process's, with the sbin
// directories on PATH (containerd runs runc and iptables by name),
// SSL_CERT_FILE naming the bundle of CAs it trusts and GOGC gcPercent
// unless set.
func childEnv(caBundle string) []string {
	var env []string
	path := ""
	gogc := false
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH":
			path = v
		case "SSL_CERT_FILE", "SSL_CERT_DIR":
		case "GOGC":
			gogc = true
			env = append(env, kv)
		default:
			env = append(env, kv)
		}
	}
	if !gogc {
		env = append(env, "GOGC="+gcPercent)
	}
	dirs := filepath.SplitList(path)
	for _, dir := range sbinDirs {
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return append(env, "PATH="+strings.Join(dirs, string(filepath.ListSeparator)), "SSL_CERT_FILE="+caBundle)
}

// wait reaps containerd and records why it exited.
func (d *Daemon) wait() {
	err := d.cmd.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stopping {
		if err == nil {
			err = errors.New("exit status 0")
		}
		d.err = fmt.Errorf("containerd exited unexpectedly: %v%s", err, d.logTail())
		d.log.Error("containerd exited", "err", d.err)
	}
	// Remove the pid file unless a newer daemon wrote its own.
	if data, _ := os.ReadFile(d.layout.pidFile()); strings.TrimSpace(string(data)) == strconv.Itoa(d.cmd.Process.Pid) {
		os.Remove(d.layout.pidFile())
	}
	close(d.done)
}

// waitReady polls containerd's socket until it accepts a connection.
func (d *Daemon) waitReady(ctx context.Context) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("unix", d.Socket(), time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-tick.C:
		case <-d.done:
			return d.Err()
		case <-deadline.C:
			return fmt.Errorf("containerd did not answer on %s within %s%s", d.Socket(), startTimeout, d.logTail())
		case <-ctx.Done():
			return fmt.Errorf("containerd: waiting for %s: %w%s", d.Socket(), ctx.Err(), d.logTail())
		}
	}
}

// ensurePauseImage imports the pause image unless containerd lists it.
func (d *Daemon) ensurePauseImage(ctx context.Context) error {
	out, err := d.runCtr(ctx, nil, "images", "ls", "-q")
	if err != nil {
		return err
	}
	if slices.Contains(strings.Fields(string(out)), PauseImageRef) {
		return nil
	}
	archive, err := PauseImageArchive()
	if err != nil {
		return err
	}
	path := d.layout.path("pause-image.tar")
	if err := os.WriteFile(path, archive, 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	if _, err := d.runCtr(ctx, nil, "images", "import", "--all-platforms", path); err != nil {
		return err
	}
	d.log.Info("imported the pause image", "image", PauseImageRef)
	return nil
}

// runCtr runs ctr against this daemon in the CRI's namespace, with stdin
// as its standard input (nil: none).
func (d *Daemon) runCtr(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	args = append([]string{"--address", d.Socket(), "--namespace", "k8s.io"}, args...)
	cmd := exec.CommandContext(ctx, d.ctr, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ctr %s: %v: %s", strings.Join(args[4:], " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// logTail returns the end of what this daemon wrote to containerd.log,
// formatted to follow an error message.
func (d *Daemon) logTail() string {
	const maxBytes, maxLines = 4096, 20
	f, err := os.Open(d.layout.logFile())
	if err != nil {
		return ""
	}
	defer f.Close()
	from := d.logFrom
	if fi, err := f.Stat(); err == nil && fi.Size()-from > maxBytes {
		from = fi.Size() - maxBytes
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(f, maxBytes))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if from > d.logFrom && len(lines) > 1 {
		lines = lines[1:] // the first line is cut
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	if len(lines) == 0 || lines[0] == "" {
		return "; " + d.layout.logFile() + " is empty"
	}
	return "; " + d.layout.logFile() + " ends with:\n" + strings.Join(lines, "\n")
}

// Endpoint is the address gRPC clients (the kubelet) dial.
func (d *Daemon) Endpoint() string { return "unix://" + d.Socket() }

// Socket is the path of containerd's socket.
func (d *Daemon) Socket() string { return d.layout.socket() }

// Version is the runtime version a node reports, e.g. "containerd://1.6.20".
func (d *Daemon) Version() string { return d.version }

// Done is closed when the containerd process exits.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Err is why containerd exited: nil while it runs and after Stop, an error
// with the end of containerd.log when it exited by itself.
func (d *Daemon) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Stop sends containerd SIGTERM and, if it has not exited within timeout,
// SIGKILL. Containers keep running, their shims waiting for the next
// containerd, as when a kubelet host restarts containerd.
func (d *Daemon) Stop(timeout time.Duration) error {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	select {
	case <-d.done:
		return nil
	default:
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("containerd: stopping: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-d.done:
		d.log.Info("containerd stopped")
		return nil
	case <-t.C:
	}
	d.log.Warn("containerd did not stop; killing it", "timeout", timeout)
	d.kill()
	return nil
}

// kill ends containerd with SIGKILL and waits for it to be reaped.
func (d *Daemon) kill() {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	if err := d.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.log.Error("killing containerd", "err", err)
	}
	<-d.done
}

// daemonVersion asks the containerd executable for its version.
func daemonVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "--version").Output()
	return parseVersion(string(out))
}

// parseVersion turns `containerd --version` output ("containerd
// github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3") into
// "containerd://1.6.20": the third field, without a distribution's suffix
// after '~'.
func parseVersion(out string) string {
	f := strings.Fields(out)
	if len(f) < 3 || f[0] != "containerd" {
		return "containerd://unknown"
	}
	v, _, _ := strings.Cut(f[2], "~")
	if v == "" {
		return "containerd://unknown"
	}
	return "containerd://" + v
}
