package directory

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A Graph write that finds the disk full answers 507 saying so, not 500.
func TestGraphErrDiskFull(t *testing.T) {
	w := httptest.NewRecorder()
	graphErr(w, fmt.Errorf("commit: %w", &os.PathError{Op: "write", Path: "drydock.db-wal", Err: syscall.ENOSPC}))
	if w.Code != http.StatusInsufficientStorage || !strings.Contains(w.Body.String(), `"code":"InsufficientStorage"`) ||
		!strings.Contains(w.Body.String(), "disk holding drydock's data directory is full") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
