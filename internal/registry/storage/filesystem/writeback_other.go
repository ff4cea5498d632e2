//go:build !(linux && (amd64 || arm64))

package filesystem

import "os"

// startWriteback is a no-op where sync_file_range(2) is not wired up.
func startWriteback(f *os.File, off, n int64) {}
