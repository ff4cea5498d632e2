//go:build linux && (amd64 || arm64)

package filesystem

import (
	"os"
	"syscall"
)

const syncFileRangeWrite = 0x2 // SYNC_FILE_RANGE_WRITE

// startWriteback asks the kernel to start writing [off, off+n) of f to disk
// without waiting for it (sync_file_range(2) with SYNC_FILE_RANGE_WRITE), so
// that the fsync at Commit finds little left to do. It is only a hint:
// errors are ignored, and durability still comes from fsync.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
	})
}
