package cluster

import (
	"net/http"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

// clusterOf returns the managed cluster an agent-pool path belongs to.
func clusterOf(id resourceid.ID) resourceid.ID {
	c := id
	c.Types, c.Names = id.Types[:1], id.Names[:1]
	return c
}

type poolView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties Pool   `json:"properties"`
}

func poolOut(cluster resourceid.ID, pl Pool) poolView {
	id := resourceid.New(cluster.SubscriptionID, cluster.ResourceGroup, "Microsoft.ContainerService", "managedClusters", cluster.Name(), "agentPools", pl.Name)
	return poolView{ID: id.String(), Name: pl.Name, Type: poolType, Properties: pl}
}

func (p *Provider) listPools(r *arm.Request) (int, any, error) {
	cluster := clusterOf(r.ID)
	if err := p.kit.Auth.Authorize(r.Context(), r.Caller, poolType+"/read", cluster.String()); err != nil {
		return 0, nil, err
	}
	_, props, err := p.load(r.Context(), cluster.String())
	if err != nil {
		return 0, nil, err
	}
	var out []poolView
	for _, pl := range props.AgentPoolProfiles {
		out = append(out, poolOut(cluster, pl))
	}
	return http.StatusOK, arm.List(out), nil
}

func (p *Provider) getPool(r *arm.Request) (int, any, error) {
	cluster := clusterOf(r.ID)
	_, props, err := p.authorizeLoad(r, poolType+"/read", cluster)
	if err != nil {
		return 0, nil, err
	}
	for _, pl := range props.AgentPoolProfiles {
		if pl.Name == r.ID.Name() {
			return http.StatusOK, poolOut(cluster, pl), nil
		}
	}
	return 0, nil, arm.Errorf(http.StatusNotFound, "NotFound", "The agent pool '%s' of cluster '%s' was not found.", r.ID.Name(), cluster.Name())
}

func (p *Provider) putPool(r *arm.Request) (int, any, error) {
	cluster := clusterOf(r.ID)
	var b struct {
		Properties Pool `json:"properties"`
	}
	if err := p.kit.Accept(r, poolType+"/write", &b); err != nil {
		return 0, nil, err
	}
	b.Properties.Name = r.ID.Name()
	res, props, err := p.load(r.Context(), cluster.String())
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusCreated
	for _, pl := range props.AgentPoolProfiles {
		if pl.Name == b.Properties.Name {
			status = http.StatusOK
		}
	}
	err = p.change(r.Context(), cluster, &res, &props, func(tx *store.Tx, st *state) error {
		if err := p.resizePool(tx, cluster, res.Location, st, &props, b.Properties); err != nil {
			return err
		}
		res.Touch(r.Caller)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	for _, pl := range props.AgentPoolProfiles {
		if pl.Name == b.Properties.Name {
			return status, poolOut(cluster, pl), nil
		}
	}
	return status, nil, nil
}

func (p *Provider) deletePool(r *arm.Request) (int, any, error) {
	cluster := clusterOf(r.ID)
	res, props, err := p.authorizeLoad(r, poolType+"/delete", cluster)
	if err != nil {
		return 0, nil, err
	}
	idx, system := -1, 0
	for i, pl := range props.AgentPoolProfiles {
		if pl.Name == r.ID.Name() {
			idx = i
		}
		if pl.Mode == "System" {
			system++
		}
	}
	if idx < 0 {
		return arm.NoContent()
	}
	if props.AgentPoolProfiles[idx].Mode == "System" && system == 1 {
		return 0, nil, arm.BadRequest("OperationNotAllowed", "The agent pool '%s' is the cluster's only system pool and cannot be deleted.", r.ID.Name())
	}
	err = p.change(r.Context(), cluster, &res, &props, func(tx *store.Tx, st *state) error {
		if err := p.removeNodes(tx, st, r.ID.Name(), -1); err != nil {
			return err
		}
		props.AgentPoolProfiles = append(props.AgentPoolProfiles[:idx], props.AgentPoolProfiles[idx+1:]...)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, nil, nil
}
