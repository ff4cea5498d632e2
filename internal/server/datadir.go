package server

import (
	"fmt"
	"log/slog"
	"os"
)

// dataDirMode is the data dir's mode: it holds keys, the CA, passwords
// and the metadata database.
const dataDirMode = 0o700

// secureDataDir creates the data dir with dataDirMode, or, when it exists
// and other users may enter or list it, tightens it to dataDirMode and
// warns.
func secureDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, dataDirMode); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if was := st.Mode().Perm(); was&0o077 != 0 {
		if err := os.Chmod(dir, dataDirMode); err != nil {
			return fmt.Errorf("the data dir %s is accessible to other users (mode %04o) and could not be tightened: %w", dir, was, err)
		}
		log.Warn("the data dir was accessible to other users; it is now the owner's only", "dir", dir, "was", fmt.Sprintf("%04o", was), "now", fmt.Sprintf("%04o", dataDirMode))
	}
	return nil
}
