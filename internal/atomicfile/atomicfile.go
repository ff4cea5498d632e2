// Package atomicfile replaces files so that readers see the old content or
// the new, never a part: it writes a temporary file in the same directory,
// fsyncs it, renames (or links) it over the target and fsyncs the directory.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data (file mode perm), creating its directory
// with mode 0700 when missing.
func Write(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return publish(path, data, perm, func(tmp string) error { return os.Rename(tmp, path) })
}

// Create writes data (file mode perm) to path only if path does not exist
// yet: it links the synced temporary file in place and fails with an error
// wrapping fs.ErrExist when path already exists (falling back to a rename
// where hard links are not supported, after checking path is still
// absent). Unlike Write it does not create path's directory.
func Create(path string, data []byte, perm os.FileMode) error {
	return publish(path, data, perm, func(tmp string) error {
		err := os.Link(tmp, path)
		if err == nil || errors.Is(err, fs.ErrExist) {
			return err
		}
		if _, statErr := os.Lstat(path); statErr == nil {
			return fmt.Errorf("%s: %w", path, fs.ErrExist)
		}
		return os.Rename(tmp, path)
	})
}

// publish writes data to a synced temporary file next to path, lets put
// move or link it to path, removes what is left of the temporary file and
// fsyncs the directory (ignoring failures: not every platform supports it).
func publish(path string, data []byte, perm os.FileMode, put func(tmp string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed; drops the spare name once linked
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := put(tmp); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
