package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/replica"
	"github.com/drydock-dev/drydock/internal/resources"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/store"
)

// tenantID returns the tenant of this data dir, creating it on first start.
func (s *Server) tenantID(ctx context.Context) (string, error) {
	var id string
	err := s.st.Update(ctx, func(tx *store.Tx) (err error) {
		if id, err = tx.Meta("tenantId"); err != nil || id != "" {
			return err
		}
		id = uuid.NewString()
		return tx.SetMeta("tenantId", id)
	})
	return id, err
}

// bootstrap creates, on first start, the default subscription and the
// admin user (Global Administrator, Owner of the subscription), writing the
// admin's password to <data dir>/admin-password (mode 0600). It returns the
// admin's user name.
//
// In a replica set the password is also kept in the database, sealed with
// secretKey (shared_secrets), and every replica writes its own
// admin-password from it at start (see shareAdminPassword).
func (s *Server) bootstrap(ctx context.Context, rp *resources.Provider) (string, error) {
	admin := "admin@" + s.dir.Domain()
	var box *secretbox.Box
	if s.cfg.Replicated() {
		var err error
		if box, err = s.replicaBox(); err != nil {
			return "", err
		}
		// Replicas starting together bootstrap once: one at a time, each
		// after checking whether another did.
		lease := &replica.Lease{St: s.st, Name: "bootstrap", Holder: s.replicaID, TTL: time.Minute, Log: s.log}
		if err := lease.Wait(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
		defer lease.Release(context.WithoutCancel(ctx))
	}
	done, err := store.Read(ctx, s.st, func(tx *store.Tx) (string, error) { return tx.Meta("bootstrapped") })
	if err != nil {
		return "", err
	}
	if done != "" {
		return admin, s.shareAdminPassword(ctx, box)
	}
	password := directory.NewSecret(24)
	var user directory.Principal
	err = s.st.Update(ctx, func(tx *store.Tx) (err error) {
		user, err = s.dir.CreateUser(ctx, tx, admin, "drydock admin", password, []string{directory.GlobalAdministrator})
		if err != nil || box == nil {
			return err
		}
		return tx.AddSharedSecret(AdminPasswordFile, box.Seal(password, adminPasswordContext))
	})
	if err != nil {
		return "", err
	}
	sub, err := rp.CreateSubscription(ctx, uuid.NewString(), "drydock", user.ObjectID)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(s.cfg.DataDir, AdminPasswordFile), []byte(password+"\n"), 0o600); err != nil {
		return "", err
	}
	err = s.st.Update(ctx, func(tx *store.Tx) error {
		if err := tx.SetMeta("defaultSubscription", sub.ID); err != nil {
			return err
		}
		return tx.SetMeta("bootstrapped", fmt.Sprint(true))
	})
	s.log.Info("bootstrapped tenant", "tenant", s.dir.TenantID(), "subscription", sub.ID, "admin", admin,
		"passwordFile", filepath.Join(s.cfg.DataDir, AdminPasswordFile))
	return admin, err
}

// adminPasswordContext binds the sealed admin password to its purpose.
const adminPasswordContext = "replica/" + AdminPasswordFile

// shareAdminPassword, on a replica of an already bootstrapped set, writes
// the bootstrap admin's password that the database keeps to the data
// dir's admin-password (so that one signs in through any replica with the
// file of any). When the database lacks it (a single server's data dir
// made the first replica of a set), it seals this data dir's file into
// the database for the others. A single server (box nil) does nothing.
func (s *Server) shareAdminPassword(ctx context.Context, box *secretbox.Box) error {
	if box == nil {
		return nil
	}
	path := filepath.Join(s.cfg.DataDir, AdminPasswordFile)
	return s.st.Update(ctx, func(tx *store.Tx) error {
		sealed, err := tx.SharedSecret(AdminPasswordFile)
		if errdefs.IsNotFound(err) {
			local, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // bootstrapped before sets kept it: only its first replica has it
			}
			if err != nil {
				return err
			}
			return tx.AddSharedSecret(AdminPasswordFile, box.Seal(strings.TrimSpace(string(local)), adminPasswordContext))
		}
		if err != nil {
			return err
		}
		password, err := box.Open(sealed, adminPasswordContext)
		if err != nil {
			return fmt.Errorf("the replica set's admin password is in the database but does not open with secretKey: every replica needs the same secretKey (%w)", err)
		}
		if old, err := os.ReadFile(path); err == nil && string(old) == password+"\n" {
			return nil
		}
		return atomicfile.Write(path, []byte(password+"\n"), 0o600)
	})
}
