package containerd

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr makes containerd die with this process (Pdeathsig) and keeps
// it out of the terminal's process group, so that ^C reaches drydock, which
// stops containerd in order.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}

// The kernel sends Pdeathsig when the thread that forked the child exits,
// not the process, and Go ends threads whose goroutine exits while locked
// to them. So children are started from one goroutine locked to its thread
// for good.
var (
	spawnOnce sync.Once
	spawns    = make(chan spawn)
)

type spawn struct {
	cmd  *exec.Cmd
	done chan error
}

// startChild starts cmd from a thread that lives as long as this process.
func startChild(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // and never unlock: the thread must not exit
			for s := range spawns {
				s.done <- s.cmd.Start()
			}
		}()
	})
	s := spawn{cmd, make(chan error, 1)}
	spawns <- s
	return <-s.done
}

func unmount(path string) error {
	return syscall.Unmount(path, syscall.MNT_DETACH)
}
