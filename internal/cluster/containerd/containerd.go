// Package containerd owns one node's container runtime: the containerd
// daemon drydock starts for a node (its config, root, state and socket all
// live under the node's directory), the node's CNI network (a Linux bridge
// with host-local addresses from the node's pod subnet), and the locally
// built pod sandbox ("pause") image, so that no download is needed to start
// a pod.
package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// PauseImageRef is the name containerd knows the sandbox image by.
const PauseImageRef = "drydock.local/pause:3.10"

// CNIBinDirs are the directories searched, in order, for CNI plugins.
var CNIBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// cniPlugins are the CNI plugins a node's network uses: the conflist's
// bridge and portmap, bridge's host-local IPAM, and the loopback plugin the
// CRI runs in every pod.
var cniPlugins = []string{"bridge", "host-local", "loopback", "portmap"}

// executables are the programs a node's runtime runs.
var executables = []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc"}

// sbinDirs are searched after $PATH: root's tools often live in an sbin
// directory that a user's PATH lacks.
var sbinDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

const installHint = "install them with `apt-get install -y containerd runc containernetworking-plugins`"

// Requirements reports what this machine lacks to run containers: not
// Linux, not root, or missing executables (containerd, its runc shim, ctr,
// runc, and the CNI plugins in any of CNIBinDirs). It returns nil when
// everything is there; otherwise one line naming what is missing and the fix.
func Requirements() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("running containers needs Linux, this is %s: run drydock's nodes on a Linux machine", runtime.GOOS)
	}
	var problems []string
	if uid := os.Geteuid(); uid != 0 {
		problems = append(problems, fmt.Sprintf("running containers needs root (uid is %d): run drydock as root, e.g. with sudo", uid))
	}
	var missing []string
	for _, name := range executables {
		if _, err := lookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	var cni []string
	for _, name := range cniPlugins {
		if cniPluginDir(name) == "" {
			cni = append(cni, name)
		}
	}
	if len(cni) > 0 {
		missing = append(missing, fmt.Sprintf("CNI plugins %s (looked in %s)", strings.Join(cni, ", "), strings.Join(CNIBinDirs, ", ")))
	}
	if len(missing) > 0 {
		problems = append(problems, strings.Join(missing, ", ")+" not found: "+installHint)
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// Config describes one node's runtime.
type Config struct {
	// Dir is the node's runtime directory; everything goes under it:
	// config.toml, root/, state/, containerd.sock, cni/ (the network's
	// conflist), cni-state/ (IP allocations), containerd.log.
	Dir string
	// SandboxImage is the image the CRI runs as each pod's sandbox;
	// drydock uses PauseImageRef.
	SandboxImage string
	// PodSubnet is the CIDR this node's pods get addresses from, e.g. "10.244.3.0/24".
	PodSubnet string
	// Bridge is the Linux bridge the node's pods attach to (at most 15
	// characters), e.g. "dd0a1b2c3d4e".
	Bridge string
	// CAFile is an extra PEM CA bundle containerd must trust for
	// registries (drydock's CA); "" for none.
	CAFile string
}

// lookPath finds an executable in $PATH or, failing that, in sbinDirs.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: %s", name, installHint)
}

// cniPluginDir returns the first of CNIBinDirs holding the plugin, or "".
func cniPluginDir(name string) string {
	for _, dir := range CNIBinDirs {
		if isExecutable(filepath.Join(dir, name)) {
			return dir
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
