package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Teardown removes everything a node's runtime left behind, normally after
// its pods were removed: it kills the containerd, containerd-shim and
// container processes that belong to dir, releases the host ports pods
// still held, unmounts everything under dir, deletes the node's bridge and
// removes dir. It is idempotent.
func Teardown(dir, bridge string) error {
	if dir == "" {
		return errors.New("containerd: teardown: no runtime directory")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if dir == "/" {
		return errors.New("containerd: teardown: refusing to remove /")
	}
	l := layout{dir}
	var errs []error
	if err := killDirProcesses(dir, 10*time.Second); err != nil {
		errs = append(errs, err)
	}
	removeShimSockets(l)
	releasePortMappings(l)
	if err := unmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	if bridge != "" {
		if err := deleteLink(bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if sd := l.socketDir(); sd != "" {
		os.RemoveAll(sd)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("containerd: teardown %s: %w", dir, err)
	}
	return nil
}

// proc is a process found in /proc.
type proc struct {
	pid, ppid int
	args      []string
}

// mentions reports whether one of p's arguments is one of dirs or a path
// under it (containerd's --config, a shim's -address).
func (p proc) mentions(dirs []string) bool {
	return slices.ContainsFunc(p.args, func(a string) bool {
		return slices.ContainsFunc(dirs, func(dir string) bool {
			return a == dir || strings.Contains(a, dir+"/")
		})
	})
}

// sameDirs returns dir and, if it differs, dir with symbolic links resolved.
func sameDirs(dir string) []string {
	if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
		return []string{dir, real}
	}
	return []string{dir}
}

// processes lists the live processes other than this one.
func processes() []proc {
	entries, _ := os.ReadDir("/proc")
	var ps []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		ppid, ok := procStat(pid)
		if !ok {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		ps = append(ps, proc{pid: pid, ppid: ppid, args: strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")})
	}
	return ps
}

// procStat returns pid's parent, and false when pid is gone or a zombie.
func procStat(pid int) (ppid int, alive bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, true
}

// dirProcesses returns the processes that belong to a node's runtime in
// dir: the owners, which are containerd (named by its pid file or its
// --config), the shims started with its socket as -address and anything
// else mentioning dir; and the owners' descendants, which include the
// containers.
func dirProcesses(dir string) (owners, descendants []int) {
	ps := processes()
	// Never this process's ancestors, whose command line might mention dir.
	ancestors := map[int]bool{}
	parent := map[int]int{}
	for _, p := range ps {
		parent[p.pid] = p.ppid
	}
	for pid := os.Getppid(); pid > 1 && !ancestors[pid]; pid = parent[pid] {
		ancestors[pid] = true
	}
	found := map[int]bool{}
	pidFile := 0
	if data, err := os.ReadFile(layout{dir}.pidFile()); err == nil {
		pidFile, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	dirs := sameDirs(dir)
	if sd := (layout{dir}).socketDir(); sd != "" {
		dirs = append(dirs, sd)
	}
	for _, p := range ps {
		if p.pid == pidFile && len(p.args) > 0 && filepath.Base(p.args[0]) == "containerd" || p.mentions(dirs) {
			found[p.pid] = true
		}
	}
	for pid := range ancestors {
		delete(found, pid)
	}
	for pid := range found {
		owners = append(owners, pid)
	}
	for grew := true; grew; {
		grew = false
		for _, p := range ps {
			if found[p.ppid] && !found[p.pid] {
				found[p.pid] = true
				descendants = append(descendants, p.pid)
				grew = true
			}
		}
	}
	slices.Sort(owners)
	return owners, descendants
}

// killDirProcesses kills dir's processes: the containers first, so that
// their shims reap them, then the shims and containerd.
func killDirProcesses(dir string, timeout time.Duration) error {
	owners, descendants := dirProcesses(dir)
	if len(descendants) > 0 {
		for _, pid := range descendants {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		waitReaped(descendants, timeout)
	}
	return killAll(owners, timeout)
}

// waitReaped waits, at most timeout, for the processes to be gone
// including their zombies.
func waitReaped(pids []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !slices.ContainsFunc(pids, func(pid int) bool {
			_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
			return err == nil
		}) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopDaemons stops containerd processes configured with dir's config,
// leaving their shims and containers be: SIGTERM, then SIGKILL after timeout.
func stopDaemons(dir string, timeout time.Duration) {
	config := layout{dir}.config()
	var pids []int
	for _, p := range processes() {
		if len(p.args) > 0 && filepath.Base(p.args[0]) == "containerd" && slices.Contains(p.args, config) {
			pids = append(pids, p.pid)
		}
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	if waitGone(pids, timeout) != nil {
		killAll(pids, timeout)
	}
}

// killAll sends the processes SIGKILL and waits for them to be gone.
func killAll(pids []int, timeout time.Duration) error {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return waitGone(pids, timeout)
}

// waitGone waits for the processes to exit, or to be zombies.
func waitGone(pids []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for _, pid := range pids {
			if _, alive := procStat(pid); alive {
				left = append(left, strconv.Itoa(pid))
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %s still running %s after SIGKILL", strings.Join(left, ", "), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeShimSockets removes the sockets of killed shims, which containerd
// keeps outside the node's directory.
func removeShimSockets(l layout) {
	addrs, _ := filepath.Glob(l.path("state", "io.containerd.runtime.v2.task", "*", "*", "address"))
	for _, a := range addrs {
		data, err := os.ReadFile(a)
		if err != nil {
			continue
		}
		sock := strings.TrimPrefix(strings.TrimSpace(string(data)), "unix://")
		if strings.HasPrefix(sock, "/run/containerd/s/") {
			os.Remove(sock)
		}
	}
}

// releasePortMappings removes the iptables rules the portmap plugin added
// for pods whose network was never torn down, found by their sandbox
// directories. It is best effort: without iptables there are no rules.
func releasePortMappings(l layout) {
	bin := cniPluginDir("portmap")
	if bin == "" {
		return
	}
	var ids []string
	for _, parent := range []string{"root", "state"} {
		entries, _ := os.ReadDir(l.path(parent, "io.containerd.grpc.v1.cri", "sandboxes"))
		for _, e := range entries {
			if e.IsDir() && !slices.Contains(ids, e.Name()) {
				ids = append(ids, e.Name())
			}
		}
	}
	// DEL only removes rules when given some mapping; it removes them all.
	const conf = `{"cniVersion":"0.4.0","name":"drydock","type":"portmap","capabilities":{"portMappings":true},` +
		`"runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1,"protocol":"tcp"}]}}`
	for _, id := range ids {
		cmd := exec.Command(filepath.Join(bin, "portmap"))
		cmd.Stdin = strings.NewReader(conf)
		cmd.Env = append(os.Environ(), "CNI_COMMAND=DEL", "CNI_CONTAINERID="+id, "CNI_NETNS=", "CNI_IFNAME=eth0", "CNI_PATH="+bin)
		cmd.Run()
	}
}

// unmountUnder detaches every mount at or under dir, deepest first.
func unmountUnder(dir string) error {
	roots := sameDirs(dir)
	var last error
	for range 10 {
		mounts, err := mountsUnder(roots)
		if err != nil || len(mounts) == 0 {
			return err
		}
		for _, m := range mounts {
			if err := unmount(m); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				last = fmt.Errorf("unmounting %s: %w", m, err)
			}
		}
	}
	if last == nil {
		last = errors.New("mounts remain after repeated unmounting")
	}
	return last
}

// mountsUnder lists the mount points at or under any of roots, deepest
// first, from /proc/self/mountinfo.
func mountsUnder(roots []string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var mounts []string
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		m := unescapeMountinfo(f[4])
		for _, r := range roots {
			if m == r || strings.HasPrefix(m, r+"/") {
				mounts = append(mounts, m)
				break
			}
		}
	}
	slices.SortStableFunc(mounts, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	return mounts, nil
}

// unescapeMountinfo decodes the octal escapes (\040 for a space) of a
// mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// deleteLink deletes the network link name if it exists.
func deleteLink(name string) error {
	if err := validBridge(name); err != nil {
		return err
	}
	if _, err := os.Lstat("/sys/class/net/" + name); err != nil {
		return nil
	}
	ip, err := lookPath("ip")
	if err != nil {
		return fmt.Errorf("deleting bridge %s: %w", name, err)
	}
	if out, err := exec.Command(ip, "link", "del", name).CombinedOutput(); err != nil {
		if _, serr := os.Lstat("/sys/class/net/" + name); serr != nil {
			return nil // someone else deleted it meanwhile
		}
		return fmt.Errorf("ip link del %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
