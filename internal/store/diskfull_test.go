package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// A transaction that cannot grow the database fails with SQLITE_FULL, which
// DiskFull recognizes (as it does ENOSPC from a file write); the failed
// transaction, of kind errdefs.ErrStorageFull, leaves nothing behind and
// the store keeps working.
func TestDiskFull(t *testing.T) {
	if DiskFull(nil) || DiskFull(errors.New("database is locked")) || DiskFull(errdefs.ErrAlreadyExists) {
		t.Fatal("DiskFull of an unrelated error")
	}
	if !DiskFull(fmt.Errorf("upload: %w", &os.PathError{Op: "write", Path: "data", Err: syscall.ENOSPC})) {
		t.Fatal("DiskFull(ENOSPC) = false")
	}

	s, err := Open(filepath.Join(t.TempDir(), "drydock.db"), Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// One connection, so that the page limit set on it holds for the writes.
	s.db.SetMaxOpenConns(1)
	var pages int
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count=%d", pages+2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetMeta("small", "kept") }); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	err = s.Update(ctx, func(tx *Tx) error { return tx.SetMeta("big", big) })
	if err == nil || !DiskFull(err) {
		t.Fatalf("a write beyond the database's limit: %v, want SQLITE_FULL", err)
	}
	if !errors.Is(err, errdefs.ErrStorageFull) || !strings.Contains(err.Error(), "disk holding drydock's data directory is full") {
		t.Fatalf("Update's error %q is not of kind ErrStorageFull saying why", err)
	}
	if err := s.View(ctx, func(tx *Tx) error {
		if v, _ := tx.Meta("big"); v != "" {
			return fmt.Errorf("the failed write left %d bytes", len(v))
		}
		if v, err := tx.Meta("small"); v != "kept" {
			return fmt.Errorf("earlier data: %q, %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
