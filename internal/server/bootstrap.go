package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/replica"
	"github.com/drydock-dev/drydock/internal/resources"
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
func (s *Server) bootstrap(ctx context.Context, rp *resources.Provider) (string, error) {
	admin := "admin@" + s.dir.Domain()
	if s.cfg.Replicated() {
		// Replicas starting together bootstrap once: one at a time, each
		// after checking whether another did.
		lease := &replica.Lease{St: s.st, Name: "bootstrap", Holder: s.replicaID, TTL: time.Minute, Log: s.log}
		if err := lease.Wait(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
		defer lease.Release(context.WithoutCancel(ctx))
	}
	done, err := store.Read(ctx, s.st, func(tx *store.Tx) (string, error) { return tx.Meta("bootstrapped") })
	if err != nil || done != "" {
		return admin, err
	}
	password := directory.NewSecret(24)
	var user directory.Principal
	err = s.st.Update(ctx, func(tx *store.Tx) (err error) {
		user, err = s.dir.CreateUser(ctx, tx, admin, "drydock admin", password, []string{directory.GlobalAdministrator})
		return err
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
