package store

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// DiskFull reports whether err says the disk (or the quota) holding the data
// directory is full: ENOSPC or EDQUOT from a file write, or SQLite's
// SQLITE_FULL ("database or disk is full") from a transaction.
func DiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL
}

// StorageFull returns err as an error of kind errdefs.ErrStorageFull when
// DiskFull(err), with a message that says what happened and what to do, and
// err itself otherwise. Nothing was saved then; the edges answer with an
// "insufficient storage" error rather than an internal one, so the user
// knows to free space and retry. Update and View return their errors
// through it; the registry's blob writes classify theirs with it.
func StorageFull(err error) error {
	if !DiskFull(err) || errors.Is(err, errdefs.ErrStorageFull) {
		return err
	}
	return errdefs.Wrap(err, errdefs.ErrStorageFull, "", fmt.Sprintf(
		"The request could not be completed because the disk holding drydock's data directory is full (%v). Free some space on it and try again.", err))
}
