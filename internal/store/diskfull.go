package store

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drydock-dev/drydock/internal/errdefs"
)

// DiskFull reports whether err says the disk (or the quota) holding the data
// directory or the metadata is full: ENOSPC or EDQUOT from a file write,
// SQLite's SQLITE_FULL ("database or disk is full") from a transaction, or
// PostgreSQL's disk_full (SQLSTATE 53100).
func DiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53100"
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
	where := "the disk holding drydock's data directory"
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		where = "the disk of the PostgreSQL server holding drydock's metadata"
	}
	return errdefs.Wrap(err, errdefs.ErrStorageFull, "", fmt.Sprintf(
		"The request could not be completed because %s is full (%v). Free some space on it and try again.", where, err))
}
