//go:build !linux

package containerd

import (
	"errors"
	"os/exec"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func startChild(cmd *exec.Cmd) error { return cmd.Start() }

func unmount(path string) error { return errors.New("unmounting needs Linux") }
