// Package replica lets several drydock servers share one PostgreSQL
// database (and one blob store) as replicas of one set behind a load
// balancer. It owns what makes them one drydock rather than several:
//
//   - the set's identity (ShareIdentity): token signing keys, the secrets
//     key and the CA are kept in the database, sealed with the configured
//     secret key, so that any replica verifies any replica's tokens and
//     clients trust one CA;
//   - coherence (Watch): every replica reloads its caches (role
//     assignments, the directory, registry lookups) when the database
//     announces a change of their tables, and resynchronizes periodically in case an
//     announcement was lost;
//   - leases (Lease.Run): a periodic job runs on one replica of the set at
//     a time, the one holding its lease in the database;
//   - liveness (Heartbeat, Alive): each replica records a heartbeat, so
//     that the others tell an operation a live replica runs from one its
//     dead replica left.
//
// A single server (the embedded default) uses none of it, except leases,
// which it always gets.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/store"
)

// IdentityFiles are the files of a data dir that make up a set's identity,
// relative to the data dir: what every replica must have the same of.
var IdentityFiles = []string{
	"keys/signing.key",
	"keys/registry-signing.key",
	"keys/secrets.key",
	"pki/ca.key",
	"pki/ca.crt",
}

// ShareIdentity makes the identity files of dataDir those of the set, in
// one write transaction (so replicas starting together take turns):
// every file the database holds is written to the data dir (replacing a
// replica's own); then create runs (it creates, as a single server does,
// the files still missing, and loads nothing); then every file the
// database lacks is sealed into it. So the first replica's identity (or
// an existing data dir's, whose tokens stay valid) becomes the set's, and
// the others adopt it. box seals with the configured secret key; a value
// that does not open with it is an error naming the setting.
func ShareIdentity(ctx context.Context, st *store.Store, box *secretbox.Box, dataDir string, create func() error) error {
	return st.Update(ctx, func(tx *store.Tx) error {
		for _, name := range IdentityFiles {
			sealed, err := tx.SharedSecret(name)
			if errdefs.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			content, err := box.Open(sealed, "replica/"+name)
			if err != nil {
				return fmt.Errorf("the replica set's %s is in the database but does not open with secretKey: every replica needs the same secretKey (%w)", name, err)
			}
			path := filepath.Join(dataDir, filepath.FromSlash(name))
			if old, err := os.ReadFile(path); err == nil && string(old) == content {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			mode := os.FileMode(0o600)
			if filepath.Ext(name) == ".crt" {
				mode = 0o644 // a certificate is public
			}
			if err := atomicfile.Write(path, []byte(content), mode); err != nil {
				return err
			}
		}
		if err := create(); err != nil {
			return err
		}
		for _, name := range IdentityFiles {
			if _, err := tx.SharedSecret(name); err == nil || !errdefs.IsNotFound(err) {
				if err != nil {
					return err
				}
				continue
			}
			content, err := os.ReadFile(filepath.Join(dataDir, filepath.FromSlash(name)))
			if err != nil {
				return fmt.Errorf("the replica set's identity: %w", err)
			}
			if err := tx.AddSharedSecret(name, box.Seal(string(content), "replica/"+name)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Lease is a periodic job's lease: Run calls the job on the replica that
// holds it, renewing it meanwhile.
type Lease struct {
	St     *store.Store
	Name   string // the job's name, e.g. "registry-gc"
	Holder string // this replica's ID
	// TTL is how long a lease lasts without renewal (a dead holder's
	// job resumes elsewhere after it); it is renewed every TTL/3.
	TTL time.Duration
	Log *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (l *Lease) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Acquire takes or renews the lease and reports whether this replica
// holds it.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	var ok bool
	err := l.St.Update(ctx, func(tx *store.Tx) (err error) {
		ok, err = tx.AcquireLease(l.Name, l.Holder, l.now(), l.TTL)
		return err
	})
	return ok, err
}

// Wait takes the lease, trying every poll until it is free, or fails
// when ctx ends.
func (l *Lease) Wait(ctx context.Context, poll time.Duration) error {
	for {
		ok, err := l.Acquire(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Release gives the lease up (at shutdown), so another replica need not
// wait for it to expire.
func (l *Lease) Release(ctx context.Context) error {
	return l.St.Update(ctx, func(tx *store.Tx) error { return tx.ReleaseLease(l.Name, l.Holder) })
}

// Run calls job every period while this replica holds the lease, until
// ctx ends; it tries for the lease every TTL/3 and renews it as long as it
// holds it. The lease is held (renewed) while job runs, so a job longer
// than TTL is not run twice; a replica that dies holding it frees it after
// TTL. The first call is one period after the lease is first held.
func (l *Lease) Run(ctx context.Context, period time.Duration, job func(context.Context)) {
	tick := time.NewTicker(l.TTL / 3)
	defer tick.Stop()
	var next time.Time
	held := false
	for {
		ok, err := l.Acquire(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			l.Log.Warn("renewing a lease", "lease", l.Name, "err", err)
		case ok && !held:
			l.Log.Info("holding a lease", "lease", l.Name)
			next = l.now().Add(period)
		case !ok && held:
			l.Log.Info("lost a lease", "lease", l.Name)
		}
		held = ok && err == nil
		if held && !l.now().Before(next) {
			l.runHeld(ctx, job)
			next = l.now().Add(period)
		}
		select {
		case <-ctx.Done():
			if held {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				l.Release(rctx)
				cancel()
			}
			return
		case <-tick.C:
		}
	}
}

// runHeld runs job while renewing the lease in the background.
func (l *Lease) runHeld(ctx context.Context, job func(context.Context)) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(jctx, l.TTL/3, func() {
			if ok, err := l.Acquire(jctx); err == nil && !ok {
				l.Log.Warn("lost a lease while its job ran; stopping the job", "lease", l.Name)
				cancel()
			}
		})
	}()
	job(jctx)
	cancel()
	<-done
}

// Heartbeat records every interval that replica id, serving at address,
// is alive, until ctx ends.
func Heartbeat(ctx context.Context, st *store.Store, id, address string, interval time.Duration, log *slog.Logger) {
	beat := func() {
		if err := st.Update(ctx, func(tx *store.Tx) error { return tx.Heartbeat(id, address, time.Now()) }); err != nil && ctx.Err() == nil {
			log.Warn("replica heartbeat", "err", err)
		}
	}
	beat()
	Every(ctx, interval, beat)
}

// Every calls f every interval until ctx ends (the first call one interval
// from now).
func Every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// Alive reports whether replica id reported alive within maxAge. An
// unreadable database counts as alive: an operation is not declared
// interrupted for want of an answer.
func Alive(ctx context.Context, st *store.Store, id string, maxAge time.Duration) bool {
	at, err := store.Read(ctx, st, func(tx *store.Tx) (time.Time, error) { return tx.ReplicaHeartbeat(id) })
	if errdefs.IsNotFound(err) {
		return false
	}
	return err != nil || time.Since(at) < maxAge
}

// Watch keeps caches coherent across the set: it calls reload(table) for
// each change the database announces of a watched table (table "" after a
// (re)connection: reload everything), and reload("") every resync as a
// backstop, until ctx ends. Reloads run one at a time, and announcements
// that arrive meanwhile are merged into one reload per table.
func Watch(ctx context.Context, st *store.Store, resync time.Duration, reload func(ctx context.Context, table string) error, log *slog.Logger) {
	pending := make(chan string, 64)
	st.OnListenError(func(err error) { log.Warn("change notifications: reconnecting", "err", err) })
	go func() {
		err := st.ListenChanges(ctx, func(table string) {
			select {
			case pending <- table:
			default: // full: a resync covers it
				select {
				case pending <- "":
				default:
				}
			}
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("change notifications stopped", "err", err)
		}
	}()
	t := time.NewTicker(resync)
	defer t.Stop()
	for {
		todo := map[string]bool{}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			todo[""] = true
		case table := <-pending:
			todo[table] = true
		}
	drain:
		for {
			select {
			case table := <-pending:
				todo[table] = true
			default:
				break drain
			}
		}
		if todo[""] {
			todo = map[string]bool{"": true}
		}
		for table := range todo {
			if err := reload(ctx, table); err != nil && ctx.Err() == nil {
				log.Warn("reloading caches after a change", "table", table, "err", err)
			}
		}
	}
}
