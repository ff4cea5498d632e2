package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// HostsFile keeps one drydock-managed block in a hosts file (normally
// /etc/hosts) that maps every registry's login server to the address the
// registry listener answers on, so standard clients resolve
// <name>.<suffix> with no manual step. Each server owns its own block,
// named after its data dir, and leaves other lines untouched.
type HostsFile struct {
	path  string
	owner string
	addr  string
	mu    sync.Mutex
}

// NewHostsFile manages the block of owner (a data dir) in path.
func NewHostsFile(path, owner, addr string) *HostsFile {
	sum := sha256.Sum256([]byte(owner))
	return &HostsFile{path: path, owner: hex.EncodeToString(sum[:6]), addr: addr}
}

func (h *HostsFile) markers() (string, string) {
	return "# BEGIN drydock " + h.owner + " (managed by drydock; do not edit)", "# END drydock " + h.owner
}

// Sync writes the block for hosts (replacing the previous one); an empty
// list removes the block.
func (h *HostsFile) Sync(hosts []string) error {
	return h.SyncFrom(func() ([]string, error) { return hosts, nil })
}

// SyncFrom writes the block for the hosts that list returns, calling list
// under the file's lock: syncs run one at a time and each reads the list
// after the one before it wrote, so the last write reflects the latest
// list.
func (h *HostsFile) SyncFrom(list func() ([]string, error)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	hosts, err := list()
	if err != nil {
		return err
	}
	old, err := os.ReadFile(h.path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	begin, end := h.markers()
	var out bytes.Buffer
	skipping := false
	for _, line := range strings.SplitAfter(string(old), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == begin:
			skipping = true
		case trimmed == end:
			skipping = false
		case !skipping && line != "":
			out.WriteString(line)
		}
	}
	if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	sorted := append([]string(nil), hosts...)
	sort.Strings(sorted)
	if len(sorted) > 0 {
		fmt.Fprintln(&out, begin)
		for _, host := range sorted {
			fmt.Fprintf(&out, "%s %s\n", h.addr, host)
		}
		fmt.Fprintln(&out, end)
	}
	if bytes.Equal(out.Bytes(), old) {
		return nil
	}
	return replaceFile(h.path, out.Bytes())
}

// replaceFile writes data over path, keeping its mode. It renames a temp
// file into place when it can and falls back to an in-place write for
// bind-mounted files (containers mount /etc/hosts).
func replaceFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".drydock-hosts-*")
	if err == nil {
		name := tmp.Name()
		_, werr := tmp.Write(data)
		if werr == nil {
			werr = tmp.Chmod(mode)
		}
		if werr == nil {
			werr = tmp.Sync()
		}
		tmp.Close()
		if werr == nil && os.Rename(name, path) == nil {
			return nil
		}
		os.Remove(name)
	}
	return os.WriteFile(path, data, mode)
}
