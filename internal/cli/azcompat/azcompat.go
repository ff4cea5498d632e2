// Package azcompat carries the Python shim that Debian's azure-cli 2.45
// needs to run `az role` and `az aks ... --attach-acr` at all (see
// sitecustomize.py's header). `drydock up` writes it into the data
// directory and prints the PYTHONPATH that loads it; the end-to-end tests
// load it from this directory.
package azcompat

import (
	_ "embed"
	"os"
	"path/filepath"
)

//go:embed sitecustomize.py
var siteCustomize []byte

// Install writes the shim as dir/sitecustomize.py (0644) and returns dir,
// the directory to put first on PYTHONPATH.
func Install(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "sitecustomize.py"), siteCustomize, 0o644)
}
