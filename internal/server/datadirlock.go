package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the file a server holds an exclusive lock on for as long as
// it uses its data directory.
const lockFile = "server.lock"

// lockDataDir takes the data directory for this process: an exclusive,
// non-blocking flock on <dir>/server.lock, released when the returned file
// is closed or the process ends (a kill -9 included, so a crash never
// leaves the directory locked). A second server started on the same
// directory would run its clusters' control planes and nodes against the
// first one's and write the same database: it refuses instead, naming the
// server that holds the directory.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking the data directory %s: %w", dir, err)
		}
		holder := "another drydock server"
		var st State
		if b, err := os.ReadFile(filepath.Join(dir, StateFile)); err == nil && json.Unmarshal(b, &st) == nil && st.PID > 0 {
			holder = fmt.Sprintf("another drydock server (pid %d, %s)", st.PID, st.Endpoint)
		}
		return nil, fmt.Errorf("the data directory %s is in use by %s: stop it (drydock down) or give this server another --data-dir", dir, holder)
	}
	return f, nil
}
