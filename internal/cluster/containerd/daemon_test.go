package containerd_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/cluster/containerd"
)

// TestDaemon starts a real containerd, runs the pause image in it, and
// tears it all down. It needs root and containerd; set
// DRYDOCK_REQUIRE_RUNTIME=1 to fail rather than skip without them.
func TestDaemon(t *testing.T) {
	d, dir, bridge := startDaemon(t, 0)

	if want := "unix://" + filepath.Join(dir, "containerd.sock"); d.Endpoint() != want || d.Socket() != want[len("unix://"):] {
		t.Errorf("endpoint %s, socket %s, want %s", d.Endpoint(), d.Socket(), want)
	}
	if v := d.Version(); !strings.HasPrefix(v, "containerd://") || strings.Contains(v, "~") || v == "containerd://unknown" {
		t.Errorf("version %q", v)
	}
	ctr := ctrOf(t, d)
	if images := strings.Fields(ctr("images", "ls", "-q")); !slices.Contains(images, containerd.PauseImageRef) {
		t.Fatalf("images %v lack %s", images, containerd.PauseImageRef)
	}
	if plugins := ctr("plugins", "ls"); !hasLine(plugins, "io.containerd.grpc.v1", "cri", "ok") {
		t.Errorf("the CRI plugin did not load:\n%s", plugins)
	}

	ctr("run", "-d", containerd.PauseImageRef, "p1")
	if tasks := ctr("tasks", "ls"); !hasLine(tasks, "p1", "RUNNING") {
		t.Fatalf("p1 is not running:\n%s", tasks)
	}
	ctr("tasks", "kill", "-s", "SIGKILL", "p1")
	for !hasLine(ctr("tasks", "ls"), "p1", "STOPPED") {
		time.Sleep(50 * time.Millisecond)
	}
	ctr("tasks", "rm", "p1")
	ctr("containers", "rm", "p1")

	if err := d.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	<-d.Done()
	if err := d.Err(); err != nil {
		t.Errorf("Err after Stop: %v", err)
	}
	for range 2 { // idempotent
		if err := containerd.Teardown(dir, bridge); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s remains: %v", dir, err)
	}
	if _, err := os.Stat("/sys/class/net/" + bridge); !os.IsNotExist(err) {
		t.Errorf("bridge %s remains: %v", bridge, err)
	}
	if pids := mentioning(dir); len(pids) > 0 {
		t.Errorf("processes %v mention %s", pids, dir)
	}
}

// TestDaemonExits checks that Start reports a containerd that cannot start,
// with its log.
func TestDaemonExits(t *testing.T) {
	needRuntime(t)
	dir := shortTempDir(t)
	// A file where containerd wants its root directory makes it fail.
	if err := os.WriteFile(filepath.Join(dir, "root"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { containerd.Teardown(dir, "") })
	_, err := containerd.Start(context.Background(), containerd.Config{
		Dir: dir, SandboxImage: containerd.PauseImageRef, PodSubnet: "10.251.255.0/24", Bridge: "ddtestx",
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "containerd.log") {
		t.Fatalf("Start succeeded or lacks the log: %v", err)
	}
	t.Log(err)
}

// needRuntime skips t when this machine cannot run containers, unless
// DRYDOCK_REQUIRE_RUNTIME=1 (set by scripts/test.sh), which makes it fail.
func needRuntime(t *testing.T) {
	t.Helper()
	if err := containerd.Requirements(); err != nil {
		if os.Getenv("DRYDOCK_REQUIRE_RUNTIME") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// startDaemon starts a containerd in a temporary directory (torn down at
// cleanup) with its own bridge and pod subnet; n tells apart the daemons
// of one test process. It skips the test when this machine cannot run
// containers, unless DRYDOCK_REQUIRE_RUNTIME=1.
func startDaemon(t *testing.T, n int) (d *containerd.Daemon, dir, bridge string) {
	needRuntime(t)
	dir = shortTempDir(t)
	bridge = fmt.Sprintf("ddtest%d", (os.Getpid()+n)%10000)
	t.Cleanup(func() {
		if err := containerd.Teardown(dir, bridge); err != nil {
			t.Error(err)
		}
	})
	cfg := containerd.Config{
		Dir:          dir,
		SandboxImage: containerd.PauseImageRef,
		PodSubnet:    fmt.Sprintf("10.251.%d.0/24", (os.Getpid()+n)%256),
		Bridge:       bridge,
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	d, err := containerd.Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(time.Second) })
	return d, dir, bridge
}

// ctrOf returns a function that runs ctr against d in the CRI's
// namespace and returns its output, failing the test if ctr fails.
func ctrOf(t *testing.T, d *containerd.Daemon) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ctr", append([]string{"-a", d.Socket(), "-n", "k8s.io"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

// shortTempDir returns a temporary directory short enough for a unix socket.
func shortTempDir(t *testing.T) string {
	dir := t.TempDir()
	if len(dir) > 60 {
		var err error
		if dir, err = os.MkdirTemp("", "ddctd"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	return dir
}

// hasLine reports whether a line of out has all the fields.
func hasLine(out string, fields ...string) bool {
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if !slices.ContainsFunc(fields, func(s string) bool { return !slices.Contains(f, s) }) {
			return true
		}
	}
	return false
}

// mentioning lists the processes whose command line mentions dir.
func mentioning(dir string) []string {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, c := range cmdlines {
		data, _ := os.ReadFile(c)
		if strings.Contains(string(data), dir) {
			pids = append(pids, filepath.Base(filepath.Dir(c)))
		}
	}
	return pids
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func TestRequirementsNamesMissingCNIPlugins(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("Requirements reports the platform or user first")
	}
	saved := containerd.CNIBinDirs
	t.Cleanup(func() { containerd.CNIBinDirs = saved })
	containerd.CNIBinDirs = []string{t.TempDir()}
	err := containerd.Requirements()
	if err == nil {
		t.Fatal("Requirements found CNI plugins in an empty directory")
	}
	msg := err.Error()
	for _, want := range []string{"bridge", "host-local", "loopback", "not found", "apt-get install"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%q is more than one line", msg)
	}
}
