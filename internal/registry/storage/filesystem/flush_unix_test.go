//go:build unix

package filesystem_test

import "syscall"

// settle flushes the whole system's dirty data and pending discards between
// benchmark iterations, so that one iteration's deletes do not slow down the
// next one's writes.
func settle() { syscall.Sync() }
