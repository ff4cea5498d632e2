package server

import (
	"context"
	"path/filepath"
	"time"

	"github.com/drydock-dev/drydock/internal/cluster"
	"github.com/drydock-dev/drydock/internal/pki"
	"github.com/drydock-dev/drydock/internal/replica"
	"github.com/drydock-dev/drydock/internal/secretbox"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// Replica timing: a replica reports alive every heartbeatInterval, and
// counts as dead (its operations interrupted) after replicaMaxAge without
// a report; caches are resynchronized every resyncInterval whatever the
// change notifications say.
const (
	heartbeatInterval = 2 * time.Second
	replicaMaxAge     = 10 * time.Second
	resyncInterval    = 30 * time.Second
	// clusterLeaseTTL is how long a replica holds a cluster without
	// renewing its lease: a dead replica's clusters restart elsewhere
	// after it (plus up to a third of it, the others' polling).
	clusterLeaseTTL = 15 * time.Second
)

// shareIdentity, for a replica of a set, makes the data dir's keys and CA
// the set's (see replica.ShareIdentity); a single server keeps its own.
func (s *Server) shareIdentity(ctx context.Context, keys string) error {
	if !s.cfg.Replicated() {
		return nil
	}
	box, err := s.replicaBox()
	if err != nil {
		return err
	}
	return replica.ShareIdentity(ctx, s.st, box, s.cfg.DataDir, func() error {
		if _, err := pki.LoadOrCreateCA(filepath.Join(s.cfg.DataDir, "pki"), "drydock CA"); err != nil {
			return err
		}
		if _, err := tokens.LoadOrCreate(keys); err != nil {
			return err
		}
		if _, err := tokens.LoadOrCreateEC(keys, "registry-signing.key"); err != nil {
			return err
		}
		_, err := secretbox.LoadOrCreate(keys)
		return err
	})
}

// replicaBox returns the box that seals what a replica set keeps in the
// database (shared_secrets), with the configured secretKey.
func (s *Server) replicaBox() (*secretbox.Box, error) {
	key, err := s.cfg.SecretKeyBytes()
	if err != nil {
		return nil, err
	}
	return secretbox.New(key)
}

// replicateOperations, for a replica of a set, lets it read the
// operations other replicas run as running while they are alive.
func (s *Server) replicateOperations() {
	if s.cfg.Replicated() {
		s.router.Ops.SetReplica(s.replicaID, func(ctx context.Context, id string) bool {
			return replica.Alive(ctx, s.st, id, replicaMaxAge)
		})
	}
}

// serveReplica, for a replica of a set, reports it alive and keeps its
// caches of role assignments, of the directory and of registry lookups
// coherent with the other replicas' changes, until ctx ends.
func (s *Server) serveReplica(ctx context.Context) {
	if !s.cfg.Replicated() {
		return
	}
	go replica.Heartbeat(ctx, s.st, s.replicaID, s.cfg.Listen, heartbeatInterval, s.log)
	go replica.Watch(ctx, s.st, resyncInterval, s.reloadCaches, s.log)
	s.log.Info("serving as a replica of a set", "replica", s.replicaID)
}

// reloadCaches rereads what changed in table ("" for everything).
func (s *Server) reloadCaches(ctx context.Context, table string) error {
	switch table {
	case "role_assignments":
		return s.access.Reload(ctx)
	case "principals", "group_members":
		return s.dir.Reload(ctx)
	case "resources":
		s.dataPlane.ForgetRegistries()
		return nil
	}
	s.dataPlane.ForgetRegistries()
	if err := s.dir.Reload(ctx); err != nil {
		return err
	}
	return s.access.Reload(ctx)
}

// clusterReplication is how a replica of a set runs clusters: each on the
// replica holding its lease, its control plane's files sealed with the
// set's secretKey; nil for a single server.
func (s *Server) clusterReplication() (*cluster.Replication, error) {
	if !s.cfg.Replicated() {
		return nil, nil
	}
	key, err := s.cfg.SecretKeyBytes()
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	return &cluster.Replication{ReplicaID: s.replicaID, Store: s.st, Box: box, LeaseTTL: clusterLeaseTTL}, nil
}
