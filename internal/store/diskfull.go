package store

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DiskFull reports whether err says the disk (or the quota) holding the data
// directory is full: ENOSPC or EDQUOT from a file write, or SQLite's
// SQLITE_FULL ("database or disk is full") from a transaction. Nothing was
// saved then; the edges answer with an "insufficient storage" error rather
// than an internal one, so the user knows to free space and retry.
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

// DiskFullMessage is what a client is told when DiskFull(err): what
// happened and what to do.
func DiskFullMessage(err error) string {
	return fmt.Sprintf("The request could not be completed because the disk holding drydock's data directory is full (%v). Free some space on it and try again.", err)
}
